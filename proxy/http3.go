package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/batonproxy/baton/proxy/internal/h1"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"go.uber.org/zap"
	"golang.org/x/net/http/httpguts"
)

// altSvcMaxAge is how long a client may remember the HTTP/3 alternative
// (RFC 7838 §3 ma, in seconds): a day, shorter than the 30 days of quic-go's
// own SetQUICHeaders, so a baton whose HTTP/3 is turned off is forgotten by
// the next day; until then clients fall back to TCP when QUIC does not
// answer (RFC 9114 §3.1.1). Advertise sets the field itself: SetQUICHeaders
// takes the server's lock on every answer.
const altSvcMaxAge = 86400

// HTTP3 serves HTTP/3 (RFC 9114) with quic-go on one UDP socket, at the
// HTTPS listener's address and port, with the same handler: routing,
// middlewares, forwarded headers, access log, metrics and drain accounting are
// the proxy handler's, whatever the protocol. Requests arrive as net/http
// requests with Proto "HTTP/3.0" and r.TLS set (QUIC is TLS 1.3).
//
// What the TCP listeners do before the handler, it does in its own way:
// quic-go validates field names and values (httpguts, as net/http's HTTP/2
// does) and refuses the connection-specific fields RFC 9114 §4.2 forbids;
// ServeHTTP checks the request target, :authority and the field count and
// line limits, and tells a request with no content from one with a body of
// unknown length (see probeEmptyBody).
type HTTP3 struct {
	srv    *http3.Server
	next   http.Handler
	tc     *tls.Config
	opts   h1.Options
	limits h3Limits
	logger *zap.Logger

	// Set by Listen, before Serve.
	ln          *quic.EarlyListener
	pc          net.PacketConn
	port        string   // the UDP port, for X-Forwarded-Port
	altSvcValue []string // the Alt-Svc field advertising it, len == cap

	// altSvc is altSvcValue while Serve runs and Shutdown has not begun,
	// else nil: Advertise's one load per request.
	altSvc atomic.Pointer[[]string]
}

type h3Limits struct {
	line, fields int
}

// BindUDP binds the UDP socket HTTP/3 is served on: tcp is the HTTPS
// listener's bound address, whose host and port it takes (so a configured
// port 0 gets the port the TCP listener was given). The socket is bound
// apart from serving so that a process handing its sockets to a successor
// (an upgrade) can pass this one as it is: Listen takes any
// net.PacketConn, and *net.UDPConn (net.FilePacketConn of an inherited
// descriptor is one) lets quic-go use GSO, ECN and its buffer sizes.
func BindUDP(tcp net.Addr) (*net.UDPConn, error) {
	ta, ok := tcp.(*net.TCPAddr)
	if !ok {
		return nil, fmt.Errorf("bind udp: the HTTPS listener's address %s is not TCP", tcp)
	}
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: ta.IP, Port: ta.Port, Zone: ta.Zone})
	if err != nil {
		return nil, fmt.Errorf("bind udp %s: %w", ta, err)
	}
	return pc, nil
}

// NewHTTP3 prepares HTTP/3 serving h with the certificates of tc; Listen
// gives it its socket. It exists before the socket so that the HTTPS
// listener's handler can be wrapped by Advertise before either is bound
// (the UDP socket takes the TCP listener's port).
//
// quic-go takes a clone of tc whose NextProtos is only "h3" (RFC 9114 §3.1),
// so the TCP listener sharing tc keeps offering h2 and http/1.1, never h3.
func NewHTTP3(h http.Handler, tc *tls.Config, o ServerOptions, logger *zap.Logger) *HTTP3 {
	if logger == nil {
		logger = zap.NewNop()
	}
	fo := o.fastPath(nil, nil) // the same defaults as the TCP listeners
	l := &HTTP3{
		next:   h,
		tc:     tc,
		opts:   fo,
		limits: h3Limits{line: fo.MaxHeaderLineBytes, fields: fo.MaxHeaderFields},
		logger: logger.Named("http3"),
	}
	l.srv = &http3.Server{
		Handler:        l,
		MaxHeaderBytes: fo.MaxHeaderBytes,
		IdleTimeout:    fo.IdleTimeout,
		ConnContext: func(ctx context.Context, _ *quic.Conn) context.Context {
			return context.WithValue(ctx, listenerPortKey{}, l.port)
		},
		// No Logger: quic-go's per-request debug line would cost allocations
		// even when disabled; its rare errors go to slog's default.
	}
	return l
}

// Listen makes pc, a bound UDP socket (BindUDP), the one HTTP/3 is served on.
//
// 0-RTT is off: early data can be replayed by an attacker (RFC 9001 §9.2,
// RFC 8470), and an upstream behind baton cannot tell a replayed POST from a
// fresh one. A resumed connection costs one round trip more instead.
func (l *HTTP3) Listen(pc net.PacketConn) error {
	qc := &quic.Config{
		// The handshake is the QUIC side's header timeout; the idle timeout
		// closes connections that carry nothing, keep-alive PINGs or not
		// (http3.Server.IdleTimeout counts only HTTP/3 activity).
		HandshakeIdleTimeout: l.opts.ReadHeaderTimeout,
		MaxIdleTimeout:       l.opts.IdleTimeout,
		Allow0RTT:            false,
	}
	ln, err := quic.ListenEarly(pc, http3.ConfigureTLSConfig(l.tc), qc)
	if err != nil {
		return fmt.Errorf("quic listen %s: %w", pc.LocalAddr(), err)
	}
	port := 0
	if ua, ok := pc.LocalAddr().(*net.UDPAddr); ok {
		port = ua.Port
	}
	l.ln, l.pc, l.port = ln, pc, strconv.Itoa(port)
	l.altSvcValue = []string{fmt.Sprintf(`h3=":%d"; ma=%d`, port, altSvcMaxAge)}[:1:1]
	logUDPBuffers(pc, l.logger)
	return nil
}

// Socket is the UDP socket, to hand over to the next baton process.
func (l *HTTP3) Socket() net.PacketConn { return l.pc }

// Addr is the bound UDP address.
func (l *HTTP3) Addr() net.Addr { return l.pc.LocalAddr() }

// Serve answers HTTP/3 until Shutdown or Close; it returns nil then. While it
// runs, Advertise's handlers announce it.
func (l *HTTP3) Serve() error {
	if l.ln == nil {
		return errors.New("serve http3: Listen was not called")
	}
	l.altSvc.Store(&l.altSvcValue)
	defer l.altSvc.Store(nil)
	if err := l.srv.ServeListener(l.ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, quic.ErrServerClosed) {
		return fmt.Errorf("serve http3 %s: %w", l.pc.LocalAddr(), err)
	}
	return nil
}

// Shutdown stops the announcement, sends every connection a GOAWAY (RFC 9114
// §5.2) so that clients open no new request on it, and waits for the requests
// in flight until ctx ends; then it closes what is left and the socket.
func (l *HTTP3) Shutdown(ctx context.Context) error {
	l.altSvc.Store(nil)
	err := l.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = nil // the bound was reached: what was left is closed, as on TCP
	}
	return errors.Join(err, l.closeSocket())
}

// Close ends every connection at once.
func (l *HTTP3) Close() error {
	l.altSvc.Store(nil)
	return errors.Join(l.srv.Close(), l.closeSocket())
}

func (l *HTTP3) closeSocket() error {
	if l.ln == nil {
		return nil
	}
	l.ln.Close()
	if err := l.pc.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// Advertise wraps the HTTPS listener's handler: while HTTP/3 is served, every
// answer carries Alt-Svc (RFC 7838 §3) naming its port, so browsers try QUIC
// on the next request. Plain HTTP never advertises it: an alternative is
// for the origin that named it (RFC 7838 §2), baton serves HTTP/3 for
// https:// origins only, and an http:// one would need RFC 8164's
// opportunistic security, which browsers do not do. An upstream's own
// Alt-Svc replaces it, as any of its fields would.
func (l *HTTP3) Advertise(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := l.altSvc.Load(); v != nil {
			w.Header()["Alt-Svc"] = *v
		}
		h.ServeHTTP(w, r)
	})
}

// ServeHTTP is the HTTP/3 side of what the fast path checks before the handler.
func (l *HTTP3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if status, why := l.limits.check(r); status != 0 {
		writeError(w, status, why)
		return
	}
	probeEmptyBody(w, r)
	l.next.ServeHTTP(w, r)
}

// check refuses what the TCP side would have: a request target that is not
// visible ASCII (RFC 9112 §3.2; the upstream gets it in a request line, where
// a space would split it), an :authority that is no host (RFC 9114 §4.3.1
// requires one for https), and more fields or a longer field than the fast
// path takes (431, RFC 6585 §5). quic-go bounds the whole header block
// (MaxHeaderBytes) and validates names and values itself.
func (lim h3Limits) check(r *http.Request) (int, string) {
	if status, why := checkPseudo(r); status != 0 {
		return status, why
	}
	// The request line the upstream gets: method SP target SP HTTP/1.1.
	if len(r.Method)+len(r.RequestURI)+10 > lim.line {
		return http.StatusRequestURITooLong, "request target too long"
	}
	n := 0
	for k, vv := range r.Header {
		n += len(vv)
		for _, v := range vv {
			// "name: value", the field's line in HTTP/1.1 upstream.
			if len(k)+len(v)+2 > lim.line {
				return http.StatusRequestHeaderFieldsTooLarge, "header field too large"
			}
		}
	}
	if n > lim.fields {
		return http.StatusRequestHeaderFieldsTooLarge, "too many header fields"
	}
	return 0, ""
}

// checkPseudo checks what HTTP/2 and HTTP/3 carry in pseudo-fields and the
// upstream gets in its request line and Host: the target must be visible
// ASCII (RFC 9112 §3.2: a space would split the request line, and neither
// net/http's HTTP/2 server nor quic-go refuses one in :path), the authority a
// host (RFC 9114 §4.3.1 and RFC 9113 §8.3.1 require one for https).
func checkPseudo(r *http.Request) (int, string) {
	if !visibleASCII(r.RequestURI) {
		return http.StatusBadRequest, "invalid request target"
	}
	if r.Host == "" || !httpguts.ValidHostHeader(r.Host) {
		return http.StatusBadRequest, "missing or invalid :authority"
	}
	return 0, ""
}

func visibleASCII(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// probeEmptyBody gives a request that carries no content http.NoBody and
// ContentLength 0, as net/http's HTTP/2 server does for a HEADERS frame with
// END_STREAM. HTTP/3 has no such flag: a GET's stream simply ends after its
// HEADERS, and quic-go hands the handler a body of unknown length. Proxied
// as it is, that GET would reach the upstream with Transfer-Encoding:
// chunked and an empty body, and a request with a body cannot be held and
// replayed when a stopping target refuses it, which is what keeps a deploy
// free of errors.
//
// The probe reads with a deadline already past: quic-go answers io.EOF at
// once when the stream's end has arrived (a client sends it with the
// HEADERS), and a deadline error otherwise before it consumes a byte, so
// nothing is lost, nothing waits, and a body that is coming is left as it is.
func probeEmptyBody(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength >= 0 || r.Body == nil || r.Body == http.NoBody {
		return
	}
	d, ok := w.(interface{ SetReadDeadline(time.Time) error })
	if !ok || d.SetReadDeadline(pastDeadline) != nil {
		return
	}
	var one [1]byte
	n, err := r.Body.Read(one[:])
	d.SetReadDeadline(time.Time{})
	switch {
	case n == 0 && err == io.EOF:
		r.Body = http.NoBody
		r.ContentLength = 0
	case n > 0:
		// Not with a past deadline, but should quic-go ever return data
		// first, the byte goes back in front of the rest.
		r.Body = prefixedBody{Reader: io.MultiReader(bytes.NewReader(bytes.Clone(one[:n])), r.Body), Closer: r.Body}
	}
}

var pastDeadline = time.Unix(1, 0)

type prefixedBody struct {
	io.Reader
	io.Closer
}
