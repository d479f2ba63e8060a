package conformance

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/batonproxy/baton/proxy"
)

// Which ResponseWriter serves a request tells the path it took: baton's fast
// path (proxy/h1server.go) or net/http, to which the fast path hands every
// connection it does not serve itself.
const (
	fast    = "*proxy.h1Response"
	nethttp = "*http.response"
	// nethttpItself: net/http answered without running the handler (it
	// answers OPTIONS * itself unless DisableGeneralOptionsHandler is set).
	nethttpItself = "(handler not run)"
)

// TestFastPathMapping records which requests take baton's fast path. It is
// a map of today's behaviour, not a requirement: when a change moves a kind
// of request from one path to the other (bodies onto the fast path, say),
// update its row. The test logs the whole mapping either way.
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
		{"post-content-length-body", h("POST / HTTP/1.1", "Content-Length: 5") + "hello", nethttp},
		{"post-chunked-body", h("POST / HTTP/1.1", "Transfer-Encoding: chunked") + helloChunked, nethttp},
		{"http10", "GET / HTTP/1.0\r\nHost: a.test\r\n\r\n", nethttp},
		{"upgrade", h("GET / HTTP/1.1", "Connection: Upgrade", "Upgrade: websocket"), nethttp},
		{"expect-100-continue", h("POST / HTTP/1.1", "Expect: 100-continue", "Content-Length: 0"), nethttp},
		{"absolute-form", h("GET http://a.test/ HTTP/1.1"), nethttp},
		{"options-asterisk", h("OPTIONS * HTTP/1.1"), nethttpItself},
		{"header-over-4k", h("GET / HTTP/1.1", big), nethttp},
		{"bare-lf", "GET / HTTP/1.1\nHost: a.test\n\n", nethttp},
		{"fragment", h("GET /a#f HTTP/1.1"), nethttp},
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
			got = nethttpItself
		default:
			got = r.Header.Get("X-Writer")
		}
		path := map[string]string{fast: "fast path", nethttp: "net/http", nethttpItself: "net/http, which answers it itself"}[got]
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
