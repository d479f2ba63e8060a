package health

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

type fakeInspector struct{ state atomic.Value }

func (f *fakeInspector) State(context.Context, string) (ContainerState, error) {
	return f.state.Load().(ContainerState), nil
}

func TestGatePassesWhenReadinessHolds(t *testing.T) {
	start := time.Now()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if time.Since(start) < 300*time.Millisecond {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	g := &Gate{Probe: &Probe{URL: srv.URL + "/healthz"}, Interval: 50 * time.Millisecond, MinHealthy: 500 * time.Millisecond, Deadline: 5 * time.Second}
	res, err := g.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Took < 750*time.Millisecond {
		t.Fatalf("passed after %v: readiness (from 300ms) had not held 500ms", res.Took)
	}
}

func TestGateFlappingFailsAtDeadline(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%4 == 0 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	g := &Gate{Probe: &Probe{URL: srv.URL}, Interval: 50 * time.Millisecond, MinHealthy: 400 * time.Millisecond, Deadline: time.Second}
	_, err := g.Run(context.Background())
	if !IsCause(err, CauseDeadline) {
		t.Fatalf("err = %v, want deadline", err)
	}
}

func TestGateExitFailsBeforeDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer srv.Close()
	in := &fakeInspector{}
	in.state.Store(ContainerState{Running: true})
	go func() {
		time.Sleep(150 * time.Millisecond)
		in.state.Store(ContainerState{ExitCode: 3})
	}()
	start := time.Now()
	g := &Gate{Probe: &Probe{URL: srv.URL}, Container: in, ID: "c", Interval: 50 * time.Millisecond, MinHealthy: time.Second, Deadline: 30 * time.Second}
	_, err := g.Run(context.Background())
	if !IsCause(err, CauseExited) {
		t.Fatalf("err = %v, want exited", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("an exited container was waited on like a slow one")
	}
}

func TestProbeStatuses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "/slow":
			time.Sleep(300 * time.Millisecond)
		case "/down":
			w.WriteHeader(503)
		}
	}))
	defer srv.Close()
	for path, ok := range map[string]bool{"/": true, "/redirect": true, "/down": false, "/slow": false} {
		err := (&Probe{URL: srv.URL + path, Timeout: 100 * time.Millisecond}).Check(context.Background())
		if (err == nil) != ok {
			t.Errorf("%s: err = %v, want ready=%v", path, err, ok)
		}
	}
}
