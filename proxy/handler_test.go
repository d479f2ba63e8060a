package proxy

import (
	"context"
	"github.com/batonproxy/baton/internal/testutil"
	"github.com/batonproxy/baton/proxy/cache"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestForwardedHeadersAndRequestID(t *testing.T) {
	seen := make(chan http.Header, 2)
	seenHost := make(chan string, 2)
	tg := backend(t, func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		seenHost <- r.Host
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "secret")
		w.Header().Set("Keep-Alive", "timeout=5")
		io.WriteString(w, "ok")
	})
	_, url := newProxy(t, HandlerOptions{}, &Route{Service: "app", Host: "app.test", Targets: []*Target{tg}})

	req, _ := http.NewRequest(http.MethodGet, url+"/x?q=1", nil)
	req.Host = "app.test"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("Connection", "X-Client-Hop")
	req.Header.Set("X-Client-Hop", "drop me")
	req.Header.Set("X-Request-Id", "abc-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := <-seen
	if got := <-seenHost; got != "app.test" {
		t.Errorf("upstream Host = %q, want the client's app.test", got)
	}
	if got := h.Get("X-Forwarded-For"); got != "127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want the peer alone (no trusted proxies)", got)
	}
	if got := h.Get("X-Forwarded-Proto"); got != "http" {
		t.Errorf("X-Forwarded-Proto = %q", got)
	}
	if got := h.Get("X-Forwarded-Host"); got != "app.test" {
		t.Errorf("X-Forwarded-Host = %q", got)
	}
	if got := h.Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("X-Request-Id = %q, want the client's kept", got)
	}
	if h.Get("X-Client-Hop") != "" {
		t.Error("header named by Connection was forwarded")
	}
	if resp.Header.Get("X-Hop") != "" || resp.Header.Get("Keep-Alive") != "" {
		t.Errorf("hop-by-hop response headers leaked: %v", resp.Header)
	}

	// Without a request id, baton makes one, different each time.
	resp = get(t, url+"/", "app.test")
	resp.Body.Close()
	id1 := (<-seen).Get("X-Request-Id")
	<-seenHost
	resp = get(t, url+"/", "app.test")
	resp.Body.Close()
	id2 := (<-seen).Get("X-Request-Id")
	<-seenHost
	if id1 == "" || id1 == id2 {
		t.Errorf("generated request ids %q, %q: want distinct and non-empty", id1, id2)
	}
}

func TestUnknownHost404AndNoTarget503(t *testing.T) {
	_, url := newProxy(t, HandlerOptions{}, &Route{Service: "empty", Host: "known.test"})
	resp := get(t, url+"/", "nobody.test")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "no route") {
		t.Errorf("unknown host: %d %q", resp.StatusCode, body)
	}
	resp = get(t, url+"/", "known.test")
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("known host without target: %d Retry-After=%q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestErrorStatuses(t *testing.T) {
	slow := backend(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	})
	// A target whose pool gives up waiting for headers after 200ms.
	timeoutTarget := NewTarget("timeout", slow.Addr, nil, TransportOptions{ResponseHeaderTimeout: 200 * time.Millisecond})
	reset := backend(t, func(w http.ResponseWriter, r *http.Request) {
		conn, _, _ := http.NewResponseController(w).Hijack()
		conn.Close()
	})
	dead := NewTarget("dead", deadAddr(t), nil, TransportOptions{})
	echo := backend(t, func(w http.ResponseWriter, r *http.Request) { io.Copy(w, r.Body) })

	m := newRecordingMetrics()
	_, url := newProxyWith(t, m, HandlerOptions{MaxBodyBytes: 64},
		&Route{Service: "timeout", Host: "timeout.test", Targets: []*Target{timeoutTarget}},
		&Route{Service: "reset", Host: "reset.test", Targets: []*Target{reset}},
		&Route{Service: "dead", Host: "dead.test", Targets: []*Target{dead}},
		&Route{Service: "echo", Host: "echo.test", Targets: []*Target{echo}},
		&Route{Service: "slow", Host: "slow.test", Targets: []*Target{slow}},
	)
	for host, want := range map[string]int{"timeout.test": 504, "reset.test": 502, "dead.test": 502} {
		resp := get(t, url+"/", host)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: status %d, want %d", host, resp.StatusCode, want)
		}
	}

	// A body over the limit: 413, whether the length is declared or chunked.
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader(strings.Repeat("x", 100))
		if chunked {
			body = io.MultiReader(body) // unknown length: sent chunked
		}
		req, _ := http.NewRequest(http.MethodPost, url+"/", body)
		req.Host = "echo.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("oversized body (chunked=%v): status %d, want 413", chunked, resp.StatusCode)
		}
	}

	// A client that leaves is recorded as 499, not as an upstream failure.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/", nil)
	req.Host = "slow.test"
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("request to slow backend should have been cancelled by the client")
	}
	testutil.Eventually(t, "slow route to record 499", func() bool { s := m.statusesOf("slow"); return len(s) == 1 && s[0] == StatusClientClosed })
}

func TestRetryRefusedOnAnotherTarget(t *testing.T) {
	live := backend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "live") })
	dead := NewTarget("dead", deadAddr(t), nil, TransportOptions{})
	_, url := newProxy(t, HandlerOptions{}, &Route{Service: "app", Host: "app.test", Targets: []*Target{dead, live}})
	for i := 0; i < 6; i++ {
		resp := get(t, url+"/", "app.test")
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "live" {
			t.Fatalf("request %d: %d %q; a refused target must be skipped", i, resp.StatusCode, body)
		}
	}
}

func TestHoldWaitsForReadyTarget(t *testing.T) {
	tg := backend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "new") })
	// MaxInflight counts the request once it took the table without a
	// target, so the target is added only while the request is held.
	router, url := newProxy(t, HandlerOptions{}, &Route{Service: "app", Host: "app.test", Hold: time.Minute, MaxInflight: 10})
	answered := fetchAsync(url+"/", "app.test")
	testutil.Eventually(t, "the request is held", func() bool { return inFlight(router, "app") == 1 || len(answered) > 0 })
	table, _ := NewTable([]*Route{{Service: "app", Host: "app.test", Hold: time.Minute, MaxInflight: 10, Targets: []*Target{tg}}})
	router.Store(table)
	if a := testutil.Recv(t, answered, "the held request's answer"); a.err != nil || a.status != 200 || a.body != "new" {
		t.Fatalf("held request: %d %q %v, want 200 new from the target added while it waited", a.status, a.body, a.err)
	}
}

func TestStickyCookiePinsTargetIncludingDraining(t *testing.T) {
	a := backend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a") })
	b := backend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "b") })
	router, url := newProxy(t, HandlerOptions{}, &Route{Service: "app", Host: "app.test", StickyCookie: "bsid", Targets: []*Target{a, b}})

	resp := get(t, url+"/", "app.test")
	first, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cookies := resp.Cookies()
	if len(cookies) != 1 || cookies[0].Name != "bsid" {
		t.Fatalf("cookies = %v, want bsid", cookies)
	}
	pinned, other := a, b
	if string(first) == "b" {
		pinned, other = b, a
	}
	// Cutover: the pinned target drains, the other takes new sessions.
	table, _ := NewTable([]*Route{{Service: "app", Host: "app.test", StickyCookie: "bsid", Targets: []*Target{other}, Draining: []*Target{pinned}}})
	router.Store(table)
	for i := 0; i < 4; i++ {
		req, _ := http.NewRequest(http.MethodGet, url+"/", nil)
		req.Host = "app.test"
		req.AddCookie(cookies[0])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != string(first) {
			t.Fatalf("sticky session moved to %q before the drain bound", body)
		}
	}
	// Without the cookie, a new session never reaches the draining target.
	for i := 0; i < 4; i++ {
		resp := get(t, url+"/", "app.test")
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) == string(first) {
			t.Fatal("new session routed to a draining target")
		}
	}
}

// Regression: a lone target that closed its listener (SIGTERM) before its kill
// event removed it made requests fail with 502 during a Compose recreate.
func TestRefusedLoneTargetHoldsForTheNextOne(t *testing.T) {
	dead := NewTarget("dead", deadAddr(t), nil, TransportOptions{})
	fresh := backend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "new") })
	// The request is counted once it took the table with the dead target
	// only, so it is refused there and must wait for the fresh one.
	router, url := newProxy(t, HandlerOptions{}, &Route{Service: "app", Host: "app.test", Hold: time.Minute, MaxInflight: 10, Targets: []*Target{dead}})
	answered := fetchAsync(url+"/", "app.test")
	testutil.Eventually(t, "the request is in flight on the dead target's table", func() bool { return inFlight(router, "app") == 1 || len(answered) > 0 })
	table, _ := NewTable([]*Route{{Service: "app", Host: "app.test", Hold: time.Minute, MaxInflight: 10, Targets: []*Target{fresh}}})
	router.Store(table)
	if a := testutil.Recv(t, answered, "the held request's answer"); a.err != nil || a.status != 200 || a.body != "new" {
		t.Fatalf("%d %q %v: a refused request with nothing sent must wait for the next target", a.status, a.body, a.err)
	}
}

// Regression: an upstream shutting down gracefully closes its idle keep-alive
// connections; a request written on one read "unexpected EOF" and got 502.
func TestIdleConnectionClosedByUpstreamIsRetried(t *testing.T) {
	var conns []net.Conn
	var mu sync.Mutex
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateIdle {
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}
	srv.Start()
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	tg := NewTarget("t", addr, nil, TransportOptions{})
	_, url := newProxy(t, HandlerOptions{}, &Route{Service: "app", Host: "app.test", Targets: []*Target{tg}})
	for i := 0; i < 3; i++ {
		resp := get(t, url+"/", "app.test")
		io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
		// The upstream drops every idle connection, as a shutdown does.
		testutil.Eventually(t, "an idle upstream connection", func() bool { mu.Lock(); defer mu.Unlock(); return len(conns) > 0 })
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		conns = nil
		mu.Unlock()
	}
}

// cancelTracker keeps the cancel func of every request it was told about, as
// the drain package does, so a test can cancel them as a drain at its bound.
type cancelTracker struct {
	mu      sync.Mutex
	cancels []context.CancelCauseFunc
	begun   chan struct{}
	stale   bool // Begin calls the cancel funcs of earlier requests, not keeping the new one
}

func (c *cancelTracker) Begin(cancel context.CancelCauseFunc) uint64 {
	c.mu.Lock()
	if c.stale {
		c.mu.Unlock()
		c.cancelAll()
		return 0
	}
	c.cancels = append(c.cancels, cancel)
	n := len(c.cancels)
	c.mu.Unlock()
	c.begun <- struct{}{}
	return uint64(n)
}
func (c *cancelTracker) Finish(uint64)             {}
func (c *cancelTracker) Upgraded(LongLived) func() { return func() {} }

func (c *cancelTracker) cancelAll() {
	c.mu.Lock()
	cancels := append([]context.CancelCauseFunc(nil), c.cancels...)
	c.mu.Unlock()
	for _, f := range cancels {
		f(ErrDraining)
	}
}

// A drain that cancels in-flight requests: one waiting for headers gets 503,
// a streaming one is cut; a cancel func called after its request ended (a
// drain racing Finish) does not touch a later request.
func TestDrainCancelEndsInFlightRequests(t *testing.T) {
	release := make(chan struct{})
	hanging := make(chan struct{}, 1)
	tg := backend(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hang":
			hanging <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/stream":
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: one\n\n")
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		default:
			io.WriteString(w, "ok")
		}
	})
	defer close(release)
	tr := &cancelTracker{begun: make(chan struct{}, 16)}
	tg.SetTracker(tr)
	m := newRecordingMetrics()
	_, url := newProxyWith(t, m, HandlerOptions{}, &Route{Service: "app", Host: "app.test", Targets: []*Target{tg}})

	// Before headers: 503.
	done := make(chan int, 1)
	go func() {
		st, _, err := fetch(url+"/hang", "app.test")
		if err != nil {
			st = -1 // the client saw no status at all
		}
		done <- st
	}()
	<-tr.begun
	testutil.Recv(t, hanging, "the request to reach the upstream") // awaiting headers now
	tr.cancelAll()
	select {
	case st := <-done:
		if st != http.StatusServiceUnavailable {
			t.Fatalf("cancelled while awaiting headers: %d, want 503", st)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("drain cancel did not end a request awaiting headers")
	}

	// During a stream: the client's body is cut.
	resp := get(t, url+"/stream", "app.test")
	<-tr.begun
	buf := make([]byte, 64)
	if n, err := resp.Body.Read(buf); err != nil || !strings.Contains(string(buf[:n]), "one") {
		t.Fatalf("first event: %q %v", buf[:n], err)
	}
	cut := make(chan error, 1)
	go func() { _, err := io.ReadAll(resp.Body); cut <- err }()
	tr.cancelAll()
	select {
	case err := <-cut:
		if err == nil {
			t.Fatal("a stream cut by a drain ended as if complete")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("drain cancel did not end a stream")
	}
	resp.Body.Close()

	// Late cancels of finished requests hit nothing: later requests succeed
	// while the stale funcs are called as each one begins.
	tr.mu.Lock()
	tr.stale = true
	tr.mu.Unlock()
	for i := 0; i < 20; i++ {
		resp := get(t, url+"/", "app.test")
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "ok" {
			t.Fatalf("request %d after stale cancels: %d %q", i, resp.StatusCode, body)
		}
	}
	testutil.Eventually(t, "two draining upstream errors", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return strings.Count(strings.Join(m.errors["app"], ","), "draining") == 2
	})
}

// A caching route answers from a fresh entry while its service has no ready
// target (a Compose recreate), and its 503 on a miss carries Cache-Status as
// every response of a caching route does.
func TestCachingRouteWithoutTargetServesFreshEntriesAndLabels503(t *testing.T) {
	app := backend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "stored "+r.URL.Path)
	})
	c := cache.New(1<<20, nil)
	router, url := newProxy(t, HandlerOptions{Cache: c}, &Route{Service: "web", Host: "web.test", Cache: true, Targets: []*Target{app}})
	resp := get(t, url+"/page", "web.test")
	io.ReadAll(resp.Body)
	resp.Body.Close()

	table, _ := NewTable([]*Route{{Service: "web", Host: "web.test", Cache: true}})
	router.Store(table)
	resp = get(t, url+"/page", "web.test")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "stored /page" || !strings.Contains(resp.Header.Get("Cache-Status"), "hit") {
		t.Errorf("fresh entry with no target: %d %q Cache-Status %q", resp.StatusCode, body, resp.Header.Get("Cache-Status"))
	}
	resp = get(t, url+"/other", "web.test")
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(resp.Header.Get("Cache-Status"), "fwd=uri-miss") {
		t.Errorf("miss with no target: %d Cache-Status %q, want 503 with fwd=uri-miss", resp.StatusCode, resp.Header.Get("Cache-Status"))
	}
}
