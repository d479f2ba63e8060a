package config

import "time"

// Config is the whole of baton.yaml.
type Config struct {
	Listen   Listen            `yaml:"listen"`
	Admin    Admin             `yaml:"admin"`
	TLS      TLS               `yaml:"tls"`
	Docker   Docker            `yaml:"docker"`
	State    State             `yaml:"state"`
	Defaults map[string]string `yaml:"defaults"` // label keys without "baton.", e.g. health.min_healthy: 1s
	Cache    Cache             `yaml:"cache"`
	Notify   Notify            `yaml:"notify"`
	Routes   []Route           `yaml:"routes"`
	Proxy    Proxy             `yaml:"proxy"`
	Log      Log               `yaml:"log"`
	Upgrade  Upgrade           `yaml:"upgrade"`
	// ServersTransports are named upstream TLS settings (see ServersTransport).
	ServersTransports map[string]ServersTransport `yaml:"servers_transports"`

	// DefaultsLine is the line of each key of Defaults, so that a bad default
	// found later (by the label parser) can still name its line.
	DefaultsLine map[string]int `yaml:"-"`
	// File is the path the config was read from ("" for the embedded defaults).
	File string `yaml:"-"`
}

// Listen holds the public listeners.
type Listen struct {
	HTTP  string `yaml:"http"`  // e.g. ":80" or "127.0.0.1:8080"
	HTTPS string `yaml:"https"` // "" = no HTTPS listener
	// HTTP3 serves HTTP/3 (QUIC) on UDP at the HTTPS listener's address and
	// port, advertised by Alt-Svc on HTTPS answers. Default true when there
	// is an HTTPS listener; false turns it off. See HTTP3On.
	HTTP3 *bool `yaml:"http3"`
}

// HTTP3On reports whether baton serves HTTP/3: only beside an HTTPS
// listener (QUIC is TLS 1.3 with the same certificates), and unless
// listen.http3 is false.
func (l Listen) HTTP3On() bool { return l.HTTPS != "" && (l.HTTP3 == nil || *l.HTTP3) }

// Admin is the control plane: the API socket and the metrics address.
type Admin struct {
	Socket  string `yaml:"socket"`  // unix socket path (mode 0600), or host:port with Token
	Token   string `yaml:"token"`   // required for a TCP admin address
	Metrics string `yaml:"metrics"` // Prometheus /metrics; "" = off
	Pprof   bool   `yaml:"pprof"`   // net/http/pprof on the metrics listener
	// UI is the web dashboard's address: loopback by default (DefaultUI when
	// the key is absent), "" = off. Any other address needs Token, which the
	// browser sends once and then holds as a session cookie.
	UI string `yaml:"ui"`
	// UIActions shows deploy, rollback and cache purge buttons on the
	// dashboard; off, the page is read-only and refuses every POST.
	UIActions bool `yaml:"ui_actions"`
}

// DefaultUI is the dashboard's address when admin.ui is not in the file.
const DefaultUI = "127.0.0.1:9181"

// TLS configures automatic HTTPS.
type TLS struct {
	Email   string `yaml:"email"`
	CA      string `yaml:"ca"` // letsencrypt, staging, internal, off, or an ACME directory URL
	Storage string `yaml:"storage"`
	// CARoot is a PEM file of roots to trust when talking to the ACME server
	// itself (a private ACME CA such as step-ca); "" = the system's roots.
	CARoot string `yaml:"ca_root"`
	// Challenges are the ACME challenge types baton answers: http-01 (port 80)
	// and tls-alpn-01 (port 443). Default both.
	Challenges []string `yaml:"challenges"`
	// DefaultSNI is the certificate shown to clients that send no server name,
	// or one baton has no certificate for (an IP address); "" = none: those
	// handshakes fail.
	DefaultSNI string `yaml:"default_sni"`
	// ReleaseAfter: a host whose routes have had no target this long (its
	// containers are gone) is no longer renewed, and its service's claim on
	// it is dropped (another service may take it over sooner: it needs no
	// wait); 0 = one hour. It applies with TLS off too.
	ReleaseAfter time.Duration `yaml:"release_after"`
}

// On reports whether baton manages certificates and serves HTTPS.
func (t TLS) On() bool { return t.CA != "off" }

// Challenge types baton can answer.
const (
	ChallengeHTTP01    = "http-01"
	ChallengeTLSALPN01 = "tls-alpn-01"
)

// Docker configures the Docker provider.
type Docker struct {
	Enabled          *bool  `yaml:"enabled"` // default true
	Host             string `yaml:"host"`    // default $DOCKER_HOST, else the local socket
	ExposedByDefault bool   `yaml:"exposed_by_default"`
	Network          string `yaml:"network"`
	TraefikLabels    *bool  `yaml:"traefik_labels"` // default true
	// Constraint, "key=value", limits baton to containers carrying that label
	// (as Traefik's constraints do): two batons on one engine, or a test run.
	Constraint string `yaml:"constraint"`
	// Mode picks the provider: "containers" (the default: the containers of
	// this engine), "swarm" (the services and tasks of the Swarm this engine
	// manages) or "auto" (swarm when the engine is a Swarm manager).
	Mode string `yaml:"mode"`
}

// Docker provider modes (docker.mode).
const (
	ModeContainers = "containers"
	ModeSwarm      = "swarm"
	ModeAuto       = "auto"
)

// ProviderMode is docker.mode with its default applied.
func (d Docker) ProviderMode() string {
	if d.Mode == "" {
		return ModeContainers
	}
	return d.Mode
}

// On reports whether the Docker provider runs.
func (d Docker) On() bool { return d.Enabled == nil || *d.Enabled }

// Traefik reports whether Traefik labels are read.
func (d Docker) Traefik() bool { return d.TraefikLabels == nil || *d.TraefikLabels }

// State is where deploy records and certificates live.
type State struct {
	Dir string `yaml:"dir"`
}

// Cache bounds the response cache.
type Cache struct {
	MaxSize ByteSize `yaml:"max_size"`
}

// Notify lists deploy webhooks.
type Notify struct {
	Webhooks []string `yaml:"webhooks"`
}

// Route is a static upstream that is not a container.
type Route struct {
	Host      string   `yaml:"host"`
	Path      string   `yaml:"path"`
	Upstreams []string `yaml:"upstreams"`
	TLS       *bool    `yaml:"tls"`  // false keeps the host on plain HTTP when TLS is on
	HSTS      string   `yaml:"hsts"` // true, false or a max-age duration (as the baton.tls.hsts label)
	// MaxInflight bounds the route's requests in flight (as the
	// baton.max_inflight label); 0 = no bound.
	MaxInflight int64 `yaml:"max_inflight"`
	Line        int   `yaml:"-"`
}

// Proxy holds the client- and upstream-facing limits.
type Proxy struct {
	ReadHeaderTimeout     time.Duration `yaml:"read_header_timeout"`
	IdleTimeout           time.Duration `yaml:"idle_timeout"`
	UpstreamHeaderTimeout time.Duration `yaml:"upstream_header_timeout"`
	MaxHeaderBytes        ByteSize      `yaml:"max_header_bytes"`      // request line and fields in all (431 beyond)
	MaxHeaderLineBytes    ByteSize      `yaml:"max_header_line_bytes"` // one line of them (414/431 beyond)
	MaxHeaderFields       int           `yaml:"max_header_fields"`     // fields a request may have (431 beyond)
	MaxBodyBytes          ByteSize      `yaml:"max_body_bytes"`        // 0 = unlimited
	// MaxInflight bounds the requests in flight through the public
	// listeners, all services together (503 with Retry-After beyond);
	// 0 = no bound. baton.max_inflight bounds one service.
	MaxInflight int64 `yaml:"max_inflight"`
	// TrustedProxies are the CIDRs or addresses of the proxies in front of
	// baton (a CDN's ranges, a load balancer) whose X-Forwarded-* headers it
	// keeps and extends; from any other peer they are replaced. Empty = trust
	// no one. See ParseTrustedProxy.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// Upgrade bounds `baton upgrade` (and SIGUSR2 to serve): the hand-over of
// the listening sockets to the binary on disk.
type Upgrade struct {
	// Timeout is how long the new process has to become ready (state
	// loaded, Docker listed, routes published) before the old one gives up
	// on it and keeps serving. Default 60s.
	Timeout time.Duration `yaml:"timeout"`
	// DrainTimeout is how long the old process lets its in-flight requests
	// and streams finish; then it ends them, WebSockets with a 1001 close,
	// and exits. Default 30s.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
}

// Log configures logging.
type Log struct {
	Format string `yaml:"format"` // json or console
	Level  string `yaml:"level"`
	Access bool   `yaml:"access"`
}
