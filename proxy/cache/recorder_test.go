package cache

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/batonproxy/baton/internal/testutil"
)

func TestAMissStreamsToTheClientBeforeTheUpstreamFinishes(t *testing.T) {
	g := newRig(t, 1<<20)
	more := make(chan struct{})
	t.Cleanup(func() { close(more) })
	g.setBackend(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-more
		_, _ = io.WriteString(w, "second\n")
	})
	resp, err := g.client.Get(g.front.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first line %q, %v: the body did not stream on a miss", line, err)
	}
	if cs := resp.Header.Get("Cache-Status"); cs != "baton; fwd=uri-miss; stored" {
		t.Fatalf("Cache-Status %q", cs)
	}
}

func TestACutBodyIsNotStored(t *testing.T) {
	g := newRig(t, 1<<20)
	g.setBackend(func(w http.ResponseWriter, r *http.Request) {
		// Promise 100 bytes, send 4, and hang up.
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 100\r\n\r\nhalf")
		_ = brw.Flush()
	})
	resp, err := g.client.Get(g.front.URL + "/cut")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("the client got a cut body without an error")
	}
	testutil.Eventually(t, "the cut request's fill to end", func() bool { return g.cache.flights() == 0 })
	g.setBackend(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "whole")
	})
	if a := g.get("/cut"); a.cacheStatus != "baton; fwd=uri-miss; stored" || a.body != "whole" {
		t.Fatalf("after a cut body: %q %q, want a fresh miss", a.cacheStatus, a.body)
	}
}

func TestEveryResponseOfTheRouteCarriesCacheStatus(t *testing.T) { // RFC 9211
	g := newRig(t, 1<<20)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String()
	dead.Close() // refuses from now on
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = g.cache.Serve(w, r, "web", func(w http.ResponseWriter) bool {
			return forward(http.DefaultTransport, deadURL, w, r)
		})
	}))
	defer front.Close()
	resp, err := http.Get(front.URL + "/down")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("Cache-Status") != "baton; fwd=uri-miss; detail=status" {
		t.Fatalf("upstream down: %d %q", resp.StatusCode, resp.Header.Get("Cache-Status"))
	}
}

func TestAnUpstreamCacheStatusIsKeptAndOursAppended(t *testing.T) { // RFC 9211 §2: origin first, user last
	g := newRig(t, 1<<20)
	g.withHeaders(200, map[string]string{"Cache-Control": "max-age=60", "Cache-Status": "app-cache; hit"}, "v")
	a, b := firstThenSecond(g, "/p")
	want1 := []string{"app-cache; hit", "baton; fwd=uri-miss; stored"}
	want2 := []string{"app-cache; hit", "baton; hit"}
	if got := a.header.Values("Cache-Status"); !equalStrings(got, want1) {
		t.Fatalf("miss: %q, want %q", got, want1)
	}
	if got := b.header.Values("Cache-Status"); !equalStrings(got, want2) {
		t.Fatalf("hit: %q, want %q", got, want2)
	}
}

func TestStoredHeaderDropsPerExchangeFields(t *testing.T) { // RFC 9111 §3.1
	h := http.Header{
		"Connection":     {"X-Session-Hint, close"},
		"X-Session-Hint": {"a"},
		"Keep-Alive":     {"timeout=5"},
		"Age":            {"3"},
		"Cache-Status":   {"app; hit"},
		"X-Baton-Target": {"web-1"},
		"Content-Type":   {"text/plain"},
		"Cache-Control":  {"max-age=60"},
	}
	got := storedHeader(h)
	want := http.Header{"Content-Type": {"text/plain"}, "Cache-Control": {"max-age=60"}}
	if len(got) != len(want) || got.Get("Content-Type") != "text/plain" || got.Get("Cache-Control") != "max-age=60" {
		t.Fatalf("stored %v, want %v", got, want)
	}
}

func TestTheRecorderLetsTheProxyHijackForUpgrades(t *testing.T) {
	c := New(1<<20, nil)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = c.Serve(w, r, "web", func(w http.ResponseWriter) bool {
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return true
			}
			defer conn.Close()
			_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			_ = brw.Flush()
			return true
		})
	}))
	defer front.Close()
	req, _ := http.NewRequest(http.MethodGet, front.URL+"/ws", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101 through a hijacked Recorder", resp.StatusCode)
	}
}
