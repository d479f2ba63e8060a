package middleware

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock the tests move.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func buildRateLimit(t *testing.T, env Env, next http.Handler, kv ...string) (*rateLimit, *fakeClock) {
	t.Helper()
	rl := build(t, "ratelimit", env, next, kv...).(*rateLimit)
	c := newFakeClock()
	rl.now = c.now
	return rl, c
}

func TestRateLimitOptions(t *testing.T) {
	next := &recorder{}
	for _, c := range []struct {
		kv     []string
		option string
	}{
		{[]string{"average", "-1"}, "average"},
		{[]string{"average", "ten"}, "average"},
		{[]string{"average", "10", "period", "-1s"}, "period"},
		{[]string{"average", "10", "period", "soon"}, "period"},
		{[]string{"average", "10", "burst", "-1"}, "burst"},
		{[]string{"average", "10", "redis.endpoints", "redis:6379"}, "redis.endpoints"},
		{[]string{"average", "10", "sourcecriterion.requesthost", "true", "sourcecriterion.requestheadername", "X-Key"}, "sourcecriterion"},
		{[]string{"average", "10", "sourcecriterion.requesthost", "true", "sourcecriterion.ipstrategy.depth", "1"}, "sourcecriterion"},
		{[]string{"average", "10", "sourcecriterion.requestheadername", "X-Key", "sourcecriterion.ipstrategy.excludedips", "10.0.0.1"}, "sourcecriterion"},
		{[]string{"average", "10", "sourcecriterion.requestheadername", "X Key"}, "sourcecriterion.requestheadername"},
		{[]string{"average", "10", "sourcecriterion.requesthost", "sometimes"}, "sourcecriterion.requesthost"},
		{[]string{"average", "10", "sourcecriterion.ipstrategy.depth", "-2"}, "sourcecriterion.ipstrategy.depth"},
		{[]string{"average", "10", "sourcecriterion.ipstrategy", "true"}, "sourcecriterion.ipstrategy"},
		{[]string{"average", "10", "rate", "5"}, "rate"},
	} {
		_, err := buildErr("ratelimit", Env{}, next, c.kv...)
		wantOptionError(t, err, c.option)
	}
}

func TestRateLimitBurstAndRetryAfter(t *testing.T) {
	next := &recorder{}
	// 10 a second, burst 2: Traefik's maxDelay is 1s/(10*2) = 50ms.
	rl, clock := buildRateLimit(t, Env{}, next, "average", "10", "burst", "2")
	for i := 0; i < 2; i++ {
		if w := do(rl, "GET", "http://app.example/", "10.0.0.1:1"); w.Code != 200 {
			t.Fatalf("burst request %d: status %d", i, w.Code)
		}
	}
	w := do(rl, "GET", "http://app.example/", "10.0.0.1:1")
	if w.Code != http.StatusTooManyRequests || w.Body.String() != "Too Many Requests" {
		t.Fatalf("over the burst: status %d body %q, want 429 Too Many Requests", w.Code, w.Body.String())
	}
	if got := w.Header().Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q, want 1 (100ms rounded up to whole seconds)", got)
	}
	if got := w.Header().Get("X-Retry-In"); got != "100ms" {
		t.Errorf("X-Retry-In %q, want 100ms", got)
	}
	if next.count() != 2 {
		t.Errorf("the upstream got %d requests, want 2", next.count())
	}
	// Another source has its own bucket.
	if w := do(rl, "GET", "http://app.example/", "10.0.0.2:1"); w.Code != 200 {
		t.Errorf("another source: status %d", w.Code)
	}
	// 60ms later, 0.6 of a token is there: the next one is 40ms away,
	// within maxDelay, so the request waits for it and goes on.
	clock.advance(60 * time.Millisecond)
	start := time.Now()
	if w := do(rl, "GET", "http://app.example/", "10.0.0.1:1"); w.Code != 200 {
		t.Fatalf("within maxDelay: status %d, want 200 after a wait", w.Code)
	}
	if waited := time.Since(start); waited < 35*time.Millisecond {
		t.Errorf("the request went on after %v, want it held for its token (40ms)", waited)
	}
}

// A refused request does not take a token (Traefik cancels its reservation).
func TestRateLimitRefusedTakesNoToken(t *testing.T) {
	next := &recorder{}
	rl, clock := buildRateLimit(t, Env{}, next, "average", "1")
	if w := do(rl, "GET", "http://app.example/", "10.0.0.1:1"); w.Code != 200 {
		t.Fatalf("first: %d", w.Code)
	}
	for i := 0; i < 5; i++ {
		w := do(rl, "GET", "http://app.example/", "10.0.0.1:1")
		if w.Code != 429 || w.Header().Get("Retry-After") != "1" || w.Header().Get("X-Retry-In") != "1s" {
			t.Fatalf("refused %d: status %d, Retry-After %q, X-Retry-In %q", i, w.Code, w.Header().Get("Retry-After"), w.Header().Get("X-Retry-In"))
		}
	}
	clock.advance(time.Second)
	start := time.Now()
	if w := do(rl, "GET", "http://app.example/", "10.0.0.1:1"); w.Code != 200 {
		t.Fatalf("a second later: status %d", w.Code)
	}
	if time.Since(start) > 20*time.Millisecond {
		t.Error("a second later the request waited: the refused ones took tokens")
	}
}

// Below one a second: period 10 (seconds) and average 1; maxDelay is 500ms.
func TestRateLimitSlowRate(t *testing.T) {
	next := &recorder{}
	rl, clock := buildRateLimit(t, Env{}, next, "average", "1", "period", "10")
	if rl.maxDelay != 500*time.Millisecond || rl.ttl != int64(11*time.Second) {
		t.Fatalf("maxDelay %v ttl %v, want Traefik's 500ms and 11s", rl.maxDelay, time.Duration(rl.ttl))
	}
	do(rl, "GET", "http://app.example/", "10.0.0.1:1")
	clock.advance(3 * time.Second)
	w := do(rl, "GET", "http://app.example/", "10.0.0.1:1")
	in, _ := time.ParseDuration(w.Header().Get("X-Retry-In"))
	if w.Code != 429 || w.Header().Get("Retry-After") != "7" || in < 6999*time.Millisecond || in > 7*time.Second {
		t.Errorf("status %d, Retry-After %q, X-Retry-In %q; want 429, 7, 7s", w.Code, w.Header().Get("Retry-After"), w.Header().Get("X-Retry-In"))
	}
	clock.advance(7 * time.Second)
	if w := do(rl, "GET", "http://app.example/", "10.0.0.1:1"); w.Code != 200 {
		t.Errorf("after the period: status %d", w.Code)
	}
}

func TestRateLimitNoAverageNoLimit(t *testing.T) {
	next := &recorder{}
	rl, _ := buildRateLimit(t, Env{}, next, "period", "1m", "burst", "1")
	for i := 0; i < 100; i++ {
		if w := do(rl, "GET", "http://app.example/", "10.0.0.1:1"); w.Code != 200 {
			t.Fatalf("average 0, request %d: status %d", i, w.Code)
		}
	}
}

func TestRateLimitSourceCriterion(t *testing.T) {
	next := &recorder{}
	// By a header: requests without it are one source, as in Traefik.
	rl, _ := buildRateLimit(t, Env{}, next, "average", "1", "sourcecriterion.requestheadername", "x-api-key")
	codes := func(remote string, hdr ...string) int {
		return do(rl, "GET", "http://app.example/", remote, hdr...).Code
	}
	if codes("10.0.0.1:1", "X-Api-Key", "a") != 200 || codes("10.0.0.2:1", "X-Api-Key", "a") != 429 {
		t.Error("by header: the same key from two addresses is one source")
	}
	if codes("10.0.0.1:1", "X-Api-Key", "b") != 200 {
		t.Error("by header: another key is another source")
	}
	if codes("10.0.0.1:1") != 200 || codes("10.0.0.3:1") != 429 {
		t.Error("by header: requests without the header are one source")
	}

	rl, _ = buildRateLimit(t, Env{}, next, "average", "1", "sourcecriterion.requesthost", "true")
	if codes("10.0.0.1:1") != 200 || codes("10.0.0.2:1") != 429 {
		t.Error("by host: two clients of one host are one source")
	}
	if do(rl, "GET", "http://other.example/", "10.0.0.1:1").Code != 200 {
		t.Error("by host: another host is another source")
	}

	// By the client address the edge resolves (trusted proxy 192.0.2.0/24).
	rl, _ = buildRateLimit(t, trustedEnv("192.0.2.0/24"), next, "average", "1")
	if codes("192.0.2.1:1", "X-Forwarded-For", "198.51.100.1") != 200 || codes("192.0.2.2:1", "X-Forwarded-For", "198.51.100.1") != 429 {
		t.Error("default: the client behind two trusted proxies is one source")
	}
	if codes("192.0.2.1:1", "X-Forwarded-For", "198.51.100.2") != 200 {
		t.Error("default: another client behind the proxy is another source")
	}
	// A client that is not behind a trusted proxy cannot pick a new source.
	if codes("203.0.113.7:1", "X-Forwarded-For", "1.1.1.1") != 200 || codes("203.0.113.7:1", "X-Forwarded-For", "2.2.2.2") != 429 {
		t.Error("default: a spoofed X-Forwarded-For made a new source")
	}

	// ipStrategy depth, and ipv6Subnet grouping a /64.
	rl, _ = buildRateLimit(t, trustedEnv("192.0.2.0/24"), next, "average", "1", "sourcecriterion.ipstrategy.depth", "2")
	if codes("192.0.2.1:1", "X-Forwarded-For", "198.51.100.9, 203.0.113.1") != 200 || codes("192.0.2.1:1", "X-Forwarded-For", "198.51.100.9, 203.0.113.2") != 429 {
		t.Error("depth 2: the second address from the right is the source")
	}
	rl, _ = buildRateLimit(t, Env{}, next, "average", "1", "sourcecriterion.ipstrategy.ipv6subnet", "64")
	if codes("[2001:db8::1]:1") != 200 || codes("[2001:db8::ffff:2]:1") != 429 || codes("[2001:db8:0:1::1]:1") != 200 {
		t.Error("ipv6Subnet 64: the addresses of a /64 are one source")
	}
}

// An idle source is forgotten after Traefik's ttl (2s at 1/s): it comes
// back with a full bucket.
func TestRateLimitIdleSourceForgotten(t *testing.T) {
	next := &recorder{}
	rl, clock := buildRateLimit(t, Env{}, next, "average", "1", "burst", "5")
	for i := 0; i < 5; i++ {
		do(rl, "GET", "http://app.example/", "10.0.0.1:1")
	}
	clock.advance(2 * time.Second)
	for i := 0; i < 5; i++ {
		if w := do(rl, "GET", "http://app.example/", "10.0.0.1:1"); w.Code != 200 {
			t.Fatalf("after 2s idle, burst request %d: status %d (the bucket was kept)", i, w.Code)
		}
	}
}

// The buckets are bounded: a flood of sources evicts, never grows past the
// bound.
func TestRateLimitBounded(t *testing.T) {
	next := &recorder{}
	rl, clock := buildRateLimit(t, Env{}, next, "average", "1")
	rl.perShard = 4
	for i := 0; i < 5000; i++ {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		do(rl, "GET", "http://app.example/", netip.AddrPortFrom(a, 1).String())
		clock.advance(time.Microsecond)
	}
	if n := rl.sources(); n > 4*rateShards {
		t.Errorf("%d sources kept, bound %d", n, 4*rateShards)
	}
	// Idle sources go first.
	clock.advance(3 * time.Second)
	do(rl, "GET", "http://app.example/", "10.9.9.9:1")
	if n := rl.sources(); n > 4*rateShards {
		t.Errorf("%d sources kept after expiry", n)
	}
}

func TestRateLimitCanceledWhileWaiting(t *testing.T) {
	next := &recorder{}
	rl, clock := buildRateLimit(t, Env{}, next, "average", "1", "period", "10")
	do(rl, "GET", "http://app.example/", "10.0.0.1:1")
	clock.advance(9800 * time.Millisecond) // 200ms to go: within maxDelay
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest("GET", "http://app.example/", nil).WithContext(ctx)
	r.RemoteAddr = "10.0.0.1:1"
	w := httptest.NewRecorder()
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	rl.ServeHTTP(w, r)
	if w.Code != 500 || next.count() != 1 {
		t.Errorf("canceled while waiting: status %d, upstream got %d requests; want 500 and 1", w.Code, next.count())
	}
}

func TestRateLimitConcurrent(t *testing.T) {
	next := &recorder{}
	rl := build(t, "ratelimit", Env{}, next, "average", "100", "burst", "50").(*rateLimit)
	var wg sync.WaitGroup
	var ok atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if do(rl, "GET", "http://app.example/", "10.0.0.1:1").Code == 200 {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	// 400 requests in well under a second: about the burst of 50 and what
	// trickles in at 100/s, not more.
	if n := ok.Load(); n < 50 || n > 150 {
		t.Errorf("%d of 400 concurrent requests went on with burst 50 at 100/s", n)
	}
}

func BenchmarkRateLimit(b *testing.B) {
	h, err := buildErr("ratelimit", Env{}, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), "average", "1000000000", "burst", "1000000")
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest("GET", "http://app.example/", nil)
		r.RemoteAddr = fmt.Sprintf("10.0.0.%d:1", n.Add(1)) // a source per goroutine
		w := sinkWriter{}
		for pb.Next() {
			h.ServeHTTP(w, r)
		}
	})
}
