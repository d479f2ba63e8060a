package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/batonproxy/baton/proxy/cache"
	"github.com/batonproxy/baton/proxy/internal/h1"
	"github.com/batonproxy/baton/proxy/internal/upstreamconn"
	"go.uber.org/zap"
)

// Handler is baton's reverse proxy: it finds the route for a request in the
// router's current table, picks a target, and relays the exchange.
type Handler struct {
	router       *Router
	logger       *zap.Logger
	accessLog    bool
	maxBodyBytes int64
	ids          *requestIDs
	verifyToken  string
	cache        *cache.Cache
	trusted      TrustedProxies
	// clientIP is trusted.ClientIP as a func value made once, for the table
	// to call when a route's rule has a ClientIP matcher (and only then).
	clientIP func(*http.Request) netip.Addr
	// inflight is the global bound (proxy.max_inflight); max 0 = none.
	inflight inflightLimit
	shedMsg  string
	shed     ShedCounter
}

// HandlerOptions configure a Handler.
type HandlerOptions struct {
	Logger       *zap.Logger
	AccessLog    bool
	MaxBodyBytes int64 // 0 = unlimited
	// VerifyToken, when set, lets baton's own verify probe ask which service
	// and target answered: a request carrying it in X-Baton-Verify gets
	// X-Baton-Service and X-Baton-Target on the response. Nobody else learns them.
	VerifyToken string
	// Cache, when set, serves and stores responses of routes with Cache on.
	Cache *cache.Cache
	// TrustedProxies are the ranges of the proxies in front of baton whose
	// X-Forwarded-* headers are kept and extended; from any other peer they
	// are replaced by what baton saw. Empty = trust no one.
	TrustedProxies []netip.Prefix
	// MaxInflight bounds the requests in flight through this handler
	// (proxy.max_inflight): beyond it, 503 with Retry-After. 0 = no bound.
	MaxInflight int64
	// Shed counts requests refused by a bound; nil counts nothing.
	Shed ShedCounter
}

// NewHandler returns a proxy handler reading routes from router.
func NewHandler(router *Router, o HandlerOptions) *Handler {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	h := &Handler{
		router:       router,
		logger:       o.Logger.Named("proxy"),
		accessLog:    o.AccessLog,
		maxBodyBytes: o.MaxBodyBytes,
		ids:          newRequestIDs(),
		verifyToken:  o.VerifyToken,
		cache:        o.Cache,
		trusted:      TrustedProxies(o.TrustedProxies),
	}
	h.clientIP = h.trusted.ClientIP
	h.shed = o.Shed
	if h.shed == nil {
		h.shed = nopShed{}
	}
	if o.MaxInflight > 0 {
		h.inflight = inflightLimit{max: o.MaxInflight, n: new(atomic.Int64)}
		h.shedMsg = shedMessage("", "proxy.max_inflight", o.MaxInflight)
	}
	return h
}

// ClientIP is the address of the client that sent r, per the edge's
// trusted-proxy rule (see TrustedProxies.ClientIP).
func (h *Handler) ClientIP(r *http.Request) netip.Addr {
	return h.trusted.ClientIP(r)
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.Method == http.MethodConnect {
		// baton is a gateway, not a forward proxy (an HTTP/2 CONNECT gets
		// here; the fast path refuses HTTP/1.1's itself).
		w.Header()["Allow"] = allowAll
		writeError(w, http.StatusMethodNotAllowed, "CONNECT is not served")
		return
	}
	if h.inflight.max > 0 {
		if !h.inflight.acquire() {
			h.shed.Shed(ShedGlobal)
			shed(w, h.shedMsg)
			h.logAccess(r, nil, nil, http.StatusServiceUnavailable, start)
			return
		}
		defer h.inflight.release()
	}
	host := hostOnly(r.Host)
	table := h.router.Table()
	route := table.Match(r, host, r.URL.Path, h.clientIP)
	if route == nil {
		writeError(w, http.StatusNotFound, "no route for host "+host)
		h.logAccess(r, nil, nil, http.StatusNotFound, start)
		return
	}
	if route.inflight.max > 0 {
		if !route.inflight.acquire() {
			h.shed.Shed(ShedService)
			shed(w, shedMessage(" for service "+route.Service, "baton.max_inflight", route.inflight.max))
			route.observer.Observe(http.StatusServiceUnavailable, time.Since(start))
			h.logAccess(r, route, nil, http.StatusServiceUnavailable, start)
			return
		}
		defer route.inflight.release()
	}
	h.trusted.dropClientPrefix(r)
	target, pinned := pick(route, r, start.UnixNano())
	caching := route.Cache && h.cache != nil
	if target == nil && !caching {
		route, target = h.hold(r.Context(), table, route, r, host)
		if target == nil {
			status := h.noTarget(w, r, route)
			route.observer.Observe(status, time.Since(start))
			h.logAccess(r, route, nil, status, start)
			return
		}
	}
	diag := false
	if h.verifyToken != "" {
		if v := r.Header["X-Baton-Verify"]; len(v) == 1 && v[0] == h.verifyToken {
			delete(r.Header, "X-Baton-Verify")
			diag = true
		}
	}
	var status int
	var used *Target
	switch {
	case route.Chain != nil:
		status, used = h.throughChain(w, r, table, route, target, pinned, diag, caching)
	case caching:
		status, used = h.cached(w, r, table, route, target, pinned, diag)
	default:
		setSticky(w, route, target, pinned)
		status, used = h.forward(w, r, route, target, diag)
	}
	route.observer.Observe(status, time.Since(start))
	h.logAccess(r, route, used, status, start)
}

// noTarget answers a request whose service has no ready target after the hold.
func (h *Handler) noTarget(w http.ResponseWriter, r *http.Request, route *Route) int {
	status := http.StatusServiceUnavailable
	if r.Context().Err() != nil {
		status = StatusClientClosed
	}
	writeError(w, status, "no ready target for service "+route.Service)
	return status
}

func setSticky(w http.ResponseWriter, route *Route, target *Target, pinned bool) {
	if route.StickyCookie != "" && !pinned {
		http.SetCookie(w, &http.Cookie{Name: route.StickyCookie, Value: target.stickyValue(), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
}

// cached answers from the response cache when it can, else forwards and lets
// the cache store what RFC 9111 allows. A burst of misses for one key makes one
// upstream request. A fresh entry is served even while the service has no
// ready target; a miss then holds for one, as an uncached request does, and
// its 503 carries Cache-Status too.
func (h *Handler) cached(w http.ResponseWriter, r *http.Request, table *Table, route *Route, target *Target, pinned, diag bool) (int, *Target) {
	status, used := http.StatusOK, (*Target)(nil)
	err := h.cache.Serve(w, r, route.Service, func(w http.ResponseWriter) bool {
		rt, t := route, target
		if t == nil {
			rt, t = h.hold(r.Context(), table, route, r, hostOnly(r.Host))
			if t == nil {
				status = h.noTarget(w, r, rt)
				return false
			}
		}
		setSticky(w, rt, t, pinned)
		status, used = h.forward(w, r, rt, t, diag)
		return status != StatusClientClosed && status < 500
	})
	if err != nil {
		return StatusClientClosed, target
	}
	return status, used
}

// hold waits up to the route's hold time for a table in which the request's route
// has a ready target: during a plain Compose recreate the service has none for a
// moment, and waiting beats failing.
func (h *Handler) hold(ctx context.Context, table *Table, route *Route, r *http.Request, host string) (*Route, *Target) {
	if route.Hold <= 0 {
		return route, nil
	}
	ctx, cancel := context.WithTimeout(ctx, route.Hold)
	defer cancel()
	for h.router.waitChange(ctx, table) {
		table = h.router.Table()
		rt := table.Match(r, host, r.URL.Path, h.clientIP)
		if rt == nil {
			return route, nil
		}
		route = rt
		if t, _ := pick(rt, nil, time.Now().UnixNano()); t != nil {
			return rt, t
		}
	}
	return route, nil
}

// holdAvailable waits up to the route's hold for a table whose route has a
// target that has not refused a connection lately. By now forward has
// rewritten the request's header (hop-by-hop fields gone, forwarded ones
// replaced), so it is not matched again as a whole: a rule route's
// successor is the new table's route with the same service and rule; a
// plain route's is looked up again by host and path, as always (Lookup
// skips the rules that read more of the request).
func (h *Handler) holdAvailable(ctx context.Context, route *Route, r *http.Request, host string) (*Route, *Target) {
	ctx, cancel := context.WithTimeout(ctx, route.Hold)
	defer cancel()
	table := h.router.Table()
	for {
		var rt *Route
		if route.Rule != nil {
			rt = table.sameRoute(route)
		} else {
			rt = table.Lookup(host, r.URL.Path)
		}
		if rt != nil {
			now := time.Now().UnixNano()
			for _, t := range rt.Targets {
				if t.available(now) {
					return rt, t
				}
			}
		}
		if !h.router.waitChange(ctx, table) {
			return route, nil
		}
		table = h.router.Table()
	}
}

// allowAll is the Allow field of a 405 (RFC 9110 §15.5.6).
var allowAll = []string{"GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS"}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// forward relays one exchange to target (and, if the dial is refused, once to
// another target). It returns the status the client got and the target used.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, route *Route, target *Target, diag bool) (int, *Target) {
	if h.maxBodyBytes > 0 && r.ContentLength > h.maxBodyBytes {
		route.observer.UpstreamError("too_large")
		writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
		return http.StatusRequestEntityTooLarge, target
	}
	ex := upstreamconn.NewExchange(r.Context())
	defer ex.Release()
	cancel := ex.CancelFunc()

	// TE is hop-by-hop, but "trailers" tells the next hop that the client
	// takes trailer fields (RFC 9110 §10.1.4); gRPC needs it to get through.
	trailers := h1.ContainsToken(r.Header["Te"], "trailers")
	upgrade := h1.RemoveHopHeaders(r.Header)
	// baton has answered any 100-continue itself: the body is on its way.
	delete(r.Header, "Expect")
	h.ids.ensure(r.Header, h.trusted.setForwarded(r.Header, r))
	if trailers {
		r.Header["Te"] = teTrailers
	}
	// An Upgrade the route does not allow is ignored, as a server may ignore
	// one (RFC 9110 §7.8): the request goes on as a plain one.
	if upgrade != "" && route.allowsUpgrade(upgrade) {
		r.Header["Connection"] = connectionUpgrade
		r.Header["Upgrade"] = []string{upgrade}
		ex.Upgrade = upgrade
	}
	ex.Replayable = upstreamconn.Replayable(r.Method, r.Header)
	ex.Client1xx = w
	// The client side validated every byte of the head (the fast path's
	// strict parser, net/http's for HTTP/2 and HTTP/1.0); only middlewares
	// may have written other values since, and those are checked again.
	ex.HeadChecked = route.Chain == nil
	ex.Method = r.Method
	ex.Target = requestTarget(r)
	ex.Host = r.Host
	ex.Header = r.Header
	ex.ContentLength = r.ContentLength
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		ex.Body = nil
	} else if h.maxBodyBytes > 0 {
		ex.Body = http.MaxBytesReader(w, r.Body, h.maxBodyBytes)
	} else {
		ex.Body = r.Body
	}

	resp, used, token, err := h.roundTrip(ex, route, target, cancel)
	if err != nil && refusedBeforeSend(err) && ex.Body == nil && route.Hold > 0 {
		// Every target refused (the last one is stopping: its kill event is a
		// few milliseconds behind its closed listener). Nothing was sent, so
		// hold the request for a target that takes it, as for an empty service.
		if rt, next := h.holdAvailable(r.Context(), route, r, hostOnly(r.Host)); next != nil {
			route = rt
			resp, token, err = send(ex, next, cancel)
			used = next
		}
	}
	if err != nil {
		f := classify(err, r.Context(), ex.CancelCause())
		route.observer.UpstreamError(f.kind)
		if f.kind != "client_gone" {
			h.logger.Warn("upstream failed", zap.String("service", route.Service), zap.String("target", used.Addr), zap.String("kind", f.kind), zap.Error(err))
		}
		writeError(w, f.status, f.reason)
		return f.status, used
	}
	defer used.finish(token)
	if diag {
		w.Header()["X-Baton-Service"] = []string{route.Service}
		w.Header()["X-Baton-Target"] = []string{used.ID}
	}
	return h.relayResponse(w, r, resp, route, used, ex), used
}

// requestTarget is the target sent upstream: exactly the bytes baton routed
// on, in origin form. An absolute-form target (RFC 9112 §3.2.2) loses its
// scheme and authority, nothing else; net/url never re-encodes it.
func requestTarget(r *http.Request) string {
	t := r.RequestURI
	switch {
	case t != "" && t[0] == '/':
		return t
	case strings.HasPrefix(t, "http://") || strings.HasPrefix(t, "https://"):
		rest := t[strings.Index(t, "://")+3:]
		switch i := strings.IndexAny(rest, "/?"); {
		case i < 0:
			return "/"
		case rest[i] == '?':
			return "/" + rest[i:]
		default:
			return rest[i:]
		}
	}
	return r.URL.RequestURI()
}

var connectionUpgrade = []string{"Upgrade"}

// roundTrip sends out to target. A refused dial on a request that can be
// replayed is tried once on another target. On success the returned token must
// be handed to the target's finish once the response is relayed.
func (h *Handler) roundTrip(ex *upstreamconn.Exchange, route *Route, target *Target, cancel context.CancelCauseFunc) (*http.Response, *Target, uint64, error) {
	resp, token, err := send(ex, target, cancel)
	if err == nil || !refusedBeforeSend(err) {
		return resp, target, token, err
	}
	// A refused dial sent nothing and read nothing of the body: any request
	// may go to another target.
	target.markRefused(time.Now())
	other, _ := pick(route, nil, time.Now().UnixNano())
	if other == nil || other == target {
		return nil, target, 0, err
	}
	route.observer.UpstreamError("refused")
	resp, token, err = send(ex, other, cancel)
	return resp, other, token, err
}

// send makes one attempt on t, reporting it to the target's tracker so a drain
// can wait for it or cancel it.
func send(ex *upstreamconn.Exchange, t *Target, cancel context.CancelCauseFunc) (*http.Response, uint64, error) {
	token := t.begin(cancel)
	var resp *http.Response
	var err error
	if t.other == nil {
		resp, err = t.client.RoundTrip(ex) // plain HTTP/1.1: the fast client
	} else {
		resp, err = t.other.RoundTrip(ex) // https, h2c
	}
	if err != nil {
		t.finish(token)
		return nil, 0, err
	}
	return resp, token, nil
}

var teTrailers = []string{"trailers"}

// relayResponse writes resp to the client, streaming the body; it flushes every
// write when the response is a stream so events reach the client at once.
func (h *Handler) relayResponse(w http.ResponseWriter, r *http.Request, resp *http.Response, route *Route, t *Target, ex *upstreamconn.Exchange) int {
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return h.relayUpgrade(w, r, resp, route, t)
	}
	defer resp.Body.Close()
	h1.RemoveHopHeaders(resp.Header)
	dst := w.Header()
	for k, vv := range resp.Header {
		dst[k] = vv
	}
	if !h1.BodyAllowedForStatus(resp.StatusCode) {
		// RFC 9110 §8.6: a 204 carries no Content-Length; a 304's would
		// only repeat the representation's, and clients have misread it.
		delete(dst, "Content-Length")
	}
	if len(resp.Trailer) > 0 {
		for k := range resp.Trailer {
			dst.Add("Trailer", k)
		}
	}
	w.WriteHeader(resp.StatusCode)
	if r.Method == http.MethodHead {
		return resp.StatusCode
	}
	stream := resp.ContentLength == -1 || isEventStream(resp.Header)
	if err := copyBody(w, resp.Body, stream); err != nil {
		if r.Context().Err() != nil {
			return StatusClientClosed
		}
		if errors.Is(ex.CancelCause(), ErrDraining) {
			route.observer.UpstreamError("draining")
		} else {
			route.observer.UpstreamError("reset")
			h.logger.Warn("upstream body failed", zap.String("service", route.Service), zap.String("target", t.Addr), zap.Error(err))
		}
		// The status line is gone; cutting the connection is the only honest way
		// to tell the client the body is incomplete.
		panic(http.ErrAbortHandler)
	}
	for k, vv := range resp.Trailer {
		dst[http.TrailerPrefix+k] = vv
	}
	return resp.StatusCode
}

func isEventStream(h http.Header) bool {
	ct := h["Content-Type"]
	return len(ct) > 0 && len(ct[0]) >= 17 && ct[0][:17] == "text/event-stream"
}

// copyBody copies src to w, flushing after each write when stream is set.
func copyBody(w http.ResponseWriter, src io.Reader, stream bool) error {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	var flusher http.Flusher
	if stream {
		flusher, _ = w.(http.Flusher)
	}
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}
