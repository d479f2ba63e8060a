package integration

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/batonproxy/baton/integration/harness"
	"github.com/gorilla/websocket"
)

func TestDrainFinishesLongRequestsEndsWebSocketsAndKeepsStickySessions(t *testing.T) {
	v1, v2 := release(t, "aaaaaaa"), release(t, "bbbbbbb")
	b, _ := webService(t, v1, map[string]string{"baton.drain.timeout": "8s", "baton.sticky": "sid"})

	// A sticky session pinned to the old container.
	resp := mustGet(t, b.URL+"/", "web.test", nil)
	cookies := resp.Cookies()
	if len(cookies) != 1 || cookies[0].Name != "sid" {
		t.Fatalf("no sticky cookie: %v", resp.Header)
	}
	// An open WebSocket through baton.
	ws, _, err := websocket.DefaultDialer.Dial(strings.Replace(b.URL, "http://", "ws://", 1)+"/ws", http.Header{"Host": {"web.test"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	wsClosed := make(chan error, 1)
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				wsClosed <- err
				return
			}
		}
	}()
	// A long request started before the switch.
	var wg sync.WaitGroup
	var slowStatus int
	var slowBody string
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := mustGet(t, b.URL+"/slow?ms=5000", "web.test", nil)
		slowStatus = r.StatusCode
		slowBody = r.Header.Get("X-Release")
	}()
	time.Sleep(200 * time.Millisecond)

	deployDone := make(chan string, 1)
	go func() {
		out, code := b.CLI("deploy", "web", "--image", v2)
		if code != 0 {
			out = "FAILED: " + out
		}
		deployDone <- out
	}()
	harness.Eventually(t, 30*time.Second, "the switch", func() bool {
		return mustGet(t, b.URL+"/", "web.test", nil).Header.Get("X-Release") == "bbbbbbb"
	})
	switched := time.Now()
	for i := 0; i < 5; i++ {
		if rel := mustGet(t, b.URL+"/", "web.test", cookies).Header.Get("X-Release"); rel != "aaaaaaa" {
			t.Fatalf("sticky session moved to %q before the drain bound", rel)
		}
	}
	wg.Wait()
	if slowStatus != 200 || slowBody != "aaaaaaa" {
		t.Fatalf("long request across the switch: %d from %q", slowStatus, slowBody)
	}
	select {
	case err := <-wsClosed:
		if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
			t.Fatalf("WebSocket ended with %v, want close 1001", err)
		}
		if since := time.Since(switched); since < 6*time.Second {
			t.Fatalf("WebSocket closed %s after the switch, before the 8s drain bound", since)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("WebSocket never closed")
	}
	out := <-deployDone
	if strings.HasPrefix(out, "FAILED") {
		t.Fatal(out)
	}
	t.Logf("deploy:\n%s", out)
	if rel := mustGet(t, b.URL+"/", "web.test", cookies).Header.Get("X-Release"); rel != "bbbbbbb" {
		t.Fatalf("sticky session still on %q after the old container retired", rel)
	}
}

func mustGet(t *testing.T, url, host string, cookies []*http.Cookie) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Host = host
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return &http.Response{Header: http.Header{}}
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}
