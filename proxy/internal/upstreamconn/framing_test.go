package upstreamconn

import (
	"bufio"
	"errors"
	"strings"
	"testing"
)

// Responses whose end is not certain may be relayed but their connection is
// not reused; differing lengths are refused.
func TestJudgeResponseHead(t *testing.T) {
	cases := []struct {
		head, method string
		doubt        bool
		err          error
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "GET", false, nil},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", false, nil},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", true, nil},
		{"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nContent-Length: 5\r\n\r\n", "GET", true, nil},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "GET", false, errResponseFraming},
		{"HTTP/1.1 204 No Content\r\nContent-Length: 4\r\n\r\n", "GET", true, nil},
		{"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", "GET", false, nil},
		{"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", true, nil},
		{"HTTP/1.1 304 Not Modified\r\nContent-Length: 4\r\n\r\n", "GET", false, nil},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD", false, nil},
		{"HTTP/1.1 200 OK\r\nX: 1\r\n\r\n", "GET", true, nil},
		{"HTTP/1.1 200 OK\r\nX: 1\r\n\r\n", "HEAD", false, nil},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", "GET", true, nil},
		{"HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 20<<10) + "\r\n\r\n", "GET", false, errResponseHeadTooLarge},
	}
	for _, tc := range cases {
		br := bufio.NewReaderSize(strings.NewReader(tc.head+"body!"), 16<<10)
		f, err := judgeResponseHead(br, tc.method)
		if !errors.Is(err, tc.err) || err == nil && f.doubt != tc.doubt {
			t.Errorf("%q %s: doubt %v err %v, want doubt %v err %v", tc.head[:min(len(tc.head), 80)], tc.method, f.doubt, err, tc.doubt, tc.err)
		}
	}
}
