package h1

import (
	"fmt"
	"net/http"
	"testing"
)

// Both ways of removing hop-by-hop fields (per field for small headers, per
// name for large ones) remove the same ones.
func TestRemoveHopHeadersSmallAndLarge(t *testing.T) {
	for _, extra := range []int{0, 20} {
		h := http.Header{"Connection": {"X-Named, keep-alive"}, "X-Named": {"1"}, "Keep-Alive": {"5"}, "Te": {"trailers"}, "X-Kept": {"1"}}
		for _, name := range hopHeaders {
			if !isHopHeader(name) {
				t.Fatalf("%s is in hopHeaders but not isHopHeader", name)
			}
			h[name] = []string{"v"}
		}
		h["Connection"] = []string{"X-Named, keep-alive"}
		for i := 0; i < extra; i++ {
			h[fmt.Sprintf("X-Extra-%d", i)] = []string{"1"}
		}
		RemoveHopHeaders(h)
		if len(h) != 1+extra || h.Get("X-Kept") != "1" {
			t.Errorf("with %d extra fields: left %v", extra, h)
		}
	}
	if isHopHeader("X-Kept") || isHopHeader("connection") {
		t.Error("isHopHeader matches a field that is not hop-by-hop in canonical form")
	}
}
