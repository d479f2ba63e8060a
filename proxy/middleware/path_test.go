package middleware

import (
	"net/http/httptest"
	"testing"
)

// setPath is what every path middleware uses: the target baton sends
// upstream (r.RequestURI, sent byte for byte when it is origin-form) must
// follow the rewrite, with the query kept, and Path/RawPath must agree.
func TestSetPathMovesTheUpstreamTarget(t *testing.T) {
	for _, tc := range []struct {
		target, p                  string
		wantPath, wantRaw, wantURI string
	}{
		{"/old/x?q=1&b", "/new", "/new", "", "/new?q=1&b"},
		{"/old", "/a%2Fb", "/a/b", "/a%2Fb", "/a%2Fb"},
		{"/old?", "/new", "/new", "", "/new?"},             // an empty query is kept
		{"/old", "", "", "", "/"},                          // Traefik leaves Path empty; the target is "/"
		{"/old", "rel", "/rel", "", "/rel"},                // a leading slash is added
		{"/old", "/a%20b", "/a b", "", "/a%20b"},           // Go's own encoding: RawPath not needed
		{"/old", "/a!b", "/a!b", "/a!b", "/a!b"},           // Go would escape '!': RawPath keeps it
		{"/old", "/%41", "/A", "/%41", "/%41"},             // sent as written
		{"http://h.example/old?x", "/n", "/n", "", "/n?x"}, // absolute form becomes origin form
		{"/old", "/a b", "/a b", "", "/a%20b"},             // not a valid target: sent as Go encodes it
	} {
		r := httptest.NewRequest("GET", tc.target, nil)
		if err := setPath(r, tc.p); err != nil {
			t.Fatalf("setPath(%q, %q): %v", tc.target, tc.p, err)
		}
		if r.URL.Path != tc.wantPath || r.URL.RawPath != tc.wantRaw || r.RequestURI != tc.wantURI {
			t.Errorf("setPath(%q, %q): Path %q RawPath %q RequestURI %q; want %q %q %q",
				tc.target, tc.p, r.URL.Path, r.URL.RawPath, r.RequestURI, tc.wantPath, tc.wantRaw, tc.wantURI)
		}
		if got := r.URL.RequestURI(); got != r.RequestURI {
			t.Errorf("setPath(%q, %q): URL.RequestURI %q disagrees with RequestURI %q", tc.target, tc.p, got, r.RequestURI)
		}
	}
	r := httptest.NewRequest("GET", "/old", nil)
	if err := setPath(r, "/bad%zz"); err == nil {
		t.Errorf("setPath with a bad escape: no error")
	}
}

func TestCleanTarget(t *testing.T) {
	for p, want := range map[string]bool{
		"": true, "/": true, "/a": true, "/a/": true, "/a/b.c/": true, "/a%2F..%2Fb": true, "/...": true,
		"/.": false, "/..": false, "/a/./b": false, "/a/../b": false, "//a": false, "/a//": false, "/a/..": false, "/../foo": false,
	} {
		if got := cleanTarget(p); got != want {
			t.Errorf("cleanTarget(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestEncodedPrefixLen(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		n    int
		want int
	}{
		{"/api/x", 4, 4},
		{"/ap%69/x", 4, 6},
		{"/t%20/test/a", 8, 10},
		{"/a", 5, 2},
		{"/%C3%A9/x", 3, 7}, // é is two decoded bytes
	} {
		if got := encodedPrefixLen(tc.raw, tc.n); got != tc.want {
			t.Errorf("encodedPrefixLen(%q, %d) = %d, want %d", tc.raw, tc.n, got, tc.want)
		}
	}
}

func TestEscapeInvariant(t *testing.T) {
	for s, want := range map[string]bool{
		"/api": true, "/v1.0/~u/a:b@c;d=e": true, "/a b": false, "/a%2F": false, "/a?b": false, "/a#b": false, "/é": false,
	} {
		if got := escapeInvariant(s); got != want {
			t.Errorf("escapeInvariant(%q) = %v, want %v", s, got, want)
		}
	}
	for s, want := range map[string]bool{"/a%2Fb": true, "/a%2": false, "/a%zz": false, "/a b": false, "/ok": true} {
		if got := validEscapedPath(s); got != want {
			t.Errorf("validEscapedPath(%q) = %v, want %v", s, got, want)
		}
	}
}
