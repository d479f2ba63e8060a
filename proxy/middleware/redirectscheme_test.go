package middleware

import (
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// redirectCase is one request through a redirect middleware: the status and
// Location the client must get, or 200 from next when there is no redirect.
type redirectCase struct {
	method   string
	target   string // absolute-form or origin-form
	host     string // Host field for origin-form targets
	tls      bool
	header   map[string]string
	status   int
	location string
}

func runRedirectCases(t *testing.T, kind string, opts map[string]string, cases []redirectCase) {
	t.Helper()
	for _, tc := range cases {
		var seen observedRequest
		h := buildKind(t, kind, opts, observingNext(&seen))
		method := tc.method
		if method == "" {
			method = http.MethodGet
		}
		req := httptest.NewRequest(method, tc.target, nil)
		if tc.host != "" {
			req.Host = tc.host
		}
		if tc.tls {
			req.TLS = &tls.ConnectionState{}
		}
		for k, v := range tc.header {
			req.Header.Set(k, v)
		}
		rec := serveRecorded(h, req)
		name := kind + " " + method + " " + tc.target + " host " + tc.host
		if rec.Code != tc.status {
			t.Errorf("%s %v: status %d, want %d (Location %q)", name, opts, rec.Code, tc.status, rec.Header().Get("Location"))
			continue
		}
		if tc.status == http.StatusOK {
			if !seen.called || rec.Header().Get("Location") != "" {
				t.Errorf("%s %v: next called %v, Location %q; want next and no Location", name, opts, seen.called, rec.Header().Get("Location"))
			}
			continue
		}
		if seen.called {
			t.Errorf("%s %v: next called on a redirect", name, opts)
		}
		if got := rec.Header().Get("Location"); got != tc.location {
			t.Errorf("%s %v: Location %q, want %q", name, opts, got, tc.location)
		}
		if body := rec.Body.String(); tc.status >= 300 && tc.status < 400 && body != http.StatusText(tc.status) {
			t.Errorf("%s %v: body %q, want the status text", name, opts, body)
		}
	}
}

func TestRedirectScheme(t *testing.T) {
	https := map[string]string{"scheme": "https"}
	runRedirectCases(t, "redirectscheme", https, []redirectCase{
		{target: "http://foo", status: http.StatusFound, location: "https://foo"},
		{target: "http://foo:8080", status: http.StatusFound, location: "https://foo"},
		{target: "http://foo:443", status: http.StatusFound, location: "https://foo"},
		{target: "https://foo:8000/theother", status: http.StatusFound, location: "https://foo/theother"},
		{target: "https://foo:80", status: http.StatusFound, location: "https://foo"},
		{target: "http://[::1]", status: http.StatusFound, location: "https://[::1]"},
		{target: "http://[::1]:80", status: http.StatusFound, location: "https://[::1]"},
		{method: http.MethodPost, target: "http://foo/p?q=1", status: http.StatusTemporaryRedirect, location: "https://foo/p?q=1"},
		{method: http.MethodHead, target: "http://foo/", status: http.StatusTemporaryRedirect, location: "https://foo/"},
		// Origin-form: the host and port come from the Host field, the path and query as sent.
		{target: "/a%2Fb?x=1&y", host: "example.com", status: http.StatusFound, location: "https://example.com/a%2Fb?x=1&y"},
		{target: "/", host: "example.com:8080", status: http.StatusFound, location: "https://example.com/"},
		{target: "/", host: "[2001:db8::1]:8080", status: http.StatusFound, location: "https://[2001:db8::1]/"},
		{target: "/", host: "[2001:db8::1]", status: http.StatusFound, location: "https://[2001:db8::1]/"},
		{target: "/", host: "foo:", status: http.StatusFound, location: "https://foo/"}, // an empty port is the default
		// Already there: the request goes on.
		{target: "/x", host: "example.com", tls: true, status: http.StatusOK},
		{target: "/x", host: "example.com:443", tls: true, status: http.StatusOK},
		// X-Forwarded-Proto is not believed (baton decides from the connection).
		{target: "/x", host: "example.com", header: map[string]string{"X-Forwarded-Proto": "https"}, status: http.StatusFound, location: "https://example.com/x"},
	})
	runRedirectCases(t, "redirectscheme", map[string]string{"scheme": "https", "port": "8443"}, []redirectCase{
		{target: "http://foo", status: http.StatusFound, location: "https://foo:8443"},
		{target: "http://foo:8000", status: http.StatusFound, location: "https://foo:8443"},
		{target: "https://foo:8000", status: http.StatusFound, location: "https://foo:8443"},
		{target: "http://[::1]:80", status: http.StatusFound, location: "https://[::1]:8443"},
		{target: "/", host: "foo:8443", tls: true, status: http.StatusOK},
		{target: "/", host: "foo", tls: true, status: http.StatusFound, location: "https://foo:8443/"},
	})
	runRedirectCases(t, "redirectscheme", map[string]string{"scheme": "https", "port": "8443", "permanent": "true"}, []redirectCase{
		{target: "http://foo", status: http.StatusMovedPermanently, location: "https://foo:8443"},
		{method: http.MethodPut, target: "http://foo", status: http.StatusPermanentRedirect, location: "https://foo:8443"},
	})
	runRedirectCases(t, "redirectscheme", map[string]string{"scheme": "http", "port": "80"}, []redirectCase{
		{target: "http://foo:80", status: http.StatusOK},
		{target: "/", host: "foo", status: http.StatusOK},
		{target: "/", host: "foo", tls: true, status: http.StatusFound, location: "http://foo/"},
	})
	runRedirectCases(t, "redirectscheme", map[string]string{"scheme": "https", "port": "443"}, []redirectCase{
		{target: "https://foo:443", status: http.StatusOK},
	})
	runRedirectCases(t, "redirectscheme", map[string]string{"scheme": "http", "port": "8181"}, []redirectCase{
		{target: "http://foo:8080", status: http.StatusFound, location: "http://foo:8181"},
	})
	runRedirectCases(t, "redirectscheme", map[string]string{"scheme": "wss", "port": "9443"}, []redirectCase{
		{target: "http://foo", status: http.StatusFound, location: "wss://foo:9443"},
	})
	runRedirectCases(t, "redirectscheme", map[string]string{"scheme": "wss"}, []redirectCase{
		{target: "http://foo:5678", status: http.StatusFound, location: "wss://foo"},
	})
}

func TestRedirectSchemeOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		opts   map[string]string
		option string
	}{
		{map[string]string{}, "scheme"},
		{map[string]string{"port": "443"}, "scheme"},
		{map[string]string{"scheme": "HTTPS"}, "scheme"},
		{map[string]string{"scheme": "https://"}, "scheme"},
		{map[string]string{"scheme": "https", "port": "0"}, "port"},
		{map[string]string{"scheme": "https", "port": "65536"}, "port"},
		{map[string]string{"scheme": "https", "port": "44x"}, "port"},
		{map[string]string{"scheme": "https", "permanent": "yes"}, "permanent"},
		{map[string]string{"scheme": "https", "forcepermanentredirect": "true"}, "forcepermanentredirect"},
	} {
		err := buildKindErr("redirectscheme", tc.opts)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != tc.option {
			t.Errorf("redirectscheme %v: error %v, want one naming %s", tc.opts, err, tc.option)
		}
	}
}

// An absolute-form target without an authority takes the Host field's.
func TestRedirectSchemeAbsoluteFormWithoutAuthority(t *testing.T) {
	h := buildKind(t, "redirectscheme", map[string]string{"scheme": "https"}, http.NotFoundHandler())
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req.Host, req.RequestURI = "h.example", "http:///x"
	rec := serveRecorded(h, req)
	if got := rec.Header().Get("Location"); rec.Code != http.StatusFound || got != "https://h.example/x" {
		t.Errorf("status %d Location %q, want 302 https://h.example/x", rec.Code, got)
	}
	// One with an authority names the host (RFC 9112 §3.2.2), whatever the Host field says.
	req = httptest.NewRequest(http.MethodGet, "http://a.example:8080/y", nil)
	req.Host = "b.example"
	rec = serveRecorded(h, req)
	if got := rec.Header().Get("Location"); rec.Code != http.StatusFound || got != "https://a.example/y" {
		t.Errorf("status %d Location %q, want 302 https://a.example/y", rec.Code, got)
	}
}
