package middleware

import (
	"errors"
	"testing"
)

func TestReplacePath(t *testing.T) {
	xrp := replacedPathHeader
	runPathCases(t, "replacepath", map[string]string{"path": "/new"}, []pathCase{
		{target: "/old/x?q=1", path: "/new", uri: "/new?q=1", headerName: xrp, headerValues: []string{"/old/x"}},
		{target: "/a%2Fb", path: "/new", uri: "/new", headerName: xrp, headerValues: []string{"/a%2Fb"}},
	})
	runPathCases(t, "replacepath", map[string]string{"path": "/foo%2Fbar"}, []pathCase{
		{target: "/x", path: "/foo/bar", raw: "/foo%2Fbar", uri: "/foo%2Fbar"},
	})
}

func TestReplacePathOptionErrors(t *testing.T) {
	for _, opts := range []map[string]string{{}, {"path": "rel"}, {"path": "/bad%zz"}, {"path": "/a b"}, {"path": "/a", "regex": "x"}} {
		err := buildKindErr("replacepath", opts)
		var oe *OptionError
		if !errors.As(err, &oe) || (len(opts) < 2 && oe.Option != "path") {
			t.Errorf("replacepath %v: error %v, want an OptionError", opts, err)
		}
	}
}
