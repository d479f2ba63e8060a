package upstreamconn

import (
	"bufio"
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

// upgradedConn is the raw connection after 101 Switching Protocols. The
// bytes the upstream sent right after its response, already in the
// connection's reader, are copied out (ahead) so that the reader's 16 KiB
// and the writer's 8 KiB are not held for the life of a WebSocket: an idle
// relayed connection should cost its sockets and little more.
type upgradedConn struct {
	conn  net.Conn
	ahead []byte
}

func newUpgradedConn(conn net.Conn, br *bufio.Reader) *upgradedConn {
	u := &upgradedConn{conn: conn}
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		u.ahead = append([]byte(nil), b...)
	}
	return u
}

func (u *upgradedConn) Read(p []byte) (int, error) {
	if len(u.ahead) > 0 {
		n := copy(p, u.ahead)
		u.ahead = u.ahead[n:]
		if len(u.ahead) == 0 {
			u.ahead = nil
		}
		return n, nil
	}
	return u.conn.Read(p)
}

func (u *upgradedConn) Write(p []byte) (int, error) { return u.conn.Write(p) }
func (u *upgradedConn) Close() error                { return u.conn.Close() }

// NetConn is the connection itself, for a relay that waits on the socket
// holding no buffer; what TakeAhead gives comes before it.
func (u *upgradedConn) NetConn() net.Conn { return u.conn }

// TakeAhead returns the bytes read past the 101 and not yet given by Read.
func (u *upgradedConn) TakeAhead() []byte {
	b := u.ahead
	u.ahead = nil
	return b
}
