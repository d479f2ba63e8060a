package upstream

import "time"

// Spec is what one container's labels (baton.* and the honoured Traefik subset),
// merged over the configured defaults, say about how baton should route to it and
// deploy it. It is a plain value: parsing fills it, the provider reads it.
type Spec struct {
	Service string   // baton.service; default Compose "project-service", else container name
	Hosts   []string // baton.host (comma-separated); empty = not routed (a worker)
	Path    string   // baton.path prefix; default "/"
	Port    int      // the main endpoint's port: baton.port, else its Traefik service's; 0 = not set (the provider resolves the single exposed port)
	Network string   // baton.network; "" = not set
	Version string   // baton.version, else image label org.opencontainers.image.revision
	// Scheme and Transport are how the main endpoint is spoken to
	// (baton.upstream.scheme / .transport, else its Traefik service's
	// server.scheme / serversTransport): SchemeHTTP (""), SchemeHTTPS or
	// SchemeH2C; a servers_transports name of baton.yaml, "" = the default.
	Scheme    string
	Transport string
	// Endpoints are the container's Traefik services by name (lower case),
	// each a port, scheme and transport its routers reach it by; empty for a
	// container without Traefik services. MainService is the one of them
	// the main endpoint is (see mainService): the health probe, the pre-stop
	// hooks and the deploy's verify go there, and the baton.port and
	// baton.upstream.* labels, when set, override it.
	Endpoints   map[string]Endpoint
	MainService string

	Health  HealthSpec
	Verify  VerifySpec
	Deploy  DeploySpec
	PreStop PreStopSpec

	DrainTimeout time.Duration // baton.drain.timeout, default 30s
	StopGrace    time.Duration // baton.stop.grace; 0 = the container's own stop timeout, else 30s
	StickyCookie string        // baton.sticky; "" = off
	Hold         time.Duration // baton.hold, default 15s
	MaxInflight  int64         // baton.max_inflight: requests in flight at once on the service; 0 = no bound
	Cache        bool          // baton.cache, default false
	// PlainHTTP (baton.tls=false, or a Traefik router with tls=false) keeps the
	// service's hosts on plain HTTP when TLS is on: no certificate, no redirect.
	PlainHTTP bool
	// HSTS is the Strict-Transport-Security max-age sent on HTTPS answers
	// (baton.tls.hsts: a duration, or true for one year); 0 = no header.
	HSTS time.Duration
	// Upgrades are the protocols besides WebSocket a client may switch to
	// (baton.upgrades, e.g. h2c); an Upgrade to any other is not relayed.
	Upgrades []string

	// Routers are the container's Traefik routers, each with its own rule,
	// middlewares and priority; empty for baton.* labels (Hosts and Path).
	// Hosts is then the union of the routers' hosts (certificates, status).
	Routers []Router
	// Middlewares are the Traefik middlewares defined on this container
	// (traefik.http.middlewares.<name>.<kind>.*), usable from any
	// container's routers as <name> or <name>@docker.
	Middlewares []MiddlewareDef
}

// Routed reports whether the container takes requests through baton (a host,
// or a Traefik router whose rule names none, HostRegexp say); a container
// that is not routed is a worker.
func (s Spec) Routed() bool { return len(s.Hosts) > 0 || len(s.Routers) > 0 }

// Router is one Traefik router of a container.
type Router struct {
	Name    string
	Rule    string      // as written
	Matches []RuleMatch // the rule's host and path-prefix alternatives, unless Complex
	// Complex: the rule says more than Host and PathPrefix; it is routed as
	// a whole (proxy/rule). Hosts are the literal hosts it requires.
	Complex  bool
	Hosts    []string
	Priority int // traefik.http.routers.<r>.priority; 0 = the rule's length (Traefik's default)
	// Middlewares are the names the router attaches, in order, without the
	// @docker suffix (references to other providers are refused at parse).
	Middlewares []string
	// Listeners the router answers on: "http" (Traefik's web), "https"
	// (websecure), both when empty (Traefik: a router with no entryPoints
	// listens on all of them). A router with tls set answers on https only.
	Listeners []string
	// Service is the Traefik service of the container the router sends to
	// (traefik.http.routers.<r>.service, else the only one the container
	// defines); "" = the main endpoint (the container defines none).
	Service string
}

// MiddlewareDef is a middleware as a container's labels define it: kind and
// option keys in lower case (Traefik matches label keys case-insensitively),
// options as dotted paths below the kind.
type MiddlewareDef struct {
	Name    string
	Kind    string
	Options map[string]string
}

// HealthSpec is the readiness probe (baton.health.*).
type HealthSpec struct {
	Path       string        // default "/"
	Interval   time.Duration // default 1s
	Timeout    time.Duration // default 2s
	MinHealthy time.Duration // default 10s
	Deadline   time.Duration // default 5m
}

// VerifySpec is where the live release fingerprint is read (baton.verify.*).
type VerifySpec struct {
	Path    string        // default DefaultVerifyPath
	Header  string        // "" = read the JSON body (sha, revision, commit, version)
	Timeout time.Duration // how long every probe answer may take to match; default 30s
}

// DefaultVerifyPath is where a release's fingerprint is read when
// baton.verify.path says nothing (the design's GET /version).
const DefaultVerifyPath = "/version"

// URLPath is the path the verify probe asks: Path, or DefaultVerifyPath for
// a spec that never went through DefaultSpec (a static route, a test).
func (v VerifySpec) URLPath() string {
	if v.Path == "" {
		return DefaultVerifyPath
	}
	return v.Path
}

// DeploySpec is how a new version replaces the old (baton.deploy.*).
type DeploySpec struct {
	Strategy    string        // "bluegreen" (default) or "rolling"
	MaxParallel int           // default 1
	Stagger     time.Duration // default 30s
	AutoRevert  bool          // default true
}

// PreStopSpec drains a worker before SIGTERM (baton.prestop.*).
type PreStopSpec struct {
	HTTP    string        // path to POST
	Exec    string        // command to exec in the container
	Signal  string        // signal name, e.g. SIGTSTP
	Wait    string        // path polled until 200
	Timeout time.Duration // default 60s
}
