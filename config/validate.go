package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/batonproxy/baton/internal/setting"
)

// validate checks what yaml's types cannot: addresses, host names, URLs,
// enumerations, duplicate routes. Each error names file, line and key.
func validate(c *Config, ix *index, file string) []error {
	var errs []error
	bad := func(path, value, why string) {
		errs = append(errs, fmt.Errorf("%s:%d: %s: %q: %s", file, ix.line(path), path, value, why))
	}
	checkAddr := func(path, v string, required bool) {
		if v == "" {
			if required {
				bad(path, v, "required")
			}
			return
		}
		if err := checkHostPort(v); err != nil {
			bad(path, v, err.Error())
		}
	}
	checkAddr("listen.http", c.Listen.HTTP, true)
	checkAddr("listen.https", c.Listen.HTTPS, false)
	checkAddr("admin.metrics", c.Admin.Metrics, false)
	if m := c.Admin.Metrics; m != "" && !isLoopback(m) && c.Admin.Token == "" {
		bad("admin.metrics", m, "a non-loopback metrics address needs admin.token (it also serves pprof when admin.pprof is on)")
	}
	checkAddr("admin.ui", c.Admin.UI, false)
	if u := c.Admin.UI; u != "" && !isLoopback(u) && c.Admin.Token == "" {
		bad("admin.ui", u, "a non-loopback dashboard address needs admin.token (entered once in the browser; the page shows what the admin API shows)")
	}
	if c.Admin.UIActions && c.Admin.UI == "" {
		bad("admin.ui_actions", "true", "the dashboard is off (admin.ui: \"\"): there are no buttons to turn on")
	}
	if s := c.Admin.Socket; !strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "unix:") {
		if err := checkHostPort(s); err != nil {
			bad("admin.socket", s, "want an absolute socket path or host:port: "+err.Error())
		} else if c.Admin.Token == "" {
			bad("admin.socket", s, "a TCP admin address needs admin.token (the admin API can deploy containers)")
		}
	}
	if k, _, ok := strings.Cut(c.Docker.Constraint, "="); c.Docker.Constraint != "" && (!ok || k == "") {
		bad("docker.constraint", c.Docker.Constraint, "want a label as key=value")
	}
	switch c.Docker.Mode {
	case "", ModeContainers, ModeSwarm, ModeAuto:
	default:
		bad("docker.mode", c.Docker.Mode, "want containers, swarm or auto")
	}
	switch c.TLS.CA {
	case "letsencrypt", "staging", "internal", "off":
	default:
		if u, err := url.Parse(c.TLS.CA); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("tls.ca", c.TLS.CA, "want letsencrypt, staging, internal, off or an ACME directory URL")
		}
	}
	if !c.TLS.On() && c.Listen.HTTPS != "" {
		bad("listen.https", c.Listen.HTTPS, "an HTTPS listener needs certificates: set tls.ca (or tls.email for Let's Encrypt)")
	}
	if c.Listen.HTTP3 != nil && *c.Listen.HTTP3 && c.Listen.HTTPS == "" {
		bad("listen.http3", "true", "HTTP/3 is served beside the HTTPS listener, with its certificates: set tls.ca (or tls.email) and listen.https")
	}
	for i, ch := range c.TLS.Challenges {
		if ch != ChallengeHTTP01 && ch != ChallengeTLSALPN01 {
			bad(fmt.Sprintf("tls.challenges[%d]", i), ch, "want http-01 or tls-alpn-01")
		}
	}
	if c.TLS.DefaultSNI != "" {
		if err := setting.CheckHost(c.TLS.DefaultSNI); err != nil || strings.Contains(c.TLS.DefaultSNI, "*") {
			bad("tls.default_sni", c.TLS.DefaultSNI, "want one host name that a route claims")
		}
	}
	if c.TLS.ReleaseAfter < 0 {
		bad("tls.release_after", c.TLS.ReleaseAfter.String(), "want a positive duration (0 = one hour)")
	}
	if c.TLS.CARoot != "" {
		if _, err := os.Stat(c.TLS.CARoot); err != nil {
			bad("tls.ca_root", c.TLS.CARoot, "cannot read the file: "+err.Error())
		}
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		bad("log.format", c.Log.Format, "want json or console")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", c.Log.Level, "want debug, info, warn or error")
	}
	for i, w := range c.Notify.Webhooks {
		if u, err := url.Parse(w); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad(fmt.Sprintf("notify.webhooks[%d]", i), w, "want an http(s) URL")
		}
	}
	if c.Proxy.MaxHeaderLineBytes > c.Proxy.MaxHeaderBytes {
		bad("proxy.max_header_line_bytes", strconv.FormatInt(int64(c.Proxy.MaxHeaderLineBytes), 10), "larger than proxy.max_header_bytes ("+strconv.FormatInt(int64(c.Proxy.MaxHeaderBytes), 10)+")")
	}
	if c.Proxy.MaxHeaderBytes < 1<<10 {
		bad("proxy.max_header_bytes", strconv.FormatInt(int64(c.Proxy.MaxHeaderBytes), 10), "want at least 1KiB")
	}
	if c.Proxy.MaxInflight < 0 {
		bad("proxy.max_inflight", strconv.FormatInt(c.Proxy.MaxInflight, 10), "want a whole number, 0 for no bound")
	}
	if c.Proxy.MaxHeaderFields < 0 {
		bad("proxy.max_header_fields", strconv.Itoa(c.Proxy.MaxHeaderFields), "want a positive number")
	}
	for i, v := range c.Proxy.TrustedProxies {
		if _, err := ParseTrustedProxy(v); err != nil {
			bad(fmt.Sprintf("proxy.trusted_proxies[%d]", i), v, err.Error())
		}
	}
	validateTransports(c, bad)
	seen := map[string]int{}
	for i, r := range c.Routes {
		p := fmt.Sprintf("routes[%d]", i)
		if err := setting.CheckHost(r.Host); err != nil {
			bad(p+".host", r.Host, err.Error())
		}
		if !strings.HasPrefix(r.Path, "/") {
			bad(p+".path", r.Path, "a path prefix starts with /")
		}
		if len(r.Upstreams) == 0 {
			bad(p+".upstreams", "", "at least one upstream host:port is required")
		}
		for j, u := range r.Upstreams {
			if err := checkHostPort(u); err != nil {
				bad(fmt.Sprintf("%s.upstreams[%d]", p, j), u, err.Error())
			}
		}
		if r.MaxInflight < 0 {
			bad(p+".max_inflight", strconv.FormatInt(r.MaxInflight, 10), "want a whole number, 0 for no bound")
		}
		if _, err := setting.ParseHSTS(r.HSTS); r.HSTS != "" && err != nil {
			bad(p+".hsts", r.HSTS, err.Error())
		}
		key := strings.ToLower(r.Host) + " " + r.Path
		if prev, dup := seen[key]; dup {
			bad(p, r.Host+r.Path, fmt.Sprintf("host and path already routed at line %d", prev))
		}
		seen[key] = r.Line
	}
	if c.Upgrade.Timeout < 0 {
		bad("upgrade.timeout", c.Upgrade.Timeout.String(), "must be positive")
	}
	if c.Upgrade.DrainTimeout < 0 {
		bad("upgrade.drain_timeout", c.Upgrade.DrainTimeout.String(), "must be positive")
	}
	return errs
}

// ParseTrustedProxy reads one proxy.trusted_proxies entry: a CIDR such as
// 203.0.113.0/24 or 2001:db8::/32, or one address (its /32 or /128). A range
// written with host bits set (10.1.2.3/8) means its network, as Caddy and
// Traefik read it; an IPv4-mapped IPv6 range means the IPv4 one, since the
// proxy compares client addresses unmapped.
func ParseTrustedProxy(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("want a CIDR such as 203.0.113.0/24 or an IP address")
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("want a CIDR such as 203.0.113.0/24 or an IP address")
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// TrustedPrefixes parses proxy.trusted_proxies (validated on load).
func (p Proxy) TrustedPrefixes() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(p.TrustedProxies))
	for i, v := range p.TrustedProxies {
		pr, err := ParseTrustedProxy(v)
		if err != nil {
			return nil, fmt.Errorf("proxy.trusted_proxies[%d]: %q: %w", i, v, err)
		}
		out = append(out, pr)
	}
	return out, nil
}

func checkHostPort(v string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("invalid address (want host:port)")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("invalid port %q", port)
	}
	if host != "" && net.ParseIP(host) == nil && setting.CheckHost(host) != nil {
		return fmt.Errorf("invalid host %q", host)
	}
	return nil
}

// isLoopback reports whether a host:port listens on loopback only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
