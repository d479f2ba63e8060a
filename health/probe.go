// Package health decides when a container may take traffic: readiness that
// holds for min_healthy without a failure, reached within a deadline, and a
// container that neither exits nor crash-loops meanwhile.
package health

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Probe is an HTTP readiness check: 2xx or 3xx within Timeout is ready.
type Probe struct {
	URL     string
	Timeout time.Duration
	Client  *http.Client
}

// probeClient never follows redirects (3xx is an answer) and keeps no idle
// connections: a probe must not hold a socket to a container being retired.
var probeClient = &http.Client{
	Transport:     &http.Transport{DisableKeepAlives: true, Proxy: nil},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Check probes once.
func (p *Probe) Check(ctx context.Context) error {
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL, nil)
	if err != nil {
		return fmt.Errorf("probe %s: %w", p.URL, err)
	}
	req.Header.Set("User-Agent", "baton-health")
	c := p.Client
	if c == nil {
		c = probeClient
	}
	resp, err := c.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("probe %s: no answer within %s", p.URL, timeout)
		}
		return fmt.Errorf("probe %s: %w", p.URL, err)
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("probe %s: status %d", p.URL, resp.StatusCode)
	}
	return nil
}
