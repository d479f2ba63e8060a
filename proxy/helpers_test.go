package proxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// newProxy starts baton's handler on a real loopback listener serving routes.
func newProxy(t *testing.T, o HandlerOptions, routes ...*Route) (*Router, string) {
	t.Helper()
	return newProxyWith(t, nil, o, routes...)
}

func newProxyWith(t *testing.T, m Metrics, o HandlerOptions, routes ...*Route) (*Router, string) {
	t.Helper()
	router := NewRouter(m)
	table, errs := NewTable(routes)
	if len(errs) > 0 {
		t.Fatalf("table: %v", errs)
	}
	router.Store(table)
	ln, err := Listen("127.0.0.1:0", NewHandler(router, o), ServerOptions{ReadHeaderTimeout: 2 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	go ln.Serve()
	t.Cleanup(func() { ln.Close() })
	return router, "http://" + ln.Addr().String()
}

// backend starts a real upstream server and returns its target.
func backend(t *testing.T, h http.HandlerFunc) *Target {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	tg := NewTarget("static:"+addr, addr, nil, TransportOptions{})
	t.Cleanup(tg.Close)
	return tg
}

// deadAddr returns a loopback address that refuses connections.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// fetch is get for any goroutine: it returns the status and body, or the
// error, instead of failing the test (t.Fatal only stops the test on the
// test goroutine).
func fetch(url, host string) (status int, body string, err error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("GET %s (Host %s): %w", url, host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// fetched is what fetch got.
type fetched struct {
	status int
	body   string
	err    error
}

// fetchAsync fetches on a goroutine of its own; the answer comes on the
// channel returned.
func fetchAsync(url, host string) <-chan fetched {
	answered := make(chan fetched, 1)
	go func() {
		st, body, err := fetch(url, host)
		answered <- fetched{st, body, err}
	}()
	return answered
}

// inFlight is how many requests of service the handler admitted and has not
// finished: held ones included, counted once the request took its table.
// The service's routes must set MaxInflight, or nothing is counted.
func inFlight(r *Router, service string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := r.inflight[service]; n != nil {
		return n.Load()
	}
	return 0
}

func get(t *testing.T, url, host string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s (Host %s): %v", url, host, err)
	}
	return resp
}

// recordingMetrics keeps every observed status per service.
type recordingMetrics struct {
	mu       sync.Mutex
	statuses map[string][]int
	errors   map[string][]string
}

func newRecordingMetrics() *recordingMetrics {
	return &recordingMetrics{statuses: map[string][]int{}, errors: map[string][]string{}}
}

func (m *recordingMetrics) Route(service, host, path string) RouteObserver {
	return &recordingRoute{m: m, service: service}
}

func (m *recordingMetrics) statusesOf(service string) []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int(nil), m.statuses[service]...)
}

type recordingRoute struct {
	m       *recordingMetrics
	service string
}

func (r *recordingRoute) Observe(status int, _ time.Duration) {
	r.m.mu.Lock()
	r.m.statuses[r.service] = append(r.m.statuses[r.service], status)
	r.m.mu.Unlock()
}

func (r *recordingRoute) UpstreamError(kind string) {
	r.m.mu.Lock()
	r.m.errors[r.service] = append(r.m.errors[r.service], kind)
	r.m.mu.Unlock()
}
