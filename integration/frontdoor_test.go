package integration

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/integration/harness"
)

// The Compose example as users run it: baton in its own FROM-scratch
// container, the Docker socket mounted, the front door of the stack on the
// published ports, with HTTPS from its internal CA. The example files are used
// as they are; the test only adds an override (its run label, quick health
// checks) and the constraint that keeps this baton to this run's containers.
func TestComposeExampleBatonInAContainer(t *testing.T) {
	batonImage := harness.BatonImage(t)
	v1, v2 := release(t, "aaaaaaa"), release(t, "bbbbbbb")
	root := harness.ModuleRoot(t)
	dir := t.TempDir()
	example, err := os.ReadFile(filepath.Join(root, "configs", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(root, "configs", "compose-baton.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("docker-compose.yml", string(example))
	write("compose-baton.yaml", harness.WithConstraint(string(cfg)))
	run := fmt.Sprintf("%s: %q", harness.RunLabel, harness.RunID())
	write("docker-compose.override.yml", fmt.Sprintf(`services:
  baton:
    labels:
      %s
  shop:
    labels:
      %s
      baton.health.interval: 100ms
      baton.health.min_healthy: 1s
      baton.drain.timeout: 2s
      baton.stop.grace: 2s
`, run, run))

	httpPort, httpsPort := harness.FreePort(t), harness.FreePort(t)
	env := []string{
		"BATON_IMAGE=" + batonImage, "SHOP_IMAGE=" + v1,
		fmt.Sprintf("BATON_HTTP_PORT=127.0.0.1:%d", httpPort), fmt.Sprintf("BATON_HTTPS_PORT=127.0.0.1:%d", httpsPort),
	}
	project := "batonfd" + harness.RunID()
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := composeCmd(t, dir, project, env, "logs", "--no-color", "baton").CombinedOutput()
			t.Logf("baton's log:\n%s", out)
		}
		composeEnv(t, dir, project, env, "down", "-v", "--remove-orphans", "-t", "1")
	})
	composeEnv(t, dir, project, env, "up", "-d")
	exec := func(args ...string) (string, error) {
		out, err := composeCmd(t, dir, project, env, append([]string{"exec", "-T", "baton", "/baton"}, args...)...).CombinedOutput()
		return string(out), err
	}

	// The root comes out of the container with `baton tls root`.
	var rootPEM string
	harness.Eventually(t, 30*time.Second, "baton tls root inside the container", func() bool {
		out, err := exec("tls", "root")
		rootPEM = out
		return err == nil && strings.Contains(out, "BEGIN CERTIFICATE")
	})
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(rootPEM)) {
		t.Fatalf("not a PEM root: %q", rootPEM)
	}
	httpsAddr := fmt.Sprintf("127.0.0.1:%d", httpsPort)
	resp, body := httpsGet(t, httpsAddr, "shop.localhost", "/", roots, 60*time.Second)
	if !strings.Contains(body, "hello from aaaaaaa") || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("through the published HTTPS port: %q, HSTS %q", body, resp.Header.Get("Strict-Transport-Security"))
	}
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/cart", httpPort), nil)
	req.Host = "shop.localhost"
	redirect, err := tlsClient(fmt.Sprintf("127.0.0.1:%d", httpPort), nil).Transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	redirect.Body.Close()
	// Inside the container baton listens on :443, so the redirect names no port.
	if redirect.StatusCode != http.StatusPermanentRedirect || redirect.Header.Get("Location") != "https://shop.localhost/cart" {
		t.Fatalf("plain HTTP: %s %q", redirect.Status, redirect.Header.Get("Location"))
	}

	// A deploy from inside the container, verified through baton's own HTTPS listener.
	load := (&harness.Load{URL: "https://" + httpsAddr + "/", Host: "shop.localhost", Workers: 4, TLSRoots: roots, ServerName: "shop.localhost"}).Start()
	out, err := exec("deploy", project+"-shop", "--image", v2)
	rep := load.Stop()
	t.Logf("deploy:\n%s\nload: %s", out, rep)
	if err != nil || !strings.Contains(out, "verified") || !strings.Contains(out, "https://shop.localhost/version (SNI shop.localhost)") {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	if rep.Non2xx != 0 || rep.ConnErrors != 0 {
		t.Fatalf("users saw errors during the deploy: %s", rep)
	}
	if _, body := httpsGet(t, httpsAddr, "shop.localhost", "/", roots, 10*time.Second); !strings.Contains(body, "hello from bbbbbbb") {
		t.Fatalf("after the deploy: %q", body)
	}
}
