package h1

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

// Options are the client-facing limits of a listener, and what makes it an
// HTTPS one.
type Options struct {
	// ReadHeaderTimeout cuts off clients that trickle their headers
	// (slowloris); it also bounds the TLS handshake, as in net/http.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes keep-alive connections with no request.
	IdleTimeout time.Duration
	// IdleMoveAfter is how long a connection waits for its next request on
	// the goroutine that served the last one (default 1s). Serving grew
	// that goroutine's stack (8 KiB or more; the runtime shrinks a parked
	// one to 4 KiB at best), so a connection idle this long moves its wait
	// to a fresh goroutine of 2 KiB. A busy connection never gets there and
	// pays nothing for it; the move costs a goroutine, and its stack's
	// growth on the next request, once per idle spell.
	IdleMoveAfter time.Duration
	// MaxHeaderBytes bounds the request line and headers (431 beyond).
	MaxHeaderBytes int
	// MaxHeaderLineBytes bounds one line of them (414 for the request
	// line, 431 for a field).
	MaxHeaderLineBytes int
	// MaxHeaderFields bounds how many fields a request has (431 beyond).
	MaxHeaderFields int
	// TLSConfig, when set, makes this an HTTPS listener: the handshake is
	// done here; HTTP/2 connections (ALPN "h2") go to Fallback at once,
	// HTTP/1.1 ones take the fast path like plain ones.
	TLSConfig *tls.Config
	// BaseContext is every connection's parent context (package proxy puts
	// the listener's port in it, for X-Forwarded-Port); nil is
	// context.Background().
	BaseContext context.Context
}

// WithDefaults fills in the limits left zero.
func (o Options) WithDefaults() Options {
	if o.ReadHeaderTimeout == 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 120 * time.Second
	}
	if o.IdleMoveAfter == 0 {
		o.IdleMoveAfter = time.Second
	}
	// As strict as the anchors: nginx's large_client_header_buffers 4 8k
	// (8 KiB a line, 32 KiB in all), haproxy's tune.http.maxhdr 101.
	if o.MaxHeaderBytes == 0 {
		o.MaxHeaderBytes = 32 << 10
	}
	if o.MaxHeaderLineBytes == 0 {
		o.MaxHeaderLineBytes = 8 << 10
	}
	if o.MaxHeaderLineBytes > o.MaxHeaderBytes {
		o.MaxHeaderLineBytes = o.MaxHeaderBytes
	}
	if o.MaxHeaderFields == 0 {
		o.MaxHeaderFields = 100
	}
	return o
}

// Server serves HTTP/1.1 connections (plain, or over TLS after its own
// handshake) itself, and hands net/http, through Fallback, HTTP/2
// connections right after the handshake and HTTP/1.0 ones after their first
// request head was checked (see doc.go).
//
// Why its own server: on these machines net/http's per-request machinery
// costs about as much as the proxying itself: a background read and its
// goroutine wake-up to notice a client that leaves, three read-deadline
// moves, a context, a request, URL and header map. Here a request with no
// body is parsed in place from the connection's buffer, the handler runs on
// the connection's goroutine, and a client that leaves is noticed by a read
// started only when the handler takes longer than clientWatchDelay
// (watch.go).
type Server struct {
	handler  http.Handler
	opts     Options
	logger   *zap.Logger
	fallback *handoffListener

	shutting atomic.Bool
	refusals atomic.Int64 // requests answered with an error and closed
	// buffersHeld counts the connections holding their buffers (serving a
	// request); an idle one holds none.
	buffersHeld atomic.Int64
	idleMoves   atomic.Int64 // idle connections moved to a fresh goroutine
	// acceptRetries counts failed accepts waited out (out of descriptors).
	acceptRetries atomic.Int64
	mu            sync.Mutex
	conns         map[*serverConn]struct{}
}

const (
	// clientWatchDelay is how long a handler runs before baton starts reading
	// the client's connection to notice that it left (then the upstream
	// request is cancelled and counted 499).
	clientWatchDelay = 25 * time.Millisecond
	readBufferSize   = 4 << 10 // as net/http's; a larger head grows it up to MaxHeaderBytes
	writeBufferSize  = 4 << 10
	// pendingBodySize is how much of a body without Content-Length is held
	// before the header is sent, so that short answers get a length, not
	// chunks (as net/http's chunking writer does with its 2 KiB buffer).
	pendingBodySize = 2 << 10
)

// NewServer returns a server running h on every request it serves, with o's
// limits (defaults filled in). logger may be nil.
func NewServer(h http.Handler, o Options, logger *zap.Logger) *Server {
	if logger == nil {
		logger = zap.NewNop()
	}
	o = o.WithDefaults()
	if o.BaseContext == nil {
		o.BaseContext = context.Background()
	}
	return &Server{handler: h, opts: o, logger: logger, fallback: newHandoffListener(), conns: map[*serverConn]struct{}{}}
}

// Stats are the server's counters, for metrics.
type Stats struct {
	Refusals      int64 // requests refused (400, 431, ...) and their connections closed
	AcceptRetries int64 // accepts that failed and were retried after a pause
	BuffersHeld   int64 // connections holding their buffers now (BuffersHeld)
	IdleMoves     int64 // idle connections whose wait moved to a fresh goroutine
}

// Stats reads the counters.
func (s *Server) Stats() Stats {
	return Stats{Refusals: s.refusals.Load(), AcceptRetries: s.acceptRetries.Load(),
		BuffersHeld: s.buffersHeld.Load(), IdleMoves: s.idleMoves.Load()}
}

// BuffersHeld is how many connections hold a reader and writer now: those
// serving a request; an idle keep-alive connection holds none, nor does one
// a handler took over (Hijack).
func (s *Server) BuffersHeld() int64 { return s.buffersHeld.Load() }

// Fallback is the listener net/http must serve: it accepts the connections
// this server hands over (HTTP/2, and HTTP/1.0 for one request; see
// CloseAfterOne, ConnContext and RestoreTLS for the http.Server's settings).
// Its Addr is that of the listener given to Serve.
func (s *Server) Fallback() net.Listener { return s.fallback }

// Serve runs the accept loop until ln is closed; it returns
// http.ErrServerClosed after StopAccepting, Shutdown or Close, as
// http.Server.Serve does.
func (s *Server) Serve(ln net.Listener) error {
	s.fallback.setAddr(ln.Addr())
	var (
		backoff  time.Duration
		lastLog  time.Time
		unlogged int64
	)
	for {
		conn, err := ln.Accept()
		if err != nil {
			if s.shutting.Load() || errors.Is(err, net.ErrClosed) {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporaryAccept(err) {
				// Out of file descriptors, say: wait and try again, as net/http
				// does (5 ms doubling to 1 s), instead of spinning; counted,
				// and logged once a second at most.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.acceptRetries.Add(1)
				unlogged++
				if now := time.Now(); now.Sub(lastLog) >= time.Second {
					s.logger.Warn("accept failed; retrying", zap.Error(err), zap.Duration("in", backoff), zap.Int64("failures", unlogged))
					lastLog, unlogged = now, 0
				}
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

func (s *Server) newConn(conn net.Conn) *serverConn {
	c := &serverConn{s: s, conn: conn, remote: conn.RemoteAddr().String()}
	c.ctx, c.cancel = newConnContext(s.opts.BaseContext)
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
func (s *Server) limits() headLimits {
	return headLimits{line: s.opts.MaxHeaderLineBytes, total: s.opts.MaxHeaderBytes, fields: s.opts.MaxHeaderFields}
}

func (s *Server) forget(c *serverConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// StopAccepting makes the server take no new connection: one accepted from
// now on is closed at once, and Serve returns once its listener is closed.
// Connections being served go on.
func (s *Server) StopAccepting() {
	s.shutting.Store(true)
}

// Shutdown stops accepting, closes idle connections now and the others once
// their response is sent (with Connection: close), and waits for them until
// ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
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

// Close ends every connection at once.
func (s *Server) Close() {
	s.shutting.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.conn.Close()
	}
}
