package cache

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/batonproxy/baton/internal/testutil"
)

// clock is a settable time source, so freshness is tested without sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// countMetrics counts what the cache reports.
type countMetrics struct {
	hits, misses, purged  atomic.Int64
	stored, evictedBytes  atomic.Int64
	storedN, evictedCalls atomic.Int64
}

func (m *countMetrics) Hit()            { m.hits.Add(1) }
func (m *countMetrics) Miss()           { m.misses.Add(1) }
func (m *countMetrics) Stored(b int64)  { m.stored.Add(b); m.storedN.Add(1) }
func (m *countMetrics) Evicted(b int64) { m.evictedBytes.Add(b); m.evictedCalls.Add(1) }
func (m *countMetrics) Purged(n int)    { m.purged.Add(int64(n)) }

// rig is a real backend behind a front server that uses the cache the way
// baton's proxy handler does: Serve with a forward that streams the upstream
// response through the Recorder.
type rig struct {
	t       *testing.T
	cache   *Cache
	clock   *clock
	metrics *countMetrics
	backend *httptest.Server
	front   *httptest.Server
	client  *http.Client
	calls   atomic.Int64 // requests the backend received
	// finished is closed, per X-Test-Id, when the front handler has returned:
	// the client can have the whole body before the cache has stored it.
	mu       sync.Mutex
	finished map[string]chan struct{}
	ids      atomic.Int64
	// respond writes the backend's answer; Date is preset from the clock.
	respond atomic.Pointer[func(w http.ResponseWriter, r *http.Request)]
}

func newRig(t *testing.T, maxBytes int64) *rig {
	t.Helper()
	g := &rig{t: t, clock: newClock(), metrics: &countMetrics{}, finished: map[string]chan struct{}{}}
	g.cache = New(maxBytes, g.metrics)
	g.cache.now = g.clock.Now
	g.setBackend(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello") })
	g.backend = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.calls.Add(1)
		w.Header().Set("Date", g.clock.Now().UTC().Format(http.TimeFormat))
		(*g.respond.Load())(w, r)
	}))
	t.Cleanup(g.backend.Close)
	upstream := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 200}
	t.Cleanup(upstream.CloseIdleConnections)
	g.front = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer g.finish(r.Header.Get("X-Test-Id"))
		service := r.Header.Get("X-Test-Service")
		if service == "" {
			service = "web"
		}
		err := g.cache.Serve(w, r, service, func(w http.ResponseWriter) bool {
			return forward(upstream, g.backend.URL, w, r)
		})
		if err != nil {
			w.WriteHeader(499)
		}
	}))
	t.Cleanup(g.front.Close)
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 200}
	t.Cleanup(tr.CloseIdleConnections)
	g.client = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return g
}

func (g *rig) finish(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if ch, ok := g.finished[id]; ok {
		close(ch)
		delete(g.finished, id)
	}
}

func (g *rig) setBackend(f func(w http.ResponseWriter, r *http.Request)) { g.respond.Store(&f) }

// withHeaders makes the backend answer status with header fields and body.
func (g *rig) withHeaders(status int, fields map[string]string, body string) {
	g.setBackend(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range fields {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
}

// forward is a minimal reverse proxy step: the upstream's status, header and
// streamed body, reporting whether the body arrived whole.
func forward(rt http.RoundTripper, base string, w http.ResponseWriter, r *http.Request) bool {
	out, err := http.NewRequestWithContext(r.Context(), r.Method, base+r.URL.RequestURI(), nil)
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return true
	}
	out.Header = r.Header.Clone()
	resp, err := rt.RoundTrip(out)
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return true
	}
	defer resp.Body.Close()
	for k, vv := range resp.Header {
		w.Header()[k] = vv
	}
	w.WriteHeader(resp.StatusCode)
	buf := make([]byte, 512)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return false
			}
			w.(http.Flusher).Flush()
		}
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
}

type answer struct {
	status      int
	cacheStatus string
	age         string
	header      http.Header
	body        string
}

// do sends method path with header fields "K: V" and reads the whole answer.
func (g *rig) do(method, path string, fields ...string) answer {
	g.t.Helper()
	a, err := g.try(method, path, fields...)
	if err != nil {
		g.t.Fatal(err)
	}
	return a
}

// try is do for any goroutine: it returns its error instead of failing the
// test, since t.Fatal only stops the test on the test goroutine.
func (g *rig) try(method, path string, fields ...string) (answer, error) {
	req, err := http.NewRequest(method, g.front.URL+path, nil)
	if err != nil {
		return answer{}, err
	}
	for _, f := range fields {
		k, v, _ := strings.Cut(f, ":")
		req.Header.Add(k, strings.TrimSpace(v))
	}
	id := strconv.FormatInt(g.ids.Add(1), 10)
	req.Header.Set("X-Test-Id", id)
	finished := make(chan struct{})
	g.mu.Lock()
	g.finished[id] = finished
	g.mu.Unlock()
	defer func() {
		select {
		case <-finished:
		case <-time.After(testutil.Timeout):
			g.t.Errorf("%s %s: the front handler did not return", method, path) // Errorf is safe on any goroutine
		}
	}()
	resp, err := g.client.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: body: %w", method, path, err)
	}
	return answer{resp.StatusCode, resp.Header.Get("Cache-Status"), resp.Header.Get("Age"), resp.Header, string(b)}, nil
}

func (g *rig) get(path string, fields ...string) answer {
	g.t.Helper()
	return g.do(http.MethodGet, path, fields...)
}

// waiters is how many requests wait on fills under way.
func (c *Cache) waiters() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for _, f := range sh.flights {
			n += int(f.waiters.Load())
		}
		sh.mu.Unlock()
	}
	return n
}

// flights is how many fills are under way.
func (c *Cache) flights() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += len(sh.flights)
		sh.mu.Unlock()
	}
	return n
}
