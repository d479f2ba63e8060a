package h1

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// The hand-off to net/http: HTTP/2 connections right after the TLS
// handshake, HTTP/1.0 ones after the fast path checked their first request
// head, with the bytes it read of them. The http.Server serving Fallback
// must use ConnContext (on HTTPS), and RestoreTLS and CloseAfterOne around
// its handler.

// handOff gives the connection, with what was read of it, to net/http.
func (c *serverConn) handOff() {
	pc := &prefixConn{Conn: c.conn, prefix: c.unread(), tls: c.tls}
	c.giveBuffers()
	c.conn.SetReadDeadline(time.Time{})
	c.s.forget(c)
	if !c.s.fallback.give(pc) {
		c.conn.Close()
	}
}

// prefixConn reads the bytes the fast path had buffered before the connection.
// On HTTPS it wraps the *tls.Conn, which net/http then does not see as TLS:
// tls carries the connection's state to its requests (see RestoreTLS).
type prefixConn struct {
	net.Conn
	prefix []byte
	tls    *tls.ConnectionState
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

type tlsStateKey struct{}

// ConnContext is the fallback http.Server's ConnContext: a TLS connection
// handed over after its handshake keeps its state for its requests.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if pc, ok := c.(*prefixConn); ok && pc.tls != nil {
		return context.WithValue(ctx, tlsStateKey{}, pc.tls)
	}
	return ctx
}

// RestoreTLS gives requests of a TLS connection handed over mid-way their
// r.TLS (X-Forwarded-Proto, the cache key and HSTS depend on it): net/http
// sets r.TLS only for a *tls.Conn it did the handshake of itself.
func RestoreTLS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			if st, ok := r.Context().Value(tlsStateKey{}).(*tls.ConnectionState); ok {
				r = r.WithContext(r.Context())
				r.TLS = st
			}
		}
		h.ServeHTTP(w, r)
	})
}

// CloseAfterOne ends an HTTP/1 connection net/http serves after its first
// request: the fast path checked that request's head, and no other head may
// reach the upstream unchecked (net/http would read the next one itself;
// RFC 9112 §9.6, Connection: close). HTTP/2 connections are net/http's for
// their whole life.
func CloseAfterOne(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 1 {
			w.Header()["Connection"] = connectionClose
		}
		h.ServeHTTP(w, r)
	})
}

var connectionClose = []string{"close"}

// handoffListener is the net.Listener net/http serves (Server.Fallback): it
// accepts the connections the fast path gives it.
type handoffListener struct {
	addr  atomic.Pointer[net.Addr] // the address of the listener Serve runs on
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandoffListener() *handoffListener {
	return &handoffListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *handoffListener) setAddr(a net.Addr) { l.addr.Store(&a) }

func (l *handoffListener) give(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is the address of the listener given to Server.Serve; before Serve
// runs, an empty TCP address.
func (l *handoffListener) Addr() net.Addr {
	if a := l.addr.Load(); a != nil {
		return *a
	}
	return &net.TCPAddr{}
}
