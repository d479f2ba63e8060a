package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
)

var (
	protoHTTP  = []string{"http"}
	protoHTTPS = []string{"https"}
)

// setForwarded sets the headers that tell the upstream who the client is:
// X-Forwarded-For, -Proto, -Host, -Port and X-Real-Ip. A peer that is not a
// trusted proxy gets what baton saw, whatever it wrote itself (an app reading
// the first X-Forwarded-For address must not believe the client); its
// Forwarded header goes too, since baton does not vouch for it. A trusted
// peer's chain is kept and extended (see keepForwarded).
//
// The values set share one backing array, with room for the request id (see
// ensure): the common request costs one allocation, as it did when baton only
// appended to X-Forwarded-For.
func (t TrustedProxies) setForwarded(h http.Header, r *http.Request) (spare []string) {
	vals := make([]string, 5)
	// A substring of RemoteAddr: no allocation.
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		peer = ""
	}
	if len(t) > 0 && peer != "" {
		if ip, err := netip.ParseAddr(peer); err == nil && t.trusts(ip) {
			t.keepForwarded(h, r, peer, ip, vals[:4])
			return vals[4:5:5]
		}
	}
	replaceForwarded(h, r, peer, vals[:4])
	return vals[4:5:5]
}

// peerTrusted reports whether r comes from a trusted proxy.
func (t TrustedProxies) peerTrusted(r *http.Request) bool {
	if len(t) == 0 {
		return false
	}
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(peer)
	return err == nil && t.trusts(ip)
}

// dropClientPrefix removes an X-Forwarded-Prefix a client that is not a
// trusted proxy wrote, before any middleware runs: stripPrefix adds to it,
// and an app builds its URLs from it (Traefik's entry point drops it too).
func (t TrustedProxies) dropClientPrefix(r *http.Request) {
	if _, ok := r.Header["X-Forwarded-Prefix"]; ok && !t.peerTrusted(r) {
		delete(r.Header, "X-Forwarded-Prefix")
	}
}

// replaceForwarded drops whatever the client wrote and sets what baton saw.
// vals has room for four values.
func replaceForwarded(h http.Header, r *http.Request, peer string, vals []string) {
	delete(h, "Forwarded")
	if peer != "" {
		vals[0], vals[1] = peer, peer
		h["X-Forwarded-For"] = vals[0:1:1]
		h["X-Real-Ip"] = vals[1:2:2]
	} else {
		delete(h, "X-Forwarded-For")
		delete(h, "X-Real-Ip")
	}
	h["X-Forwarded-Proto"] = scheme(r)
	vals[2] = r.Host
	h["X-Forwarded-Host"] = vals[2:3:3]
	vals[3] = forwardedPort(r)
	h["X-Forwarded-Port"] = vals[3:4:4]
}

// keepForwarded is for a trusted peer (a CDN, a load balancer): as every proxy
// in a chain does, baton appends the peer to its X-Forwarded-For, keeps the
// X-Forwarded-Proto, -Host and -Port it sent (they describe the client's
// request, which only the peer saw), and its Forwarded header. X-Real-Ip is
// the client the chain names (see TrustedProxies.ClientIP), never the peer's
// own X-Real-Ip.
func (t TrustedProxies) keepForwarded(h http.Header, r *http.Request, peer string, ip netip.Addr, vals []string) {
	chain := h["X-Forwarded-For"]
	vals[0] = appendChain(chain, peer)
	h["X-Forwarded-For"] = vals[0:1:1]
	if client := t.walk(chain, ip); client == ip {
		vals[1] = peer
	} else {
		vals[1] = client.String()
	}
	h["X-Real-Ip"] = vals[1:2:2]
	if !present(h, "X-Forwarded-Proto") {
		h["X-Forwarded-Proto"] = scheme(r)
	}
	if !present(h, "X-Forwarded-Host") {
		vals[2] = r.Host
		h["X-Forwarded-Host"] = vals[2:3:3]
	}
	if !present(h, "X-Forwarded-Port") {
		vals[3] = forwardedPort(r)
		h["X-Forwarded-Port"] = vals[3:4:4]
	}
}

// appendChain is "<chain>, <peer>" in one allocation; the chain may come in
// several header lines.
func appendChain(chain []string, peer string) string {
	if len(chain) == 0 {
		return peer
	}
	n := len(peer)
	for _, v := range chain {
		n += len(v) + 2
	}
	var b strings.Builder
	b.Grow(n)
	for _, v := range chain {
		b.WriteString(v)
		b.WriteString(", ")
	}
	b.WriteString(peer)
	return b.String()
}

func present(h http.Header, key string) bool {
	v := h[key]
	return len(v) > 0 && v[0] != ""
}

func scheme(r *http.Request) []string {
	if r.TLS != nil {
		return protoHTTPS
	}
	return protoHTTP
}

type listenerPortKey struct{}

// withListenerPort gives the connections of a listener bound to addr a
// context that carries its port, formatted once per listener. Every
// connection a listener accepts has that port as its local port, so this is
// X-Forwarded-Port (nginx's $server_port) without a lookup of the
// connection's address or a strconv per request. (Traefik takes Host's port
// instead; behind a port mapping such as Docker's -p 8080:80 the two differ,
// and this one is the port baton listens on, not the one the client's Host names.)
func withListenerPort(ctx context.Context, addr net.Addr) context.Context {
	if ta, ok := addr.(*net.TCPAddr); ok {
		return context.WithValue(ctx, listenerPortKey{}, strconv.Itoa(ta.Port))
	}
	return ctx
}

// forwardedPort is the port of the listener r arrived on: from baton's own
// listeners (withListenerPort), else from net/http's LocalAddrContextKey (the
// Handler served by another http.Server), else the port in Host, else the
// scheme's.
func forwardedPort(r *http.Request) string {
	ctx := r.Context()
	if p, ok := ctx.Value(listenerPortKey{}).(string); ok {
		return p
	}
	if a, ok := ctx.Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
		return strconv.Itoa(a.Port)
	}
	if p := hostPort(r.Host); p != "" {
		return p
	}
	if r.TLS != nil {
		return "443"
	}
	return "80"
}

// requestIDs generates X-Request-Id values: a random per-process prefix and a
// counter. Unique across restarts, cheap, and sortable within a process.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &requestIDs{prefix: hex.EncodeToString(b[:]) + "-"}
}

func (g *requestIDs) next() string {
	var buf [32]byte
	out := append(buf[:0], g.prefix...)
	out = strconv.AppendUint(out, g.n.Add(1), 16)
	return string(out)
}

// ensure keeps the client's X-Request-Id or sets a new one, in room (a slice
// of length 1) when given.
func (g *requestIDs) ensure(h http.Header, room []string) string {
	if v := h["X-Request-Id"]; len(v) > 0 && v[0] != "" {
		return v[0]
	}
	id := g.next()
	if len(room) != 1 {
		room = make([]string, 1)
	}
	room[0] = id
	h["X-Request-Id"] = room
	return id
}

// hostPort is the port of a Host value, "" if it has none. (net.SplitHostPort
// would allocate its error for the common Host without a port.)
func hostPort(host string) string {
	i := strings.LastIndexByte(host, ':')
	if i < 0 || strings.LastIndexByte(host, ']') > i {
		return ""
	}
	return host[i+1:]
}

// hostOnly lowercases host and strips a port, without allocating when the host is
// already lower case and has no port (the common case).
func hostOnly(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	for i := 0; i < len(host); i++ {
		if c := host[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(host)
		}
	}
	return host
}
