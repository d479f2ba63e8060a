package upstream

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/batonproxy/baton/proxy/rule"
)

// Upstream schemes: how baton speaks to a container's port.
const (
	SchemeHTTP  = "http"  // HTTP/1.1 in clear (the default)
	SchemeHTTPS = "https" // TLS, HTTP/2 or HTTP/1.1 by ALPN; verified per the servers transport
	SchemeH2C   = "h2c"   // HTTP/2 in clear, prior knowledge (gRPC backends)
)

// Endpoint is one way into a container: a Traefik service of it
// (traefik.http.services.<s>.loadbalancer.server.*), or baton's own
// (baton.port, baton.upstream.*). baton's service (Spec.Service) stays the
// deploy unit; an endpoint is only where and how its routers reach a
// container of it.
type Endpoint struct {
	Port      int    // 0 = the main endpoint's port (baton.port, else the only exposed port)
	Scheme    string // SchemeHTTP ("" too), SchemeHTTPS or SchemeH2C
	Transport string // a servers_transports name of baton.yaml; "" = the default (system roots, SNI of the address)
}

// ParseScheme reads an upstream scheme (Traefik's server.scheme,
// baton.upstream.scheme): http, https or h2c, any case.
func ParseScheme(v string) (string, error) {
	switch s := strings.ToLower(strings.TrimSpace(v)); s {
	case SchemeHTTP, SchemeHTTPS, SchemeH2C:
		return s, nil
	}
	return "", errors.New("want http, https or h2c")
}

// transportRef reads a reference to a servers transport. Traefik's label
// form is name@file (defined in its file provider: here, baton.yaml's
// servers_transports) or default@internal (the default); a bare name is
// resolved by Traefik in the docker provider, where no serversTransport can
// be defined, so it is refused rather than guessed. native (the
// baton.upstream.transport label) also takes a bare name.
func transportRef(v string, native bool, known func(string) bool) (string, error) {
	v = strings.TrimSpace(v)
	name, provider, hasProvider := strings.Cut(v, "@")
	switch {
	case name == "":
		return "", errors.New("want a servers transport name (name@file)")
	case hasProvider && strings.EqualFold(provider, "internal") && strings.EqualFold(name, "default"):
		return "", nil
	case hasProvider && !strings.EqualFold(provider, "file"):
		return "", errors.New("baton resolves servers transports of its own config only (name@file, from servers_transports in baton.yaml), not of provider " + provider + "; the container is not routed")
	case !hasProvider && !native:
		return "", errors.New("a servers transport without @provider is looked up by Traefik in the docker provider, which cannot define one; write " + name + "@file and define " + name + " under servers_transports in baton.yaml")
	}
	if known == nil || !known(name) {
		return "", errors.New("no servers transport " + name + " under servers_transports in baton.yaml: the upstream's TLS settings are unknown, so the container is not routed")
	}
	return name, nil
}

// EndpointAddr is where and how a router reaches this container through
// its Traefik service name ("" = the main endpoint). ok is false when the
// container defines no such service (an older release without it).
func (in *Instance) EndpointAddr(name string) (addr, scheme, transport string, ok bool) {
	if name == "" || name == in.Spec.MainService || len(in.Spec.Endpoints) == 0 {
		return in.Addr, in.Spec.Scheme, in.Spec.Transport, in.Addr != ""
	}
	ep, found := in.Spec.Endpoints[name]
	if !found || in.Addr == "" {
		return "", "", "", false
	}
	if ep.Port == 0 {
		return in.Addr, ep.Scheme, ep.Transport, true
	}
	host, _, err := net.SplitHostPort(in.Addr)
	if err != nil {
		return "", "", "", false
	}
	return net.JoinHostPort(host, strconv.Itoa(ep.Port)), ep.Scheme, ep.Transport, true
}

// mainService picks, among several Traefik services of a container, the
// one baton health-checks and whose answer the deploy's verify probe reads:
// the service of the router that routes the verify request (GET of the
// verify path on the service's first host), Traefik's order (priority,
// then name). Why this one: the probe goes through baton's front door, so
// it reaches whatever that router names; gating another port than the one
// the fingerprint is read from would let a deploy go live on a port
// nobody checked. Without such a router: the service of the
// highest-priority router, else the first name.
func mainService(routers []Router, host, verifyPath string, services []string) string {
	if len(services) == 0 {
		return ""
	}
	rs := append([]Router(nil), routers...)
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].Priority != rs[j].Priority {
			return rs[i].Priority > rs[j].Priority
		}
		return rs[i].Name < rs[j].Name
	})
	req := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: verifyPath}, Host: host, Header: http.Header{}}
	for _, r := range rs {
		if r.Service == "" || host == "" {
			continue
		}
		compiled, err := rule.Parse(r.Rule)
		if err == nil && compiled.Match(req, host, netip.Addr{}) {
			return r.Service
		}
	}
	for _, r := range rs {
		if r.Service != "" {
			return r.Service
		}
	}
	return services[0]
}

// setTransportName reads baton.upstream.transport (a servers_transports
// name, name@file accepted too); whether baton.yaml defines it is checked
// by ParseLabels, and for the defaults section by the config loader.
func setTransportName(s *Spec, v string) error {
	name, _, _ := strings.Cut(strings.TrimSpace(v), "@")
	if name == "" || strings.ContainsAny(name, " \t/") {
		return errors.New("want a servers transport name of baton.yaml (servers_transports)")
	}
	s.Transport = name
	return nil
}
