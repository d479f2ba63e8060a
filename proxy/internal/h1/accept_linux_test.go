package h1

import (
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/batonproxy/baton/internal/testutil"
)

// Out of file descriptors, the accept loop waits and retries (counted)
// instead of spinning, and serves again once descriptors are free.
func TestAcceptBacksOffWhenOutOfDescriptorsAndRecovers(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	s, addr := serveH1(t, h, Options{})
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	restore := func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) }
	defer restore()

	// Fill the table: the client's dials take descriptors until none is
	// left; the server's accepts of the connections the kernel completed
	// then fail with EMFILE.
	low := syscall.Rlimit{Cur: 64, Max: old.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	var clients []net.Conn
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for len(clients) < 200 {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		clients = append(clients, c)
	}
	testutil.Eventually(t, "the accept loop meets EMFILE", func() bool { return s.Stats().AcceptRetries >= 3 })
	// It backs off (5 ms doubling to 1 s): a few retries, not thousands.
	time.Sleep(500 * time.Millisecond) // a window to count retries in, not a synchronisation
	if n := s.Stats().AcceptRetries; n > 40 {
		t.Fatalf("%d accept retries within about a second: the loop spins", n)
	}

	// Descriptors free again: connections are accepted and served.
	for _, c := range clients {
		c.Close()
	}
	clients = nil
	restore()
	testutil.Eventually(t, "a new client is served", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
		b, _ := io.ReadAll(c)
		return len(b) > 0 && string(b[len(b)-2:]) == "ok"
	})
}
