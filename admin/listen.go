package admin

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// ErrTokenRequired is returned when a TCP admin address has no token.
var ErrTokenRequired = errors.New("a TCP admin address needs admin.token (use a unix socket to go without)")

// isSocketPath tells a unix socket path from a TCP address.
func isSocketPath(addr string) bool {
	return strings.HasPrefix(addr, "/") || strings.HasPrefix(addr, "unix:") || strings.HasPrefix(addr, ".")
}

// Listen opens the admin listener: a unix socket with mode 0600 (its directory
// created 0700 if missing; a stale socket file from a crash removed), or a TCP
// address when token is set.
func Listen(addr, token string) (net.Listener, error) {
	if !isSocketPath(addr) {
		if token == "" {
			return nil, fmt.Errorf("admin %s: %w", addr, ErrTokenRequired)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("admin listen %s: %w", addr, err)
		}
		return ln, nil
	}
	path := strings.TrimPrefix(addr, "unix:")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("admin socket dir %s: %w", filepath.Dir(path), err)
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		// A socket nobody answers on is left from a crash; one that answers
		// means another baton is running.
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("admin socket %s: another baton is listening", path)
		}
		_ = os.Remove(path)
	}
	// The umask makes the socket private from its first instant, before chmod.
	ln, err := listenUnixPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("admin listen %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	return ln, nil
}

// RequireToken wraps h so that TCP requests must carry "Authorization: Bearer
// <token>". Requests over the unix socket are trusted: the socket's mode is the check.
func RequireToken(h http.Handler, token string) http.Handler {
	if token == "" {
		return h
	}
	want := "Bearer " + token
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.RemoteAddr != "@" && r.RemoteAddr != "" && !constantTimeEqual(r.Header.Get("Authorization"), want) {
			http.Error(w, "admin API: missing or wrong token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
