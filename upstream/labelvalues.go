package upstream

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/batonproxy/baton/internal/setting"
)

// The value parsers behind each label key. Their errors are the "why" part of a
// LabelError; the caller adds container, label and value.

func setName(dst *string, v string) error {
	v = strings.TrimSpace(v)
	if v == "" || strings.ContainsAny(v, "/ \t") {
		return errors.New("want a name without spaces or slashes")
	}
	*dst = v
	return nil
}

func setHosts(dst *[]string, v string) error {
	var hosts []string
	for _, h := range strings.Split(v, ",") {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" {
			continue
		}
		if err := checkHost(h); err != nil {
			return fmt.Errorf("host %q: %v", h, err)
		}
		hosts = append(hosts, h)
	}
	if len(hosts) == 0 {
		return errors.New("no host named")
	}
	*dst = appendUnique(*dst, hosts...)
	return nil
}

func appendUnique(dst []string, vs ...string) []string {
	for _, v := range vs {
		found := false
		for _, d := range dst {
			if d == v {
				found = true
				break
			}
		}
		if !found {
			dst = append(dst, v)
		}
	}
	return dst
}

// checkHost accepts a DNS name, "*.name" or "*": the same rule as a host in
// baton.yaml's static routes.
func checkHost(h string) error { return setting.CheckHost(h) }

func setPath(dst *string, v string) error {
	v = strings.TrimSpace(v)
	if !strings.HasPrefix(v, "/") || strings.ContainsAny(v, " \t?#") {
		return errors.New("a path starts with / and has no spaces, ? or #")
	}
	*dst = v
	return nil
}

func setPort(dst *int, v string) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 || n > 65535 {
		return errors.New("want a port number from 1 to 65535")
	}
	*dst = n
	return nil
}

func setDuration(dst *time.Duration, v string) error {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d <= 0 {
		return errors.New("invalid duration (want e.g. 500ms, 10s, 5m)")
	}
	*dst = d
	return nil
}

// setDurationZero also accepts 0 (e.g. no hold, no drain wait).
func setDurationZero(dst *time.Duration, v string) error {
	if strings.TrimSpace(v) == "0" {
		*dst = 0
		return nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d < 0 {
		return errors.New("invalid duration (want e.g. 500ms, 10s, 5m)")
	}
	*dst = d
	return nil
}

func setPositive(dst *int, v string) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 {
		return errors.New("want a whole number of at least 1")
	}
	*dst = n
	return nil
}

// setCount reads a bound where 0 means none.
func setCount(dst *int64, v string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return errors.New("want a whole number, 0 for no bound")
	}
	*dst = n
	return nil
}

func setBool(dst *bool, v string) error {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return errors.New("want true or false")
	}
	*dst = b
	return nil
}

func setStrategy(s *Spec, v string) error {
	switch v = strings.TrimSpace(v); v {
	case "bluegreen", "rolling":
		s.Deploy.Strategy = v
		return nil
	}
	return errors.New("want bluegreen or rolling")
}

func setCookie(dst *string, v string) error {
	v = strings.TrimSpace(v)
	if v == "" || strings.ContainsAny(v, " \t;,=\"") {
		return errors.New("want a cookie name")
	}
	*dst = v
	return nil
}

// signals baton can send as a pre-stop hook.
var signals = map[string]syscall.Signal{
	"SIGHUP": syscall.SIGHUP, "SIGINT": syscall.SIGINT, "SIGQUIT": syscall.SIGQUIT, "SIGUSR1": syscall.SIGUSR1,
	"SIGUSR2": syscall.SIGUSR2, "SIGTERM": syscall.SIGTERM, "SIGTSTP": syscall.SIGTSTP, "SIGWINCH": syscall.SIGWINCH,
	"SIGCONT": syscall.SIGCONT, "SIGSTOP": syscall.SIGSTOP,
}

func setSignal(s *Spec, v string) error {
	name := strings.ToUpper(strings.TrimSpace(v))
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if _, ok := signals[name]; !ok {
		return errors.New("unknown signal (want e.g. SIGTSTP, SIGUSR1)")
	}
	s.PreStop.Signal = name
	return nil
}

// setTLS reads baton.tls: true (the default when TLS is on) or false, which
// keeps the service's hosts on plain HTTP.
func setTLS(s *Spec, v string) error {
	var on bool
	if err := setBool(&on, v); err != nil {
		return err
	}
	s.PlainHTTP = !on
	return nil
}

// setHSTS reads baton.tls.hsts: true (one year), false (off) or a max-age.
func setHSTS(dst *time.Duration, v string) error {
	d, err := setting.ParseHSTS(v)
	if err != nil {
		return err
	}
	*dst = d
	return nil
}

// setUpgrades reads a comma-separated list of protocol tokens (RFC 9110
// §7.8), e.g. "h2c"; WebSocket is always allowed and need not be listed.
func setUpgrades(dst *[]string, v string) error {
	var out []string
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		for i := 0; i < len(p); i++ {
			if c := p[i]; c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"[]?={}", c) >= 0 {
				return fmt.Errorf("%q is not a protocol name (a token, e.g. h2c)", p)
			}
		}
		out = append(out, strings.ToLower(p))
	}
	*dst = out
	return nil
}
