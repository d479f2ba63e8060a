package proxy

import (
	"bufio"
	"errors"
	"strings"
	"testing"
)

// The retry rule: a second attempt only when the first cannot have been
// processed; never after a timeout or cancel, never with a body.
func TestRetryRule(t *testing.T) {
	cases := []struct {
		name                 string
		f                    attemptFailure
		replayable, withBody bool
		want                 bool
	}{
		{"nothing written, POST without body", attemptFailure{reused: true}, false, false, true},
		{"nothing written, with body", attemptFailure{reused: true}, false, true, false},
		{"GET on reused conn closed before answer", attemptFailure{reused: true, wrote: true, closedEarly: true}, true, false, true},
		{"POST on reused conn closed before answer", attemptFailure{reused: true, wrote: true, closedEarly: true}, false, false, false},
		{"GET on fresh conn closed before answer", attemptFailure{wrote: true, closedEarly: true}, true, false, false},
		{"GET with body on reused conn", attemptFailure{reused: true, wrote: true, closedEarly: true}, true, true, false},
		{"GET timed out on reused conn", attemptFailure{reused: true, wrote: true, timeout: true}, true, false, false},
		{"GET cancelled", attemptFailure{reused: true, wrote: true, closedEarly: true, cancelled: true}, true, false, false},
		{"GET answered in part", attemptFailure{reused: true, wrote: true}, true, false, false},
	}
	for _, tc := range cases {
		if got := mayRetry(&tc.f, tc.replayable, tc.withBody); got != tc.want {
			t.Errorf("%s: mayRetry = %v, want %v", tc.name, got, tc.want)
		}
	}
	for method, want := range map[string]bool{"GET": true, "HEAD": true, "OPTIONS": true, "TRACE": true, "PUT": false, "DELETE": false, "POST": false, "PATCH": false} {
		if got := replayable(method, nil); got != want {
			t.Errorf("replayable(%s) = %v, want %v", method, got, want)
		}
	}
	if !replayable("POST", map[string][]string{"Idempotency-Key": {"k"}}) {
		t.Error("a POST with Idempotency-Key is replayable (net/http's rule)")
	}
}

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
