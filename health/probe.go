package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"
)

// Probe is an HTTP readiness check: 2xx or 3xx within Timeout is ready.
type Probe struct {
	URL     string        // full URL with path, e.g. http://172.18.0.5:8080/healthz
	Timeout time.Duration // default 2s
	Client  *http.Client  // nil: a shared client without keep-alives that never follows redirects
}

// ProbeError is a probe that did not say ready. Error() is short, for deploy
// records and the CLI; Err keeps the transport's details.
type ProbeError struct {
	URL    string
	Status int    // the HTTP status, 0 when there was no answer
	Reason string // "status 503", "no answer within 2s", "connection refused", ...
	Err    error
}

func (e *ProbeError) Error() string { return fmt.Sprintf("probe %s: %s", e.URL, e.Reason) }

func (e *ProbeError) Unwrap() error { return e.Err }

// probeClient never follows redirects (a 3xx is an answer) and keeps no idle
// connections: a probe must not hold a socket to a container being retired,
// and it must not go through HTTP_PROXY.
var probeClient = &http.Client{
	Transport:     &http.Transport{DisableKeepAlives: true, Proxy: nil},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Check probes once: nil when ready, else a *ProbeError.
func (p *Probe) Check(ctx context.Context) error {
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL, nil)
	if err != nil {
		return &ProbeError{URL: p.URL, Reason: "bad url", Err: err}
	}
	req.Header.Set("User-Agent", "baton-health")
	c := p.Client
	if c == nil {
		c = probeClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return &ProbeError{URL: p.URL, Reason: reason(err, timeout), Err: err}
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return &ProbeError{URL: p.URL, Status: resp.StatusCode, Reason: fmt.Sprintf("status %d", resp.StatusCode)}
	}
	return nil
}

// reason says in a few words why a probe got no answer.
func reason(err error, timeout time.Duration) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("no answer within %s", timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	}
	return err.Error()
}
