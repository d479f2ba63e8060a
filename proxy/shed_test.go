package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/batonproxy/baton/internal/testutil"
)

type countingShed struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *countingShed) Shed(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[reason]++
}

func (c *countingShed) count(reason string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[reason]
}

// heldBackend answers once release is closed; arrived gets one value per
// request that reached it.
func heldBackend(t *testing.T) (tg *Target, arrived chan struct{}, release chan struct{}) {
	arrived, release = make(chan struct{}, 64), make(chan struct{})
	tg = backend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/held" {
			arrived <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok")
	})
	// Registered after the backend's Close, so it runs first: a failed test
	// must not leave Close waiting for held handlers.
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release) // a failed test must not leave the backend (and its Close) waiting
		}
	})
	return tg, arrived, release
}

// startHeld sends n requests to /held and waits until all reached the backend.
func startHeld(t *testing.T, url, host string, n int, arrived chan struct{}) chan int {
	t.Helper()
	done := make(chan int, n)
	for i := 0; i < n; i++ {
		go func() {
			req, _ := http.NewRequest(http.MethodGet, url+"/held", nil)
			req.Host = host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				done <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			done <- resp.StatusCode
		}()
	}
	for i := 0; i < n; i++ {
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d held requests reached the backend", i, n)
		}
	}
	return done
}

func wantShed(t *testing.T, resp *http.Response, setting string) {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" || !strings.Contains(string(b), setting) {
		t.Fatalf("beyond the bound: %d Retry-After %q %q, want 503, Retry-After 1, naming %s", resp.StatusCode, resp.Header.Get("Retry-After"), b, setting)
	}
}

// eventuallyOK polls until a request is served: a held request's place is
// given back when its handler returns, which may be just after its client
// read the last byte.
func eventuallyOK(t *testing.T, url, host string) {
	t.Helper()
	testutil.EventuallyNil(t, "a request served after the held requests finished (the bound recovers)", func() error {
		st, _, err := fetch(url, host)
		if err == nil && st != http.StatusOK {
			err = fmt.Errorf("status %d", st)
		}
		return err
	})
}

func wantOK(t *testing.T, resp *http.Response) {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d %q, want 200", resp.StatusCode, b)
	}
}

func TestGlobalInflightBoundShedsTheNextAndRecovers(t *testing.T) {
	tg, arrived, release := heldBackend(t)
	shedc := &countingShed{}
	_, url := newProxy(t, HandlerOptions{MaxInflight: 3, Shed: shedc}, &Route{Service: "app", Host: "app.test", Targets: []*Target{tg}})
	done := startHeld(t, url, "app.test", 3, arrived)

	wantShed(t, get(t, url, "app.test"), "proxy.max_inflight 3")
	wantShed(t, get(t, url, "other.test"), "proxy.max_inflight 3") // global: before any route is looked up
	if n := shedc.count(ShedGlobal); n != 2 {
		t.Fatalf("shed count %d, want 2", n)
	}
	close(release)
	for i := 0; i < 3; i++ {
		if st := <-done; st != http.StatusOK {
			t.Fatalf("a held request within the bound got %d", st)
		}
	}
	eventuallyOK(t, url, "app.test") // recovered: nothing queued, nothing to drain
}

func TestServiceInflightBoundIsPerServiceAndOutlivesATableSwap(t *testing.T) {
	tg, arrived, release := heldBackend(t)
	other := backend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	shedc := &countingShed{}
	routes := func() []*Route {
		return []*Route{
			{Service: "app", Host: "app.test", Targets: []*Target{tg}, MaxInflight: 2},
			{Service: "app", Host: "www.app.test", Targets: []*Target{tg}, MaxInflight: 2},
			{Service: "other", Host: "other.test", Targets: []*Target{other}},
		}
	}
	router, url := newProxy(t, HandlerOptions{Shed: shedc}, routes()...)
	done := startHeld(t, url, "app.test", 2, arrived)

	// A new table (a Docker event) builds new routes; the count carries over.
	table, _ := NewTable(routes())
	router.Store(table)
	wantShed(t, get(t, url, "www.app.test"), "baton.max_inflight 2") // the service's bound, across its hosts
	wantOK(t, get(t, url, "other.test"))                             // another service is not bounded by it
	if n := shedc.count(ShedService); n != 1 {
		t.Fatalf("shed count %d, want 1", n)
	}
	close(release)
	for i := 0; i < 2; i++ {
		if st := <-done; st != http.StatusOK {
			t.Fatalf("a held request within the bound got %d", st)
		}
	}
	eventuallyOK(t, url, "app.test")
	eventuallyOK(t, url, "www.app.test")
}
