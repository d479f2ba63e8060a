package middleware

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestInFlightReqOptions(t *testing.T) {
	next := &recorder{}
	for _, c := range []struct {
		kv     []string
		option string
	}{
		{nil, "amount"},
		{[]string{"amount", "0"}, "amount"},
		{[]string{"amount", "-1"}, "amount"},
		{[]string{"amount", "lots"}, "amount"},
		{[]string{"amount", "1", "sourcecriterion.requesthost", "true", "sourcecriterion.requestheadername", "X-Key"}, "sourcecriterion"},
		{[]string{"amount", "1", "sourcecriterion.ipstrategy.excludedips", "nope"}, "sourcecriterion.ipstrategy.excludedips"},
		{[]string{"amount", "1", "max", "2"}, "max"},
	} {
		_, err := buildErr("inflightreq", Env{}, next, c.kv...)
		wantOptionError(t, err, c.option)
	}
}

// holdingUpstream holds each request until release is closed.
type holdingUpstream struct {
	entered chan struct{}
	release chan struct{}
}

func (u *holdingUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.entered <- struct{}{}
	select {
	case <-u.release:
	case <-time.After(5 * time.Second): // a request admitted by mistake does not hang the test
	}
	w.WriteHeader(200)
}

func TestInFlightReq(t *testing.T) {
	up := &holdingUpstream{entered: make(chan struct{}, 10), release: make(chan struct{})}
	f := build(t, "inflightreq", trustedEnv("192.0.2.0/24"), up, "amount", "2").(*inFlightReq)
	var wg sync.WaitGroup
	codes := make(chan int, 10)
	start := func(target, remote string) {
		wg.Add(1)
		go func() { defer wg.Done(); codes <- do(f, "GET", target, remote).Code }()
	}
	start("http://a.example/", "10.0.0.1:1")
	start("http://a.example/", "10.0.0.2:1")
	<-up.entered
	<-up.entered
	// The default source is the Host: a third request to a.example, from
	// anyone, is over; one to b.example is not.
	w := do(f, "GET", "http://a.example/", "10.0.0.3:1")
	if w.Code != http.StatusTooManyRequests || w.Body.String() != "max connections reached: 2" {
		t.Errorf("third in flight: status %d body %q, want 429 max connections reached: 2", w.Code, w.Body.String())
	}
	start("http://b.example/", "10.0.0.1:1")
	<-up.entered
	if _, total := f.inFlight(); total != 3 {
		t.Errorf("%d in flight, want 3", total)
	}
	close(up.release)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("an admitted request got %d", c)
		}
	}
	// Finished requests are counted out, and their sources dropped.
	if sources, total := f.inFlight(); sources != 0 || total != 0 {
		t.Errorf("after all finished: %d sources, %d in flight", sources, total)
	}
	up.release = make(chan struct{})
	close(up.release)
	if w := do(f, "GET", "http://a.example/", "10.0.0.3:1"); w.Code != 200 {
		t.Errorf("after the others finished: status %d", w.Code)
	}
}

func TestInFlightReqByClient(t *testing.T) {
	up := &holdingUpstream{entered: make(chan struct{}, 10), release: make(chan struct{})}
	f := build(t, "inflightreq", trustedEnv("192.0.2.0/24"), up, "amount", "1", "sourcecriterion.ipstrategy.depth", "1")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		do(f, "GET", "http://a.example/", "192.0.2.1:1", "X-Forwarded-For", "198.51.100.1")
	}()
	<-up.entered
	if w := do(f, "GET", "http://a.example/", "192.0.2.2:1", "X-Forwarded-For", "198.51.100.1"); w.Code != 429 {
		t.Errorf("same client through another proxy: status %d, want 429", w.Code)
	}
	done := make(chan int)
	go func() {
		done <- do(f, "GET", "http://a.example/", "192.0.2.1:1", "X-Forwarded-For", "198.51.100.2").Code
	}()
	<-up.entered
	close(up.release)
	if c := <-done; c != 200 {
		t.Errorf("another client: status %d", c)
	}
	wg.Wait()
}

// A panicking upstream does not leave its request counted.
func TestInFlightReqPanicReleases(t *testing.T) {
	f := build(t, "inflightreq", Env{}, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }), "amount", "1").(*inFlightReq)
	func() {
		defer func() { _ = recover() }()
		f.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://a.example/", nil))
	}()
	if _, total := f.inFlight(); total != 0 {
		t.Errorf("%d in flight after a panic", total)
	}
}

func BenchmarkInFlightReq(b *testing.B) {
	h, err := buildErr("inflightreq", Env{}, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), "amount", "1000000")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest("GET", "http://app.example/", nil)
		w := sinkWriter{}
		for pb.Next() {
			h.ServeHTTP(w, r)
		}
	})
}
