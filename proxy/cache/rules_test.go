package cache

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Each test here pins one RFC 9111 rule as a user sees it: what the first
// answer's Cache-Status says, and whether a second request reaches the backend.

// firstThenSecond asks path twice with the same request fields and reports both answers.
func firstThenSecond(g *rig, path string, fields ...string) (answer, answer) {
	g.t.Helper()
	return g.get(path, fields...), g.get(path, fields...)
}

func TestStoresOnlyConservativeStatusesWithExplicitFreshness(t *testing.T) { // RFC 9111 §3, RFC 9110 §15.1
	cases := []struct {
		status     int
		fields     map[string]string
		wantFirst  string
		wantSecond string
	}{
		{200, map[string]string{"Cache-Control": "max-age=60"}, "baton; fwd=uri-miss; stored", "baton; hit"},
		{203, map[string]string{"Cache-Control": "max-age=60"}, "baton; fwd=uri-miss; stored", "baton; hit"},
		{204, map[string]string{"Cache-Control": "max-age=60"}, "baton; fwd=uri-miss; stored", "baton; hit"},
		{301, map[string]string{"Cache-Control": "max-age=60", "Location": "/x"}, "baton; fwd=uri-miss; stored", "baton; hit"},
		{404, map[string]string{"Cache-Control": "max-age=60"}, "baton; fwd=uri-miss; stored", "baton; hit"},
		{410, map[string]string{"Cache-Control": "max-age=60"}, "baton; fwd=uri-miss; stored", "baton; hit"},
		{501, map[string]string{"Cache-Control": "max-age=60"}, "baton; fwd=uri-miss; stored", "baton; hit"},
		// Heuristically cacheable, but no explicit freshness: baton uses no heuristics.
		{200, map[string]string{"Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"}, "baton; fwd=uri-miss; detail=no-freshness", "baton; fwd=uri-miss; detail=no-freshness"},
		{404, nil, "baton; fwd=uri-miss; detail=no-freshness", "baton; fwd=uri-miss; detail=no-freshness"},
		// Outside the set even with explicit freshness.
		{302, map[string]string{"Cache-Control": "max-age=60", "Location": "/x"}, "baton; fwd=uri-miss; detail=status", "baton; fwd=uri-miss; detail=status"},
		{206, map[string]string{"Cache-Control": "max-age=60"}, "baton; fwd=uri-miss; detail=status", "baton; fwd=uri-miss; detail=status"},
		{500, map[string]string{"Cache-Control": "max-age=60"}, "baton; fwd=uri-miss; detail=status", "baton; fwd=uri-miss; detail=status"},
		{503, map[string]string{"Cache-Control": "max-age=60"}, "baton; fwd=uri-miss; detail=status", "baton; fwd=uri-miss; detail=status"},
	}
	for _, tc := range cases {
		t.Run(http.StatusText(tc.status)+" "+tc.fields["Cache-Control"], func(t *testing.T) {
			g := newRig(t, 1<<20)
			g.withHeaders(tc.status, tc.fields, "")
			first, second := firstThenSecond(g, "/p")
			if first.status != tc.status || first.cacheStatus != tc.wantFirst || second.cacheStatus != tc.wantSecond {
				t.Fatalf("status %d: first %d %q, second %q; want %q, %q", tc.status, first.status, first.cacheStatus, second.cacheStatus, tc.wantFirst, tc.wantSecond)
			}
			wantCalls := int64(2)
			if tc.wantSecond == "baton; hit" {
				wantCalls = 1
			}
			if got := g.calls.Load(); got != wantCalls {
				t.Fatalf("backend saw %d requests, want %d", got, wantCalls)
			}
		})
	}
}

func TestFreshnessLifetimeFromSMaxAgeThenMaxAgeThenExpires(t *testing.T) { // RFC 9111 §4.2.1
	date := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	httpDate := func(d time.Duration) string { return date.Add(d).Format(http.TimeFormat) }
	cases := []struct {
		name       string
		fields     map[string]string
		freshUntil time.Duration // hit just before, stale at; 0: never stored
	}{
		{"max-age", map[string]string{"Cache-Control": "max-age=30"}, 30 * time.Second},
		{"s-maxage beats max-age", map[string]string{"Cache-Control": "max-age=5, s-maxage=40"}, 40 * time.Second},
		{"max-age beats Expires", map[string]string{"Cache-Control": "max-age=10", "Expires": httpDate(time.Hour)}, 10 * time.Second},
		{"Expires minus Date", map[string]string{"Expires": httpDate(20 * time.Second)}, 20 * time.Second},
		{"quoted and upper case", map[string]string{"Cache-Control": `PUBLIC, Max-Age="25"`}, 25 * time.Second},
		{"first max-age wins", map[string]string{"Cache-Control": "max-age=15, max-age=900"}, 15 * time.Second},
		{"Expires in the past", map[string]string{"Expires": httpDate(-time.Minute)}, 0},
		{"invalid Expires means expired", map[string]string{"Expires": "0"}, 0},
		{"malformed max-age means stale", map[string]string{"Cache-Control": "max-age=soon"}, 0},
		{"max-age=0", map[string]string{"Cache-Control": "max-age=0"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, 1<<20)
			g.clock.t = date
			g.withHeaders(200, tc.fields, "v")
			first := g.get("/p")
			if tc.freshUntil == 0 {
				if first.cacheStatus != "baton; fwd=uri-miss; detail=stale" {
					t.Fatalf("first: %q, want detail=stale", first.cacheStatus)
				}
				if g.get("/p").cacheStatus == "baton; hit" {
					t.Fatal("an already stale response was served from the cache")
				}
				return
			}
			g.clock.Advance(tc.freshUntil - time.Second)
			if a := g.get("/p"); a.cacheStatus != "baton; hit" {
				t.Fatalf("1s before expiry: %q, want a hit", a.cacheStatus)
			}
			g.clock.Advance(time.Second)
			if a := g.get("/p"); !strings.HasPrefix(a.cacheStatus, "baton; fwd=stale") {
				t.Fatalf("at expiry: %q, want fwd=stale", a.cacheStatus)
			}
			if g.calls.Load() != 2 {
				t.Fatalf("backend saw %d requests, want 2", g.calls.Load())
			}
		})
	}
}

func TestAgeHeaderOnHits(t *testing.T) { // RFC 9111 §4.2.3, §5.1
	t.Run("grows while stored", func(t *testing.T) {
		g := newRig(t, 1<<20)
		g.withHeaders(200, map[string]string{"Cache-Control": "max-age=100"}, "v")
		if a := g.get("/p"); a.age != "" {
			t.Fatalf("a forwarded answer carries Age %q", a.age)
		}
		g.clock.Advance(42 * time.Second)
		if a := g.get("/p"); a.cacheStatus != "baton; hit" || a.age != "42" {
			t.Fatalf("got %q Age %q, want hit with Age 42", a.cacheStatus, a.age)
		}
		g.clock.Advance(20 * time.Minute)
		g.cache.Purge("web", "")
		g.withHeaders(200, map[string]string{"Cache-Control": "max-age=10000"}, "v")
		g.get("/p")
		g.clock.Advance(700 * time.Second)
		if a := g.get("/p"); a.age != "700" {
			t.Fatalf("Age %q, want 700", a.age)
		}
	})
	t.Run("counts an upstream cache's Age", func(t *testing.T) {
		g := newRig(t, 1<<20)
		g.withHeaders(200, map[string]string{"Cache-Control": "max-age=15", "Age": "10"}, "v")
		g.get("/p")
		if a := g.get("/p"); a.cacheStatus != "baton; hit" || a.age != "10" {
			t.Fatalf("got %q Age %q, want hit with Age 10", a.cacheStatus, a.age)
		}
		g.clock.Advance(5 * time.Second) // 10 + 5 = max-age
		if a := g.get("/p"); !strings.HasPrefix(a.cacheStatus, "baton; fwd=stale") {
			t.Fatalf("got %q, want stale once upstream age plus residence reaches max-age", a.cacheStatus)
		}
	})
	t.Run("counts a Date in the past", func(t *testing.T) {
		g := newRig(t, 1<<20)
		past := g.clock.Now().Add(-30 * time.Second).UTC().Format(http.TimeFormat)
		g.withHeaders(200, map[string]string{"Cache-Control": "max-age=60", "Date": past}, "v")
		g.get("/p")
		if a := g.get("/p"); a.age != "30" {
			t.Fatalf("Age %q, want 30 (apparent age from Date)", a.age)
		}
	})
}

func TestResponseDirectivesThatForbidStoring(t *testing.T) { // RFC 9111 §3, §5.2.2
	cases := []struct {
		cacheControl string
		detail       string
	}{
		{"no-store, max-age=60", "no-store"},
		{"private, max-age=60", "private"},
		{`private="X-User", max-age=60`, "private"},
		{"no-cache, max-age=60", "no-cache"},
		{`no-cache="Set-Cookie", max-age=60`, "no-cache"},
		{"public, s-maxage=60, no-store", "no-store"},
	}
	for _, tc := range cases {
		t.Run(tc.cacheControl, func(t *testing.T) {
			g := newRig(t, 1<<20)
			g.withHeaders(200, map[string]string{"Cache-Control": tc.cacheControl}, "v")
			first, second := firstThenSecond(g, "/p")
			want := "baton; fwd=uri-miss; detail=" + tc.detail
			if first.cacheStatus != want || second.cacheStatus != want || g.calls.Load() != 2 {
				t.Fatalf("got %q then %q with %d backend requests; want %q twice, 2 requests", first.cacheStatus, second.cacheStatus, g.calls.Load(), want)
			}
		})
	}
}

func TestSetCookieIsNeverStored(t *testing.T) { // baton's rule, stricter than RFC 9111 §7.3
	g := newRig(t, 1<<20)
	g.withHeaders(200, map[string]string{"Cache-Control": "public, s-maxage=600", "Set-Cookie": "session=alice"}, "v")
	first, second := firstThenSecond(g, "/p")
	if first.cacheStatus != "baton; fwd=uri-miss; detail=set-cookie" || second.header.Get("Set-Cookie") != "session=alice" || g.calls.Load() != 2 {
		t.Fatalf("got %q, second Set-Cookie %q, %d backend requests", first.cacheStatus, second.header.Get("Set-Cookie"), g.calls.Load())
	}
}

func TestAuthorizationNeedsAnExplicitlySharedResponse(t *testing.T) { // RFC 9111 §3.5
	cases := []struct {
		cacheControl string
		shared       bool
	}{
		{"max-age=60", false},
		{"public, max-age=60", true},
		{"s-maxage=60", true},
		{"must-revalidate, max-age=60", true},
		{"proxy-revalidate, max-age=60", false},
	}
	for _, tc := range cases {
		t.Run(tc.cacheControl, func(t *testing.T) {
			g := newRig(t, 1<<20)
			g.withHeaders(200, map[string]string{"Cache-Control": tc.cacheControl}, "v")
			first, second := firstThenSecond(g, "/p", "Authorization: Bearer alice")
			if tc.shared {
				if first.cacheStatus != "baton; fwd=uri-miss; stored" || second.cacheStatus != "baton; hit" {
					t.Fatalf("got %q then %q, want stored then hit", first.cacheStatus, second.cacheStatus)
				}
				return
			}
			if first.cacheStatus != "baton; fwd=uri-miss; detail=authorization" || second.cacheStatus == "baton; hit" {
				t.Fatalf("got %q then %q, want detail=authorization and no hit", first.cacheStatus, second.cacheStatus)
			}
		})
	}
	t.Run("stored for anonymous, not served to Authorization", func(t *testing.T) {
		g := newRig(t, 1<<20)
		g.withHeaders(200, map[string]string{"Cache-Control": "max-age=60"}, "v")
		g.get("/p")
		if a := g.get("/p", "Authorization: Bearer bob"); a.cacheStatus != "baton; fwd=request; detail=authorization" {
			t.Fatalf("got %q, want fwd=request", a.cacheStatus)
		}
		if a := g.get("/p"); a.cacheStatus != "baton; hit" {
			t.Fatalf("anonymous after: %q, want hit", a.cacheStatus)
		}
	})
}

func TestRequestDirectives(t *testing.T) { // RFC 9111 §5.2.1
	cases := []struct {
		name   string
		fields []string
		want   string
	}{
		{"no-cache refetches and refreshes", []string{"Cache-Control: no-cache"}, "baton; fwd=request; stored"},
		{"max-age=0 refetches", []string{"Cache-Control: max-age=0"}, "baton; fwd=request; stored"},
		{"no-store may still be answered from the cache", []string{"Cache-Control: no-store"}, "baton; hit"},
		{"no-store with no-cache stores nothing", []string{"Cache-Control: no-store, no-cache"}, "baton; fwd=request; detail=request-no-store"},
		{"max-age below the age", []string{"Cache-Control: max-age=5"}, "baton; fwd=request; stored"},
		{"max-age above the age", []string{"Cache-Control: max-age=60"}, "baton; hit"},
		{"min-fresh beyond what is left", []string{"Cache-Control: min-fresh=95"}, "baton; fwd=request; stored"},
		{"min-fresh within what is left", []string{"Cache-Control: min-fresh=80"}, "baton; hit"},
		{"unknown directives are ignored", []string{"Cache-Control: max-stale, foo=bar"}, "baton; hit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, 1<<20)
			g.withHeaders(200, map[string]string{"Cache-Control": "max-age=100"}, "v")
			g.get("/p")
			g.clock.Advance(10 * time.Second)
			if a := g.get("/p", tc.fields...); a.cacheStatus != tc.want {
				t.Fatalf("got %q, want %q", a.cacheStatus, tc.want)
			}
		})
	}
}

func TestHeadIsServedFromTheGetEntry(t *testing.T) { // RFC 9111 §4 (HEAD reuses a GET response)
	g := newRig(t, 1<<20)
	g.withHeaders(200, map[string]string{"Cache-Control": "max-age=60", "Content-Type": "text/plain"}, "hello, world")
	if a := g.do(http.MethodHead, "/p"); a.cacheStatus != "baton; fwd=uri-miss" {
		t.Fatalf("HEAD first: %q, want a miss that stores nothing", a.cacheStatus)
	}
	if a := g.get("/p"); a.cacheStatus != "baton; fwd=uri-miss; stored" {
		t.Fatalf("GET after HEAD: %q, want uri-miss (HEAD stored nothing)", a.cacheStatus)
	}
	a := g.do(http.MethodHead, "/p")
	if a.cacheStatus != "baton; hit" || a.body != "" || a.header.Get("Content-Length") != "12" || a.header.Get("Content-Type") != "text/plain" {
		t.Fatalf("HEAD: %q body %q Content-Length %q", a.cacheStatus, a.body, a.header.Get("Content-Length"))
	}
	if g.calls.Load() != 2 {
		t.Fatalf("backend saw %d requests, want 2", g.calls.Load())
	}
}

func TestUnsafeMethodInvalidatesTheURI(t *testing.T) { // RFC 9111 §4.4
	for _, tc := range []struct {
		postStatus  int
		invalidates bool
	}{{200, true}, {303, true}, {500, false}} {
		t.Run(http.StatusText(tc.postStatus), func(t *testing.T) {
			g := newRig(t, 1<<20)
			g.setBackend(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost {
					w.WriteHeader(tc.postStatus)
					return
				}
				w.Header().Set("Cache-Control", "max-age=60")
			})
			g.get("/p")
			if a := g.do(http.MethodPost, "/p"); a.cacheStatus != "baton; fwd=method" {
				t.Fatalf("POST: %q, want fwd=method", a.cacheStatus)
			}
			a := g.get("/p")
			if tc.invalidates != (a.cacheStatus == "baton; fwd=uri-miss; stored") {
				t.Fatalf("GET after POST %d: %q", tc.postStatus, a.cacheStatus)
			}
		})
	}
}

func TestRequestsTheCacheDoesNotHandle(t *testing.T) {
	g := newRig(t, 1<<20)
	g.withHeaders(200, map[string]string{"Cache-Control": "max-age=60"}, "hello")
	g.get("/p")
	if a := g.get("/p", "Range: bytes=0-1"); a.cacheStatus != "baton; fwd=bypass" {
		t.Fatalf("Range: %q, want fwd=bypass", a.cacheStatus)
	}
	off := newRig(t, 0)
	off.withHeaders(200, map[string]string{"Cache-Control": "max-age=60"}, "hello")
	if a, b := firstThenSecond(off, "/p"); a.cacheStatus != "baton; fwd=bypass" || b.cacheStatus != "baton; fwd=bypass" {
		t.Fatalf("cache of size 0: %q, %q", a.cacheStatus, b.cacheStatus)
	}
}

func TestKeyIsServiceHostPathAndQuery(t *testing.T) {
	g := newRig(t, 1<<20)
	g.setBackend(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte(r.URL.RequestURI()))
	})
	g.get("/p?a=1")
	for _, tc := range []struct {
		path   string
		fields []string
		hit    bool
	}{
		{"/p?a=1", nil, true},
		{"/p?a=2", nil, false},
		{"/p", nil, false},
		{"/P?a=1", nil, false},
		{"/p?a=1", []string{"X-Test-Service: other"}, false},
	} {
		a := g.get(tc.path, tc.fields...)
		if (a.cacheStatus == "baton; hit") != tc.hit {
			t.Errorf("%s %v: %q, want hit=%v", tc.path, tc.fields, a.cacheStatus, tc.hit)
		}
		if a.body != tc.path {
			t.Errorf("%s: body %q, another URI's answer", tc.path, a.body)
		}
	}
}

// An http-to-https redirect stored for plain HTTP must not answer HTTPS: a loop.
func TestKeySeparatesHTTPAndHTTPS(t *testing.T) {
	c := New(1<<20, nil)
	plain := httptest.NewRequest(http.MethodGet, "http://app.test/", nil)
	_, st, _ := c.Lookup("web", plain)
	rec := c.Record(httptest.NewRecorder(), plain, st)
	rec.Header().Set("Cache-Control", "max-age=600")
	rec.Header().Set("Location", "https://app.test/")
	rec.WriteHeader(http.StatusMovedPermanently)
	if !rec.End(true) {
		t.Fatal("redirect not stored")
	}
	if e, _, _ := c.Lookup("web", plain); e == nil {
		t.Fatal("plain HTTP: no hit")
	}
	secure := httptest.NewRequest(http.MethodGet, "https://app.test/", nil)
	if e, st, _ := c.Lookup("web", secure); e != nil || st.Fwd() != FwdURIMiss {
		t.Fatalf("HTTPS got the plain-HTTP redirect (fwd %q)", st.Fwd())
	}
}
