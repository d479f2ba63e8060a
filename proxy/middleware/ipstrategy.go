package middleware

import (
	"hash/maphash"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// Traefik's ipStrategy (ipAllowList, and the sourceCriterion of rateLimit and
// inFlightReq) picks the address a rule is about:
//
//   - none (or depth 0 and no excludedIPs): the client address. In Traefik
//     that is the peer's; in baton it is Env.ClientIP, the edge's
//     trusted-proxy rule (proxy.trusted_proxies), which is the peer unless
//     the peer is a trusted proxy.
//   - depth N > 0: the Nth X-Forwarded-For entry from the right; none when
//     the chain is shorter (the request is then refused by an allow list).
//     excludedIPs is not read (Traefik documents that depth wins).
//   - excludedIPs: the first X-Forwarded-For entry from the right that is
//     not in the list (empty entries skipped); none when all are.
//   - ipv6Subnet: the picked IPv6 address becomes the first address of its
//     /ipv6Subnet (depth and client address only, as in Traefik).
//
// The X-Forwarded-For a strategy reads is the one Traefik's middlewares see:
// Traefik's entry point deletes a client's X-Forwarded-For unless the peer is
// one of forwardedHeaders.trustedIPs, and appends the peer only when it
// proxies, after the middlewares. So the middlewares here read the chain only
// when the edge trusts the peer (Env.ClientIP tells: for a trusted peer it
// walks the chain, see trustedPeer), and expect to run before baton's edge
// appends the peer to X-Forwarded-For for the upstream (the handler does
// that as it forwards). A client that is not behind a trusted proxy cannot
// pick the address a rule sees by writing X-Forwarded-For.

// ipSet is a list of addresses and ranges (Traefik's ip.Checker): an entry is
// an address ("10.0.0.1", "::1") or a CIDR range ("10.0.0.0/8"; host bits
// are dropped, as net.ParseCIDR does).
type ipSet []netip.Prefix

func parseIPSet(option, value string, entries []string) (ipSet, error) {
	set := make(ipSet, 0, len(entries))
	for _, e := range entries {
		if a, err := netip.ParseAddr(e); err == nil {
			if a.Zone() != "" {
				return nil, &OptionError{Option: option, Value: value, Reason: e + " has a zone, which an address in a rule cannot have"}
			}
			a = a.Unmap()
			set = append(set, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(e)
		if err != nil {
			return nil, &OptionError{Option: option, Value: value, Reason: e + " is not an IP address or a CIDR range"}
		}
		p = p.Masked()
		// An IPv4-mapped range (::ffff:10.0.0.0/104) is the IPv4 range it
		// maps: addresses are compared unmapped, as net.IPNet compares them.
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		set = append(set, p)
	}
	return set, nil
}

// contains reports whether a (unmapped) is in the set.
func (s ipSet) contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ipStrategy is one ipStrategy option group.
type ipStrategy struct {
	depth      int
	excluded   ipSet
	ipv6Subnet int // 0: none
	// envClientIP is Env.ClientIP (nil: no trusted proxies, the peer).
	envClientIP func(*http.Request) netip.Addr
}

// parseIPStrategy reads the options below prefix ("ipstrategy." or
// "sourcecriterion.ipstrategy."); set reports whether any was given.
func parseIPStrategy(o *options, prefix string, env Env, log *zap.Logger) (s ipStrategy, set bool, err error) {
	s.envClientIP = env.ClientIP
	depth, dset, err := accessInt(o, prefix+"depth", 0)
	if err != nil {
		return s, true, err
	}
	s.depth = int(depth)
	excluded, eset := o.get(prefix + "excludedips")
	if eset {
		entries := list(excluded)
		if len(entries) == 0 {
			return s, true, &OptionError{Option: prefix + "excludedips", Value: excluded, Reason: "no address or range in the list"}
		}
		if s.excluded, err = parseIPSet(prefix+"excludedips", excluded, entries); err != nil {
			return s, true, err
		}
	}
	subnet, sset, err := accessInt(o, prefix+"ipv6subnet", 1)
	if err != nil {
		return s, true, err
	}
	if sset && subnet > 128 {
		return s, true, &OptionError{Option: prefix + "ipv6subnet", Value: strconv.FormatInt(subnet, 10), Reason: "must be between 1 and 128"}
	}
	s.ipv6Subnet = int(subnet)
	if s.depth > 0 && s.excluded != nil {
		log.Warn("ipStrategy: depth is set, so excludedIPs is not used (as in Traefik)", zap.String("option", prefix+"excludedips"))
		s.excluded = nil
	}
	if s.depth == 0 && s.excluded != nil && s.ipv6Subnet != 0 {
		log.Warn("ipStrategy: ipv6Subnet applies to depth and the client address only, not to excludedIPs (as in Traefik)", zap.String("option", prefix+"ipv6subnet"))
		s.ipv6Subnet = 0
	}
	return s, dset || eset || sset, nil
}

// pick returns the address the strategy picks for r, and the X-Forwarded-For
// entry it came from (raw, for an entry that is not an address). Neither is
// set when the strategy picks nothing.
func (s *ipStrategy) pick(r *http.Request) (netip.Addr, string) {
	switch {
	case s.depth > 0:
		entry, ok := xffFromRight(s.forwardedFor(r), s.depth)
		if !ok {
			return netip.Addr{}, ""
		}
		a, err := netip.ParseAddr(entry)
		if err != nil {
			return netip.Addr{}, entry
		}
		return s.subnet(a.Unmap()), entry
	case s.excluded != nil:
		chain := s.forwardedFor(r)
		for chain != "" {
			var entry string
			if i := strings.LastIndexByte(chain, ','); i >= 0 {
				entry, chain = chain[i+1:], chain[:i]
			} else {
				entry, chain = chain, ""
			}
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			a, err := netip.ParseAddr(entry)
			if err != nil {
				return netip.Addr{}, entry
			}
			if a = a.Unmap(); !s.excluded.contains(a) {
				return a, entry
			}
		}
		return netip.Addr{}, ""
	default:
		a := clientAddr(s.envClientIP, r)
		if !a.IsValid() {
			return a, ""
		}
		return s.subnet(a), ""
	}
}

func (s *ipStrategy) subnet(a netip.Addr) netip.Addr {
	if s.ipv6Subnet == 0 || !a.Is6() {
		return a
	}
	p, err := a.Prefix(s.ipv6Subnet)
	if err != nil {
		return a
	}
	return p.Addr()
}

// forwardedFor is the X-Forwarded-For chain as Traefik's middlewares see it:
// the header's lines joined, when the peer is a trusted proxy; "" otherwise.
func (s *ipStrategy) forwardedFor(r *http.Request) string {
	if !trustedPeer(s.envClientIP, r) {
		return ""
	}
	switch v := r.Header["X-Forwarded-For"]; len(v) {
	case 0:
		return ""
	case 1:
		return v[0]
	default:
		return strings.Join(v, ",")
	}
}

// xffFromRight returns the depth-th comma-separated entry from the right of
// chain, trimmed, as Traefik's depth strategy does (strings.Split: an empty
// chain is one empty entry); ok is false when the chain is shorter.
func xffFromRight(chain string, depth int) (string, bool) {
	for n := 1; ; n++ {
		i := strings.LastIndexByte(chain, ',')
		if n == depth {
			return strings.TrimSpace(chain[i+1:]), true
		}
		if i < 0 {
			return "", false
		}
		chain = chain[:i]
	}
}

// peerAddr is the address of the connection's peer, unmapped.
func peerAddr(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		host, _, serr := net.SplitHostPort(r.RemoteAddr)
		if serr != nil {
			return netip.Addr{}, false
		}
		a, perr := netip.ParseAddr(host)
		if perr != nil {
			return netip.Addr{}, false
		}
		return a.Unmap(), true
	}
	return ap.Addr().Unmap(), true
}

// clientAddr is Env.ClientIP's answer, or the peer's address without one.
func clientAddr(envClientIP func(*http.Request) netip.Addr, r *http.Request) netip.Addr {
	if envClientIP != nil {
		return envClientIP(r).Unmap()
	}
	a, _ := peerAddr(r)
	return a
}

// trustedPeer reports whether the edge trusts r's peer with its
// X-Forwarded-* headers (it is one of proxy.trusted_proxies). Env.ClientIP
// is the peer for a peer it does not trust; for a trusted one it is an
// address of the peer's X-Forwarded-For chain. A trusted peer that sent no
// usable chain is taken for an untrusted one: its chain is then not read,
// which is what an untrusted peer gets too (no address to pick).
func trustedPeer(envClientIP func(*http.Request) netip.Addr, r *http.Request) bool {
	if envClientIP == nil {
		return false
	}
	peer, ok := peerAddr(r)
	if !ok {
		return false
	}
	c := envClientIP(r)
	return c.IsValid() && c.Unmap() != peer
}

// sourceKey is what rateLimit and inFlightReq count by: an address, or a
// string (a header's value, the Host, an X-Forwarded-For entry that is not
// an address). The zero key is the empty source, which Traefik counts as one
// source too.
type sourceKey struct {
	addr netip.Addr
	s    string
}

func (k sourceKey) hash(seed maphash.Seed) uint64 {
	if k.addr.IsValid() {
		b := k.addr.As16()
		return maphash.Bytes(seed, b[:])
	}
	return maphash.String(seed, k.s)
}

func (k sourceKey) String() string {
	if k.addr.IsValid() {
		return k.addr.String()
	}
	return k.s
}

// sourceCriterion is Traefik's sourceCriterion: requests are grouped by an
// ipStrategy's address, a request header's value (requestHeaderName), or the
// Host (requestHost); at most one may be set.
type sourceCriterion struct {
	ip     *ipStrategy
	header string // canonical
	host   bool
}

// parseSourceCriterion reads sourcecriterion.*; with none set, the criterion
// is the client address (rateLimit) or the Host (inFlightReq: byHost).
func parseSourceCriterion(o *options, env Env, log *zap.Logger, byHost bool) (sourceCriterion, error) {
	var c sourceCriterion
	ip, ipSet, err := parseIPStrategy(o, "sourcecriterion.ipstrategy.", env, log)
	if err != nil {
		return c, err
	}
	header, _ := o.get("sourcecriterion.requestheadername")
	header = strings.TrimSpace(header)
	if header != "" && !isHeaderToken(header) {
		return c, &OptionError{Option: "sourcecriterion.requestheadername", Value: header, Reason: "not an HTTP header name"}
	}
	host, _, err := accessBool(o, "sourcecriterion.requesthost")
	if err != nil {
		return c, err
	}
	switch {
	case ipSet && header != "":
		return c, &OptionError{Option: "sourcecriterion", Value: "ipstrategy, requestheadername", Reason: "ipStrategy and requestHeaderName are mutually exclusive"}
	case ipSet && host:
		return c, &OptionError{Option: "sourcecriterion", Value: "ipstrategy, requesthost", Reason: "ipStrategy and requestHost are mutually exclusive"}
	case header != "" && host:
		return c, &OptionError{Option: "sourcecriterion", Value: "requestheadername, requesthost", Reason: "requestHost and requestHeaderName are mutually exclusive"}
	}
	switch {
	case ipSet:
		c.ip = &ip
	case header != "":
		c.header = http.CanonicalHeaderKey(header)
	case host:
		c.host = true
	case byHost:
		c.host = true
	default:
		c.ip = &ip
	}
	return c, nil
}

// key is r's source.
func (c *sourceCriterion) key(r *http.Request) sourceKey {
	switch {
	case c.ip != nil:
		a, raw := c.ip.pick(r)
		if a.IsValid() {
			return sourceKey{addr: a}
		}
		return sourceKey{s: raw}
	case c.host:
		return sourceKey{s: r.Host}
	default:
		if v := r.Header[c.header]; len(v) > 0 {
			return sourceKey{s: v[0]}
		}
		return sourceKey{}
	}
}
