package autotls

import (
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/batonproxy/baton/proxy"
	"github.com/caddyserver/certmagic"
)

// hostPolicy is what the listeners need to know of a host that has TLS: its
// plain HTTP requests redirect to HTTPS, and its HTTPS answers may carry HSTS.
type hostPolicy struct {
	hsts string // the Strict-Transport-Security value; "" = none
	// ready is set once a certificate is loaded: until then plain HTTP keeps
	// serving the host instead of redirecting to a handshake that would fail.
	ready *atomic.Bool
}

// skipReason says why a routed host gets no certificate ("" = it gets one).
type skipReason string

const (
	skipPlain    skipReason = "baton.tls=false (or tls: false on the route) keeps it on plain HTTP"
	skipAny      skipReason = "host \"*\" names no host to certify"
	skipWildcard skipReason = "a wildcard needs the DNS-01 challenge, which baton does not solve; name the hosts"
	skipIP       skipReason = "an ACME CA does not certify IP addresses; use tls.ca: internal"
	skipInternal skipReason = "a public ACME CA does not certify internal names (localhost, .local, .internal); use tls.ca: internal"
)

// policiesFrom derives the hosts that get certificates from the routes. A host
// has TLS when any of its routes wants it and the CA can certify it; its HSTS
// max-age is the longest any of its routes asks for. skipped names the routed
// hosts left on plain HTTP, and why.
func policiesFrom(routes []*proxy.Route, publicCA bool) (policies map[string]hostPolicy, skipped map[string]skipReason) {
	policies = make(map[string]hostPolicy, len(routes))
	skipped = map[string]skipReason{}
	maxAge := map[string]time.Duration{}
	for _, r := range routes {
		host := strings.ToLower(r.Host)
		if why := eligible(host, r.PlainHTTP, publicCA); why != "" {
			if _, secure := policies[host]; !secure {
				skipped[host] = why
			}
			continue
		}
		delete(skipped, host)
		p, seen := policies[host]
		if !seen {
			p.ready = new(atomic.Bool)
		}
		if r.HSTS > maxAge[host] {
			maxAge[host] = r.HSTS
			p.hsts = "max-age=" + strconv.FormatInt(int64(r.HSTS/time.Second), 10)
		}
		policies[host] = p
	}
	return policies, skipped
}

func eligible(host string, plain, publicCA bool) skipReason {
	switch {
	case plain:
		return skipPlain
	case host == "*":
		return skipAny
	case strings.HasPrefix(host, "*."):
		return skipWildcard
	case publicCA && net.ParseIP(host) != nil:
		return skipIP
	case publicCA && certmagic.SubjectIsInternal(host):
		return skipInternal
	}
	return ""
}

// hostOnly strips a port and lowercases a Host header.
func hostOnly(hostport string) string {
	host := hostport
	// Only a value with a port is split: SplitHostPort allocates its error
	// for a bare host, the usual Host of a request on the default port.
	if strings.IndexByte(hostport, ':') >= 0 {
		if h, _, err := net.SplitHostPort(hostport); err == nil {
			host = h
		}
	}
	return strings.ToLower(strings.TrimSuffix(host, "."))
}
