package proxy

import (
	"io"
	"net/http"
	"testing"
)

// A route's chain runs before the upstream: it may answer itself (and is
// counted with its status) or pass the request on as it changed it.
func TestRouteChainRunsBeforeTheUpstream(t *testing.T) {
	up := backend(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.RequestURI+" "+r.Header.Get("X-User"))
	})
	guard := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Key") != "ok" {
				w.Header().Set("WWW-Authenticate", `Basic realm="t"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			r.Header.Set("X-User", "ann")
			r.URL.Path, r.RequestURI = "/inner", "/inner"
			next.ServeHTTP(w, r)
		})
	}
	m := newRecordingMetrics()
	_, url := newProxyWith(t, m, HandlerOptions{},
		&Route{Service: "guarded", Host: "g.test", Path: "/", Targets: []*Target{up}, Chain: guard(Upstream)},
		&Route{Service: "open", Host: "o.test", Path: "/", Targets: []*Target{up}},
	)
	do := func(host, key string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, url+"/outer", nil)
		req.Host = host
		if key != "" {
			req.Header.Set("X-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := do("g.test", ""); code != http.StatusUnauthorized {
		t.Errorf("no key: %d, want 401 from the chain", code)
	}
	if code, body := do("g.test", "ok"); code != 200 || body != "/inner ann" {
		t.Errorf("with key: %d %q, want the upstream to see the rewritten target and the added header", code, body)
	}
	if code, body := do("o.test", ""); code != 200 || body != "/outer " {
		t.Errorf("route without chain: %d %q", code, body)
	}
	if got := m.statusesOf("guarded"); len(got) != 2 || got[0] != 401 || got[1] != 200 {
		t.Errorf("observed %v, want [401 200]", got)
	}
}

// A middleware that writes a line break into a header value cannot start a
// field of its own upstream: the head is checked again after a chain.
func TestChainCannotInjectAHeaderUpstream(t *testing.T) {
	got := make(chan string, 1)
	up := backend(t, func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Get("X-Evil") })
	inject := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header["X-Note"] = []string{"a\r\nX-Evil: 1"}
			next.ServeHTTP(w, r)
		})
	}
	_, url := newProxy(t, HandlerOptions{}, &Route{Service: "s", Host: "s.test", Targets: []*Target{up}, Chain: inject(Upstream)})
	req, _ := http.NewRequest(http.MethodGet, url+"/", nil)
	req.Host = "s.test"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case v := <-got:
		t.Fatalf("the upstream got a request (X-Evil %q); want it refused before any byte", v)
	default:
	}
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, want 502", resp.StatusCode)
	}
}
