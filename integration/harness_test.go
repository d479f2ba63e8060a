package integration

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/batonproxy/baton/integration/harness"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/errdefs"
)

// These tests check the harness itself: what it creates goes away, on
// interrupt too, and its load generator and baton process do what they say.

func TestHarnessRemovesWhatATestCreated(t *testing.T) {
	var c harness.Container
	var net string
	t.Run("creates", func(t *testing.T) {
		net = harness.Network(t)
		c = harness.Run(t, harness.ContainerOpts{Image: appImage(t), Network: net})
	})
	assertGone(t, c.ID, net)
}

// TestHarnessInterruptChild is the child process of
// TestHarnessInterruptRemovesEverything; it only runs when that test starts it.
func TestHarnessInterruptChild(t *testing.T) {
	img := os.Getenv("HARNESS_INTERRUPT_CHILD_IMAGE")
	if img == "" {
		t.Skip("started by TestHarnessInterruptRemovesEverything only")
	}
	net := harness.Network(t)
	c := harness.Run(t, harness.ContainerOpts{Image: img, Network: net})
	fmt.Printf("CHILD-READY %s %s %s\n", harness.RunID(), c.ID, net)
	time.Sleep(time.Minute) // until the parent's SIGINT
}

func TestHarnessInterruptRemovesEverything(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHarnessInterruptChild$", "-test.v")
	cmd.Env = append(os.Environ(), "HARNESS_INTERRUPT_CHILD_IMAGE="+appImage(t))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	ready := make(chan []string, 1)
	go func() {
		lines := bufio.NewScanner(out)
		for lines.Scan() {
			if f := strings.Fields(lines.Text()); len(f) == 4 && f[0] == "CHILD-READY" {
				ready <- f[1:]
			}
		}
	}()
	var runID, id, net string
	select {
	case f := <-ready:
		runID, id, net = f[0], f[1], f[2]
	case <-time.After(60 * time.Second):
		t.Fatal("child test did not create its network and container within 60s")
	}
	// Whatever the assertions say, nothing of the child's stays behind.
	t.Cleanup(func() {
		harness.Remove(t, id)
		_ = harness.Docker(t).NetworkRemove(context.Background(), net)
	})

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-waited:
	case <-time.After(60 * time.Second):
		t.Fatal("child still running 60s after SIGINT")
	}
	assertGone(t, id, net)
	ctx := context.Background()
	mine := filters.NewArgs(filters.Arg("label", harness.RunLabel+"="+runID))
	cs, err := harness.Docker(t).ContainerList(ctx, container.ListOptions{All: true, Filters: mine})
	if err != nil || len(cs) != 0 {
		t.Fatalf("containers of the interrupted run left: %d (%v)", len(cs), err)
	}
}

// assertGone fails unless the container and the network no longer exist.
func assertGone(t *testing.T, id, net string) {
	t.Helper()
	ctx := context.Background()
	if _, err := harness.Docker(t).ContainerInspect(ctx, id); !errdefs.IsNotFound(err) {
		t.Errorf("container %s still there (inspect: %v)", id, err)
	}
	if _, err := harness.Docker(t).NetworkInspect(ctx, net, network.InspectOptions{}); !errdefs.IsNotFound(err) {
		t.Errorf("network %s still there (inspect: %v)", net, err)
	}
}

func TestLoadIsBoundedAndCountsWhatHappened(t *testing.T) {
	var served, failed, conns atomic.Int64
	var hostsMu sync.Mutex
	hosts := map[string]int{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hostsMu.Lock()
		hosts[r.Host]++
		hostsMu.Unlock()
		if served.Add(1)%5 == 0 {
			failed.Add(1)
			http.Error(w, "every fifth fails", http.StatusBadGateway)
			return
		}
		w.Header().Set("X-Release", "r1")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	l := (&harness.Load{URL: srv.URL + "/", Host: "load.test", Workers: 3, MaxRequests: 60, Pace: time.Millisecond}).Start()
	select {
	case <-l.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("load bounded by 60 requests still running after 10s")
	}
	rep := l.Stop()
	// Each worker may finish the request it had in flight.
	if rep.Requests < 60 || rep.Requests > 62 || int64(rep.Requests) != served.Load() {
		t.Fatalf("report %s; server saw %d", rep, served.Load())
	}
	if int64(rep.Non2xx) != failed.Load() || rep.ConnErrors != 0 || rep.Releases["r1"] != rep.Requests-rep.Non2xx {
		t.Fatalf("report %s; server failed %d", rep, failed.Load())
	}
	if hosts["load.test"] != rep.Requests || conns.Load() > 3 {
		t.Fatalf("hosts %v, %d connections for 3 keep-alive workers", hosts, conns.Load())
	}
	sum := 0
	for _, w := range l.Windows(10 * time.Millisecond) {
		sum += w.Requests
	}
	if sum != rep.Requests || rep.P50 <= 0 || rep.P99 < rep.P50 {
		t.Fatalf("windows hold %d of %d requests; p50 %s p99 %s", sum, rep.Requests, rep.P50, rep.P99)
	}

	// A dead upstream: every request a connection error; the time bound stops it.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	l = (&harness.Load{URL: "http://" + dead + "/", Host: "load.test", Workers: 2, Max: 200 * time.Millisecond}).Start()
	select {
	case <-l.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("load bounded by 200ms still running after 5s")
	}
	if rep := l.Stop(); rep.Requests == 0 || rep.ConnErrors != rep.Requests {
		t.Fatalf("dead upstream: %s", rep)
	}
}

func TestBatonProcessStopsKillsAndRestarts(t *testing.T) {
	b := harness.StartBaton(t, "")
	answers := func() bool {
		resp, err := http.Get(b.URL + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}
	if !answers() {
		t.Fatalf("baton does not answer on %s", b.URL)
	}
	if out, code := b.CLI("status"); code != 0 {
		t.Fatalf("baton status over %s: exit %d\n%s", b.Admin, code, out)
	}
	b.Kill()
	if answers() {
		t.Fatal("baton still answers after SIGKILL")
	}
	b.Restart()
	if !answers() {
		t.Fatal("baton does not answer after Restart")
	}
	b.Stop()
	if answers() {
		t.Fatal("baton still answers after Stop")
	}
}
