package h1

import (
	"bufio"
	"net"
	"net/http"
	"sync"
)

// connBuffers are what a connection holds only while it serves a request.
// An idle keep-alive connection gives them back and waits for its next
// request without a buffer (see awaitRequest), so that ten thousand idle
// clients cost their sockets and little more: the reader and writer alone
// are 8 KiB a connection (nginx holds about 0.6 KiB for an idle one).
type connBuffers struct {
	br         *bufio.Reader
	bw         *bufio.Writer
	pending    []byte      // the response's small-body buffer
	header     http.Header // the request's, reused
	respHeader http.Header
	// first receives the first read of a request, made while no reader is
	// held; the reader then takes those bytes before the connection's.
	first [readBufferSize]byte
}

var buffersPool = sync.Pool{New: func() any {
	return &connBuffers{
		br:         bufio.NewReaderSize(nil, readBufferSize),
		bw:         bufio.NewWriterSize(nil, writeBufferSize),
		pending:    make([]byte, 0, pendingBodySize),
		header:     make(http.Header, 8),
		respHeader: make(http.Header, 12),
	}
}}

// takeBuffers gives the connection a set of buffers; ahead is what its
// first read got (a slice of b.first, or of c.one on HTTPS).
func (c *serverConn) takeBuffers(b *connBuffers, ahead []byte) {
	c.bufs = b
	c.s.buffersHeld.Add(1)
	c.src = aheadReader{conn: c.conn, ahead: ahead}
	b.br.Reset(&c.src)
	b.bw.Reset(c.conn)
	c.br, c.bw, c.header = b.br, b.bw, b.header
	c.resp.header, c.resp.pending = b.respHeader, b.pending[:0]
}

// giveBuffers returns the connection's buffers to the pool. Only a
// connection with nothing buffered either way may: the caller checks.
func (c *serverConn) giveBuffers() {
	b := c.bufs
	if b == nil {
		return
	}
	if c.br == b.br { // not the large reader of a big head (growReader): that one goes
		b.br.Reset(nil)
	} else {
		b.br = bufio.NewReaderSize(nil, readBufferSize)
	}
	b.bw.Reset(nil)
	clear(b.header)
	clear(b.respHeader)
	c.bufs, c.br, c.bw, c.header = nil, nil, nil, nil
	c.resp.header, c.resp.pending = nil, nil
	c.resp.req = nil // the last request, its header map now the pool's
	c.src = aheadReader{}
	c.s.buffersHeld.Add(-1)
	buffersPool.Put(b)
}

// unread is what the connection has read and not yet parsed: the reader's
// buffer, then what is left of the first read.
func (c *serverConn) unread() []byte {
	var out []byte
	if c.br != nil {
		buffered, _ := c.br.Peek(c.br.Buffered())
		out = append(out, buffered...)
	}
	return append(out, c.src.ahead...)
}

// aheadReader gives the bytes of a connection's first read, then reads the
// connection.
type aheadReader struct {
	conn  net.Conn
	ahead []byte
}

func (a *aheadReader) Read(p []byte) (int, error) {
	if len(a.ahead) > 0 {
		n := copy(p, a.ahead)
		a.ahead = a.ahead[n:]
		return n, nil
	}
	return a.conn.Read(p)
}
