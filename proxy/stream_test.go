package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/batonproxy/baton/internal/testutil"
)

func TestSSEDeliveredEventByEvent(t *testing.T) {
	release := make(chan struct{})
	tg := backend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Content-Length", "") // no length: the proxy must not wait for the end
		fl := w.(http.Flusher)
		io.WriteString(w, "data: one\n\n")
		fl.Flush()
		<-release
		io.WriteString(w, "data: two\n\n")
		fl.Flush()
	})
	_, url := newProxy(t, HandlerOptions{}, &Route{Service: "sse", Host: "sse.test", Targets: []*Target{tg}})
	resp := get(t, url+"/events", "sse.test")
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	got := make(chan string, 1)
	go func() {
		line, _ := br.ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if line != "data: one\n" {
			t.Fatalf("first event line = %q", line)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("first event not delivered while the stream is still open: the proxy buffered it")
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if !strings.Contains(string(rest), "data: two") {
		t.Fatalf("second event missing: %q", rest)
	}
}

// wsEcho is a WebSocket echo backend.
func wsEcho(t *testing.T) *Target {
	up := websocket.Upgrader{}
	return backend(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, msg); err != nil {
				return
			}
		}
	})
}

func dialWS(t *testing.T, url, host string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 3 * time.Second}
	hdr := http.Header{"Host": {host}}
	c, resp, err := d.Dial(strings.Replace(url, "http://", "ws://", 1)+"/ws", hdr)
	if err != nil {
		t.Fatalf("websocket dial through proxy: %v (resp %v)", err, resp)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestWebSocketEchoThroughProxy(t *testing.T) {
	_, url := newProxy(t, HandlerOptions{}, &Route{Service: "ws", Host: "ws.test", Targets: []*Target{wsEcho(t)}})
	c := dialWS(t, url, "ws.test")
	for i := 0; i < 3; i++ {
		msg := fmt.Sprintf("hello %d", i)
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, got, err := c.ReadMessage()
		if err != nil || string(got) != msg {
			t.Fatalf("echo %d: %q, %v", i, got, err)
		}
	}
}

// upgradeTracker records upgraded connections so the test can end them as a drain would.
type upgradeTracker struct {
	nopTracker
	mu    sync.Mutex
	conns []LongLived
}

func (u *upgradeTracker) Upgraded(c LongLived) func() {
	u.mu.Lock()
	u.conns = append(u.conns, c)
	u.mu.Unlock()
	return func() {}
}

func (u *upgradeTracker) endAll() int {
	u.mu.Lock()
	conns := append([]LongLived(nil), u.conns...)
	u.mu.Unlock()
	for _, c := range conns {
		c.EndGracefully()
	}
	return len(conns)
}

func TestDrainEndsWebSocketWith1001(t *testing.T) {
	tracker := &upgradeTracker{}
	tg := wsEcho(t)
	tg.SetTracker(tracker)
	_, url := newProxy(t, HandlerOptions{}, &Route{Service: "ws", Host: "ws.test", Targets: []*Target{tg}})
	c := dialWS(t, url, "ws.test")
	c.WriteMessage(websocket.TextMessage, []byte("ping"))
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, _, err := c.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	if n := tracker.endAll(); n != 1 {
		t.Fatalf("tracker saw %d upgraded connections, want 1", n)
	}
	_, _, err := c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("client got %v, want close 1001 (going away)", err)
	}
}

func TestInFlightRequestSurvivesTableSwap(t *testing.T) {
	release := make(chan struct{})
	releaseOld := sync.OnceFunc(func() { close(release) })
	defer releaseOld() // a failure before the release must not leave the handler (and srv.Close) waiting
	old := backend(t, func(w http.ResponseWriter, r *http.Request) {
		<-release // answers only once the swap is done and the new target served
		io.WriteString(w, "old")
	})
	fresh := backend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "new") })
	router, url := newProxy(t, HandlerOptions{}, &Route{Service: "app", Host: "app.test", Targets: []*Target{old}})
	done := make(chan string, 1)
	go func() {
		st, body, err := fetch(url+"/", "app.test")
		done <- fmt.Sprint(st, " ", body, " ", err)
	}()
	testutil.Eventually(t, "request in flight on old target", func() bool { return old.InFlight() == 1 })
	table, _ := NewTable([]*Route{{Service: "app", Host: "app.test", Targets: []*Target{fresh}}})
	router.Store(table)
	resp := get(t, url+"/", "app.test")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	releaseOld()
	if string(b) != "new" {
		t.Fatalf("request after swap went to %q", b)
	}
	if got := testutil.Recv(t, done, "the in-flight request's answer"); got != "200 old <nil>" {
		t.Fatalf("in-flight request across swap: %s", got)
	}
}

func TestSlowlorisCutByReadHeaderTimeout(t *testing.T) {
	router := NewRouter(nil)
	ln, err := Listen("127.0.0.1:0", NewHandler(router, HandlerOptions{}), ServerOptions{ReadHeaderTimeout: 300 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	go ln.Serve()
	defer ln.Shutdown(context.Background())
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: a.test\r\n") // never finishes its headers
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("slow client still connected after 5s")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("slow client cut after %v", d)
	}
}

// A request body reaches the upstream as it arrives, not after the proxy has
// buffered all of it.
func TestRequestBodyStreamsToUpstream(t *testing.T) {
	firstChunk := make(chan string, 1)
	tg := backend(t, func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 5)
		n, _ := io.ReadFull(r.Body, buf)
		firstChunk <- string(buf[:n])
		rest, _ := io.ReadAll(r.Body)
		io.WriteString(w, string(buf[:n])+string(rest))
	})
	_, url := newProxy(t, HandlerOptions{}, &Route{Service: "up", Host: "up.test", Targets: []*Target{tg}})
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, url+"/upload", pr)
	req.Host = "up.test"
	done := make(chan string, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- string(b)
	}()
	io.WriteString(pw, "hello")
	select {
	case got := <-firstChunk:
		if got != "hello" {
			t.Fatalf("first chunk %q", got)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the upstream saw nothing while the client was still sending: the body was buffered")
	}
	io.WriteString(pw, " world")
	pw.Close()
	if got := <-done; got != "hello world" {
		t.Fatalf("echo %q", got)
	}
}
