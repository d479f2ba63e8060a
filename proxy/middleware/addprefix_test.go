package middleware

import (
	"errors"
	"testing"
)

func TestAddPrefix(t *testing.T) {
	runPathCases(t, "addprefix", map[string]string{"prefix": "/api"}, []pathCase{
		{target: "/", path: "/api/", uri: "/api/"},
		{target: "/b?x=1", path: "/api/b", uri: "/api/b?x=1"},
		{target: "/a%2Fb", path: "/api/a/b", raw: "/api/a%2Fb", uri: "/api/a%2Fb"},
		{target: "/a%20b", path: "/api/a b", uri: "/api/a%20b"},
	})
	// Traefik adds a leading slash to the result, not between the two.
	runPathCases(t, "addprefix", map[string]string{"prefix": "v1"}, []pathCase{
		{target: "/x", path: "/v1/x", uri: "/v1/x"},
	})
}

func TestAddPrefixOptionErrors(t *testing.T) {
	for _, opts := range []map[string]string{{}, {"prefix": ""}, {"prefix": "/a b"}, {"prefix": "/a%2F"}, {"prefix": "/a", "path": "/b"}} {
		err := buildKindErr("addprefix", opts)
		var oe *OptionError
		if !errors.As(err, &oe) {
			t.Errorf("addprefix %v: error %v, want an OptionError", opts, err)
		}
	}
}
