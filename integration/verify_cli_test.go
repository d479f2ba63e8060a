package integration

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// baton verify is the same probe from outside (through a CDN, say).
func TestVerifyCLIFromOutside(t *testing.T) {
	var cached atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cached.Load() {
			w.Header().Set("Age", "120")
			fmt.Fprint(w, `{"sha":"aaaaaaa"}`)
			return
		}
		w.Header().Set("X-Release", "2f1c9e0b7d4c3a2f1e0d9c8b7a6f5e4d3c2b1a09")
		fmt.Fprint(w, `{"sha":"2f1c9e0b7d4c3a2f1e0d9c8b7a6f5e4d3c2b1a09"}`)
	}))
	defer srv.Close()
	run := func(args ...string) (string, int) { return runBaton(t, args...) }
	if out, code := run("verify", "--url", srv.URL+"/version", "--expect", "2f1c9e0"); code != 0 || !strings.Contains(out, "verified") {
		t.Fatalf("short SHA against the long one: exit %d\n%s", code, out)
	}
	if out, code := run("verify", "--url", srv.URL+"/version", "--expect", "2f1c9e0", "--header", "X-Release", "--count", "5"); code != 0 {
		t.Fatalf("header: exit %d\n%s", code, out)
	}
	cached.Store(true)
	out, code := run("verify", "--url", srv.URL+"/version", "--expect", "2f1c9e0")
	if code == 0 || !strings.Contains(out, `got "aaaaaaa"`) || !strings.Contains(out, "cache") {
		t.Fatalf("a stale cached answer: exit %d\n%s", code, out)
	}
}
