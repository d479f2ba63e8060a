package conformance

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/proxy"
)

// fake is a whole response that a mis-framed upstream answer leaves on the
// connection. It must never reach a client as an answer of its own.
const fake = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nstolen"

// clientRequest is client i's request: its own path and cookie.
func clientRequest(method string, i int, extra ...string) string {
	return h(fmt.Sprintf("%s /c%d HTTP/1.1", method, i), append([]string{fmt.Sprintf("Cookie: id=c%d", i)}, extra...)...)
}

func clientBody(i int) string { return fmt.Sprintf("path=/c%d cookie=id=c%d", i, i) }

// okFor is a correct answer to client i.
func okFor(i int) string {
	b := clientBody(i)
	return "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(b)) + "\r\n\r\n" + b
}

// A misbehaving upstream: whatever it does with one answer, the next clients
// on new connections get their own answers, and the upstream gets each
// client's request whole (never bytes of one client inside another's).
func TestMisbehavingUpstream(t *testing.T) {
	t.Parallel()
	for _, sh := range []struct {
		name   string
		method string   // client 1's method; "" is GET
		extra  []string // more fields of client 1's request
		answer string   // the backend's answer to client 1
		// later, when set, is written on that connection once client 1 has
		// its answer and the connection idles in baton's pool.
		later      string
		laterClose bool
	}{
		{name: "body-longer-than-content-length", answer: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + fake},
		{name: "bytes-after-the-last-chunk", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + helloChunked + fake},
		{name: "head-answered-with-a-body", method: "HEAD", answer: "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(fake)) + "\r\n\r\n" + fake},
		{name: "204-with-a-body", answer: "HTTP/1.1 204 No Content\r\n\r\n" + fake},
		{name: "content-length-and-chunked", answer: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n" + helloChunked + fake},
		{name: "bytes-later-on-the-idle-connection", answer: okFor(1), later: fake},
		{name: "408-on-the-idle-connection", answer: okFor(1), later: "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", laterClose: true},
		{name: "duplicate-content-length-differing", answer: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: " + strconv.Itoa(5+len(fake)) + "\r\n\r\nhello" + fake},
		{name: "invalid-content-length", answer: "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nhello" + fake},
		{name: "304-with-a-body", extra: []string{`If-None-Match: "v1"`}, answer: "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n" + fake},
	} {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			method := sh.method
			if method == "" {
				method = "GET"
			}
			var later *Later
			if sh.later != "" {
				later = NewLater(sh.later, sh.laterClose)
			}
			s := Start(t, Options{Script: func(r *Request) Action {
				if r.Seq == 1 {
					return Action{Write: []byte(sh.answer), Later: later}
				}
				return Echo(r)
			}})

			c1 := Dial(t, s.Addr)
			if err := c1.Send(clientRequest(method, 1, sh.extra...)); err != nil {
				t.Fatal(err)
			}
			s.Up.WaitRequest(t, 1)
			r1, _, err := c1.ReadFinal(method)
			t.Logf("client 1 got: %q (%v)", c1.In(), err)
			if r1 != nil && string(r1.Body) == "stolen" {
				t.Errorf("client 1 got the upstream's extra bytes as its answer: %q", c1.In())
			}
			if later != nil {
				close(later.Trigger)
				select {
				case <-later.Written:
				case <-time.After(IOTimeout):
					t.Fatal("backend did not write its late bytes")
				}
			}

			for i := 2; i <= 3; i++ {
				c := Dial(t, s.Addr)
				if err := c.Send(clientRequest("GET", i)); err != nil {
					t.Fatal(err)
				}
				r, _, err := c.ReadFinal("GET")
				switch {
				case err != nil:
					t.Errorf("client %d: no answer (%v); got %q", i, err, c.In())
				case r.Status != 200 || string(r.Body) != clientBody(i):
					t.Errorf("client %d got %d %q, want 200 %q (its own answer)\nall it read: %q", i, r.Status, r.Body, clientBody(i), c.In())
				}
			}

			served := map[int]bool{}
			for _, r := range s.Up.Requests() {
				m := r.Msg
				if !r.Complete || m == nil {
					t.Errorf("upstream got an incomplete request #%d: %q", r.Seq, r.Raw)
					continue
				}
				i := 0
				fmt.Sscanf(m.Target, "/c%d", &i)
				wantMethod := "GET"
				if i == 1 {
					wantMethod = method
				}
				if i < 1 || i > 3 || m.RequestLine != fmt.Sprintf("%s /c%d HTTP/1.1", wantMethod, i) || m.Header.Get("Cookie") != fmt.Sprintf("id=c%d", i) || len(m.Body) > 0 {
					t.Errorf("upstream request #%d is not one client's own request: %q", r.Seq, r.Raw)
					continue
				}
				served[i] = true
			}
			for i := 2; i <= 3; i++ {
				if !served[i] {
					t.Errorf("upstream never got client %d's request:%s", i, dump(s.Up.Requests()))
				}
			}
		})
	}
}

// retryOptions: a short upstream header timeout, so that the timeout shapes
// end fast.
var retryOptions = proxy.TransportOptions{ResponseHeaderTimeout: 300 * time.Millisecond}

// count is how many requests the backend got with this request line.
func count(s *Stack, line string) int {
	n := 0
	for _, r := range s.Up.Requests() {
		if r.Line() == line {
			n++
		}
	}
	return n
}

// exchange sends raw on a new connection and reads the final answer.
func exchange(t *testing.T, addr, raw string) *Response {
	t.Helper()
	c := Dial(t, addr)
	if err := c.Send(raw); err != nil {
		t.Fatal(err)
	}
	method, _, _ := strings.Cut(raw, " ")
	r, _, err := c.ReadFinal(method)
	if err != nil {
		t.Fatalf("no answer to %q: %v (got %q)", raw, err, c.In())
	}
	return r
}

// warm puts one idle upstream connection in baton's pool.
func warm(t *testing.T, s *Stack) {
	t.Helper()
	if r := exchange(t, s.Addr, h("GET /warm HTTP/1.1")); r.Status != 200 || string(r.Body) != "path=/warm" {
		t.Fatalf("warm-up answer %d %q", r.Status, r.Body)
	}
}

// What is retried: a request the upstream may have processed is sent once
// (the client gets the error); one that a stale idle connection never
// delivered is sent again, on a new connection.
func TestRetries(t *testing.T) {
	t.Parallel()

	// failing answers every request but /warm with fail.
	failing := func(fail Action) func(*Request) Action {
		return func(r *Request) Action {
			if r.Line() == "GET /warm HTTP/1.1" {
				return Echo(r)
			}
			return fail
		}
	}
	shapes := []struct {
		name   string
		fail   Action
		status int
	}{
		{"closed-after-read", Action{Close: true}, 502},
		{"reset-after-read", Action{Reset: true}, 502},
		{"header-timeout", Action{Hang: true}, 504},
	}

	// A body-less POST on a reused connection the backend closes after
	// reading it: the backend may have acted on it; it is not sent again.
	for _, raw := range []string{h("POST /p HTTP/1.1", "Content-Length: 0"), h("POST /p HTTP/1.1")} {
		t.Run("post-without-body/"+map[bool]string{true: "content-length-0", false: "no-content-length"}[strings.Contains(raw, "Content-Length")], func(t *testing.T) {
			t.Parallel()
			s := Start(t, Options{Script: failing(Action{Close: true}), Transport: retryOptions})
			warm(t, s)
			r := exchange(t, s.Addr, raw)
			if r.Status != 502 {
				t.Errorf("status %d, want 502", r.Status)
			}
			if n := count(s, "POST /p HTTP/1.1"); n != 1 {
				t.Errorf("upstream got the POST %d times, want once:%s", n, dump(s.Up.Requests()))
			}
		})
	}

	// Requests with bodies: once, whatever the failure, on a reused or a new connection.
	for _, method := range []string{"POST", "PUT", "PATCH"} {
		for _, sh := range shapes {
			for _, reused := range []bool{true, false} {
				name := fmt.Sprintf("%s-with-body/%s/%s", strings.ToLower(method), sh.name, map[bool]string{true: "reused", false: "new"}[reused])
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					s := Start(t, Options{Script: failing(sh.fail), Transport: retryOptions})
					if reused {
						warm(t, s)
					}
					r := exchange(t, s.Addr, h(method+" /p HTTP/1.1", "Content-Length: 5")+"hello")
					if r.Status != sh.status {
						t.Errorf("status %d, want %d", r.Status, sh.status)
					}
					if n := count(s, method+" /p HTTP/1.1"); n != 1 {
						t.Errorf("upstream got the %s %d times, want once:%s", method, n, dump(s.Up.Requests()))
					}
				})
			}
		}
	}

	// A GET whose response header times out on a reused connection: the
	// upstream may be working on it; it is not sent again.
	t.Run("get-header-timeout-on-reused-connection", func(t *testing.T) {
		t.Parallel()
		s := Start(t, Options{Script: failing(Action{Hang: true}), Transport: retryOptions})
		warm(t, s)
		r := exchange(t, s.Addr, h("GET /slow HTTP/1.1"))
		if r.Status != 504 {
			t.Errorf("status %d, want 504", r.Status)
		}
		if n := count(s, "GET /slow HTTP/1.1"); n != 1 {
			t.Errorf("upstream got the GET %d times, want once:%s", n, dump(s.Up.Requests()))
		}
	})

	// The backend closes each connection right after its first answer,
	// without saying Connection: close. The next request finds that
	// connection stale in the pool: it is served on a new one, and reaches
	// the backend once.
	closesAfterAnswer := func(r *Request) Action {
		a := Echo(r)
		a.Close = true
		return a
	}
	for _, next := range []struct{ name, raw, line, payload string }{
		{"get", h("GET /next HTTP/1.1"), "GET /next HTTP/1.1", ""},
		{"post-with-body", h("POST /next HTTP/1.1", "Content-Length: 5") + "hello", "POST /next HTTP/1.1", "hello"},
		{"put-chunked-body", h("PUT /next HTTP/1.1", "Transfer-Encoding: chunked") + helloChunked, "PUT /next HTTP/1.1", "hello"},
	} {
		t.Run(next.name+"-after-upstream-closed-idle-connection", func(t *testing.T) {
			t.Parallel()
			s := Start(t, Options{Script: closesAfterAnswer, Transport: retryOptions})
			warm(t, s)
			s.Up.WaitClosed(t, 1)
			r := exchange(t, s.Addr, next.raw)
			if r.Status != 200 || string(r.Body) != "path=/next" {
				t.Errorf("answer %d %q, want 200 %q", r.Status, r.Body, "path=/next")
			}
			if n := count(s, next.line); n != 1 {
				t.Errorf("upstream got %q %d times, want once:%s", next.line, n, dump(s.Up.Requests()))
			}
			for _, rq := range s.Up.Requests() {
				if rq.Line() == next.line && (rq.Msg == nil || string(rq.Msg.Body) != next.payload) {
					t.Errorf("upstream got %q, want the body %q", rq.Raw, next.payload)
				}
			}
		})
	}
}
