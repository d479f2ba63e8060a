package integration

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/admin"
	"github.com/batonproxy/baton/check"
	"github.com/batonproxy/baton/integration/harness"
)

// `baton check` says, before anything runs, what a running baton will route
// and refuse. Here a Compose stack is checked with the baton binary, then
// its services run as the containers Compose would create behind a baton
// with the same config, and the two agree: every route check predicts
// answers as predicted (the app, or its middleware's 302/401 and the app
// with credentials), every refusal it predicts is a problem `baton status`
// names word for word, and the running baton names no problem check did
// not predict; workers are workers, and what check leaves alone baton does.
func TestCheckAgreesWithTheRunningBaton(t *testing.T) {
	net := harness.Network(t)
	img := harness.Image(t, "check", map[string]string{"org.opencontainers.image.revision": "1111111"})
	auth := harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Env: []string{"RELEASE=auth", "AUTH_SESSION=s3cret"}})
	t.Setenv("AUTH_ADDR", auth.IP+":8080")
	project := "check-" + harness.RunID()
	const defaults = "defaults:\n  health.path: /healthz\n  health.interval: 100ms\n  health.min_healthy: 1s\n  health.deadline: 20s\n"

	// The verdict, from the binary, with the config serve gets (less the
	// test run's constraint, which the Compose file does not carry).
	cfg := filepath.Join(t.TempDir(), "baton.yaml")
	if err := os.WriteFile(cfg, []byte(defaults), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(harness.BatonBinary(t), "check", "testdata/check-compose.yaml", "-p", project, "--config", cfg, "--json")
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("baton check: %v (want exit 1: the stack has refusals)\n%s", err, out)
	}
	var verdict check.Report
	if err := json.Unmarshal(out, &verdict); err != nil {
		t.Fatalf("baton check --json: %v\n%s", err, out)
	}
	want := map[string]string{"authcfg": check.Worker, "app": check.Routed, "media": check.Refused, "lan": check.Partly,
		"secure": check.Refused, "blue": check.Routed, "green": check.Partly, "jobs": check.Worker, "db": check.NotHandled}
	for _, s := range verdict.Services {
		if s.Verdict != want[s.Compose] {
			t.Errorf("check: %s is %q, want %q: %+v", s.Compose, s.Verdict, want[s.Compose], s)
		}
	}

	// The same services as containers: the labels check read (interpolated,
	// with Compose's project and service labels), the container names
	// Compose gives. green starts after blue is routed, so the host both
	// claim goes to blue as in the file's order.
	data, err := os.ReadFile("testdata/check-compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := check.Parse("check-compose.yaml", data, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	p := check.NewProject(project, []string{"check-compose.yaml"}, []*check.File{f})
	b := harness.StartBaton(t, defaults)
	start := func(s check.Service) {
		harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Name: p.ContainerName(s), Labels: p.Container(s).Config.Labels,
			Env: []string{"RELEASE=" + s.Name, "ECHO=1"}})
	}
	var green check.Service
	for _, s := range p.Services {
		if s.Name == "green" {
			green = s
			continue
		}
		start(s)
	}
	ask := func(host, path string, creds func(*http.Request)) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, b.URL+path, nil)
		req.Host = host
		if creds != nil {
			creds(req)
		}
		client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			return 0, ""
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("X-Release")
	}
	harness.Eventually(t, 30*time.Second, "blue routed", func() bool { _, rel := ask("shop.test", "/", nil); return rel == "blue" })
	start(green)

	// Settled: every refusal check predicts is named by the running baton
	// and every routed or worker service has a ready target.
	var st admin.Status
	harness.Eventually(t, 30*time.Second, "the running baton settled on check's verdict", func() bool {
		st = batonStatus(t, b)
		for _, s := range verdict.Services {
			for _, ref := range s.Refusals {
				if ref.Problem != "" && !namedInStatus(st, ref.Problem) {
					return false
				}
			}
			if (s.Verdict == check.Routed || s.Verdict == check.Partly || s.Verdict == check.Worker) && !readyInStatus(st, s.Service) {
				return false
			}
		}
		return true
	})
	for _, prob := range st.Problems {
		if prob.Error == "" {
			continue
		}
		predicted := false
		for _, s := range verdict.Services {
			for _, ref := range s.Refusals {
				predicted = predicted || ref.Problem != "" && strings.Contains(prob.Error, ref.Problem)
			}
		}
		if !predicted {
			t.Errorf("the running baton names a problem baton check did not predict: %s %s", prob.Container, prob.Error)
		}
	}
	for _, s := range st.Services {
		if !strings.HasPrefix(s.Name, project+"-") {
			t.Errorf("baton routes %s, which is not of the project", s.Name)
		}
		if s.Name == project+"-db" {
			t.Errorf("db is not handled by check's verdict, yet baton lists it: %+v", s)
		}
	}

	// Every route answers as check says: the app, behind its middleware.
	session := func(r *http.Request) { r.Header.Set("Cookie", "session=s3cret") }
	basic := func(r *http.Request) { r.SetBasicAuth("test", "test") }
	for _, s := range verdict.Services {
		for _, rt := range s.Routes {
			path := rt.Path + "page"
			if !strings.HasSuffix(rt.Path, "/") {
				path = rt.Path + "/page"
			}
			code, rel := ask(rt.Host, path, nil)
			switch strings.Join(rt.Middlewares, ",") {
			case "":
				if code != http.StatusOK || rel != s.Compose {
					t.Errorf("%s: route %s %s%s: %d from %q, want the app's 200", s.Compose, rt.Router, rt.Host, rt.Path, code, rel)
				}
			case "authelia":
				if code != http.StatusFound || rel == s.Compose {
					t.Errorf("%s: route %s without a session: %d from %q, want the auth server's 302", s.Compose, rt.Router, code, rel)
				}
				if code, rel = ask(rt.Host, path, session); code != http.StatusOK || rel != s.Compose {
					t.Errorf("%s: route %s with a session: %d from %q, want the app", s.Compose, rt.Router, code, rel)
				}
			case "docs-auth":
				if code != http.StatusUnauthorized {
					t.Errorf("%s: route %s without credentials: %d from %q, want 401", s.Compose, rt.Router, code, rel)
				}
				if code, rel = ask(rt.Host, path, basic); code != http.StatusOK || rel != s.Compose {
					t.Errorf("%s: route %s with test:test: %d from %q, want the app", s.Compose, rt.Router, code, rel)
				}
			default:
				t.Errorf("%s: route %s: no expectation for middlewares %v", s.Compose, rt.Router, rt.Middlewares)
			}
		}
	}
	routes := 0
	for _, s := range verdict.Services {
		routes += len(s.Routes)
	}
	t.Logf("%d services, %d routes asked, %d problems named alike", len(verdict.Services), routes, len(st.Problems))
	// What check refuses is not served: the refused routers' hosts do not
	// reach their apps (shop.test stays blue's).
	for host, app := range map[string]string{"media.test": "media", "lan.test": "lan", "secure.test": "secure", "shop.test": "green"} {
		if _, rel := ask(host, "/", nil); rel == app {
			t.Errorf("%s reached %s, which check refused there", host, app)
		}
	}
}

// namedInStatus: a problem of `baton status` says exactly this.
func namedInStatus(st admin.Status, problem string) bool {
	for _, p := range st.Problems {
		if strings.Contains(p.Error, problem) {
			return true
		}
	}
	return false
}

// readyInStatus: the service has a ready target (routed, or a worker).
func readyInStatus(st admin.Status, service string) bool {
	for _, s := range st.Services {
		for _, tg := range s.Targets {
			if s.Name == service && tg.State == "ready" {
				return true
			}
		}
	}
	return false
}
