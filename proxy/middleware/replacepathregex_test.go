package middleware

import (
	"errors"
	"net/http"
	"testing"
)

func TestReplacePathRegex(t *testing.T) {
	xrp := replacedPathHeader
	runPathCases(t, "replacepathregex", map[string]string{"regex": "^/whoami/(.*)", "replacement": "/who-am-i/$1"}, []pathCase{
		{target: "/whoami/and/whoami?x=y", path: "/who-am-i/and/whoami", uri: "/who-am-i/and/whoami?x=y", headerName: xrp, headerValues: []string{"/whoami/and/whoami"}},
		{target: "/other", path: "/other", headerName: xrp, headerValues: nil},
	})
	runPathCases(t, "replacepathregex", map[string]string{"regex": "/whoami", "replacement": "/who-am-i"}, []pathCase{
		{target: "/whoami/and/whoami", path: "/who-am-i/and/who-am-i", uri: "/who-am-i/and/who-am-i"},
	})
	runPathCases(t, "replacepathregex", map[string]string{"regex": "/whoami", "replacement": " "}, []pathCase{
		{target: "/whoami/and/whoami", path: "/and", uri: "/and"},
	})
	runPathCases(t, "replacepathregex", map[string]string{"regex": "^(?i)/downloads/([^/]+)/([^/]+)$", "replacement": "/downloads/$1-$2"}, []pathCase{
		{target: "/DownLoads/src/source.go", path: "/downloads/src-source.go", uri: "/downloads/src-source.go"},
	})
	runPathCases(t, "replacepathregex", map[string]string{"regex": "/aaa/bbb", "replacement": "/foo%2Fbar"}, []pathCase{
		{target: "/aaa/bbb", path: "/foo/bar", raw: "/foo%2Fbar", uri: "/foo%2Fbar"},
	})
	// Matched on the escaped path.
	runPathCases(t, "replacepathregex", map[string]string{"regex": "/aaa%2Fbbb", "replacement": "/foo/bar"}, []pathCase{
		{target: "/aaa%2Fbbb", path: "/foo/bar", uri: "/foo/bar", headerName: xrp, headerValues: []string{"/aaa%2Fbbb"}},
	})
	runPathCases(t, "replacepathregex", map[string]string{"regex": "/aaa/bbb", "replacement": "/foo/bar"}, []pathCase{
		{target: "/aaa%2Fbbb", path: "/aaa/bbb", raw: "/aaa%2Fbbb"},
	})
	runPathCases(t, "replacepathregex", map[string]string{"regex": "^/foo(.*)", "replacement": "/$1"}, []pathCase{
		{target: "/foo../bar", status: http.StatusBadRequest},
		{target: "/foo/%08bar", path: "//\bbar", status: http.StatusBadRequest}, // "//" is not clean
	})
	runPathCases(t, "replacepathregex", map[string]string{"regex": "^/foo/(.*)", "replacement": "/$1"}, []pathCase{
		{target: "/foo/%08bar", path: "/\bbar", uri: "/%08bar"},
	})
	runPathCases(t, "replacepathregex", map[string]string{"regex": "^/x", "replacement": "/%zz"}, []pathCase{
		{target: "/x", status: http.StatusInternalServerError},
	})
	runPathCases(t, "replacepathregex", map[string]string{"regex": "^/x/(.*)", "replacement": "$1"}, []pathCase{
		{target: "/x/y", path: "/y", uri: "/y"},          // a leading slash is added
		{target: "/x/..", status: http.StatusBadRequest}, // and the result checked with it
	})
}

func TestReplacePathRegexOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		opts   map[string]string
		option string
	}{
		{map[string]string{"replacement": "/x"}, "regex"},
		{map[string]string{"regex": "^(?err)/x"}, "regex"},
		{map[string]string{"regex": "/x", "replacment": "/y"}, "replacment"},
	} {
		err := buildKindErr("replacepathregex", tc.opts)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != tc.option {
			t.Errorf("replacepathregex %v: error %v, want one naming %s", tc.opts, err, tc.option)
		}
	}
}
