package integration

import (
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/integration/harness"
)

// Issue 13: a Traefik router without tls (a redirect router on every
// entrypoint) answered HTTPS too; beside a TLS router with basicAuth and
// the same rule, a TLS request could take it, pass its redirectScheme (a
// no-op on https) and reach the app without credentials. In Traefik a
// router without tls never sees a TLS request.
func TestRouterWithoutTLSBesideATLSRouterLeavesHTTPSToIt(t *testing.T) {
	net := harness.Network(t)
	img := harness.Image(t, "v1", map[string]string{"org.opencontainers.image.revision": "1111111"})
	httpAddr, httpsAddr := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t)), fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	b := harness.StartBatonHTTPS(t, httpAddr, httpsAddr, "tls:\n  ca: internal\n")
	const host = "tlsmix.localhost"
	harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Env: []string{"RELEASE=app"}, Labels: merge(fastHealth, map[string]string{
		"traefik.enable": "true",
		// Same rule, same priority: "app-http" sorts first.
		"traefik.http.routers.app-http.rule":                      "Host(`" + host + "`)",
		"traefik.http.routers.app-http.middlewares":               "to-https",
		"traefik.http.middlewares.to-https.redirectscheme.scheme": "https",
		"traefik.http.routers.app-secure.rule":                    "Host(`" + host + "`)",
		"traefik.http.routers.app-secure.tls":                     "true",
		"traefik.http.routers.app-secure.middlewares":             "auth",
		"traefik.http.middlewares.auth.basicauth.users":           "test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/",
		"traefik.http.services.app.loadbalancer.server.port":      "8080",
	})})
	rootPEM, code := b.CLI("tls", "root")
	roots := x509.NewCertPool()
	if code != 0 || !roots.AppendCertsFromPEM([]byte(rootPEM)) {
		t.Fatalf("baton tls root (exit %d): %s", code, rootPEM)
	}
	client := tlsClient(httpsAddr, roots)
	ask := func(user string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "https://"+host+"/", nil)
		if user != "" {
			req.SetBasicAuth(user, "test")
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("X-Release")
	}
	// Routed (certificate issued, container ready): with credentials, the app.
	harness.Eventually(t, 30*time.Second, "https://"+host+"/ answers the app with credentials", func() bool {
		code, rel := ask("test")
		return code == http.StatusOK && rel == "app"
	})
	if code, rel := ask(""); code != http.StatusUnauthorized {
		t.Fatalf("HTTPS without credentials: %d %q, want 401 from the TLS router's basicAuth", code, rel)
	}
	// Plain HTTP: to HTTPS, never the app.
	resp, err := (&http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(func() *http.Request {
		req, _ := http.NewRequest(http.MethodGet, b.URL+"/", nil)
		req.Host = host
		return req
	}())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 3 || !strings.HasPrefix(resp.Header.Get("Location"), "https://"+host) {
		t.Fatalf("plain HTTP: %d Location %q, want a redirect to https://%s", resp.StatusCode, resp.Header.Get("Location"), host)
	}
}
