package middleware

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

// recorder is a next handler that records the requests it got.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
	// serve, when set, answers instead of the default 200 "upstream".
	serve func(w http.ResponseWriter, r *http.Request)
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var b []byte
	if r.Body != nil {
		b, _ = io.ReadAll(r.Body)
	}
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, r)
	rec.body = append(rec.body, b)
	rec.mu.Unlock()
	if rec.serve != nil {
		rec.serve(w, r)
		return
	}
	w.Header().Set("X-Upstream", "yes")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("upstream"))
}

func (rec *recorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.reqs)
}

func (rec *recorder) last(t *testing.T) *http.Request {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reqs) == 0 {
		t.Fatal("the upstream got no request")
	}
	return rec.reqs[len(rec.reqs)-1]
}

// trustedEnv is an Env whose ClientIP is the edge's trusted-proxy rule for
// the given ranges (as proxy.TrustedProxies.ClientIP: the peer unless it is
// trusted, then the rightmost X-Forwarded-For entry that is not trusted, or
// the last one walked).
func trustedEnv(ranges ...string) Env {
	var ps []netip.Prefix
	for _, r := range ranges {
		ps = append(ps, netip.MustParsePrefix(r))
	}
	trusts := func(a netip.Addr) bool {
		for _, p := range ps {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	return Env{ClientIP: func(r *http.Request) netip.Addr {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil {
			return netip.Addr{}
		}
		peer := ap.Addr().Unmap()
		if !trusts(peer) {
			return peer
		}
		last := peer
		chain := strings.Join(r.Header["X-Forwarded-For"], ",")
		parts := strings.Split(chain, ",")
		for i := len(parts) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[i]))
			if err != nil {
				return last
			}
			last = a.Unmap()
			if !trusts(last) {
				return last
			}
		}
		return last
	}}
}

// build makes kind with the options (pairs of key and value) around next.
func build(t *testing.T, kind string, env Env, next http.Handler, kv ...string) http.Handler {
	t.Helper()
	h, err := buildErr(kind, env, next, kv...)
	if err != nil {
		t.Fatalf("build %s: %v", kind, err)
	}
	return h
}

func buildErr(kind string, env Env, next http.Handler, kv ...string) (http.Handler, error) {
	opts := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		opts[kv[i]] = kv[i+1]
	}
	return Build(Spec{Name: "test", Kind: kind, Options: opts}, env, next)
}

// wantOptionError checks that err is an OptionError about option.
func wantOptionError(t *testing.T, err error, option string) {
	t.Helper()
	var oe *OptionError
	if !errors.As(err, &oe) {
		t.Fatalf("want an OptionError about %s, got %v", option, err)
	}
	if oe.Option != option {
		t.Fatalf("want an OptionError about %s, got one about %s: %v", option, oe.Option, err)
	}
}

// do serves one request from remote (an "ip:port") with the headers (pairs).
func do(h http.Handler, method, target, remote string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = remote
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
