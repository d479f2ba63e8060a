package proxy

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/batonproxy/baton/proxy/internal/h1"
)

// Route sends requests for one host and path prefix to the targets of a service.
// Routes are immutable once a Table holds them, except for their round-robin
// cursor; a change of targets builds a new Route and a new Table.
type Route struct {
	Service string
	Host    string // "app.example.com", "*.example.com" or "*"
	Path    string // prefix; "/" matches everything

	// Targets receive new requests, round-robin.
	Targets []*Target
	// Draining targets receive only requests whose sticky cookie pins them there,
	// until the drain bound; then a new table drops them.
	Draining []*Target

	StickyCookie string        // "" = no session affinity
	Hold         time.Duration // how long a request waits for a ready target when there is none
	Cache        bool          // responses may be cached (RFC 9111 shared-cache rules)
	PlainHTTP    bool          // with TLS on, the host stays on HTTP (no certificate, no redirect)
	HSTS         time.Duration // Strict-Transport-Security max-age on HTTPS answers; 0 = none
	// Upgrades are the protocols besides WebSocket a client may switch to
	// through this route (h2c); an Upgrade to any other is ignored.
	Upgrades []string
	// Chain is the route's middlewares, built around Upstream; nil = none.
	Chain http.Handler

	next     atomic.Uint32
	observer RouteObserver
}

// Table maps host and path to a route. It is built once and never mutated, so the
// request path reads it without locks; see Router for how it is replaced.
type Table struct {
	exact    map[string][]*Route // host -> routes, longest path first
	wildcard []wildcardRoutes    // "*.example.com", longest suffix first
	any      []*Route            // host "*", longest path first
	routes   []*Route
}

type wildcardRoutes struct {
	suffix string // ".example.com"
	routes []*Route
}

// ConflictError reports two routes claiming the same host and path. The later
// one is refused; the earlier keeps serving, so no service hijacks another's host.
type ConflictError struct {
	Host, Path    string
	Kept, Refused string // service names
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("host %q path %q is already routed to service %q; refused for service %q", e.Host, e.Path, e.Kept, e.Refused)
}

// NewTable builds a table from routes. Routes that conflict with an earlier one
// are left out and reported; the table is still valid and holds the rest.
func NewTable(routes []*Route) (*Table, []error) {
	t := &Table{exact: make(map[string][]*Route)}
	var errs []error
	seen := make(map[[2]string]string, len(routes))
	wild := make(map[string][]*Route)
	for _, r := range routes {
		r.Host = strings.ToLower(r.Host)
		if r.Path == "" {
			r.Path = "/"
		}
		key := [2]string{r.Host, r.Path}
		if kept, dup := seen[key]; dup {
			errs = append(errs, &ConflictError{Host: r.Host, Path: r.Path, Kept: kept, Refused: r.Service})
			continue
		}
		seen[key] = r.Service
		if r.observer == nil {
			r.observer = nopObserver{}
		}
		t.routes = append(t.routes, r)
		switch {
		case r.Host == "*":
			t.any = append(t.any, r)
		case strings.HasPrefix(r.Host, "*."):
			wild[r.Host[1:]] = append(wild[r.Host[1:]], r)
		default:
			t.exact[r.Host] = append(t.exact[r.Host], r)
		}
	}
	for h, rs := range t.exact {
		t.exact[h] = byLongestPath(rs)
	}
	for suffix, rs := range wild {
		t.wildcard = append(t.wildcard, wildcardRoutes{suffix: suffix, routes: byLongestPath(rs)})
	}
	sort.Slice(t.wildcard, func(i, j int) bool { return len(t.wildcard[i].suffix) > len(t.wildcard[j].suffix) })
	t.any = byLongestPath(t.any)
	return t, errs
}

func byLongestPath(rs []*Route) []*Route {
	sort.SliceStable(rs, func(i, j int) bool { return len(rs[i].Path) > len(rs[j].Path) })
	return rs
}

// Routes lists every route of the table, in the order given to NewTable.
func (t *Table) Routes() []*Route { return t.routes }

// Lookup finds the route for a request: the exact host before a wildcard host
// before "*", and within a host the longest matching path prefix. host must be
// lower case and without port.
func (t *Table) Lookup(host, path string) *Route {
	if rs, ok := t.exact[host]; ok {
		if r := matchPath(rs, path); r != nil {
			return r
		}
	}
	for i := range t.wildcard {
		w := &t.wildcard[i]
		if len(host) > len(w.suffix) && strings.HasSuffix(host, w.suffix) {
			if r := matchPath(w.routes, path); r != nil {
				return r
			}
		}
	}
	return matchPath(t.any, path)
}

// KnowsHost reports whether any route names host (exactly or by wildcard).
func (t *Table) KnowsHost(host string) bool {
	if _, ok := t.exact[host]; ok {
		return true
	}
	for _, w := range t.wildcard {
		if len(host) > len(w.suffix) && strings.HasSuffix(host, w.suffix) {
			return true
		}
	}
	return len(t.any) > 0
}

func matchPath(rs []*Route, path string) *Route {
	for _, r := range rs {
		if pathHasPrefix(path, r.Path) {
			return r
		}
	}
	return nil
}

// pathHasPrefix matches whole segments: "/api" matches "/api" and "/api/x" but
// not "/apix", so one service cannot catch another's paths by accident.
func pathHasPrefix(path, prefix string) bool {
	if prefix == "/" {
		return true
	}
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || prefix[len(prefix)-1] == '/' || path[len(prefix)] == '/'
}

// allowsUpgrade reports whether the route relays a switch to protocol:
// WebSocket always; any other (h2c) only when the route lists it.
func (r *Route) allowsUpgrade(protocol string) bool {
	if h1.ASCIIEqualFold(protocol, "websocket") {
		return true
	}
	for _, p := range r.Upgrades {
		if h1.ASCIIEqualFold(p, protocol) {
			return true
		}
	}
	return false
}
