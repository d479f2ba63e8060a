package cache

import (
	"net/http"
	"testing"
)

func TestVarySelectsTheVariantByRequestHeaders(t *testing.T) { // RFC 9111 §4.1
	g := newRig(t, 1<<20)
	g.setBackend(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "accept-language") // any case names the same field
		_, _ = w.Write([]byte("lang=" + r.Header.Get("Accept-Language")))
	})
	steps := []struct {
		lang       string // "" sends none
		wantStatus string
	}{
		{"en", "baton; fwd=uri-miss; stored"},
		{"en", "baton; hit"},
		{"fr", "baton; fwd=vary-miss; stored"},
		{"fr", "baton; hit"},
		{"en", "baton; hit"},
		{" en ", "baton; hit"}, // whitespace around a value is not significant
		{"", "baton; fwd=vary-miss; stored"},
		{"", "baton; hit"},
		{"de", "baton; fwd=vary-miss; stored"},
	}
	for i, s := range steps {
		var fields []string
		if s.lang != "" {
			fields = []string{"Accept-Language: " + s.lang}
		}
		a := g.get("/p", fields...)
		if a.cacheStatus != s.wantStatus {
			t.Fatalf("step %d (%q): %q, want %q", i, s.lang, a.cacheStatus, s.wantStatus)
		}
		if want := "lang=" + trimmed(s.lang); a.body != want {
			t.Fatalf("step %d: body %q, want %q: another variant's answer", i, a.body, want)
		}
	}
}

func trimmed(s string) string {
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	for len(s) > 0 && s[len(s)-1] == ' ' {
		s = s[:len(s)-1]
	}
	return s
}

func TestVaryOnSeveralFields(t *testing.T) {
	g := newRig(t, 1<<20)
	g.withHeaders(200, map[string]string{"Cache-Control": "max-age=60", "Vary": "Accept-Encoding, Accept-Language"}, "v")
	g.get("/p", "Accept-Encoding: gzip", "Accept-Language: en")
	if a := g.get("/p", "Accept-Language: en", "Accept-Encoding: gzip"); a.cacheStatus != "baton; hit" {
		t.Fatalf("same values: %q, want hit", a.cacheStatus)
	}
	if a := g.get("/p", "Accept-Encoding: br", "Accept-Language: en"); a.cacheStatus != "baton; fwd=vary-miss; stored" {
		t.Fatalf("one value differs: %q, want vary-miss", a.cacheStatus)
	}
	// Several field lines equal one comma-separated line (RFC 9110 §5.3).
	g.get("/q", "Accept-Encoding: gzip, br", "Accept-Language: en")
	if a := g.get("/q", "Accept-Encoding: gzip", "Accept-Encoding: br", "Accept-Language: en"); a.cacheStatus != "baton; hit" {
		t.Fatalf("split field lines: %q, want hit", a.cacheStatus)
	}
}

func TestVaryStarIsNeverStored(t *testing.T) { // RFC 9111 §4.1: "*" always fails to match
	g := newRig(t, 1<<20)
	g.withHeaders(200, map[string]string{"Cache-Control": "max-age=60", "Vary": "Accept, *"}, "v")
	a, b := firstThenSecond(g, "/p")
	if a.cacheStatus != "baton; fwd=uri-miss; detail=vary-star" || b.cacheStatus != a.cacheStatus {
		t.Fatalf("got %q then %q", a.cacheStatus, b.cacheStatus)
	}
}

func TestANewVaryReplacesTheOldVariants(t *testing.T) {
	g := newRig(t, 1<<20)
	g.withHeaders(200, map[string]string{"Cache-Control": "max-age=60", "Vary": "Accept-Language"}, "by-language")
	g.get("/p", "Accept-Language: en")
	g.get("/p", "Accept-Language: fr")
	// The variants expire at different times than the new representation arrives:
	// a request that bypasses the cache brings a response with another Vary.
	g.withHeaders(200, map[string]string{"Cache-Control": "max-age=60", "Vary": "Accept-Encoding"}, "by-encoding")
	g.get("/p", "Accept-Language: en", "Cache-Control: no-cache")
	// Language no longer matters: the new response answers French too.
	if a := g.get("/p", "Accept-Language: fr"); a.cacheStatus != "baton; hit" || a.body != "by-encoding" {
		t.Fatalf("old variant served after the Vary changed: %q %q", a.cacheStatus, a.body)
	}
	if n := g.cache.Len(); n != 1 {
		t.Fatalf("%d entries, want 1: the variants under the old Vary are gone", n)
	}
}
