package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/batonproxy/baton/internal/testutil"
)

func TestProbeSaysWhyAndNamesTheURL(t *testing.T) {
	var followed atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/down", http.StatusFound)
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-release:
			}
		case "/down":
			followed.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	defer close(release)
	cases := []struct {
		path   string
		reason string // "" means ready
	}{
		{"/", ""},
		{"/empty", ""},
		{"/redirect", ""}, // a 3xx is an answer: ready, and /down is never asked
		{"/down", "status 503"},
		{"/slow", "no answer within 100ms"},
	}
	for _, c := range cases {
		url := srv.URL + c.path
		err := (&Probe{URL: url, Timeout: 100 * time.Millisecond}).Check(context.Background())
		if c.reason == "" {
			if err != nil {
				t.Errorf("%s: %v, want ready", c.path, err)
			}
			continue
		}
		want := "probe " + url + ": " + c.reason
		if err == nil || err.Error() != want {
			t.Errorf("%s: err %v, want %q", c.path, err, want)
		}
	}
	if n := followed.Load(); n != 1 {
		t.Fatalf("/down was asked %d times, want 1 (only by its own case): the probe followed a redirect", n)
	}
}

func TestProbeConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/healthz"
	ln.Close()
	err = (&Probe{URL: url, Timeout: time.Second}).Check(context.Background())
	var pe *ProbeError
	if !errors.As(err, &pe) || err.Error() != "probe "+url+": connection refused" {
		t.Fatalf("err = %v, want connection refused naming %s", err, url)
	}
}

// A probe must not keep a socket open to a container that is being retired.
func TestProbeHoldsNoConnection(t *testing.T) {
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		if s == http.StateClosed || s == http.StateHijacked {
			delete(open, c)
		} else {
			open[c] = true
		}
	}
	srv.Start()
	defer srv.Close()
	for range 3 {
		if err := (&Probe{URL: srv.URL + "/"}).Check(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	testutil.EventuallyNil(t, "the probes' connections closed after they returned", func() error {
		mu.Lock()
		defer mu.Unlock()
		if n := len(open); n != 0 {
			return fmt.Errorf("%d still open", n)
		}
		return nil
	})
}

func TestProbeBadURL(t *testing.T) {
	err := (&Probe{URL: "http://[::1"}).Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "bad url") {
		t.Fatalf("err = %v", err)
	}
}
