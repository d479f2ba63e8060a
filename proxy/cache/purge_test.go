package cache

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestPurgeByServiceAndPathPrefix(t *testing.T) {
	g := newRig(t, 1<<20)
	g.withHeaders(200, map[string]string{"Cache-Control": "max-age=600"}, "v")
	shop := "X-Test-Service: shop"
	for _, p := range []string{"/api", "/api/users", "/api/users?page=2", "/apiary", "/"} {
		g.get(p)
	}
	g.get("/api/users", shop)

	if n := g.cache.Purge("web", "/api"); n != 3 {
		t.Fatalf("purge web /api removed %d, want 3 (/api, /api/users, /api/users?page=2)", n)
	}
	for _, tc := range []struct {
		path, service string
		hit           bool
	}{
		{"/api/users", "", false},
		{"/apiary", "", true},
		{"/", "", true},
		{"/api/users", shop, true},
	} {
		var fields []string
		if tc.service != "" {
			fields = append(fields, tc.service)
		}
		if a := g.do(http.MethodHead, tc.path, fields...); (a.cacheStatus == "baton; hit") != tc.hit {
			t.Errorf("%s %s after purge: %q, want hit=%v", tc.service, tc.path, a.cacheStatus, tc.hit)
		}
	}
	if n := g.cache.Purge("web", ""); n != 2 {
		t.Fatalf("purge of all web removed %d, want 2", n)
	}
	if a := g.do(http.MethodHead, "/api/users", shop); a.cacheStatus != "baton; hit" {
		t.Fatalf("shop's entry went with web's purge: %q", a.cacheStatus)
	}
	if got := g.metrics.purged.Load(); got != 5 {
		t.Fatalf("Purged reported %d, want 5", got)
	}
	if g.cache.Len() != 1 {
		t.Fatalf("%d entries left, want 1", g.cache.Len())
	}
}

// A response fetched from the old target just before a deploy's switch must
// not land in the cache after the switch's purge: the verify probe would see it.
func TestPurgeDiscardsFillsAlreadyUnderWay(t *testing.T) {
	c := New(1<<20, nil)
	r := httptest.NewRequest(http.MethodGet, "http://app.test/version", nil)
	e, st, err := c.Lookup("web", r)
	if e != nil || err != nil || !st.Leads() {
		t.Fatalf("lookup: %v %v leads=%v", e, err, st.Leads())
	}
	rec := c.Record(httptest.NewRecorder(), r, st)
	rec.Header().Set("Cache-Control", "max-age=600")
	rec.Header().Set("Content-Length", "2")
	rec.WriteHeader(200)
	_, _ = rec.Write([]byte("v1"))

	c.Purge("web", "")
	if rec.End(true) {
		t.Fatal("a fill begun before the purge was stored")
	}
	if e, st, _ := c.Lookup("web", r); e != nil || st.Fwd() != FwdURIMiss {
		t.Fatalf("after purge: entry %v, fwd %q", e, st.Fwd())
	}
}
