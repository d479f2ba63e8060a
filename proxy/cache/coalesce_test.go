package cache

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/batonproxy/baton/internal/testutil"
)

// blockingBackend makes the backend hold every answer until release is closed.
func blockingBackend(g *rig, fields map[string]string) (release func()) {
	ch := make(chan struct{})
	g.setBackend(func(w http.ResponseWriter, r *http.Request) {
		<-ch
		for k, v := range fields {
			w.Header().Set(k, v)
		}
		_, _ = io.WriteString(w, "shared")
	})
	var once sync.Once
	release = func() { once.Do(func() { close(ch) }) }
	g.t.Cleanup(release)
	return release
}

// burst sends n concurrent GETs for path once the backend holds the first and
// the others wait for it, then releases the backend and returns the answers.
func burst(g *rig, n int, path string, release func()) []answer {
	g.t.Helper()
	answers := make([]answer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { answers[i], errs[i] = g.try(http.MethodGet, path) })
	}
	waited := testutil.Poll(testutil.Timeout, func() bool {
		return g.calls.Load() == 1 && g.cache.waiters() == n-1
	})
	release() // before any Fatal: the requests end and the test can
	wg.Wait()
	if !waited {
		g.t.Fatalf("the burst did not wait on one fill: %d backend calls", g.calls.Load())
	}
	if err := errors.Join(errs...); err != nil {
		g.t.Fatal(err)
	}
	return answers
}

func TestConcurrentMissesMakeOneUpstreamRequest(t *testing.T) {
	g := newRig(t, 1<<20)
	release := blockingBackend(g, map[string]string{"Cache-Control": "max-age=60"})
	answers := burst(g, 100, "/hot", release)

	if got := g.calls.Load(); got != 1 {
		t.Fatalf("backend saw %d requests for a burst of 100 misses, want 1", got)
	}
	hits := 0
	for _, a := range answers {
		if a.status != 200 || a.body != "shared" {
			t.Fatalf("answer %d %q", a.status, a.body)
		}
		if a.cacheStatus == "baton; hit" {
			hits++
		}
	}
	if hits != 99 || g.metrics.hits.Load() != 99 || g.metrics.misses.Load() != 1 {
		t.Fatalf("%d answers were hits (metrics: %d hits, %d misses), want 99 and 1 miss", hits, g.metrics.hits.Load(), g.metrics.misses.Load())
	}
}

func TestWaitersGoUpstreamThemselvesWhenTheFillIsNotStorable(t *testing.T) {
	g := newRig(t, 1<<20)
	release := blockingBackend(g, map[string]string{"Cache-Control": "private, max-age=60"})
	answers := burst(g, 10, "/me", release)
	if got := g.calls.Load(); got != 10 {
		t.Fatalf("backend saw %d requests, want 10: a private answer is never shared", got)
	}
	waiters := 0
	for _, a := range answers {
		if a.body != "shared" {
			t.Fatalf("body %q", a.body)
		}
		if a.cacheStatus == "baton; fwd=miss; detail=private" {
			waiters++
		}
	}
	if waiters != 9 {
		t.Fatalf("%d answers said fwd=miss; detail=private, want the 9 waiters", waiters)
	}
}

func TestAWaiterLeavesWhenItsContextEnds(t *testing.T) {
	c := New(1<<20, nil)
	leader := httptest.NewRequest(http.MethodGet, "http://app.test/slow", nil)
	_, st, _ := c.Lookup("web", leader)
	if !st.Leads() {
		t.Fatal("first miss does not lead a fill")
	}
	ctx, cancel := context.WithCancel(context.Background())
	waiter := leader.Clone(ctx)
	done := make(chan error, 1)
	go func() {
		_, _, err := c.Lookup("web", waiter)
		done <- err
	}()
	testutil.Eventually(t, "the second request to wait", func() bool { return c.waiters() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("waiter returned %v, want context.Canceled", err)
	}
	// The leader still completes and stores for everyone after.
	rec := c.Record(httptest.NewRecorder(), leader, st)
	rec.Header().Set("Cache-Control", "max-age=60")
	_, _ = rec.Write([]byte("ok"))
	if !rec.End(true) {
		t.Fatal("leader's response not stored")
	}
}

// A leader whose body is cut must not leave its waiters hanging or store half a body.
func TestALeaderThatFailsReleasesItsWaiters(t *testing.T) {
	c := New(1<<20, nil)
	r := httptest.NewRequest(http.MethodGet, "http://app.test/cut", nil)
	_, st, _ := c.Lookup("web", r)
	got := make(chan Status, 1)
	go func() {
		_, st, _ := c.Lookup("web", r.Clone(context.Background()))
		got <- st
	}()
	testutil.Eventually(t, "the second request to wait", func() bool { return c.waiters() == 1 })
	func() {
		defer func() { _ = recover() }()
		rec := c.Record(httptest.NewRecorder(), r, st)
		complete := false
		defer func() { rec.End(complete) }()
		rec.Header().Set("Cache-Control", "max-age=60")
		_, _ = rec.Write([]byte("half"))
		panic(http.ErrAbortHandler) // what the proxy does when the upstream body breaks
	}()
	if s := <-got; s.Hit() || s.Fwd() != FwdMiss {
		t.Fatalf("waiter: hit=%v fwd=%q, want a miss of its own", s.Hit(), s.Fwd())
	}
	if c.Len() != 0 {
		t.Fatal("half a body was stored")
	}
}

func TestAConditionalMissDoesNotLeadAFill(t *testing.T) {
	c := New(1<<20, nil)
	r := httptest.NewRequest(http.MethodGet, "http://app.test/p", nil)
	r.Header.Set("If-None-Match", `"v1"`)
	if _, st, _ := c.Lookup("web", r); st.Leads() {
		t.Fatal("a request that may get a 304 leads a fill others would wait for")
	}
	if _, st, _ := c.Lookup("web", httptest.NewRequest(http.MethodGet, "http://app.test/p", nil)); !st.Leads() {
		t.Fatal("a plain miss does not lead")
	}
}
