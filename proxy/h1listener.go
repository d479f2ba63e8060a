package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// h1Server serves HTTP/1.1 connections (plain, or over TLS after its own
// handshake) itself for the common request, and hands every other connection
// to net/http: HTTP/2 right after the handshake, the rest when a request
// needs it.
//
// Why: on these machines net/http's per-request machinery costs about as much
// as the proxying itself: a background read and its goroutine wake-up to
// notice a client that leaves, three read-deadline moves, a context, a request,
// URL and header map. Here a request with no body is parsed in place from the
// connection's buffer, the handler runs on the connection's goroutine, and a
// client that leaves is noticed by a read started only when the handler takes
// longer than clientWatchDelay.
//
// Anything else (a body, Expect, Upgrade, HTTP/1.0, absolute-form targets, a
// header larger than the buffer, any byte or framing net/http would judge) is
// handed over with the bytes read so far: from then on net/http serves that
// connection, with its own checks and error answers. The fast path never has
// to decide a doubtful message, so it cannot differ from net/http on one.
type h1Server struct {
	handler  http.Handler
	opts     ServerOptions
	logger   *zap.Logger
	fallback *handoffListener
	// tlsConfig, when set, makes this an HTTPS listener: the handshake is
	// done here; HTTP/2 connections go to net/http at once, HTTP/1.1 ones
	// take the fast path like plain ones.
	tlsConfig *tls.Config
	// base is every connection's parent context (it carries the listener's port).
	base context.Context

	shutting atomic.Bool
	refusals atomic.Int64 // requests answered with an error and closed
	mu       sync.Mutex
	conns    map[*h1Conn]struct{}
}

const (
	// clientWatchDelay is how long a handler runs before baton starts reading
	// the client's connection to notice that it left (then the upstream
	// request is cancelled and counted 499).
	clientWatchDelay = 25 * time.Millisecond
	h1ReadBuffer     = 4 << 10 // as net/http's; a larger head grows it up to MaxHeaderBytes
	h1WriteBuffer    = 4 << 10
	// h1PendingBody is how much of a body without Content-Length is held
	// before the header is sent, so that short answers get a length, not chunks.
	h1PendingBody = 2 << 10
)

func newH1Server(h http.Handler, o ServerOptions, fallback *handoffListener, logger *zap.Logger) *h1Server {
	return &h1Server{handler: h, opts: o, logger: logger, fallback: fallback, base: context.Background(), conns: map[*h1Conn]struct{}{}}
}

// serve runs the accept loop until ln is closed.
func (s *h1Server) serve(ln net.Listener) error {
	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if s.shutting.Load() || errors.Is(err, net.ErrClosed) {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporaryAccept(err) {
				// Out of file descriptors, say: wait and try again, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logger.Warn("accept failed; retrying", zap.Error(err), zap.Duration("in", backoff))
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := s.newConn(conn)
		if c == nil {
			conn.Close()
			continue
		}
		go c.serve()
	}
}

func isTemporaryAccept(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (s *h1Server) newConn(conn net.Conn) *h1Conn {
	c := &h1Conn{s: s, conn: conn, remote: conn.RemoteAddr().String()}
	c.ctx, c.cancel = context.WithCancelCause(s.base)
	c.proto = new(http.Request).WithContext(c.ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutting.Load() {
		return nil
	}
	s.conns[c] = struct{}{}
	return c
}

// limits are the bounds of a request head.
func (s *h1Server) limits() headLimits {
	return headLimits{line: s.opts.MaxHeaderLineBytes, total: s.opts.MaxHeaderBytes, fields: s.opts.MaxHeaderFields}
}

func (s *h1Server) forget(c *h1Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// shutdown closes idle connections now and the others once their response is
// sent, and waits for them until ctx ends.
func (s *h1Server) shutdown(ctx context.Context) error {
	s.shutting.Store(true)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		for c := range s.conns {
			if c.idle.Load() {
				c.conn.Close()
			}
		}
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// close ends every connection at once.
func (s *h1Server) close() {
	s.shutting.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.conn.Close()
	}
}
