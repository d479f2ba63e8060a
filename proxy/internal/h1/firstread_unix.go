//go:build unix

package h1

import (
	"errors"
	"io"
	"syscall"
)

// firstRead waits, holding no buffer, for the first bytes of the next
// request on a plain TCP connection, and reads them into a pooled set of
// buffers taken only once the socket has data: the read is tried, and on
// EAGAIN the buffers go back to the pool while the runtime's poller waits
// (the deadline set on the connection applies). A read is always tried
// before the wait, as net.Conn's Read does: the poller's readiness is reset
// when a wait begins, so data already there would otherwise not wake it.
func (c *serverConn) firstRead() (*connBuffers, []byte, error) {
	if c.raw == nil {
		return c.firstReadByte()
	}
	var (
		b   *connBuffers
		n   int
		err error
	)
	werr := c.raw.Read(func(fd uintptr) bool {
		b = buffersPool.Get().(*connBuffers)
		for {
			n, err = syscall.Read(int(fd), b.first[:])
			if err != syscall.EINTR {
				break
			}
		}
		if err == syscall.EAGAIN {
			buffersPool.Put(b)
			b = nil
			return false
		}
		return true
	})
	switch {
	case werr != nil:
		err = werr // the deadline, or the connection closed
	case err == nil && n == 0:
		err = io.EOF
	}
	if err != nil {
		if b != nil {
			buffersPool.Put(b)
		}
		if errors.Is(err, syscall.ECONNRESET) {
			err = io.EOF
		}
		return nil, nil, err
	}
	return b, b.first[:n], nil
}
