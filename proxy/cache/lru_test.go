package cache

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestEvictsLeastRecentlyUsedToStayWithinTheByteBound(t *testing.T) {
	const maxBytes = 64 << 10 // one shard: exact LRU order
	g := newRig(t, maxBytes)
	body := strings.Repeat("x", 4<<10)
	g.withHeaders(200, map[string]string{"Cache-Control": "max-age=600"}, body)
	path := func(i int) string { return fmt.Sprintf("/item/%02d", i) }

	g.get(path(0))
	size := g.cache.Bytes()
	fit := int(maxBytes / size)
	for i := 1; i < fit; i++ {
		if a := g.get(path(i)); a.cacheStatus != "baton; fwd=uri-miss; stored" {
			t.Fatalf("%s: %q", path(i), a.cacheStatus)
		}
	}
	if g.cache.Len() != fit || g.metrics.evictedBytes.Load() != 0 {
		t.Fatalf("%d entries, %d bytes evicted; want all %d stored, none evicted", g.cache.Len(), g.metrics.evictedBytes.Load(), fit)
	}
	if a := g.get(path(0)); a.cacheStatus != "baton; hit" { // now the most recently used
		t.Fatalf("%s: %q", path(0), a.cacheStatus)
	}
	g.get(path(fit))
	g.get(path(fit + 1))

	if got := g.cache.Bytes(); got > maxBytes {
		t.Fatalf("cache holds %d bytes, bound is %d", got, maxBytes)
	}
	if g.metrics.evictedBytes.Load() != 2*size {
		t.Fatalf("evicted %d bytes, want two entries of %d", g.metrics.evictedBytes.Load(), size)
	}
	// HEAD reads without storing, so probing does not disturb the order.
	for i, wantHit := range map[int]bool{0: true, 1: false, 2: false, 3: true, fit + 1: true} {
		a := g.do(http.MethodHead, path(i))
		if (a.cacheStatus == "baton; hit") != wantHit {
			t.Errorf("%s: %q, want hit=%v", path(i), a.cacheStatus, wantHit)
		}
	}
}

func TestTooLargeResponsesAreNotStored(t *testing.T) {
	g := newRig(t, 64<<10) // entries up to 8 KiB
	big := strings.Repeat("x", 9<<10)
	g.withHeaders(200, map[string]string{"Cache-Control": "max-age=60", "Content-Length": strconv.Itoa(len(big))}, big)
	a, b := firstThenSecond(g, "/big")
	if a.cacheStatus != "baton; fwd=uri-miss; detail=too-large" || b.cacheStatus != a.cacheStatus || a.body != big {
		t.Fatalf("declared length: %q then %q, body %d bytes", a.cacheStatus, b.cacheStatus, len(a.body))
	}
	// Without Content-Length the size is only known as it streams.
	g.setBackend(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		for range 9 {
			_, _ = w.Write([]byte(strings.Repeat("y", 1<<10)))
			w.(http.Flusher).Flush()
		}
	})
	a = g.get("/chunked")
	if len(a.body) != 9<<10 || a.header.Get("Content-Length") != "" {
		t.Fatalf("chunked: body %d bytes, Content-Length %q", len(a.body), a.header.Get("Content-Length"))
	}
	if b := g.get("/chunked"); b.cacheStatus == "baton; hit" || g.cache.Len() != 0 {
		t.Fatalf("chunked: %q, %d entries: a body beyond the limit was stored", b.cacheStatus, g.cache.Len())
	}
}
