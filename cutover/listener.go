package cutover

import (
	"strings"

	"github.com/batonproxy/baton/proxy/rule"
)

// A Traefik router without tls answers plain HTTP only: Traefik gives a TLS
// request to its TLS routers alone ("a router with a TLS section is
// dedicated to HTTPS requests"; without one, it ignores them). baton keeps
// such a router on both listeners (its own automatic HTTPS: the host gets a
// certificate, plain HTTP goes to HTTPS, the router answers there), except
// where that would put it beside a TLS router of the same host: there, a
// TLS request could take the router without tls instead (a redirect router
// of equal priority, which passes HTTPS through), and skip the TLS router's
// middlewares. So there it answers plain HTTP only, as in Traefik.

// anyHost stands for "every host" among the hosts of a router.
const anyHost = "*"

// tlsHosts lists the hosts that have a TLS-only router (Listener "https")
// in any service; anyHost when one of them can match any host.
func tlsHosts(services []*ServiceRoutes) map[string]bool {
	out := map[string]bool{}
	for _, sr := range services {
		for _, rr := range sr.Routing.Routes {
			if rr.Listener == "https" {
				for _, h := range routerHosts(rr) {
					out[h] = true
				}
			}
		}
	}
	return out
}

// routerHosts lists the hosts a router can match (lower case, without a
// trailing dot), or anyHost. A rule that does not parse names nothing: the
// switchboard refuses it anyway.
func routerHosts(rr RouteRule) []string {
	if rr.Rule == "" {
		if rr.Host == "" || rr.Host == anyHost || strings.HasPrefix(rr.Host, "*.") {
			return []string{anyHost}
		}
		return []string{normalHost(rr.Host)}
	}
	r, err := rule.Parse(rr.Rule)
	if err != nil {
		return nil
	}
	ix := r.Index()
	var out []string
	switch {
	case ix.HostPaths != nil:
		for _, hp := range ix.HostPaths {
			if hp.Host == anyHost {
				return []string{anyHost}
			}
			out = append(out, normalHost(hp.Host))
		}
	case ix.AnyHost:
		return []string{anyHost}
	default:
		for _, h := range ix.Hosts {
			out = append(out, normalHost(h))
		}
	}
	return out
}

func normalHost(h string) string { return strings.TrimRight(strings.ToLower(h), ".") }

// listenerOf is the listener a router answers on: its own, but plain HTTP
// only for a router without tls (on every listener) that can match a host
// a TLS router has.
func listenerOf(rr RouteRule, tls map[string]bool) string {
	if rr.Listener != "" || len(tls) == 0 {
		return rr.Listener
	}
	for _, h := range routerHosts(rr) {
		if tls[h] || tls[anyHost] || h == anyHost {
			return "http"
		}
	}
	return ""
}
