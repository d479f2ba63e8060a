package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/batonproxy/baton/check"
)

func checkCLI(t *testing.T, stdin string, args ...string) (out, errOut string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	err := runCheck(args, strings.NewReader(stdin), &o, &e)
	var ec exitCode
	switch {
	case err == nil:
	case errors.As(err, &ec):
		code = ec.code
		e.WriteString(ec.msg)
	default:
		t.Fatalf("baton check %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

const testdata = "../../check/testdata/"

func TestCheckExitsByVerdict(t *testing.T) {
	t.Setenv("DOMAIN", "shop.example.com")
	t.Setenv("COMPOSE_PROJECT_NAME", "")
	t.Setenv("COMPOSE_FILE", "")
	out, _, code := checkCLI(t, "", "-f", testdata+"base.yaml", "-f", testdata+"override.yaml", "-p", "shop")
	if code != 0 || !strings.Contains(out, "web (service shop-web): routed") || !strings.Contains(out, "2 routed: everything is routable") {
		t.Errorf("routable stack: exit %d\n%s", code, out)
	}
	out, _, code = checkCLI(t, "", testdata+"homelab.yaml")
	if code != 1 {
		t.Errorf("a refused service exits 1, got %d", code)
	}
	for _, want := range []string{
		"jellyfin (service testdata-jellyfin): REFUSED",
		"refused  " + testdata + "homelab.yaml:24  router jellyfin: traefik.http.routers.jellyfin.middlewares=chain-oauth@file",
		"queue (service testdata-queue): worker",
		"route  gitea  git.example.com/  -> :3000  http",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	_, errOut, code := checkCLI(t, "", testdata+"bad.yaml")
	if code != 2 || !strings.Contains(errOut, "bad.yaml:2: did not find expected key") {
		t.Errorf("an unreadable file exits 2 naming file and line: %d %q", code, errOut)
	}
	_, errOut, code = checkCLI(t, "", testdata+"nosuchfile.yaml")
	if code != 2 || !strings.Contains(errOut, "nosuchfile.yaml") {
		t.Errorf("a missing file exits 2 naming it: %d %q", code, errOut)
	}
}

// docker compose config | baton check - --json: stdin, flags after the
// file, a config with TLS on, JSON a machine can read.
func TestCheckReadsStdinAndPrintsJSON(t *testing.T) {
	data, err := os.ReadFile(testdata + "authelia.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "baton.yaml")
	if err := os.WriteFile(cfg, []byte("tls:\n  ca: internal\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, code := checkCLI(t, string(data), "-", "--json", "--config", cfg)
	if code != 1 {
		t.Errorf("exit %d, want 1 (heimdall's middleware is defined nowhere)", code)
	}
	var r check.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if r.Project != "authelia" || !r.HTTPS || r.Routable || len(r.Services) != 5 || r.Files[0] != "(stdin)" {
		t.Fatalf("report: %+v", r)
	}
	nextcloud := r.Services[2]
	if nextcloud.Verdict != check.Routed || len(nextcloud.Routes) != 1 || nextcloud.Routes[0].Listeners != "https" || nextcloud.Routes[0].Middlewares[0] != "authelia" {
		t.Errorf("nextcloud: %+v", nextcloud)
	}
	heimdall := r.Services[3]
	if heimdall.Verdict != check.Refused || heimdall.Refusals[0].At != "(stdin):49" || heimdall.Refusals[0].Value != "authelia-basic@docker" {
		t.Errorf("heimdall: %+v", heimdall)
	}
}

func TestCheckConfigErrorsExit2(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "baton.yaml")
	if err := os.WriteFile(cfg, []byte("docker:\n  exposed_by_defualt: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := checkCLI(t, "", testdata+"conflict.yaml", "--config", cfg)
	if code != 2 || !strings.Contains(errOut, "baton.yaml:2") {
		t.Errorf("a bad baton.yaml exits 2 naming its line: %d %q", code, errOut)
	}
}

// The example of docs/traefik.md is this command's output, word for word.
func TestCheckDocsExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/traefik.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(doc), "$ baton check --config ../baton.yaml\n")
	block, _, _ = strings.Cut(block, "```")
	if !ok || block == "" {
		t.Fatal("docs/traefik.md has no baton check example")
	}
	t.Chdir(testdata + "shop")
	t.Setenv("COMPOSE_PROJECT_NAME", "")
	t.Setenv("COMPOSE_FILE", "")
	out, _, code := checkCLI(t, "", "--config", "../shop-baton.yaml")
	if code != 1 || out != block {
		t.Errorf("exit %d, output:\n%s\ndocs/traefik.md shows:\n%s", code, out, block)
	}
}
