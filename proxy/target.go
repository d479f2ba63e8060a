package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"hash/fnv"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/batonproxy/baton/proxy/internal/upstreamconn"
)

// Target is one upstream address. A Target outlives the tables that point at it, so
// its keep-alive pool survives route changes; when it leaves for good, Close drops
// its idle connections.
type Target struct {
	ID   string // container ID, or "static:" + address
	Addr string // host:port
	// Scheme is how the upstream is spoken to: SchemeHTTP (also ""),
	// SchemeHTTPS or SchemeH2C.
	Scheme string

	tracker TargetTracker
	// client speaks plain HTTP/1.1: the fast path, used whenever other is nil.
	client *upstreamconn.Client
	// other speaks https or h2c through net/http's Transport.
	other    upstreamClient
	key      string
	inflight atomic.Int64
	// refusedUntil is a unix-nano instant before which round-robin skips this
	// target because it refused a connection; zero means healthy.
	refusedUntil atomic.Int64

	stickyOnce sync.Once
	sticky     string
}

// TransportOptions tune the per-target upstream connection pool: DialTimeout
// (default 5s), ResponseHeaderTimeout (60s), IdleConnTimeout (90s),
// MaxIdleConns (512).
type TransportOptions = upstreamconn.Options

// Upstream schemes a target speaks (Traefik's server.scheme).
const (
	SchemeHTTP  = "http"
	SchemeHTTPS = "https"
	SchemeH2C   = "h2c"
)

// Endpoint is where a target is and how it is spoken to.
type Endpoint struct {
	Addr   string // host:port
	Scheme string // SchemeHTTP (""), SchemeHTTPS or SchemeH2C
	// Transport names the servers transport (TLS roots, server name,
	// verification) of an https endpoint; "" = the default: system roots,
	// the name of the address dialled.
	Transport string
}

// upstreamClient is what a target sends through when its upstream is not
// plain HTTP/1.1: upstreamconn.HTTPTransport.
type upstreamClient interface {
	RoundTrip(*upstreamconn.Exchange) (*http.Response, error)
	CloseIdle()
}

// NewTarget creates a plain-HTTP target with its own connection pool.
// tracker may be nil.
func NewTarget(id, addr string, tracker TargetTracker, o TransportOptions) *Target {
	return newTarget(id, Endpoint{Addr: addr}, nil, tracker, o)
}

// NewEndpointTarget creates a target of any scheme; tc is the TLS config
// of an https endpoint (nil = the system's roots).
func NewEndpointTarget(id string, ep Endpoint, tc *tls.Config, tracker TargetTracker, o TransportOptions) *Target {
	return newTarget(id, ep, tc, tracker, o)
}

func newTarget(id string, ep Endpoint, tc *tls.Config, tracker TargetTracker, o TransportOptions) *Target {
	if tracker == nil {
		tracker = nopTracker{}
	}
	t := &Target{ID: id, Addr: ep.Addr, Scheme: ep.Scheme, tracker: tracker, key: targetKey(id, ep)}
	switch ep.Scheme {
	case SchemeHTTPS:
		t.other = upstreamconn.NewHTTPS(ep.Addr, tc, o)
	case SchemeH2C:
		t.other = upstreamconn.NewH2C(ep.Addr, o)
	default:
		t.Scheme = SchemeHTTP
	}
	// A plain client always exists, idle and empty unless used: Close and
	// the fast path need no nil check.
	t.client = upstreamconn.New(ep.Addr, o)
	return t
}

// targetKey identifies a target in the registry: a container reached on
// several ports (a Traefik service each) has one target per endpoint; their
// drain accounting (the tracker) is the container's.
func targetKey(id string, ep Endpoint) string {
	return id + "\x00" + ep.Scheme + "://" + ep.Addr + "\x00" + ep.Transport
}

// errNoTransport: the servers transport an endpoint names is not defined;
// the labels' parser refuses such a container, this is the last guard.
var errNoTransport = errors.New("servers transport not defined: the upstream's TLS settings are unknown")

type failingClient struct{ err error }

func (f failingClient) RoundTrip(*upstreamconn.Exchange) (*http.Response, error) { return nil, f.err }
func (failingClient) CloseIdle()                                                 {}

// SetTracker replaces the tracker; the drain package takes a target over this way.
// It must be called before the target is put in a table.
func (t *Target) SetTracker(tr TargetTracker) { t.tracker = tr }

// InFlight is the number of requests the proxy has sent to the target and not finished.
func (t *Target) InFlight() int64 { return t.inflight.Load() }

// Close drops the target's idle upstream connections. In-flight requests finish.
func (t *Target) Close() {
	t.client.CloseIdle()
	if t.other != nil {
		t.other.CloseIdle()
	}
}

func (t *Target) begin(cancel context.CancelCauseFunc) uint64 {
	t.inflight.Add(1)
	return t.tracker.Begin(cancel)
}

func (t *Target) finish(token uint64) {
	t.tracker.Finish(token)
	t.inflight.Add(-1)
}

// stickyValue is the opaque cookie value that pins a session to this target.
func (t *Target) stickyValue() string {
	t.stickyOnce.Do(func() {
		sum := fnv.New64a()
		sum.Write([]byte(t.ID))
		t.sticky = strconv.FormatUint(sum.Sum64(), 36)
	})
	return t.sticky
}

// refusedBackoff is how long a target that refused a connection is skipped.
const refusedBackoff = time.Second

func (t *Target) markRefused(now time.Time) {
	t.refusedUntil.Store(now.Add(refusedBackoff).UnixNano())
}

func (t *Target) available(nowNano int64) bool {
	u := t.refusedUntil.Load()
	return u == 0 || nowNano >= u
}

// Targets is a registry that hands out one Target per container id and
// endpoint, so that tables built at different times share pools and
// in-flight accounting.
type Targets struct {
	mu         sync.Mutex
	byKey      map[string]*Target
	options    TransportOptions
	transports map[string]*tls.Config
}

// NewTargets returns an empty registry whose targets use o.
func NewTargets(o TransportOptions) *Targets {
	return &Targets{byKey: make(map[string]*Target), options: o}
}

// SetTransports gives the registry the servers transports (TLS configs by
// name) that https endpoints may name; targets made later use them.
func (r *Targets) SetTransports(m map[string]*tls.Config) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.transports = m
}

// Get returns the plain-HTTP target for id at addr, creating it if needed.
func (r *Targets) Get(id, addr string, tracker func() TargetTracker) *Target {
	return r.GetEndpoint(id, Endpoint{Addr: addr}, tracker)
}

// GetEndpoint returns the target for id at ep, creating it if needed. A
// container that moved to another address (reconnected to another network)
// gets a new Target; Forget the old key once no table uses it.
func (r *Targets) GetEndpoint(id string, ep Endpoint, tracker func() TargetTracker) *Target {
	if ep.Scheme == SchemeHTTP {
		ep.Scheme = ""
	}
	key := targetKey(id, ep)
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.byKey[key]; ok {
		return t
	}
	var tr TargetTracker
	if tracker != nil {
		tr = tracker()
	}
	var tc *tls.Config
	if ep.Transport != "" {
		tc = r.transports[ep.Transport]
	}
	t := newTarget(id, ep, tc, tr, r.options)
	if ep.Transport != "" && tc == nil {
		t.other = failingClient{errNoTransport}
	}
	r.byKey[key] = t
	return t
}

// Key is the target's registry key (ForgetKey).
func (t *Target) Key() string { return t.key }

// Remove forgets every target of id and closes their idle connections.
func (r *Targets) Remove(id string) {
	r.mu.Lock()
	var gone []*Target
	for k, t := range r.byKey {
		if t.ID == id {
			gone = append(gone, t)
			delete(r.byKey, k)
		}
	}
	r.mu.Unlock()
	for _, t := range gone {
		t.Close()
	}
}

// ForgetKey forgets one target and closes its idle connections.
func (r *Targets) ForgetKey(key string) {
	r.mu.Lock()
	t, ok := r.byKey[key]
	delete(r.byKey, key)
	r.mu.Unlock()
	if ok {
		t.Close()
	}
}

// Each calls fn for every known target (metrics scrape).
func (r *Targets) Each(fn func(*Target)) {
	r.mu.Lock()
	ts := make([]*Target, 0, len(r.byKey))
	for _, t := range r.byKey {
		ts = append(ts, t)
	}
	r.mu.Unlock()
	for _, t := range ts {
		fn(t)
	}
}
