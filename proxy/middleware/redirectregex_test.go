package middleware

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRedirectRegex(t *testing.T) {
	runRedirectCases(t, "redirectregex", map[string]string{"regex": `^(?:http?:\/\/)(foo)(\.com)(:\d+)(.*)$`, "replacement": "https://${1}bar$2:443$4"}, []redirectCase{
		{target: "http://foo.com:80", status: http.StatusFound, location: "https://foobar.com:443"},
		{target: "http://bar.com:80", status: http.StatusOK},
		// Origin form: the Host field as sent, port included.
		{target: "/p?q", host: "foo.com:8080", status: http.StatusFound, location: "https://foobar.com:443/p?q"},
	})
	runRedirectCases(t, "redirectregex", map[string]string{"regex": `^(.*)$`, "replacement": "http://192.168.0.%31/"}, []redirectCase{
		{target: "http://foo.com:80", status: http.StatusBadGateway}, // the result does not parse
	})
	runRedirectCases(t, "redirectregex", map[string]string{"regex": `^http://`, "replacement": "https://$1", "permanent": "true"}, []redirectCase{
		{target: "http://foo", status: http.StatusMovedPermanently, location: "https://foo"},
		{method: http.MethodPost, target: "http://foo", status: http.StatusPermanentRedirect, location: "https://foo"},
		{target: "/x", host: "foo", tls: true, status: http.StatusOK}, // https://foo/x does not match
	})
	runRedirectCases(t, "redirectregex", map[string]string{"regex": `^http://`, "replacement": "https://$1"}, []redirectCase{
		{method: http.MethodPost, target: "http://foo", status: http.StatusTemporaryRedirect, location: "https://foo"},
	})
	runRedirectCases(t, "redirectregex", map[string]string{"regex": `https://foo`, "replacement": "http://foo", "permanent": "1"}, []redirectCase{
		{target: "https://foo", tls: true, status: http.StatusMovedPermanently, location: "http://foo"},
	})
	// X-Forwarded-Proto is not part of the URL matched, as in Traefik.
	runRedirectCases(t, "redirectregex", map[string]string{"regex": `http://foo:80`, "replacement": "https://foo:443"}, []redirectCase{
		{target: "http://foo:80", header: map[string]string{"X-Forwarded-Proto": "https"}, status: http.StatusFound, location: "https://foo:443"},
	})
	www := map[string]string{"regex": `(https?)://[^/:]+(:[0-9]+)?/(.*)`, "replacement": "$1://example.com$2/$3", "permanent": "true"}
	runRedirectCases(t, "redirectregex", www, []redirectCase{
		{target: "http://www.example.com/path", status: http.StatusMovedPermanently, location: "http://example.com/path"},
		{target: "http://www.example.com:8080/path", status: http.StatusMovedPermanently, location: "http://example.com:8080/path"},
		{target: "/", host: "www.example.com", status: http.StatusMovedPermanently, location: "http://example.com/"},
		{target: "/path?a=b", host: "www.example.com", tls: true, status: http.StatusMovedPermanently, location: "https://example.com/path?a=b"},
		// The replacement gives the same URL: no redirect loop, the request goes on.
		{target: "/path", host: "example.com", status: http.StatusOK},
	})
}

func TestRedirectRegexOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		opts   map[string]string
		option string
	}{
		{map[string]string{"replacement": "https://x"}, "regex"},
		{map[string]string{"regex": "^(.*", "replacement": "$1"}, "regex"},
		{map[string]string{"regex": "^x", "permanent": "nope"}, "permanent"},
		{map[string]string{"regex": "^x", "statuscode": "303"}, "statuscode"},
	} {
		err := buildKindErr("redirectregex", tc.opts)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != tc.option {
			t.Errorf("redirectregex %v: error %v, want one naming %s", tc.opts, err, tc.option)
		}
	}
}

// A request the expression does not match costs no allocation.
func TestRedirectRegexNoMatchAllocs(t *testing.T) {
	h := buildKind(t, "redirectregex", map[string]string{"regex": `^http://old\.example/`, "replacement": "https://new.example/"}, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest(http.MethodGet, "/some/path?q=1", nil)
	req.Host = "www.example.com"
	w := httptest.NewRecorder()
	if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, req) }); n != 0 {
		t.Errorf("%v allocations per request that does not match, want 0", n)
	}
}
