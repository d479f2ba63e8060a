package upstreamconn

import (
	"io"
	"net"
)

// pooledBody returns the connection to the pool once the body was read to
// its end, and only when nothing more is buffered: bytes past a response's
// framing (a body longer than its Content-Length, a body after a HEAD or 204
// answer) are not the next request's answer, so such a connection is closed,
// as http.Transport and nginx close it. A body closed before its end (the
// client left mid-download) closes the connection instead of draining it.
type pooledBody struct {
	body   io.ReadCloser
	uc     *upConn
	c      *Client
	ex     *Exchange
	keep   bool // the response's framing allows reuse
	sawEOF bool
	done   bool
}

func (b *pooledBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	if err == io.EOF {
		b.sawEOF = true
	}
	return n, err
}

func (b *pooledBody) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	cancelled := b.ex.detach()
	// A cancelled exchange expired the connection's deadlines: it is not reused.
	if !b.keep || !b.sawEOF || cancelled {
		b.uc.conn.Close()
		b.body.Close()
		return nil
	}
	err := b.body.Close()
	if err == nil && b.uc.br.Buffered() == 0 {
		b.c.put(b.uc)
		return nil
	}
	b.uc.conn.Close()
	return err
}

// upgradedConn is the raw connection after 101 Switching Protocols; the
// reader keeps bytes the upstream sent right after its response.
type upgradedConn struct {
	io.Reader
	conn net.Conn
}

func (u *upgradedConn) Write(p []byte) (int, error) { return u.conn.Write(p) }
func (u *upgradedConn) Close() error                { return u.conn.Close() }
