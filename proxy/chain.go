package proxy

import (
	"bufio"
	"context"
	"net"
	"net/http"
)

// A route's middlewares (Traefik's basicAuth, forwardAuth, headers,
// stripPrefix, ...) are one http.Handler built once when the route is
// published, around Upstream. The request reaches Upstream, if the
// middlewares let it, carrying what the handler decided before the chain
// (route, target) in its context; a route without middlewares never takes
// this path and pays nothing for it.

// Upstream is the end of every middleware chain: it proxies the request as
// the middlewares left it (path, headers) to the target picked for it.
var Upstream http.Handler = upstreamEnd{}

type chainKey struct{}

// chainState is one request's way through a route's chain.
type chainState struct {
	h            *Handler
	table        *Table
	route        *Route
	target       *Target
	pinned, diag bool
	caching      bool
	reached      bool // the middlewares let the request through to Upstream
	status       int
	used         *Target
}

func (h *Handler) throughChain(w http.ResponseWriter, r *http.Request, table *Table, route *Route, target *Target, pinned, diag, caching bool) (int, *Target) {
	st := &chainState{h: h, table: table, route: route, target: target, pinned: pinned, diag: diag, caching: caching}
	sw := &statusWriter{ResponseWriter: w}
	route.Chain.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), chainKey{}, st)))
	if !st.reached {
		// A middleware answered (401, 403, a redirect, 429).
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		return sw.status, nil
	}
	return st.status, st.used
}

type upstreamEnd struct{}

func (upstreamEnd) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st, ok := r.Context().Value(chainKey{}).(*chainState)
	if !ok || st.reached {
		// Only a route's chain may call Upstream, once per request.
		writeError(w, http.StatusInternalServerError, "middleware chain misused")
		return
	}
	st.reached = true
	h := st.h
	if st.caching {
		st.status, st.used = h.cached(w, r, st.table, st.route, st.target, st.pinned, st.diag)
		return
	}
	setSticky(w, st.route, st.target, st.pinned)
	st.status, st.used = h.forward(w, r, st.route, st.target, st.diag)
}

// statusWriter notes the status a middleware answered with; Flush, Hijack
// and Unwrap reach the writer underneath (streams and upgrades go on).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Flush() { http.NewResponseController(w.ResponseWriter).Flush() }

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
