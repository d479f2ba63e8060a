//go:build unix

package proxy

import (
	"io"
	"syscall"
)

// rawSocket is c's socket for readRaw and readTLS' wait.
func rawSocket(c syscall.Conn) syscall.RawConn {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

// readRaw reads the socket into a buffer taken only once the socket has
// data: the read is tried, and on EAGAIN the buffer goes back to the pool
// while the runtime's poller waits. A read is always tried before the wait,
// as net.Conn's Read does: the poller's readiness is reset when a wait
// begins, so data already there would otherwise not wake it.
func (s *relaySource) readRaw() (*[]byte, int, error) {
	var (
		bp  *[]byte
		n   int
		err error
	)
	werr := s.raw.Read(func(fd uintptr) bool {
		bp = getRelayBuffer()
		for {
			n, err = syscall.Read(int(fd), *bp)
			if err != syscall.EINTR {
				break
			}
		}
		if err == syscall.EAGAIN {
			putRelayBuffer(bp)
			bp = nil
			return false
		}
		return true
	})
	if n < 0 {
		n = 0
	}
	switch {
	case werr != nil:
		err = werr // closed (the other side ended, or a drain)
	case err == nil && n == 0:
		err = io.EOF
	}
	return bp, n, err
}

// waitReadable parks until the socket has bytes (or its end) to read,
// peeking so that nothing is taken from it.
func (s *relaySource) waitReadable() error {
	var one [1]byte
	return s.raw.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), one[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN
	})
}
