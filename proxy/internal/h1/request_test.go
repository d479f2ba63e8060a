package h1

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// FuzzFastPathParse: whatever the fast path accepts, net/http reads the same
// way, so that the two can never disagree on where a request ends or what it
// says (no smuggling between them).
func FuzzFastPathParse(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n",
		"GET /a%20b?x HTTP/1.1\r\nhost: a\r\nX-A: 1\r\nx-a: 2\r\n\r\n",
		"DELETE /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx",
		"GET / HTTP/1.1\r\nHost: [::1]:80\r\nTransfer-Encoding: chunked\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		end := strings.Index(raw, "\r\n\r\n")
		if end < 0 || bareLF([]byte(raw[:end+4])) {
			return
		}
		c := &serverConn{header: http.Header{}, proto: new(http.Request), remote: "192.0.2.1:1"}
		rh, rf := c.parseRequestHead(raw[:end], headLimits{line: 8 << 10, total: 32 << 10, fields: 100})
		if rf != nil || rh.options {
			return
		}
		fast := rh.req
		want, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw[:end+4])))
		if err != nil {
			t.Fatalf("fast path accepted what net/http refuses (%v): %q", err, raw)
		}
		if fast.Method != want.Method || fast.URL.String() != want.URL.String() || fast.Host != want.Host ||
			fast.Close != want.Close || fast.ContentLength != want.ContentLength || fast.RequestURI != want.RequestURI ||
			fmt.Sprint(fast.TransferEncoding) != fmt.Sprint(want.TransferEncoding) {
			t.Fatalf("fast %s %s host %q close %v len %d te %v; net/http %s %s host %q close %v len %d te %v: %q",
				fast.Method, fast.URL, fast.Host, fast.Close, fast.ContentLength, fast.TransferEncoding,
				want.Method, want.URL, want.Host, want.Close, want.ContentLength, want.TransferEncoding, raw)
		}
		// net/http takes Transfer-Encoding out of the header map, and so
		// does parseRequestHead (the framing is the server's); the delete
		// keeps the comparison to the other fields.
		delete(fast.Header, "Transfer-Encoding")
		if fmt.Sprint(fast.Header) != fmt.Sprint(want.Header) {
			t.Fatalf("headers differ:\nfast     %v\nnet/http %v\n%q", fast.Header, want.Header, raw)
		}
	})
}
