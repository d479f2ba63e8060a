package conformance

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/batonproxy/baton/proxy"
)

// Which ResponseWriter serves a request tells the path it took: baton's fast
// path (package proxy/internal/h1) or net/http, to which the fast path hands
// every connection it does not serve itself.
const (
	fast    = "*h1.response"
	nethttp = "*http.response"
	// answeredByBaton: the fast path answered without running the handler
	// (OPTIONS *, RFC 9110 §9.3.7).
	answeredByBaton = "(handler not run)"
	refused400      = "status 400"
)

// TestFastPathMapping records which requests take baton's fast path: every
// HTTP/1.1 request does, so one strict parser reads every head; HTTP/1.0 goes
// to net/http (for one request) after the same checks; doubtful heads are
// refused. The test logs the whole mapping.
func TestFastPathMapping(t *testing.T) {
	t.Parallel()
	addr := Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Writer", fmt.Sprintf("%T", w))
		fmt.Fprintf(w, "%T", w)
	}), proxy.ServerOptions{})
	big := "X-Big: " + strings.Repeat("b", 4<<10)
	rows := []struct {
		name, raw, want string
	}{
		{"get", h("GET / HTTP/1.1"), fast},
		{"head", h("HEAD /x?y HTTP/1.1", "Accept: */*"), fast},
		{"get-keep-alive", h("GET / HTTP/1.1", "Connection: keep-alive"), fast},
		{"get-connection-close", h("GET / HTTP/1.1", "Connection: close"), fast},
		{"get-escaped-path", h("GET /a%2Fb?x=%20 HTTP/1.1"), fast},
		{"post-content-length-0", h("POST / HTTP/1.1", "Content-Length: 0"), fast},
		{"post-no-framing", h("POST / HTTP/1.1"), fast},
		{"post-content-length-body", h("POST / HTTP/1.1", "Content-Length: 5") + "hello", fast},
		{"post-chunked-body", h("POST / HTTP/1.1", "Transfer-Encoding: chunked") + helloChunked, fast},
		{"http10", "GET / HTTP/1.0\r\nHost: a.test\r\n\r\n", nethttp},
		{"upgrade", h("GET / HTTP/1.1", "Connection: Upgrade", "Upgrade: websocket"), fast},
		{"expect-100-continue", h("POST / HTTP/1.1", "Expect: 100-continue", "Content-Length: 0"), fast},
		{"absolute-form", h("GET http://a.test/ HTTP/1.1"), fast},
		{"options-asterisk", h("OPTIONS * HTTP/1.1"), answeredByBaton},
		{"header-over-4k", h("GET / HTTP/1.1", big), fast},
		{"bare-lf", "GET / HTTP/1.1\nHost: a.test\n\n", refused400},
		{"fragment", h("GET /a#f HTTP/1.1"), refused400},
	}
	var mapping strings.Builder
	for _, row := range rows {
		c := Dial(t, addr)
		if err := c.Send(row.raw); err != nil {
			t.Fatal(err)
		}
		method, _, _ := strings.Cut(row.raw, " ")
		r, _, err := c.ReadFinal(method)
		got := "no answer"
		switch {
		case err != nil:
			got = fmt.Sprintf("no answer (%v)", err)
		case r.Status != 200:
			got = fmt.Sprintf("status %d", r.Status)
		case !r.Header.Has("X-Writer"):
			got = answeredByBaton
		default:
			got = r.Header.Get("X-Writer")
		}
		path := map[string]string{fast: "fast path", nethttp: "net/http", answeredByBaton: "baton answers it itself"}[got]
		if path == "" {
			path = got
		}
		fmt.Fprintf(&mapping, "\n  %-26s %s", row.name, path)
		if got != row.want {
			t.Errorf("%s %q: served by %s, the table says %s", row.name, row.raw, got, row.want)
		}
	}
	t.Logf("which path serves which request:%s", mapping.String())
}
