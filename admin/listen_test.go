package admin

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// serve answers on ln with h as serve wires it (RequireToken around the API)
// until the test ends.
func serve(t *testing.T, ln net.Listener, h http.Handler) {
	t.Helper()
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// serveSocket serves h as serve does (RequireToken with token around it) on
// a unix socket of the test's own and returns its path; the clients of the
// test find no $BATON_ADMIN_TOKEN.
func serveSocket(t *testing.T, h http.Handler, token string) string {
	t.Helper()
	t.Setenv("BATON_ADMIN_TOKEN", "")
	path := socketPath(t)
	ln, err := Listen(path, token)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, ln, RequireToken(h, token))
	return path
}

// socketPath is a socket path in a directory of the test's own, in a
// subdirectory Listen must create.
func socketPath(t *testing.T) string {
	return filepath.Join(t.TempDir(), "run", "baton.sock")
}

// whoami answers 200 with the peer address net/http saw.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("remote=" + r.RemoteAddr)) })

func TestListenMakesAPrivateSocketInAPrivateDirectory(t *testing.T) {
	path := socketPath(t)
	ln, err := Listen(path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	// Whoever can connect can deploy containers: owner only.
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	if di, err := os.Stat(filepath.Dir(path)); err != nil || di.Mode().Perm() != 0o700 {
		t.Fatalf("socket directory mode %v (%v), want 0700", di.Mode(), err)
	}
	// unix: prefix is the same socket.
	ln.Close()
	ln2, err := Listen("unix:"+path, "")
	if err != nil {
		t.Fatal(err)
	}
	ln2.Close()
}

func TestListenRemovesAStaleSocketButRefusesALiveOne(t *testing.T) {
	path := socketPath(t)
	live, err := Listen(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(path, ""); err == nil || !strings.Contains(err.Error(), "another baton is listening") {
		t.Fatalf("second Listen on a socket another process answers: %v, want a refusal", err)
	}
	// A crash leaves the file behind with nobody answering.
	live.(*net.UnixListener).SetUnlinkOnClose(false)
	live.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("the stale socket file is gone already, nothing tested: %v", err)
	}
	ln, err := Listen(path, "")
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ln.Close()
}

func TestListenOnTCPNeedsAToken(t *testing.T) {
	if _, err := Listen("127.0.0.1:0", ""); !errors.Is(err, ErrTokenRequired) || !strings.Contains(err.Error(), "admin.token") {
		t.Fatalf("TCP without token: %v, want ErrTokenRequired naming admin.token", err)
	}
	ln, err := Listen("127.0.0.1:0", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
}

// On TCP every request needs the bearer token, from loopback too: a local
// process of another user must not deploy.
func TestTCPRequestsNeedTheToken(t *testing.T) {
	t.Setenv("BATON_ADMIN_TOKEN", "")
	ln, err := Listen("127.0.0.1:0", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, ln, RequireToken(whoami, "s3cret"))
	addr := ln.Addr().String()
	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"no header", "", http.StatusUnauthorized},
		{"wrong token", "Bearer nope", http.StatusUnauthorized},
		{"token without Bearer", "s3cret", http.StatusUnauthorized},
		{"a longer token", "Bearer s3cret2", http.StatusUnauthorized},
		{"lower-case scheme", "bearer s3cret", http.StatusUnauthorized},
		{"the token", "Bearer s3cret", http.StatusOK},
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	// The client sends the token it is given, or $BATON_ADMIN_TOKEN.
	if err := NewClient(addr, "").GetJSON(context.Background(), "/", new(any)); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("client without token: %v, want the 401", err)
	}
	if _, err := NewClient(addr, "s3cret").Do(context.Background(), http.MethodGet, "/", nil); err != nil {
		t.Fatalf("client with token: %v", err)
	}
	t.Setenv("BATON_ADMIN_TOKEN", "s3cret")
	if _, err := NewClient(addr, "").Do(context.Background(), http.MethodGet, "/", nil); err != nil {
		t.Fatalf("client with $BATON_ADMIN_TOKEN: %v", err)
	}
}

// Over the unix socket the file's mode is the check: no token is asked,
// even when one is configured for TCP.
func TestUnixSocketRequestsAreTrustedWithoutToken(t *testing.T) {
	path := serveSocket(t, whoami, "s3cret")
	resp, err := NewClient(path, "").Do(context.Background(), http.MethodGet, "/", nil)
	if err != nil {
		t.Fatalf("unix socket without token: %v", err)
	}
	resp.Body.Close()
}

func TestNoTokenConfiguredAsksNone(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // the metrics listener on loopback, say
	if err != nil {
		t.Fatal(err)
	}
	serve(t, ln, RequireToken(whoami, ""))
	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d without a configured token, want 200", resp.StatusCode)
	}
}
