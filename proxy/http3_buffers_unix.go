//go:build unix

package proxy

import (
	"net"
	"syscall"

	"go.uber.org/zap"
)

// quicWantBuffer is the UDP buffer size quic-go asks the kernel for
// (7 MiB; its wiki "UDP Buffer Sizes"): below it, bursts of packets at high
// rates are dropped by the kernel before quic-go reads them.
const quicWantBuffer = 7 << 20

// logUDPBuffers says what UDP buffers the kernel gave the HTTP/3 socket,
// after quic-go tried to raise them (SO_RCVBUF up to net.core.rmem_max, then
// SO_RCVBUFFORCE, which needs CAP_NET_ADMIN). quic-go prints its own
// warning once through the standard logger when it falls short; this is
// the same fact in baton's log, with the figures and the sysctls to raise.
// Linux reports twice what was set (the kernel's bookkeeping share).
func logUDPBuffers(pc net.PacketConn, logger *zap.Logger) {
	sc, ok := pc.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	var rcv, snd int
	var rerr, serr error
	if err := raw.Control(func(fd uintptr) {
		rcv, rerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
		snd, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF)
	}); err != nil || rerr != nil || serr != nil {
		return
	}
	fields := []zap.Field{zap.Int("receive_buffer_bytes", rcv), zap.Int("send_buffer_bytes", snd), zap.Int("wanted_bytes", quicWantBuffer)}
	if rcv < quicWantBuffer || snd < quicWantBuffer {
		logger.Warn("UDP buffers smaller than QUIC wants: raise net.core.rmem_max and net.core.wmem_max (sysctl) or give baton CAP_NET_ADMIN", fields...)
		return
	}
	logger.Info("UDP buffers", fields...)
}
