package upstreamconn

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/batonproxy/baton/proxy/internal/h1"
)

// HTTPTransport sends exchanges through net/http's Transport, for the
// upstreams the HTTP/1.1 client above does not speak: TLS (scheme https,
// HTTP/2 or HTTP/1.1 as ALPN agrees) and HTTP/2 in clear with prior
// knowledge (scheme h2c, gRPC backends; RFC 9113 §3.3). The plain-HTTP
// fast path stays on Client. The retry and reuse rules are then
// net/http's own, of which Client's are a copy (see roundtrip.go).
type HTTPTransport struct {
	scheme string // of the request URLs: https, or http for h2c
	addr   string
	rt     *http.Transport
}

// NewHTTPS returns a client of a TLS upstream at addr. tc is the servers
// transport's TLS config (nil: the system's roots); without a ServerName
// the name verified and sent as SNI is the address dialled, as Traefik's
// serversTransport without serverName (an IP address is verified against
// the certificate's IP SANs and sends no SNI, RFC 6066 §3).
func NewHTTPS(addr string, tc *tls.Config, o Options) *HTTPTransport {
	if tc == nil {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	return newHTTPTransport("https", addr, tc.Clone(), p, o)
}

// NewH2C returns a client of an upstream that speaks HTTP/2 in clear.
func NewH2C(addr string, o Options) *HTTPTransport {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return newHTTPTransport("http", addr, nil, p, o)
}

func newHTTPTransport(scheme, addr string, tc *tls.Config, p http.Protocols, o Options) *HTTPTransport {
	o = o.withDefaults()
	d := &net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second}
	return &HTTPTransport{scheme: scheme, addr: addr, rt: &http.Transport{
		// Never through an environment proxy; never a decompressed body
		// (baton relays the representation the upstream chose).
		Proxy:                 nil,
		DisableCompression:    true,
		DialContext:           d.DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   o.DialTimeout,
		ResponseHeaderTimeout: o.ResponseHeaderTimeout,
		IdleConnTimeout:       o.IdleConnTimeout,
		MaxIdleConnsPerHost:   o.MaxIdleConns,
		Protocols:             &p,
	}}
}

// CloseIdle drops the idle connections.
func (t *HTTPTransport) CloseIdle() { t.rt.CloseIdleConnections() }

// errH2CUpgrade: HTTP/2 has no Upgrade (RFC 9113 §8.6); a WebSocket to an
// h2c upstream cannot be relayed.
var errH2CUpgrade = errors.New("upstream speaks h2c: HTTP/2 has no Upgrade (RFC 9113 §8.6), the protocol switch cannot be relayed")

// RoundTrip sends ex's request; the exchange's cancel (client gone, drain
// bound) cancels it, with its cause, until the response body is closed. A
// 101 the request asked for comes with the connection as its body.
func (t *HTTPTransport) RoundTrip(ex *Exchange) (*http.Response, error) {
	if ex.Upgrade != "" && t.scheme == "http" {
		return nil, errH2CUpgrade
	}
	ctx, done, err := ex.requestContext()
	if err != nil {
		return nil, err
	}
	if ex.Client1xx != nil {
		w := ex.Client1xx
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				if code != http.StatusContinue {
					relay1xx(w, code, http.Header(h))
				}
				return nil
			},
		})
	}
	if _, ok := ex.Header["User-Agent"]; !ok {
		// net/http would add its own; baton adds none (httputil.ReverseProxy's rule).
		ex.Header["User-Agent"] = emptyUA
	}
	body := ex.Body
	if body == nil {
		body = http.NoBody
	}
	req := (&http.Request{
		Method:        ex.Method,
		URL:           t.url(ex.Target),
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        ex.Header,
		Host:          ex.Host,
		Body:          body,
		ContentLength: ex.ContentLength,
	}).WithContext(ctx)
	if ex.Body != nil && ex.ContentLength == 0 {
		req.ContentLength = -1 // unknown length: sent chunked, or as HTTP/2 DATA
	}
	resp, err := t.rt.RoundTrip(req)
	if err != nil {
		done()
		if c := ex.CancelCause(); c != nil {
			return nil, c
		}
		return nil, err
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		rwc, ok := resp.Body.(io.ReadWriteCloser)
		if ex.Upgrade == "" || !ok || !h1.ASCIIEqualFold(resp.Header.Get("Upgrade"), ex.Upgrade) {
			resp.Body.Close()
			done()
			return nil, errUnaskedUpgrade
		}
		resp.Body = &transportConn{ReadWriteCloser: rwc, done: done}
		return resp, nil
	}
	resp.Body = &transportBody{ReadCloser: resp.Body, done: done}
	return resp, nil
}

var emptyUA = []string{""}

// url is the request URL: the target goes out byte for byte, as the
// HTTP/1.1 client sends it (Opaque is written as is), unless it starts
// with "//", which Opaque would take for an authority.
func (t *HTTPTransport) url(target string) *url.URL {
	u := &url.URL{Scheme: t.scheme, Host: t.addr}
	if target == "*" || strings.HasPrefix(target, "/") && !strings.HasPrefix(target, "//") {
		u.Opaque, u.RawQuery, _ = strings.Cut(target, "?")
		if strings.Contains(target, "?") && u.RawQuery == "" {
			u.ForceQuery = true
		}
		return u
	}
	if p, err := url.ParseRequestURI(target); err == nil {
		p.Scheme, p.Host = t.scheme, t.addr
		return p
	}
	u.Path = "/"
	return u
}

// transportBody ends the exchange's hold on its request context when the
// body is closed.
type transportBody struct {
	io.ReadCloser
	done func()
}

func (b *transportBody) Close() error {
	err := b.ReadCloser.Close()
	b.done()
	return err
}

// transportConn is an upgraded connection from net/http.
type transportConn struct {
	io.ReadWriteCloser
	done func()
}

func (c *transportConn) Close() error {
	err := c.ReadWriteCloser.Close()
	c.done()
	return err
}

// requestContext is the context a request sent through net/http runs
// under, from the request to the close of its response body: a cancel of
// the exchange cancels it with its cause. done (idempotent) lets go of it;
// called late, after the pooled exchange carries another request, it
// leaves that request's cancel alone.
func (ex *Exchange) requestContext() (context.Context, func(), error) {
	ctx, cancel := context.WithCancelCause(ex.clientCtx)
	ex.mu.Lock()
	if err := ex.cause; err != nil {
		ex.mu.Unlock()
		cancel(err)
		return nil, nil, err
	}
	gen := ex.gen
	ex.dialCancel = cancel
	ex.mu.Unlock()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			ex.mu.Lock()
			if ex.gen == gen {
				ex.dialCancel = nil
			}
			ex.mu.Unlock()
			cancel(nil)
		})
	}, nil
}
