package middleware

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// pathCase is one request through a path middleware and what the next
// handler must see (or the status when it must not be reached).
type pathCase struct {
	target       string
	status       int // 0: 200 from next
	path, raw    string
	uri          string // the upstream target; "" means the original target
	headerName   string
	headerValues []string
}

func runPathCases(t *testing.T, kind string, opts map[string]string, cases []pathCase) {
	t.Helper()
	for _, tc := range cases {
		var seen observedRequest
		h := buildKind(t, kind, opts, observingNext(&seen))
		rec := serveRecorded(h, httptest.NewRequest(http.MethodGet, tc.target, nil))
		if tc.status != 0 {
			if rec.Code != tc.status || seen.called {
				t.Errorf("%s %v %s: status %d, next called %v; want %d and next not called", kind, opts, tc.target, rec.Code, seen.called, tc.status)
			}
			continue
		}
		if rec.Code != http.StatusOK || !seen.called {
			t.Errorf("%s %v %s: status %d, next called %v", kind, opts, tc.target, rec.Code, seen.called)
			continue
		}
		wantURI := tc.uri
		if wantURI == "" {
			wantURI = tc.target
		}
		if seen.path != tc.path || seen.rawPath != tc.raw || seen.requestURI != wantURI {
			t.Errorf("%s %v %s: next saw Path %q RawPath %q RequestURI %q; want %q %q %q",
				kind, opts, tc.target, seen.path, seen.rawPath, seen.requestURI, tc.path, tc.raw, wantURI)
		}
		if tc.headerName != "" {
			got := seen.header.Values(tc.headerName)
			if len(got) != len(tc.headerValues) || (len(got) > 0 && got[0] != tc.headerValues[0]) {
				t.Errorf("%s %v %s: %s = %q, want %q", kind, opts, tc.target, tc.headerName, got, tc.headerValues)
			}
		}
	}
}

func TestStripPrefix(t *testing.T) {
	xfp := forwardedPrefixHeader
	runPathCases(t, "stripprefix", map[string]string{"prefixes": "/stat"}, []pathCase{
		{target: "/stat", path: "", uri: "/", headerName: xfp, headerValues: []string{"/stat"}},
		{target: "/stat/", path: "/", uri: "/", headerName: xfp, headerValues: []string{"/stat"}},
		{target: "/status", path: "/us", uri: "/us", headerName: xfp, headerValues: []string{"/stat"}}, // no slash boundary, as Traefik
		{target: "/stat/us?a=1", path: "/us", uri: "/us?a=1", headerName: xfp, headerValues: []string{"/stat"}},
		{target: "/other", path: "/other", headerName: xfp, headerValues: nil},
		{target: "/stat/a%2Fb", path: "/a/b", raw: "/a%2Fb", uri: "/a%2Fb"},
		{target: "/st%61t/a%2Fb", path: "/a/b", raw: "/a%2Fb", uri: "/a%2Fb"}, // prefix matched decoded
		{target: "/stat/a%20b", path: "/a b", uri: "/a%20b"},
		{target: "/stat/../admin", status: http.StatusBadRequest},
		{target: "/stat./foo", status: http.StatusBadRequest},
		{target: "/stat../foo", status: http.StatusBadRequest},
		{target: "/stat//foo", status: http.StatusBadRequest},
	})
	runPathCases(t, "stripprefix", map[string]string{"prefixes": "/stat/"}, []pathCase{
		{target: "/stat/", path: "", uri: "/", headerName: xfp, headerValues: []string{"/stat/"}},
		{target: "/stat/us", path: "/us", uri: "/us"},
		{target: "/status", path: "/status"},
	})
	// The first prefix that matches wins, in the order given.
	runPathCases(t, "stripprefix", map[string]string{"prefixes": "/stat, /stat/us"}, []pathCase{
		{target: "/stat/us", path: "/us", uri: "/us", headerName: xfp, headerValues: []string{"/stat"}},
	})
	runPathCases(t, "stripprefix", map[string]string{"prefixes": "/mismatch,/stat"}, []pathCase{
		{target: "/stat", path: "", uri: "/", headerName: xfp, headerValues: []string{"/stat"}},
	})
	// forceSlash (deprecated): the v2 rule.
	runPathCases(t, "stripprefix", map[string]string{"prefixes": "/stat", "forceslash": "true"}, []pathCase{
		{target: "/stat", path: "/", uri: "/"},
		{target: "/stat/", path: "/", uri: "/"},
		{target: "/stat/us", path: "/us", uri: "/us"},
		{target: "/stat../foo", status: http.StatusBadRequest},
	})
	runPathCases(t, "stripprefix", map[string]string{"prefixes": "/stat", "forceslash": "false"}, []pathCase{
		{target: "/stat", path: "", uri: "/"},
	})
}

// A client's X-Forwarded-Prefix is kept and the prefix added after it, as
// Traefik adds (its entrypoint drops an untrusted client's first).
func TestStripPrefixAddsForwardedPrefix(t *testing.T) {
	var seen observedRequest
	h := buildKind(t, "stripprefix", map[string]string{"prefixes": "/a"}, observingNext(&seen))
	req := httptest.NewRequest(http.MethodGet, "/a/b", nil)
	req.Header.Set(forwardedPrefixHeader, "/outer")
	serveRecorded(h, req)
	if got := seen.header.Values(forwardedPrefixHeader); len(got) != 2 || got[0] != "/outer" || got[1] != "/a" {
		t.Errorf("X-Forwarded-Prefix = %q, want [/outer /a]", got)
	}
}

func TestStripPrefixOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		opts   map[string]string
		option string
	}{
		{map[string]string{}, "prefixes"},
		{map[string]string{"prefixes": " , "}, "prefixes"},
		{map[string]string{"prefixes": "/a", "forceslash": "maybe"}, "forceslash"},
		{map[string]string{"prefixes": "/a", "prefix": "/b"}, "prefix"},
	} {
		err := buildKindErr("stripprefix", tc.opts)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != tc.option {
			t.Errorf("stripprefix %v: error %v, want one naming option %s", tc.opts, err, tc.option)
		}
	}
}
