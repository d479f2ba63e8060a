package integration

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/integration/harness"
)

// The Authelia pattern on real containers: a forwardAuth middleware defined
// by labels on one container protects a router of another (auth@docker),
// against a real auth server the test starts; a basicAuth router beside it.
// Without credentials the client gets the auth server's answer (302 to its
// login page) or 401; with them, the app's answer, with the auth server's
// Remote-User passed on.
func TestTraefikForwardAuthAndBasicAuthOnRealContainers(t *testing.T) {
	net := harness.Network(t)
	img := harness.Image(t, "auth", map[string]string{"org.opencontainers.image.revision": "1111111"})
	b := harness.StartBaton(t, "defaults:\n  health.path: /healthz\n  health.interval: 100ms\n  health.min_healthy: 1s\n")
	auth := harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Env: []string{"RELEASE=auth", "AUTH_SESSION=s3cret"}})
	// The middlewares live on a container of their own, as with Authelia's
	// or Authentik's stacks; the app only names them.
	harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Env: []string{"RELEASE=authcfg"}, Labels: map[string]string{
		"traefik.enable": "true",
		"traefik.http.middlewares.authelia.forwardAuth.address":             "http://" + auth.IP + ":8080/auth",
		"traefik.http.middlewares.authelia.forwardAuth.trustForwardHeader":  "true",
		"traefik.http.middlewares.authelia.forwardAuth.authResponseHeaders": "Remote-User,Remote-Groups",
		// test:test, the example of Traefik's basicAuth documentation.
		"traefik.http.middlewares.docs-auth.basicauth.users": "test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/",
	}})
	harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Env: []string{"RELEASE=app", "ECHO=1"}, Labels: map[string]string{
		"traefik.enable":                                     "true",
		"traefik.http.routers.app.rule":                      "Host(`app.test`)",
		"traefik.http.routers.app.middlewares":               "authelia@docker",
		"traefik.http.routers.docs.rule":                     "Host(`app.test`) && PathPrefix(`/docs`)",
		"traefik.http.routers.docs.middlewares":              "docs-auth",
		"traefik.http.services.app.loadbalancer.server.port": "8080",
	}})

	ask := func(path, cookie, user, pass string) (int, http.Header, string) {
		req, _ := http.NewRequest(http.MethodGet, b.URL+path, nil)
		req.Host = "app.test"
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(body)
	}
	harness.Eventually(t, 30*time.Second, "the protected router routed (the auth server answers for it)", func() bool {
		code, _, _ := ask("/page", "", "", "")
		return code == http.StatusFound
	})
	code, h, body := ask("/page?x=1", "", "", "")
	if code != http.StatusFound || !strings.HasPrefix(h.Get("Location"), "https://auth.example.com/?rd=") || h.Get("X-Release") == "app" {
		t.Errorf("no session: %d Location %q release %q, want the auth server's 302 and no answer from the app\n%s", code, h.Get("Location"), h.Get("X-Release"), body)
	}
	if !strings.Contains(h.Get("Location"), "app.test%2Fpage%3Fx%3D1") {
		t.Errorf("the auth server was not told the original URL (X-Forwarded-Host/-Uri): Location %q", h.Get("Location"))
	}
	code, h, body = ask("/page", "session=s3cret", "", "")
	if code != http.StatusOK || h.Get("X-Release") != "app" || !strings.Contains(body, "Remote-User: alice") {
		t.Errorf("with the session: %d release %q, want the app's answer with Remote-User from the auth server:\n%s", code, h.Get("X-Release"), body)
	}
	if code, _, body = ask("/page", "session=forged", "", ""); code != http.StatusFound || strings.Contains(body, "release=app") {
		t.Errorf("a forged session: %d, want the auth server's 302", code)
	}
	// A Remote-User the client sends itself never reaches the app.
	req, _ := http.NewRequest(http.MethodGet, b.URL+"/page", nil)
	req.Host = "app.test"
	req.Header.Set("Cookie", "session=s3cret")
	req.Header.Set("Remote-Groups", "root")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(got), "Remote-Groups: root") {
			t.Errorf("the client's own Remote-Groups reached the app:\n%s", got)
		}
	}

	if code, h, _ := ask("/docs/a", "", "", ""); code != http.StatusUnauthorized || !strings.Contains(h.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("basicAuth without credentials: %d %v, want 401 with a Basic challenge", code, h.Get("WWW-Authenticate"))
	}
	if code, _, _ := ask("/docs/a", "", "test", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("basicAuth, wrong password: %d, want 401", code)
	}
	if code, h, body := ask("/docs/a", "", "test", "test"); code != http.StatusOK || h.Get("X-Release") != "app" || !strings.Contains(body, "target=/docs/a") {
		t.Errorf("basicAuth, right password: %d release %q, want the app's answer:\n%s", code, h.Get("X-Release"), body)
	}
}
