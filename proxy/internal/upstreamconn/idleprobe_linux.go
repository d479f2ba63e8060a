package upstreamconn

import (
	"net"
	"syscall"
	"unsafe"
)

// idleProbe tells whether an idle upstream connection is still clean: open,
// and with nothing sent by the upstream since its last response. Go's
// http.Transport learns this from a read it keeps blocked on every idle
// connection; baton has no goroutine per connection, so it asks the kernel
// once, right before reuse: one non-blocking recv with MSG_PEEK. EAGAIN is a
// clean connection; 0 bytes is an upstream that closed it (a keep-alive
// timeout, a restart); any byte is an unsolicited response (a late body
// beyond its framing, a 408 on an idle connection) that would otherwise be
// read as the next client's answer.
type idleProbe struct {
	rc    syscall.RawConn
	peek  func(fd uintptr) bool // bound once, so a probe allocates nothing
	clean bool
	buf   [1]byte
}

func (p *idleProbe) init(conn net.Conn) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	p.rc = rc
	p.peek = p.peekFD
}

func (p *idleProbe) peekFD(fd uintptr) bool {
	// recvfrom(2) with no address buffer: syscall.Recvfrom would decode one.
	_, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&p.buf[0])), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	p.clean = errno == syscall.EAGAIN || errno == syscall.EWOULDBLOCK
	return true // never wait for readiness: the answer is now
}

// usable reports whether the connection may carry another request. A
// connection that cannot be probed is not reused: fail closed.
func (p *idleProbe) usable() bool {
	if p.rc == nil {
		return false
	}
	p.clean = false
	if err := p.rc.Read(p.peek); err != nil {
		return false
	}
	return p.clean
}
