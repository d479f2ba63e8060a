package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// DefaultSocket is where serve listens and the CLI looks when nothing says otherwise.
const DefaultSocket = "/run/baton/baton.sock"

// ResolveAddr picks the admin address: the flag, else $BATON_ADMIN, else the default.
func ResolveAddr(flag string) string {
	if flag != "" {
		return flag
	}
	if env := os.Getenv("BATON_ADMIN"); env != "" {
		return env
	}
	return DefaultSocket
}

// Client talks to a running baton's admin API.
type Client struct {
	addr  string
	token string
	http  *http.Client
	base  string
}

// NewClient returns a client for addr (a socket path or a TCP address). The
// token, if any, comes from $BATON_ADMIN_TOKEN when empty.
func NewClient(addr, token string) *Client {
	if token == "" {
		token = os.Getenv("BATON_ADMIN_TOKEN")
	}
	c := &Client{addr: addr, token: token}
	tr := &http.Transport{}
	if isSocketPath(addr) {
		path := strings.TrimPrefix(addr, "unix:")
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
		c.base = "http://baton"
	} else {
		c.base = "http://" + addr
	}
	c.http = &http.Client{Transport: tr}
	return c
}

// Do sends a request and returns the response; a non-2xx answer becomes an
// error carrying the server's message.
func (c *Client) Do(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin API at %s: %w (is baton serve running? set --admin or $BATON_ADMIN)", c.addr, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("admin API %s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(msg)))
	}
	return resp, nil
}

// GetJSON decodes the JSON answer of a GET into out.
func (c *Client) GetJSON(ctx context.Context, path string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := c.Do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("admin API %s: bad answer: %w", path, err)
	}
	return nil
}
