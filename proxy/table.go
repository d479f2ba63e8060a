package proxy

import (
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/batonproxy/baton/proxy/internal/h1"
	"github.com/batonproxy/baton/proxy/rule"
)

// Route sends requests for one host and path prefix, or those a Traefik rule
// matches, to the targets of a service.
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
	// Listener limits the route to requests over plain HTTP ("http",
	// Traefik's web entrypoint) or TLS ("https", websecure); "" = both.
	Listener string

	// Rule, when set, is a Traefik v3 rule the request must match instead
	// of Host and Path (which then only label the route: metrics, the host
	// the certificate manager sees; NewTable sets Host when it is empty).
	Rule *rule.Rule
	// Priority orders the route against others that can match the same
	// request, higher first; 0 = the default: the rule's length, as
	// Traefik's, or PlainPriority for a route without a Rule.
	Priority int
	// Router is the Traefik router the route comes from ("" for baton.host
	// routing), so a refusal can name it.
	Router string
	// MaxInflight bounds the requests in flight on the route's service
	// (baton.max_inflight), across its routes and tables: beyond it, 503 and
	// Retry-After. 0 = no bound. Router.Store binds the shared count.
	MaxInflight int64

	next     atomic.Uint32
	observer RouteObserver
	inflight inflightLimit // MaxInflight and its service's count, bound by Router.Store
}

// Table maps a request to a route. It is built once and never mutated, so the
// request path reads it without locks; see Router for how it is replaced.
//
// Each host the table names has one chain: the entries a request for that
// host tries, in order, the first match winning. Hosts it does not name use
// the chain of the longest wildcard suffix they match, or the "any host"
// chain. A chain is today's order of the plain routes (the host's own by
// longest path, then its wildcards' longest suffix first, then "*"'s) with
// the rule routes that can match the host merged in by priority (see
// NewTable).
type Table struct {
	exact    map[string][]entry // host -> its whole chain
	wildcard []wildcardChain    // "*.example.com", longest suffix first
	any      []entry            // hosts nothing else names
	routes   []*Route
}

type wildcardChain struct {
	suffix string // ".example.com"
	chain  []entry
}

type entryKind uint8

const (
	// plainEntry: a Route without a Rule: prefix is its Path, matched by
	// whole segments on the decoded path (pathHasPrefix).
	plainEntry entryKind = iota
	// prefixEntry: one Host/PathPrefix alternative of a rule (rule.Index):
	// the chain stands for the host; prefix is a plain string prefix of
	// Traefik's routing path ("" = any path).
	prefixEntry
	// ruleEntry: a rule tried on the request.
	ruleEntry
)

type entry struct {
	kind   entryKind
	prefix string
	route  *Route
	rule   *rule.Rule
	prio   int
	seq    int // the route's place in NewTable's input: the tie-break
}

// ConflictError reports two routes claiming the same host and path, or
// routes with the same rule. The later one is refused; the earlier keeps
// serving, so no service hijacks another's host.
type ConflictError struct {
	Host, Path    string
	Rule          string // canonical rule, when the conflict is two identical rules
	Kept, Refused string // service names
	RefusedRouter string // the refused route's router ("" for baton.host routing)
}

func (e *ConflictError) Error() string {
	if e.Rule != "" {
		return fmt.Sprintf("rule %q is already routed to service %q; refused for service %q", e.Rule, e.Kept, e.Refused)
	}
	return fmt.Sprintf("host %q path %q is already routed to service %q; refused for service %q", e.Host, e.Path, e.Kept, e.Refused)
}

// PlainPriority is the priority of a route without a Rule, for ordering it
// against rule routes: the length of the Traefik rule that says the same,
// Host(`h`) && PathPrefix(`p`), without the Host for "*" and without the
// PathPrefix for "/" (Host(`h`), PathPrefix(`p`), PathPrefix(`/`)). Among
// themselves plain routes keep their own order (exact host, wildcard,
// "*"; longest path first), whatever their priorities.
func PlainPriority(host, path string) int {
	const hostLen, prefixLen, and = len("Host(``)"), len("PathPrefix(``)"), len(" && ")
	switch {
	case host == "*":
		return prefixLen + len(path)
	case path == "/":
		return hostLen + len(host)
	}
	return hostLen + len(host) + and + prefixLen + len(path)
}

// NewTable builds a table from routes. Routes that conflict with an earlier one
// are left out and reported; the table is still valid and holds the rest.
//
// A route without a Rule routes by Host and Path as it always has. A route
// with one is indexed by rule.Index: a rule made of Host and PathPrefix
// alternatives becomes prefix entries in the chains of its hosts (or of
// every host), as cheap as plain routes; any other rule is tried in the
// chains of the literal hosts it requires, or in every chain. Rule routes
// are ordered as Traefik orders routers: higher priority first (Priority,
// or the rule's length), ties to the route given first (Traefik leaves
// them to its unstable sort). They go before the first plain route of the
// chain that has a lower priority (PlainPriority), or an equal one and
// comes later in routes.
//
// Conflicts: two plain routes with one host and path; two rule routes with
// the same canonical rule (rule.String); a rule's Host/PathPrefix
// alternative that names the host and prefix of an earlier plain route or
// alternative (a rule without PathPrefix claims "/").
func NewTable(routes []*Route) (*Table, []error) {
	t := &Table{exact: make(map[string][]entry)}
	var errs []error
	seen := make(map[[2]string]string, len(routes))
	seenRule := make(map[string]string)
	plainExact := make(map[string][]entry)
	plainWild := make(map[string][]entry)
	var plainAny, ruleAny []entry
	ruleHosts := make(map[string][]entry)
	for seq, r := range routes {
		r.Host = strings.ToLower(r.Host)
		if r.Path == "" {
			r.Path = "/"
		}
		if r.observer == nil {
			r.observer = nopObserver{}
		}
		if r.Rule != nil {
			if err := t.addRule(r, seq, seen, seenRule, ruleHosts, &ruleAny); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		key := placeKey(r.Host, r.Path, r.Listener)
		if kept, dup := seen[key]; dup {
			errs = append(errs, &ConflictError{Host: r.Host, Path: r.Path, Kept: kept, Refused: r.Service, RefusedRouter: r.Router})
			continue
		}
		seen[key] = r.Service
		t.routes = append(t.routes, r)
		prio := r.Priority
		if prio == 0 {
			prio = PlainPriority(r.Host, r.Path)
		}
		e := entry{kind: plainEntry, prefix: r.Path, route: r, prio: prio, seq: seq}
		switch {
		case r.Host == "*":
			plainAny = append(plainAny, e)
		case strings.HasPrefix(r.Host, "*."):
			plainWild[r.Host[1:]] = append(plainWild[r.Host[1:]], e)
		default:
			plainExact[r.Host] = append(plainExact[r.Host], e)
		}
	}
	byLongestPath(plainAny)
	sortRules(ruleAny)

	// Wildcards: a host matching several suffixes matches them in order of
	// length, each the suffix of the longer ones, so a suffix's plain
	// sequence is its routes, then the next shorter suffix's sequence.
	for suffix, es := range plainWild {
		t.wildcard = append(t.wildcard, wildcardChain{suffix: suffix, chain: byLongestPath(es)})
	}
	sort.Slice(t.wildcard, func(i, j int) bool { return len(t.wildcard[i].suffix) > len(t.wildcard[j].suffix) })
	wildSeq := make([][]entry, len(t.wildcard)) // without "*"'s
	for i := len(t.wildcard) - 1; i >= 0; i-- {
		seq := t.wildcard[i].chain
		if j := t.wildcardFor(t.wildcard[i].suffix, i+1); j >= 0 {
			seq = concat(seq, wildSeq[j])
		}
		wildSeq[i] = seq
	}
	for i := range t.wildcard {
		t.wildcard[i].chain = mergeByPriority(concat(wildSeq[i], plainAny), ruleAny)
	}
	t.any = mergeByPriority(plainAny, ruleAny)

	for h := range ruleHosts {
		if _, ok := plainExact[h]; !ok {
			plainExact[h] = nil
		}
	}
	for h, es := range plainExact {
		seq := byLongestPath(es)
		if j := t.wildcardFor(h, 0); j >= 0 {
			seq = concat(seq, wildSeq[j])
		}
		rules := ruleAny
		if rs := ruleHosts[h]; len(rs) > 0 {
			rules = sortRules(concat(rs, ruleAny))
		}
		t.exact[h] = mergeByPriority(concat(seq, plainAny), rules)
	}
	return t, errs
}

// addRule indexes a rule route, or reports its conflict.
func (t *Table) addRule(r *Route, seq int, seen map[[2]string]string, seenRule map[string]string, ruleHosts map[string][]entry, ruleAny *[]entry) error {
	canon := r.Rule.String()
	if r.Listener != "" {
		canon += " on " + r.Listener
	}
	if kept, dup := seenRule[canon]; dup {
		return &ConflictError{Rule: canon, Kept: kept, Refused: r.Service, RefusedRouter: r.Router}
	}
	ix := r.Rule.Index()
	var claims [][2]string
	for _, hp := range ix.HostPaths {
		p := hp.PathPrefix
		if p == "" {
			p = "/"
		}
		key := placeKey(hp.Host, p, r.Listener)
		if kept, dup := seen[key]; dup {
			return &ConflictError{Host: hp.Host, Path: p, Kept: kept, Refused: r.Service, RefusedRouter: r.Router}
		}
		claims = append(claims, key)
	}
	seenRule[canon] = r.Service
	for _, key := range claims {
		seen[key] = r.Service
	}
	if r.Host == "" {
		// Host does not route a rule route; it labels its metrics and tells
		// the certificate manager its host: the one host the rule names,
		// or "*".
		r.Host = ruleHost(ix)
	}
	t.routes = append(t.routes, r)
	prio := r.Priority
	if prio == 0 {
		prio = r.Rule.Priority()
	}
	add := func(host string, e entry) {
		if host == "*" {
			*ruleAny = append(*ruleAny, e)
			return
		}
		ruleHosts[host] = append(ruleHosts[host], e)
	}
	switch {
	case ix.HostPaths != nil:
		for _, hp := range ix.HostPaths {
			e := entry{kind: prefixEntry, prefix: hp.PathPrefix, route: r, prio: prio, seq: seq}
			if hp.Host == "*" {
				add("*", e)
				continue
			}
			for _, v := range rule.HostVariants(hp.Host) {
				add(v, e)
			}
		}
	case ix.AnyHost:
		add("*", entry{kind: ruleEntry, route: r, rule: r.Rule, prio: prio, seq: seq})
	default:
		for _, h := range ix.Hosts {
			add(h, entry{kind: ruleEntry, route: r, rule: r.Rule, prio: prio, seq: seq})
		}
	}
	return nil
}

// ruleHost is the one host a rule's index names (trailing dots aside), or "*".
func ruleHost(ix rule.Index) string {
	one := ""
	note := func(h string) bool {
		h = strings.TrimRight(h, ".")
		if one != "" && one != h {
			return false
		}
		one = h
		return true
	}
	for _, hp := range ix.HostPaths {
		if hp.Host == "*" || !note(hp.Host) {
			return "*"
		}
	}
	for _, h := range ix.Hosts {
		if !note(h) {
			return "*"
		}
	}
	if one == "" {
		return "*"
	}
	return one
}

// wildcardFor is the index of the longest wildcard, from index from on, that
// host matches, or -1.
func (t *Table) wildcardFor(host string, from int) int {
	for i := from; i < len(t.wildcard); i++ {
		if s := t.wildcard[i].suffix; len(host) > len(s) && strings.HasSuffix(host, s) {
			return i
		}
	}
	return -1
}

func concat(a, b []entry) []entry {
	if len(b) == 0 {
		return a
	}
	return append(append(make([]entry, 0, len(a)+len(b)), a...), b...)
}

func byLongestPath(es []entry) []entry {
	sort.SliceStable(es, func(i, j int) bool { return len(es[i].prefix) > len(es[j].prefix) })
	return es
}

// sortRules orders rule entries as Traefik orders routers.
func sortRules(es []entry) []entry {
	sort.SliceStable(es, func(i, j int) bool { return before(es[i], es[j]) })
	return es
}

func before(a, b entry) bool {
	return a.prio > b.prio || a.prio == b.prio && a.seq < b.seq
}

// mergeByPriority puts the rule entries into the plain sequence: each goes
// before the first plain entry it outranks, neither sequence reordered.
func mergeByPriority(plain, rules []entry) []entry {
	if len(rules) == 0 {
		return plain
	}
	out := make([]entry, 0, len(plain)+len(rules))
	i, j := 0, 0
	for i < len(plain) && j < len(rules) {
		if before(rules[j], plain[i]) {
			out = append(out, rules[j])
			j++
		} else {
			out = append(out, plain[i])
			i++
		}
	}
	out = append(out, plain[i:]...)
	return append(out, rules[j:]...)
}

// Routes lists every route of the table, in the order given to NewTable.
func (t *Table) Routes() []*Route { return t.routes }

// chain is the chain a request for host tries.
func (t *Table) chain(host string) []entry {
	if c, ok := t.exact[host]; ok {
		return c
	}
	for i := range t.wildcard {
		w := &t.wildcard[i]
		if len(host) > len(w.suffix) && strings.HasSuffix(host, w.suffix) {
			return w.chain
		}
	}
	return t.any
}

// Lookup finds the route for a host and path alone: the exact host before a
// wildcard host before "*", and within a host the longest matching path
// prefix, with the Host/PathPrefix rule routes in their place by priority
// (path standing for the routing path). Routes whose rule needs more of the
// request are skipped: the request path uses Match. host must be lower case
// and without port.
func (t *Table) Lookup(host, path string) *Route {
	c := t.chain(host)
	for i := range c {
		e := &c[i]
		switch e.kind {
		case plainEntry:
			if pathHasPrefix(path, e.prefix) {
				return e.route
			}
		case prefixEntry:
			if strings.HasPrefix(path, e.prefix) {
				return e.route
			}
		}
	}
	return nil
}

// Match finds the route for a request: Lookup's order, with every rule route
// tried in its place. host is the request's host, lower case and without
// port; path its decoded path (r.URL.Path), which plain routes match.
// clientIP resolves the client address for ClientIP matchers; it is called
// at most once, and only when a route tried has one (nil: no address, no
// ClientIP matches).
func (t *Table) Match(r *http.Request, host, path string, clientIP func(*http.Request) netip.Addr) *Route {
	// Plain entries first, in a loop as tight as Lookup's: a table without
	// rule routes never leaves it.
	c := t.chain(host)
	secure := r.TLS != nil
	for i := range c {
		e := &c[i]
		if e.kind != plainEntry {
			return matchRules(c[i:], r, host, path, clientIP)
		}
		if pathHasPrefix(path, e.prefix) && e.route.answersOn(secure) {
			return e.route
		}
	}
	return nil
}

// answersOn reports whether the route serves a request that came over TLS
// (secure) or plain HTTP: Traefik's entrypoints, web or websecure.
func (r *Route) answersOn(secure bool) bool {
	switch r.Listener {
	case "http":
		return !secure
	case "https":
		return secure
	}
	return true
}

// Place is one thing a route claims in a table: a host and path prefix on a
// listener, or (Rule set) a canonical rule on a listener. Two routes of
// different services claiming one place conflict: NewTable keeps the one
// given first.
type Place struct {
	Host, Path, Listener string
	Rule                 string // canonical rule (rule.String); Host and Path empty
}

// Places lists the places r claims, the ones NewTable finds conflicts on:
// its host and path (lower-cased host, "" path = "/"), or its canonical rule
// and each Host/PathPrefix alternative of it (no PathPrefix claims "/").
func Places(r *Route) []Place {
	if r.Rule == nil {
		path := r.Path
		if path == "" {
			path = "/"
		}
		return []Place{{Host: strings.ToLower(r.Host), Path: path, Listener: r.Listener}}
	}
	ix := r.Rule.Index()
	out := make([]Place, 0, 1+len(ix.HostPaths))
	out = append(out, Place{Rule: r.Rule.String(), Listener: r.Listener})
	for _, hp := range ix.HostPaths {
		p := hp.PathPrefix
		if p == "" {
			p = "/"
		}
		out = append(out, Place{Host: hp.Host, Path: p, Listener: r.Listener})
	}
	return out
}

// placeKey is what two routes may not both claim: a host and path, on a
// listener ("" = both).
func placeKey(host, path, listener string) [2]string {
	if listener != "" {
		path += " on " + listener
	}
	return [2]string{host, path}
}

// matchRules tries a chain from its first rule entry on.
func matchRules(c []entry, r *http.Request, host, path string, clientIP func(*http.Request) netip.Addr) *Route {
	secure := r.TLS != nil
	var rp string
	var ip netip.Addr
	rpSet, ipSet := false, false
	for i := range c {
		e := &c[i]
		if !e.route.answersOn(secure) {
			continue
		}
		if e.kind == plainEntry {
			if pathHasPrefix(path, e.prefix) {
				return e.route
			}
			continue
		}
		if !rpSet {
			rp, rpSet = rule.RoutingPath(r.URL), true
		}
		if e.kind == prefixEntry {
			if strings.HasPrefix(rp, e.prefix) {
				return e.route
			}
			continue
		}
		if !ipSet && e.rule.NeedsClientIP() {
			if clientIP != nil {
				ip = clientIP(r)
			}
			ipSet = true
		}
		if e.rule.MatchRouted(r, host, rp, ip) {
			return e.route
		}
	}
	return nil
}

// sameRoute finds in t the route standing for rt (from an older table): the
// route of the same service with the same rule.
func (t *Table) sameRoute(rt *Route) *Route {
	for _, r := range t.routes {
		if r.Service == rt.Service && r.Rule != nil && rt.Rule != nil && r.Rule.String() == rt.Rule.String() {
			return r
		}
	}
	return nil
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
