package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// ServerOptions are the client-facing limits of a listener.
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

func (o ServerOptions) withDefaults() ServerOptions {
	if o.ReadHeaderTimeout == 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 120 * time.Second
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

// Listener serves a handler on one address. No read or write timeout covers the
// whole exchange: bodies and streams may be long; the header timeout and the
// upstream timeouts bound what can hang.
//
// It serves the common HTTP/1.1 request on baton's own fast path
// (h1listener.go, h1conn.go) and hands every other connection to net/http (srv): HTTP/2,
// bodies, upgrades, anything uncommon.
type Listener struct {
	srv  *http.Server
	ln   net.Listener
	fast *h1Server
}

// Listen binds addr now, so a port in use is an error at start, not later.
func Listen(addr string, h http.Handler, o ServerOptions, logger *zap.Logger) (*Listener, error) {
	o = o.withDefaults()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	srv := &http.Server{
		Handler:           closeAfterOne(h),
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    o.MaxHeaderBytes,
		ErrorLog:          zap.NewStdLog(logger.Named("http")),
	}
	// Both servers' connections carry the listener's port (X-Forwarded-Port).
	base := withListenerPort(context.Background(), ln.Addr())
	srv.BaseContext = func(net.Listener) context.Context { return base }
	fast := newH1Server(h, o, newHandoffListener(ln.Addr()), logger.Named("http"))
	fast.base = base
	return &Listener{srv: srv, ln: ln, fast: fast}, nil
}

// ListenTLS binds an HTTPS listener: HTTP/2 and HTTP/1.1 by ALPN, with the
// certificates of tc (whose NextProtos must offer h2 for HTTP/2). Go's HTTP/2
// server does not offer RFC 8441 extended CONNECT (GODEBUG http2xconnect is
// off), so browsers open WebSockets on an HTTP/1.1 connection, which the
// proxy upgrades and relays as it does on plain HTTP. The fast path does the
// handshake; HTTP/1.1 stays on it, HTTP/2 goes to net/http (srv).
func ListenTLS(addr string, h http.Handler, tc *tls.Config, o ServerOptions, logger *zap.Logger) (*Listener, error) {
	l, err := Listen(addr, h, o, logger)
	if err != nil {
		return nil, err
	}
	l.fast.tlsConfig = tc
	l.srv.TLSConfig = tc
	l.srv.Protocols = new(http.Protocols)
	l.srv.Protocols.SetHTTP1(true)
	l.srv.Protocols.SetHTTP2(true)
	l.srv.ConnContext = handedOffTLS
	l.srv.Handler = closeAfterOne(restoreTLS(h))
	return l, nil
}

// Addr is the bound address (useful with port 0).
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Serve blocks until Shutdown; it returns nil on a clean shutdown.
func (l *Listener) Serve() error {
	go l.srv.Serve(l.fast.fallback)
	if err := l.fast.serve(l.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", l.ln.Addr(), err)
	}
	return nil
}

// Shutdown stops accepting and waits for in-flight requests until ctx ends.
func (l *Listener) Shutdown(ctx context.Context) error {
	l.fast.shutting.Store(true)
	l.ln.Close()
	errc := make(chan error, 1)
	go func() { errc <- l.srv.Shutdown(ctx) }()
	err := l.fast.shutdown(ctx)
	return errors.Join(err, <-errc)
}

// Close ends the listener and every connection at once.
func (l *Listener) Close() error {
	l.fast.close()
	l.ln.Close()
	return l.srv.Close()
}
