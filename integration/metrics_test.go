package integration

import (
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/integration/harness"
)

// Every metric the Grafana dashboard in configs/ queries is one baton exports,
// once the things it counts have happened: traffic, an upstream error, a
// reload, a deploy, a certificate. A renamed metric fails here, not on an
// operator's empty panel.
func TestDashboardQueriesOnlyExportedMetrics(t *testing.T) {
	network := harness.Network(t)
	v1, v2 := release(t, "aaaaaaa"), release(t, "bbbbbbb")
	closed := harness.FreePort(t)
	httpAddr, httpsAddr := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t)), fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	b := harness.StartBatonHTTPS(t, httpAddr, httpsAddr, fmt.Sprintf(
		"tls:\n  ca: internal\nroutes:\n  - host: broken.test\n    upstreams: [\"127.0.0.1:%d\"]\n    tls: false\n", closed))
	harness.Run(t, harness.ContainerOpts{Image: v1, Network: network, Restart: "on-failure", Labels: labels(map[string]string{
		"baton.service": "web", "baton.host": "app.localhost", "baton.cache": "true",
		"baton.drain.timeout": "2s", "baton.stop.grace": "2s", "baton.verify.timeout": "5s"})})
	rootPEM, code := b.CLI("tls", "root")
	roots := x509.NewCertPool()
	if code != 0 || !roots.AppendCertsFromPEM([]byte(rootPEM)) {
		t.Fatalf("baton tls root (exit %d): %s", code, rootPEM)
	}
	httpsGet(t, httpsAddr, "app.localhost", "/", roots, 30*time.Second)
	// A route kept on plain HTTP (tls: false) is not redirected; its upstream refuses.
	if resp := mustGet(t, b.URL+"/", "broken.test", nil); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("broken.test: %s, want 502 over plain HTTP", resp.Status)
	}
	b.Reload()
	if out, code := b.CLI("deploy", "web", "--image", v2); code != 0 {
		t.Fatalf("deploy exit %d:\n%s", code, out)
	}

	dashboard, err := os.ReadFile(filepath.Join(harness.ModuleRoot(t), "configs", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, n := range regexp.MustCompile(`baton_[a-z_]+`).FindAllString(string(dashboard), -1) {
		names[n] = true
	}
	if len(names) < 10 {
		t.Fatalf("the dashboard queries only %d metrics: %v", len(names), names)
	}
	var missing []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(b.MetricsURL)
		if err != nil {
			t.Fatalf("scrape %s: %v", b.MetricsURL, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		missing = missing[:0]
		for n := range names {
			if !regexp.MustCompile(`(?m)^` + n + `[{ ]`).Match(body) {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("queried by the dashboard but not exported: %s", strings.Join(missing, ", "))
	}
}
