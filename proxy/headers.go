package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// hopHeaders belong to one connection and are never forwarded (RFC 9110 §7.6.1).
var hopHeaders = [...]string{
	"Connection",
	"Proxy-Connection",
	"Keep-Alive",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"Te",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
}

// removeHopHeaders deletes hop-by-hop headers in place, including any named by
// Connection. It returns the Upgrade protocol when the message asks to switch.
func removeHopHeaders(h http.Header) (upgrade string) {
	if c := h["Connection"]; len(c) > 0 {
		for _, v := range c {
			for _, name := range strings.Split(v, ",") {
				name = strings.TrimSpace(name)
				if strings.EqualFold(name, "upgrade") {
					upgrade = h.Get("Upgrade")
				}
				if name != "" {
					h.Del(name)
				}
			}
		}
	}
	if len(h) < len(hopHeaders) {
		// Fewer fields than hop-by-hop names (the common case): test each
		// field instead of looking every name up.
		for k := range h {
			if isHopHeader(k) {
				delete(h, k)
			}
		}
		return upgrade
	}
	for _, name := range hopHeaders {
		if _, ok := h[name]; ok {
			delete(h, name)
		}
	}
	return upgrade
}

func isHopHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

var (
	protoHTTP  = []string{"http"}
	protoHTTPS = []string{"https"}
)

// setForwarded adds X-Forwarded-For/Proto/Host. The client address is appended to
// any chain the request brought, as every proxy in a chain does. The values
// set share one backing array, with room for the request id (see ensure).
func setForwarded(h http.Header, r *http.Request) (spare []string) {
	vals := make([]string, 3)
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior, ok := h["X-Forwarded-For"]; ok && len(prior) > 0 {
			vals[0] = strings.Join(prior, ", ") + ", " + ip
		} else {
			vals[0] = ip
		}
		h["X-Forwarded-For"] = vals[0:1:1]
	}
	if r.TLS != nil {
		h["X-Forwarded-Proto"] = protoHTTPS
	} else {
		h["X-Forwarded-Proto"] = protoHTTP
	}
	vals[1] = r.Host
	h["X-Forwarded-Host"] = vals[1:2:2]
	return vals[2:3:3]
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
