package conformance

import (
	"net"
	"strings"
	"testing"
	"time"
)

// The instrument first: the parser finds what it must find, the backend
// splits messages where they end and keeps their exact bytes.

func TestParseMessage(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, raw string
		body      string
		problem   string // a substring of one problem; "" = well formed
	}{
		{"length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", "hello", ""},
		{"chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n", "hello", ""},
		{"no-body", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "", ""},
		{"both-framings", "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "hello", "both"},
		{"te-gzip", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "", "other than one chunked"},
		{"two-lengths", "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", "hello", "2 Content-Length"},
		{"signed-length", "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello", "hello", "not a number"},
		{"short-body", "POST / HTTP/1.1\r\nContent-Length: 6\r\n\r\nhello", "hello", "with 5 bytes"},
		{"unframed-body", "GET / HTTP/1.1\r\n\r\nx", "", "without framing"},
		{"bare-cr", "GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", "", "CR, LF or NUL"},
		{"bare-lf", "GET / HTTP/1.1\r\nX-A: a\nX-B: b\r\n\r\n", "", "CR, LF or NUL"},
		{"nul", "GET / HTTP/1.1\r\nX-A: a\x00b\r\n\r\n", "", "CR, LF or NUL"},
		{"ctl", "GET / HTTP/1.1\r\nX-A: a\x01b\r\n\r\n", "", "control byte"},
		{"fold", "GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n", "", "obs-fold"},
		{"space-in-name", "GET / HTTP/1.1\r\nX-A : a\r\n\r\n", "", "field name"},
		{"no-colon", "GET / HTTP/1.1\r\nX-A\r\n\r\n", "", "without a name"},
		{"http10", "GET / HTTP/1.0\r\n\r\n", "", "version"},
		{"after-last-chunk", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET", "", "after the last chunk"},
	} {
		m, err := ParseMessage([]byte(c.raw))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if string(m.Body) != c.body {
			t.Errorf("%s: body %q, want %q", c.name, m.Body, c.body)
		}
		found := false
		for _, p := range m.Problems {
			found = found || c.problem != "" && strings.Contains(p, c.problem)
		}
		switch {
		case c.problem == "" && len(m.Problems) > 0:
			t.Errorf("%s: problems %q, want none", c.name, m.Problems)
		case c.problem != "" && !found:
			t.Errorf("%s: problems %q, want one with %q", c.name, m.Problems, c.problem)
		}
	}

	m, _ := ParseMessage([]byte("POST /x?y HTTP/1.1\r\nhost: a\r\nX-A: 1\r\nx-a: 2\r\nTransfer-Encoding: chunked\r\n\r\n5;n=v\r\nhello\r\n0\r\nX-T: t\r\n\r\n"))
	if m.RequestLine != "POST /x?y HTTP/1.1" || m.Target != "/x?y" || m.Header.Get("Host") != "a" || m.Header.Get("X-A") != "1, 2" ||
		m.Trailer.Get("X-T") != "t" || len(m.ChunkExts) != 1 || m.ChunkExts[0] != "n=v" || len(m.Framing) != 1 || !m.Chunked {
		t.Errorf("parsed %+v", m)
	}
}

func TestBackendRecordsExactMessages(t *testing.T) {
	t.Parallel()
	b := StartBackend(t, nil)
	msgs := []string{
		"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
		"POST /b HTTP/1.1\r\nHost: a\r\ntransfer-encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
		"GET /c HTTP/1.1\r\nHost: a\r\nCookie: id=1\r\n\r\n",
	}
	c := Dial(t, b.Addr)
	if err := c.Send(strings.Join(msgs, "")); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"path=/a", "path=/b", "path=/c cookie=id=1"} {
		r, err := c.Read("GET")
		if err != nil || r.Status != 200 || string(r.Body) != want {
			t.Fatalf("answer %d: %v %+v, want 200 %q", i+1, err, r, want)
		}
	}
	for i, want := range msgs {
		r := b.WaitRequest(t, i+1)
		if string(r.Raw) != want || !r.Complete || r.Conn != 1 || r.N != i+1 || r.Seq != i+1 {
			t.Errorf("request %d: %+v, want %q", i+1, r, want)
		}
	}

	// A message cut short is recorded as incomplete, and the connection's
	// end is seen.
	c2, err := net.Dial("tcp", b.Addr)
	if err != nil {
		t.Fatal(err)
	}
	c2.Write([]byte("POST /d HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"))
	c2.Close()
	r := b.WaitRequest(t, 4)
	if r.Complete || string(r.Raw) != "POST /d HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc" || r.Conn != 2 {
		t.Errorf("cut request: %+v", r)
	}
	b.WaitClosed(t, 2)
}

func TestBackendLaterAndTunnel(t *testing.T) {
	t.Parallel()
	later := NewLater("late", false)
	b := StartBackend(t, func(r *Request) Action {
		switch r.Line() {
		case "GET /later HTTP/1.1":
			a := Respond("now")
			a.Later = later
			return a
		case "GET /tunnel HTTP/1.1":
			return Action{Write: []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n"), Tunnel: true}
		}
		return Echo(r)
	})
	c := Dial(t, b.Addr)
	c.Send("GET /later HTTP/1.1\r\nHost: a\r\n\r\n")
	if r, err := c.Read("GET"); err != nil || string(r.Body) != "now" {
		t.Fatalf("%v %+v", err, r)
	}
	if st, _ := c.After(50 * time.Millisecond); st != StateOpen {
		t.Fatalf("connection %v before the trigger, want open and quiet", st)
	}
	close(later.Trigger)
	<-later.Written
	if got, err := c.ReadBytes(4); got != "late" {
		t.Fatalf("late bytes %q (%v)", got, err)
	}

	c2 := Dial(t, b.Addr)
	c2.Send("GET /tunnel HTTP/1.1\r\nHost: a\r\n\r\n")
	if r, _, err := c2.ReadFinal("GET"); err != nil || r.Status != 101 {
		t.Fatalf("%v %+v", err, r)
	}
	c2.Send("ping")
	b.WaitTunneled(t, "ping")
	if got, _ := c2.ReadBytes(9); got != "echo:ping" {
		t.Fatalf("tunnel echo %q", got)
	}
}
