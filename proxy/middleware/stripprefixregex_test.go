package middleware

import (
	"errors"
	"net/http"
	"testing"
)

func TestStripPrefixRegex(t *testing.T) {
	xfp := forwardedPrefixHeader
	runPathCases(t, "stripprefixregex", map[string]string{"regex": "/a/api/"}, []pathCase{
		{target: "/a/test", path: "/a/test"},
		{target: "/a/api/", path: "", uri: "/", headerName: xfp, headerValues: []string{"/a/api/"}},
		{target: "/a/api/test/", path: "/test/", uri: "/test/"},
		{target: "/a/api/a%2Fb", path: "/a/b", raw: "/a%2Fb", uri: "/a%2Fb"},
		{target: "/x/a/api/y", path: "/x/a/api/y"}, // a match that is not a prefix is not stripped
	})
	runPathCases(t, "stripprefixregex", map[string]string{"regex": "/b/([a-z0-9]+)/"}, []pathCase{
		{target: "/b/api", path: "/b/api"},
		{target: "/b/api2/test2?x", path: "/test2", uri: "/test2?x", headerName: xfp, headerValues: []string{"/b/api2/"}},
		{target: "/b/ap%69/test", path: "/test", uri: "/test", headerName: xfp, headerValues: []string{"/b/api/"}},
		{target: "/b/ap%69/a%2Fb", path: "/a/b", raw: "/a%2Fb", uri: "/a%2Fb"},
	})
	runPathCases(t, "stripprefixregex", map[string]string{"regex": "/t /test"}, []pathCase{
		{target: "/t%20/test/a%2Fb", path: "/a/b", raw: "/a%2Fb", uri: "/a%2Fb", headerName: xfp, headerValues: []string{"/t /test"}},
		{target: "/t%2F/test/foo", path: "/t//test/foo", raw: "/t%2F/test/foo"},
	})
	runPathCases(t, "stripprefixregex", map[string]string{"regex": "/api"}, []pathCase{
		{target: "/api./foo", status: http.StatusBadRequest},
		{target: "/api../foo", status: http.StatusBadRequest},
		{target: "/api/x", path: "/x", uri: "/x"},
	})
	// Several expressions: the first that matches as a prefix wins.
	runPathCases(t, "stripprefixregex", map[string]string{"regex": "^/nomatch, ^/v[0-9]+"}, []pathCase{
		{target: "/v12/users", path: "/users", uri: "/users", headerName: xfp, headerValues: []string{"/v12"}},
	})
}

func TestStripPrefixRegexOptionErrors(t *testing.T) {
	for _, opts := range []map[string]string{{}, {"regex": "(unclosed"}, {"regex": "/a", "regexes": "/b"}} {
		err := buildKindErr("stripprefixregex", opts)
		var oe *OptionError
		if !errors.As(err, &oe) {
			t.Errorf("stripprefixregex %v: error %v, want an OptionError", opts, err)
		}
	}
}
