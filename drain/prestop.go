package drain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

const (
	defaultPreStopTimeout = 60 * time.Second
	// waitPollInterval is how often the pre-stop wait path is asked; waitAttempt
	// bounds one ask, so a hung answer costs one attempt, not the whole timeout.
	waitPollInterval = 250 * time.Millisecond
	waitAttempt      = 2 * time.Second
)

// preStop runs the configured hooks (POST, exec, signal, in that order), then
// polls the wait path until it answers 200, all within the hook's timeout.
// The container exiting on its own ends the wait early: it has drained.
func (r *Retirer) preStop(ctx context.Context, s RetireSpec, exit *exitWatch, rep *RetireReport) error {
	p := s.PreStop
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = defaultPreStopTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	start := time.Now()
	err := r.runHooks(ctx, s)
	rep.PreStop = time.Since(start)
	if err != nil {
		return err
	}
	if p.Wait == "" {
		return nil
	}
	start = time.Now()
	err = r.pollWait(ctx, s, hookURL(s, p.Wait), exit)
	rep.PreStopWait = time.Since(start)
	if err != nil {
		return fmt.Errorf("wait %s: %w", p.Wait, err)
	}
	return nil
}

func (r *Retirer) runHooks(ctx context.Context, s RetireSpec) error {
	p := s.PreStop
	if p.HTTP != "" {
		if err := r.post(ctx, s, hookURL(s, p.HTTP)); err != nil {
			return fmt.Errorf("POST %s: %w", p.HTTP, err)
		}
	}
	if p.Exec != "" {
		// The exec's own exit is its wait: a hook that returns has drained.
		code, err := r.execer().Exec(ctx, s.ID, execCommand(p.Exec))
		if err != nil {
			return fmt.Errorf("exec %q: %w", p.Exec, err)
		}
		if code != 0 {
			return fmt.Errorf("exec %q: exit code %d", p.Exec, code)
		}
	}
	if p.Signal != "" {
		if err := r.Docker.Signal(ctx, s.ID, p.Signal); err != nil {
			return fmt.Errorf("signal %s: %w", p.Signal, err)
		}
	}
	return nil
}

func (r *Retirer) post(ctx context.Context, s RetireSpec, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return err
	}
	resp, err := r.client(s).Do(req)
	if err != nil {
		return err
	}
	discard(resp)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// pollWait asks url until it answers 200, the container exits, or ctx ends.
func (r *Retirer) pollWait(ctx context.Context, s RetireSpec, url string, exit *exitWatch) error {
	tick := time.NewTicker(waitPollInterval)
	defer tick.Stop()
	last := "no answer yet"
	exited := exit.done
	for {
		status, err := r.get(ctx, s, url)
		switch {
		case err == nil && status == http.StatusOK:
			return nil
		case err == nil:
			last = fmt.Sprintf("last answer %d", status)
		case ctx.Err() == nil:
			last = err.Error()
		}
		select {
		case <-exited:
			if exit.err == nil {
				return nil
			}
			exited = nil // the watch failed; keep polling
		case <-ctx.Done():
			return fmt.Errorf("%w (%s)", ErrNotDrained, last)
		case <-tick.C:
		}
	}
}

func (r *Retirer) get(ctx context.Context, s RetireSpec, url string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, waitAttempt)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := r.client(s).Do(req)
	if err != nil {
		return 0, err
	}
	discard(resp)
	return resp.StatusCode, nil
}

// discard reads a little of the body so the connection can be reused, then closes it.
func discard(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	resp.Body.Close()
}

// hookURL is path on the container's main endpoint, in its URL scheme.
func hookURL(s RetireSpec, path string) string {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	scheme := s.URLScheme
	if scheme == "" {
		scheme = "http"
	}
	return scheme + "://" + s.Addr + path
}

// execCommand splits a hook command on spaces, or hands it to /bin/sh -c when
// it uses shell syntax (`kill -TERM 1; sleep 30`).
func execCommand(cmd string) []string {
	if strings.ContainsAny(cmd, ";&|<>$`'\"*?(){}[]~\\\n") {
		return []string{"/bin/sh", "-c", cmd}
	}
	return strings.Fields(cmd)
}

var errNoExec = errors.New("exec hooks are not supported by this retirer")

type noExec struct{}

func (noExec) Exec(context.Context, string, []string) (int, error) { return 0, errNoExec }

func (r *Retirer) execer() Execer {
	if r.Exec != nil {
		return r.Exec
	}
	if e, ok := r.Docker.(Execer); ok {
		return e
	}
	return noExec{}
}

// hookClient talks to containers directly: never through a proxy from the
// environment, every call bounded by its context.
var hookClient = &http.Client{Transport: func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	return t
}()}

func (r *Retirer) client(s RetireSpec) *http.Client {
	if s.Client != nil {
		return s.Client
	}
	if r.HTTP != nil {
		return r.HTTP
	}
	return hookClient
}
