package integration

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/integration/harness"
)

func staticRoutes(upstream string) string {
	return "docker:\n  enabled: false\nroutes:\n  - host: static.test\n    upstreams: [\"" + upstream + "\"]\n"
}

func TestReloadKeepsInFlightRequestsAndRefusesBadFiles(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(1500 * time.Millisecond)
		io.WriteString(w, "old")
	}))
	defer slow.Close()
	fresh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "new") }))
	defer fresh.Close()
	b := harness.StartBaton(t, staticRoutes(strings.TrimPrefix(slow.URL, "http://")))
	base, _ := os.ReadFile(b.ConfigPath)
	withRoutes := func(up string) []byte {
		return []byte(strings.Replace(string(base), strings.TrimPrefix(slow.URL, "http://"), up, 1))
	}

	done := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, b.URL+"/", nil)
		req.Host = "static.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- resp.Status + " " + string(body)
	}()
	time.Sleep(300 * time.Millisecond)
	os.WriteFile(b.ConfigPath, withRoutes(strings.TrimPrefix(fresh.URL, "http://")), 0o600)
	b.Reload()
	harness.Eventually(t, 5*time.Second, "the reloaded route", func() bool {
		return readBody(t, b.URL+"/", "static.test") == "new"
	})
	if got := <-done; got != "200 OK old" {
		t.Fatalf("in-flight request across the reload: %s", got)
	}

	// A bad file is refused with its line; the running config keeps serving.
	os.WriteFile(b.ConfigPath, append(withRoutes(strings.TrimPrefix(fresh.URL, "http://")), []byte("proxy:\n  idle_timeout: 5x\n")...), 0o600)
	b.Reload()
	harness.Eventually(t, 5*time.Second, "the reload refused in the log", func() bool {
		return strings.Contains(b.Logs(), "reload refused") && strings.Contains(b.Logs(), "proxy.idle_timeout")
	})
	if got := readBody(t, b.URL+"/", "static.test"); got != "new" {
		t.Fatalf("after a refused reload the route answers %q", got)
	}
}

func TestServeRefusesBadConfigNamingFileAndLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "baton.yaml")
	os.WriteFile(path, []byte("listen:\n  http: \"127.0.0.1:0\"\ndocker:\n  exposed_by_defualt: true\n"), 0o600)
	out, err := exec.Command(harness.BatonBinary(t), "serve", "--config", path).CombinedOutput()
	if err == nil {
		t.Fatal("baton started on a bad config")
	}
	if !strings.Contains(string(out), path+":4") || !strings.Contains(string(out), "docker.exposed_by_defualt") {
		t.Fatalf("error does not name file, line and key:\n%s", out)
	}
}

func readBody(t *testing.T, url, host string) string {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// runBaton runs the baton binary built from the tree with args.
func runBaton(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(harness.BatonBinary(t), args...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}
