package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/batonproxy/baton/proxy/internal/h1"
	"go.uber.org/zap"
)

// ServerOptions are the client-facing limits of a listener. Zero values take
// the defaults: ReadHeaderTimeout 10s, IdleTimeout 120s, MaxHeaderBytes
// 32 KiB, MaxHeaderLineBytes 8 KiB, MaxHeaderFields 100 (h1.Options.WithDefaults).
type ServerOptions struct {
	// ReadHeaderTimeout cuts off clients that trickle their headers (slowloris).
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes keep-alive connections with no request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers (431 beyond).
	MaxHeaderBytes int
	// MaxHeaderLineBytes bounds one line of them (414 for the request
	// line, 431 for a field).
	MaxHeaderLineBytes int
	// MaxHeaderFields bounds how many fields a request has (431 beyond).
	MaxHeaderFields int
}

// fastPath is o for the fast path, with its defaults filled in. (The TLS
// config and the base context are the listener's own, not options.)
func (o ServerOptions) fastPath(tc *tls.Config, base context.Context) h1.Options {
	return h1.Options{
		ReadHeaderTimeout:  o.ReadHeaderTimeout,
		IdleTimeout:        o.IdleTimeout,
		MaxHeaderBytes:     o.MaxHeaderBytes,
		MaxHeaderLineBytes: o.MaxHeaderLineBytes,
		MaxHeaderFields:    o.MaxHeaderFields,
		TLSConfig:          tc,
		BaseContext:        base,
	}.WithDefaults()
}

// Listener serves a handler on one address. No read or write timeout covers the
// whole exchange: bodies and streams may be long; the header timeout and the
// upstream timeouts bound what can hang.
//
// It serves every HTTP/1.1 request on baton's own fast path (package
// proxy/internal/h1) and hands the other connections to net/http (srv):
// HTTP/2, and HTTP/1.0 for one request.
type Listener struct {
	srv  *http.Server
	ln   net.Listener
	fast *h1.Server

	serving  chan struct{} // closed when Serve starts
	accepted chan struct{} // closed when Serve's accept loop has returned
}

// Listen binds addr now, so a port in use is an error at start, not later.
func Listen(addr string, h http.Handler, o ServerOptions, logger *zap.Logger) (*Listener, error) {
	return listen(addr, h, nil, o, logger)
}

// ListenTLS binds an HTTPS listener: HTTP/2 and HTTP/1.1 by ALPN, with the
// certificates of tc (whose NextProtos must offer h2 for HTTP/2). Go's HTTP/2
// server does not offer RFC 8441 extended CONNECT (GODEBUG http2xconnect is
// off), so browsers open WebSockets on an HTTP/1.1 connection, which the
// proxy upgrades and relays as it does on plain HTTP. The fast path does the
// handshake; HTTP/1.1 stays on it, HTTP/2 goes to net/http (srv).
func ListenTLS(addr string, h http.Handler, tc *tls.Config, o ServerOptions, logger *zap.Logger) (*Listener, error) {
	return listen(addr, h, tc, o, logger)
}

// ServeOn is Listen on a socket already bound: one inherited from the
// process baton replaces, or from systemd (package internal/handover).
func ServeOn(ln net.Listener, h http.Handler, o ServerOptions, logger *zap.Logger) *Listener {
	return compose(ln, h, nil, o, logger)
}

// ServeTLSOn is ListenTLS on a socket already bound.
func ServeTLSOn(ln net.Listener, h http.Handler, tc *tls.Config, o ServerOptions, logger *zap.Logger) *Listener {
	return compose(ln, h, tc, o, logger)
}

// listen binds addr and composes the listener.
func listen(addr string, h http.Handler, tc *tls.Config, o ServerOptions, logger *zap.Logger) (*Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return compose(ln, h, tc, o, logger), nil
}

// compose puts the fast path and the net/http server it hands connections to
// on ln; tc, when set, makes it an HTTPS listener.
func compose(ln net.Listener, h http.Handler, tc *tls.Config, o ServerOptions, logger *zap.Logger) *Listener {
	if logger == nil {
		logger = zap.NewNop()
	}
	// Both servers' connections carry the listener's port (X-Forwarded-Port).
	base := withListenerPort(context.Background(), ln.Addr())
	fo := o.fastPath(tc, base)
	srv := &http.Server{
		Handler:           h1.CloseAfterOne(h),
		ReadHeaderTimeout: fo.ReadHeaderTimeout,
		IdleTimeout:       fo.IdleTimeout,
		MaxHeaderBytes:    fo.MaxHeaderBytes,
		ErrorLog:          zap.NewStdLog(logger.Named("http")),
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	if tc != nil {
		srv.TLSConfig = tc
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetHTTP2(true)
		srv.ConnContext = h1.ConnContext
		srv.Handler = h1.CloseAfterOne(h1.RestoreTLS(checkHTTP2(h)))
	}
	fast := h1.NewServer(h, fo, logger.Named("http"))
	return &Listener{srv: srv, ln: ln, fast: fast, serving: make(chan struct{}), accepted: make(chan struct{})}
}

// Addr is the bound address (useful with port 0).
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Socket is the listening socket, to hand over to the next baton process.
func (l *Listener) Socket() net.Listener { return l.ln }

// Serve blocks until Shutdown; it returns nil on a clean shutdown. It is
// called once.
func (l *Listener) Serve() error {
	close(l.serving)
	defer close(l.accepted)
	go l.srv.Serve(l.fast.Fallback())
	if err := l.fast.Serve(l.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", l.ln.Addr(), err)
	}
	return nil
}

// Shutdown stops accepting and waits for in-flight requests until ctx ends.
//
// The socket is closed first and the accept loop seen to return before the
// server refuses new connections: when another process shares the socket (an
// upgrade), a connection still in the accept queue is then taken by that
// process, never accepted here only to be closed unanswered.
func (l *Listener) Shutdown(ctx context.Context) error {
	l.ln.Close()
	select {
	case <-l.serving:
		select {
		case <-l.accepted:
		case <-ctx.Done():
		}
	default: // never served
	}
	l.fast.StopAccepting()
	errc := make(chan error, 1)
	go func() { errc <- l.srv.Shutdown(ctx) }()
	err := l.fast.Shutdown(ctx)
	return errors.Join(err, <-errc)
}

// Close ends the listener and every connection at once.
func (l *Listener) Close() error {
	l.fast.Close()
	l.ln.Close()
	return l.srv.Close()
}

// checkHTTP2 refuses, for HTTP/2, what the fast path refuses in an HTTP/1.1
// request line: a target or authority that would reach the upstream's
// request line malformed (checkPseudo). net/http validated the fields.
func checkHTTP2(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 {
			if status, why := checkPseudo(r); status != 0 {
				writeError(w, status, why)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}
