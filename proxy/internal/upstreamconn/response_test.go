package upstreamconn

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// parsed is what the proxy uses of a response, for comparing parsers.
type parsed struct {
	Status        string
	StatusCode    int
	Proto         string
	Major, Minor  int
	Header        http.Header
	ContentLength int64
	Close         bool
	Body          string
	BodyErr       string
	Rest          string // what the reader holds after the body: the next message
}

func viaNetHTTP(raw, method string) (parsed, error) {
	br := bufio.NewReaderSize(strings.NewReader(raw), 16<<10)
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return parsed{}, err
	}
	return collect(resp, br), nil
}

func viaCommon(raw, method string) (parsed, bool, error) {
	br := bufio.NewReaderSize(strings.NewReader(raw), 16<<10)
	ex := &Exchange{}
	ex.Method = method
	br.Peek(1) // readResponse fills the buffer before it tries the common parse
	resp, ok, err := ex.readCommonResponse(br)
	if err != nil || !ok {
		if !ok && err == nil {
			// Nothing may have been consumed.
			all, _ := io.ReadAll(br)
			if string(all) != raw {
				return parsed{}, false, fmt.Errorf("fallback consumed input: %q left of %q", all, raw)
			}
		}
		return parsed{}, ok, err
	}
	return collect(resp, br), true, nil
}

func collect(resp *http.Response, br *bufio.Reader) parsed {
	p := parsed{Status: resp.Status, StatusCode: resp.StatusCode, Proto: resp.Proto, Major: resp.ProtoMajor, Minor: resp.ProtoMinor,
		Header: resp.Header, ContentLength: resp.ContentLength, Close: resp.Close}
	b, err := io.ReadAll(resp.Body)
	p.Body = string(b)
	if err != nil {
		p.BodyErr = err.Error()
	}
	if err := resp.Body.Close(); err != nil && p.BodyErr == "" {
		p.BodyErr = "close: " + err.Error()
	}
	rest, _ := io.ReadAll(br)
	p.Rest = string(rest)
	return p
}

// The in-place parser gives what http.ReadResponse gives, or leaves the
// response to it untouched.
func TestCommonResponseMatchesNetHTTP(t *testing.T) {
	const next = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz"
	cases := []struct {
		raw, method string
		fast        bool
	}{
		{"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nDate: x\r\n\r\nhello" + next, "GET", true},
		{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" + next, "GET", true},
		{"HTTP/1.1 404 Not Found\r\ncontent-length: 3\r\nx-LOWER-case: v\r\n\r\nabc", "POST", true},
		{"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok", "GET", true},
		{"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\nX-Empty:\r\nX-Space:   padded \t \r\n\r\nok", "GET", true},
		{"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", "GET", true},
		{"HTTP/1.1 200 OK\r\nConnection: keep-alive, CLOSE\r\nContent-Length: 2\r\n\r\nok", "GET", true},
		{"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok", "GET", true},
		{"HTTP/1.1 200 OK\r\nContent-Length: 007\r\n\r\n1234567", "GET", true},
		{"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 10\r\n\r\nshort", "GET", true}, // cut short
		{"HTTP/1.1 200 OK\r\nX-Obs: caf\xc3\xa9\r\nContent-Length: 1\r\n\r\nx", "GET", true},
		// Left to net/http.
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "HEAD", false},
		{"HTTP/1.1 204 No Content\r\n\r\n", "GET", false},
		{"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", "GET", false},
		{"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", "GET", false},
		{"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "GET", false},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n2\r\nok\r\n0\r\nX-T: v\r\n\r\n", "GET", false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", "GET", false},
		{"HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 2\r\n\r\nok", "GET", false},
		{"HTTP/1.1 200 OK\r\n\r\nuntil close", "GET", false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", "GET", false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", "GET", false},
		{"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok", "GET", false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Fold: a\r\n b\r\n\r\nok", "GET", false},
		{"HTTP/1.1 200 OK\nContent-Length: 2\n\nok", "GET", false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\nX: y\r\n\r\nok", "GET", false},
		{"HTTP/1.1 200 OK\r\nBad Key: v\r\nContent-Length: 2\r\n\r\nok", "GET", false},
		{"HTTP/1.1 200 OK\r\nX: a\x01b\r\nContent-Length: 2\r\n\r\nok", "GET", false},
		{"HTTP/1.1 200 OK\r\nNoColon\r\nContent-Length: 2\r\n\r\nok", "GET", false},
		{"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok", "GET", false},
		{"HTTP/1.1 20x OK\r\nContent-Length: 2\r\n\r\nok", "GET", false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", "GET", false}, // header not complete
	}
	for _, c := range cases {
		got, ok, err := viaCommon(c.raw, c.method)
		if err != nil {
			t.Errorf("%q: %v", c.raw, err)
			continue
		}
		if ok != c.fast {
			t.Errorf("%q %s: parsed in place = %v, want %v", c.raw, c.method, ok, c.fast)
		}
		if !ok {
			continue
		}
		want, err := viaNetHTTP(c.raw, c.method)
		if err != nil {
			t.Errorf("%q: in place parsed what net/http rejects: %v", c.raw, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q:\n in place %+v\n net/http %+v", c.raw, got, want)
		}
	}
}

// Random mutations of common responses: whatever the in-place parser takes,
// it reads as net/http does.
func TestCommonResponseMutations(t *testing.T) {
	seeds := []string{
		"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhelloHTTP/1.1 200 OK\r\n",
		"HTTP/1.1 404 Not Found\r\ncontent-length: 3\r\nX-A: b\r\nX-a: c\r\n\r\nabc",
	}
	alphabet := []byte("\r\n :,\t-aAzZ09\x00\x7f\x80Hc")
	rng := rand.New(rand.NewSource(1))
	fast := 0
	for i := 0; i < 20000; i++ {
		b := []byte(seeds[i%len(seeds)])
		for n := rng.Intn(3) + 1; n > 0; n-- {
			at := rng.Intn(len(b))
			switch rng.Intn(3) {
			case 0:
				b[at] = alphabet[rng.Intn(len(alphabet))]
			case 1:
				b = append(b[:at], b[at+1:]...)
			default:
				b = append(b[:at], append([]byte{alphabet[rng.Intn(len(alphabet))]}, b[at:]...)...)
			}
		}
		raw := string(b)
		got, ok, err := viaCommon(raw, "GET")
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("%q: %v", raw, err)
		}
		if !ok {
			continue
		}
		fast++
		want, err := viaNetHTTP(raw, "GET")
		if err != nil {
			t.Fatalf("%q: in place parsed what net/http rejects: %v", raw, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\n in place %+v\n net/http %+v", raw, got, want)
		}
	}
	if fast == 0 {
		t.Fatal("no mutation was parsed in place")
	}
}
