package proxy

import (
	"net/http"
	"net/netip"
	"strings"
)

// TrustedProxies is the edge's trusted-proxy rule: the address ranges of the
// proxies in front of baton (a CDN, a load balancer) whose X-Forwarded-*
// headers it believes. Empty (the default), it believes no one: the client
// address is the peer's, and the forwarded headers a client sends are
// replaced by what baton saw.
//
// It is the rule of Caddy's trusted_proxies with trusted_proxies_strict and of
// Traefik's forwardedHeaders.trustedIPs with an ipStrategy that excludes
// those ranges: the client is the rightmost X-Forwarded-For address that is
// not a trusted proxy, since every address right of it was written by a proxy
// baton trusts, and every address left of it may be the client's own word.
// Two edge cases are stricter than Caddy's (which skips an entry that is not
// an address, and falls back to the peer when every entry is trusted): see
// walk.
type TrustedProxies []netip.Prefix

// trusts reports whether ip is inside a trusted range. An IPv4-mapped IPv6
// address counts as the IPv4 address it maps (the config's ranges are
// unmapped the same way).
func (t TrustedProxies) trusts(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range t {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ClientIP is the address of the client that sent r, per the rule: the
// peer's, unless the peer is a trusted proxy; then the X-Forwarded-For chain
// is walked from the right, skipping trusted addresses, and the first
// untrusted one is the client. This is the address the X-Real-Ip header
// carries, and the one an access rule on client addresses (an IP allow list)
// must use.
//
// It may be called before or after the handler rewrites X-Forwarded-For, with
// the same answer: the rewrite appends only a trusted peer, which the walk
// skips. It is the zero Addr when r.RemoteAddr is not an IP address and port.
func (t TrustedProxies) ClientIP(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	peer := ap.Addr().Unmap()
	if !t.trusts(peer) {
		return peer
	}
	return t.walk(r.Header["X-Forwarded-For"], peer)
}

// walk reads an X-Forwarded-For chain (perhaps in several header lines) from
// the right, starting from the trusted address that sent it, and returns the
// first address that is not trusted. An entry that is not an address (empty,
// RFC 7239's "unknown", a name) ends the walk: the proxy that wrote it did not
// say who its client was, and the entries left of it are the client's own
// word (skipping it, as Caddy does, would let the client pick its address).
// The end of the chain ends it too: every hop is trusted, and the leftmost is
// where the request began (an office network inside a trusted range, say),
// not the peer. Either way the client is the last address walked, the
// farthest one a trusted proxy vouched for.
func (t TrustedProxies) walk(chain []string, last netip.Addr) netip.Addr {
	for i := len(chain) - 1; i >= 0; i-- {
		line := chain[i]
		for more := true; more; {
			var entry string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				entry, line = line[j+1:], line[:j]
			} else {
				entry, more = line, false
			}
			ip, ok := parseChainAddr(strings.TrimSpace(entry))
			if !ok {
				return last
			}
			if !t.trusts(ip) {
				return ip
			}
			last = ip
		}
	}
	return last
}

// parseChainAddr reads one X-Forwarded-For entry: an address, or an address
// and port as some load balancers write it (Azure's, for one).
func parseChainAddr(s string) (netip.Addr, bool) {
	if ip, err := netip.ParseAddr(s); err == nil {
		return ip.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}
