package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/integration/harness"
	"github.com/gorilla/websocket"
)

// These tests check the test application itself, in a container of its
// FROM-scratch image, reached over the test network by its IP as baton
// reaches it: every other integration test trusts what it does.

const appSHA = "cafe123"

func appImage(t *testing.T) string {
	return harness.Image(t, "selftest", map[string]string{"org.opencontainers.image.revision": appSHA}, "RELEASE="+appSHA)
}

// appRun starts a container of the test app and waits until it answers.
func appRun(t *testing.T, env ...string) (harness.Container, string) {
	t.Helper()
	c := harness.Run(t, harness.ContainerOpts{Image: appImage(t), Network: harness.Network(t), Env: env})
	if c.IP == "" {
		t.Fatalf("container %s has no IP on its network", c.Name)
	}
	base := "http://" + c.IP + ":8080"
	harness.WaitHTTP(t, base+"/healthz", "", 20*time.Second)
	return c, base
}

func appGet(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", url, err)
	}
	return resp, string(body)
}

func TestTestAppImageServesItsRelease(t *testing.T) {
	c, base := appRun(t)
	img, err := harness.Docker(t).ImageInspect(context.Background(), appImage(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := img.Config.Labels["org.opencontainers.image.revision"]; got != appSHA {
		t.Errorf("image label revision = %q, want %q", got, appSHA)
	}
	if img.Config.Labels[harness.RunLabel] != harness.RunID() {
		t.Errorf("image not labelled %s=%s: %v", harness.RunLabel, harness.RunID(), img.Config.Labels)
	}
	if n := len(img.RootFS.Layers); n != 1 {
		t.Errorf("image has %d layers, want 1 (FROM scratch, the app alone)", n)
	}

	resp, body := appGet(t, base+"/version")
	var v struct{ SHA string }
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.SHA != appSHA {
		t.Fatalf("GET /version on %s = %q (%v), want sha %s", c.IP, body, err, appSHA)
	}
	for _, tc := range []struct {
		path string
		code int
	}{{"/version", 200}, {"/", 200}, {"/status/502", 502}, {"/status/x", 400}, {"/no/such/page", 404}} {
		resp, _ = appGet(t, base+tc.path)
		if resp.StatusCode != tc.code || resp.Header.Get("X-Release") != appSHA {
			t.Errorf("GET %s: %d X-Release %q, want %d %s", tc.path, resp.StatusCode, resp.Header.Get("X-Release"), tc.code, appSHA)
		}
	}
}

func TestTestAppSlowWebSocketAndSSE(t *testing.T) {
	_, base := appRun(t, "SSE_INTERVAL=200ms", "RELEASE=beef456")

	t.Run("slow", func(t *testing.T) {
		start := time.Now()
		resp, body := appGet(t, base+"/slow?ms=300")
		if took := time.Since(start); resp.StatusCode != 200 || took < 300*time.Millisecond {
			t.Fatalf("/slow?ms=300: %d %q after %s", resp.StatusCode, body, took)
		}
	})
	t.Run("websocket echo", func(t *testing.T) {
		ws, _, err := websocket.DefaultDialer.Dial(strings.Replace(base, "http", "ws", 1)+"/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		for _, msg := range []string{"hello", "again"} {
			if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			mt, got, err := ws.ReadMessage()
			if err != nil || mt != websocket.TextMessage || string(got) != msg {
				t.Fatalf("echo of %q: %d %q %v", msg, mt, got, err)
			}
		}
	})
	t.Run("sse ticks one by one", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/sse", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("Content-Type %q", ct)
		}
		lines := bufio.NewScanner(resp.Body)
		var arrived []time.Time
		for len(arrived) < 3 && lines.Scan() {
			if line := lines.Text(); line != "" {
				if want := fmt.Sprintf("data: tick %d beef456", len(arrived)+1); line != want {
					t.Fatalf("event %q, want %q", line, want)
				}
				arrived = append(arrived, time.Now())
			}
		}
		if len(arrived) < 3 {
			t.Fatalf("stream ended after %d events: %v", len(arrived), lines.Err())
		}
		// Buffered events would arrive together; flushed ones 200ms apart.
		if gap := arrived[2].Sub(arrived[0]); gap < 300*time.Millisecond {
			t.Fatalf("ticks 1 and 3 arrived %s apart: not flushed one by one", gap)
		}
	})
}

func TestTestAppSIGTERMFinishesInFlightRequest(t *testing.T) {
	c, base := appRun(t)
	resp, err := http.Get(base + "/slow?ms=2000&flush=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// The headers came: the request is in the handler. Now SIGTERM.
	harness.Kill(t, c.ID, "SIGTERM")
	refused := make(chan time.Time, 1)
	go func() {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			r, err := http.Get(base + "/")
			if err != nil {
				refused <- time.Now()
				return
			}
			r.Body.Close()
		}
	}()
	body, err := io.ReadAll(resp.Body)
	finished := time.Now()
	if err != nil || !strings.Contains(string(body), "slept 2000ms") {
		t.Fatalf("in-flight request cut by SIGTERM: %q %v", body, err)
	}
	select {
	case at := <-refused:
		if !at.Before(finished) {
			t.Fatalf("new connections still accepted while the in-flight request ran")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("new connections still accepted 5s after SIGTERM")
	}
	if code := harness.WaitExit(t, c.ID, 10*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
}

func TestTestAppWorkerFinishesItsJob(t *testing.T) {
	jobs := t.TempDir()
	os.Chmod(jobs, 0o777)
	img, net := appImage(t), harness.Network(t)
	worker := func(name string) (harness.Container, string) {
		c := harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Binds: []string{jobs + ":/jobs"},
			Env: []string{"WORKER=1", "JOB_DURATION=1s", "JOBS_FILE=/jobs/" + name}})
		base := "http://" + c.IP + ":8080"
		harness.Eventually(t, 20*time.Second, name+" running a job", func() bool {
			n, ok := jobCounts(base)
			return ok && n.Started > n.Finished
		})
		return c, base
	}

	t.Run("drain", func(t *testing.T) {
		c, base := worker("drain.log")
		resp, err := http.Post(base+"/drain", "", nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("POST /drain: %v %v", resp, err)
		}
		resp.Body.Close()
		harness.Eventually(t, 5*time.Second, "GET /drained 200", func() bool {
			r, err := http.Get(base + "/drained")
			if err != nil {
				return false
			}
			r.Body.Close()
			return r.StatusCode == 200
		})
		n, _ := jobCounts(base)
		if n.Started == 0 || n.Started != n.Finished {
			t.Fatalf("drained with jobs %+v", n)
		}
		harness.Kill(t, c.ID, "SIGTERM")
		if code := harness.WaitExit(t, c.ID, 10*time.Second); code != 0 {
			t.Fatalf("exit %d", code)
		}
		if started, finished := jobsInFile(t, filepath.Join(jobs, "drain.log")); started != n.Started || finished != started {
			t.Fatalf("jobs file: %d started, %d finished; want %d of each", started, finished, n.Started)
		}
	})
	t.Run("SIGTERM mid-job", func(t *testing.T) {
		c, base := worker("sigterm.log")
		n, _ := jobCounts(base)
		harness.Kill(t, c.ID, "SIGTERM")
		if code := harness.WaitExit(t, c.ID, 10*time.Second); code != 0 {
			t.Fatalf("exit %d", code)
		}
		// A job may have begun between the count and the signal.
		started, finished := jobsInFile(t, filepath.Join(jobs, "sigterm.log"))
		if finished != started || started < n.Started || started > n.Started+1 {
			t.Fatalf("jobs file: %d started, %d finished; want %d or %d, all finished", started, finished, n.Started, n.Started+1)
		}
	})
}

type jobCount struct{ Started, Finished int64 }

func jobCounts(base string) (jobCount, bool) {
	var n jobCount
	r, err := http.Get(base + "/jobs")
	if err != nil {
		return n, false
	}
	defer r.Body.Close()
	return n, json.NewDecoder(r.Body).Decode(&n) == nil
}

// jobsInFile counts the started and finished lines the worker wrote.
func jobsInFile(t *testing.T, path string) (started, finished int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return int64(strings.Count(string(data), "started ")), int64(strings.Count(string(data), "finished "))
}
