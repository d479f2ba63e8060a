package middleware

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestIPAllowListOptions(t *testing.T) {
	next := &recorder{}
	for _, c := range []struct {
		kind   string
		kv     []string
		option string
	}{
		{"ipallowlist", nil, "sourcerange"},
		{"ipallowlist", []string{"sourcerange", " , "}, "sourcerange"},
		{"ipallowlist", []string{"sourcerange", "10.0.0.0/8,not-an-ip"}, "sourcerange"},
		{"ipallowlist", []string{"sourcerange", "10.0.0.0/33"}, "sourcerange"},
		{"ipallowlist", []string{"sourcerange", "10.0.0.1", "ipstrategy.depth", "-1"}, "ipstrategy.depth"},
		{"ipallowlist", []string{"sourcerange", "10.0.0.1", "ipstrategy.depth", "two"}, "ipstrategy.depth"},
		{"ipallowlist", []string{"sourcerange", "10.0.0.1", "ipstrategy.excludedips", "10.0.0.0/8,x"}, "ipstrategy.excludedips"},
		{"ipallowlist", []string{"sourcerange", "10.0.0.1", "ipstrategy.ipv6subnet", "0"}, "ipstrategy.ipv6subnet"},
		{"ipallowlist", []string{"sourcerange", "10.0.0.1", "ipstrategy.ipv6subnet", "129"}, "ipstrategy.ipv6subnet"},
		{"ipallowlist", []string{"sourcerange", "10.0.0.1", "ipstrategy", "maybe"}, "ipstrategy"},
		{"ipallowlist", []string{"sourcerange", "10.0.0.1", "rejectstatuscode", "99"}, "rejectstatuscode"},
		{"ipallowlist", []string{"sourcerange", "10.0.0.1", "rejectstatuscode", "100"}, "rejectstatuscode"},
		{"ipallowlist", []string{"sourcerange", "10.0.0.1", "rejectstatuscode", "599"}, "rejectstatuscode"},
		{"ipallowlist", []string{"sourcerange", "10.0.0.1", "ipstrategy.deepth", "1"}, "ipstrategy.deepth"},
		// ipWhiteList has no rejectStatusCode in Traefik.
		{"ipwhitelist", []string{"sourcerange", "10.0.0.1", "rejectstatuscode", "404"}, "rejectstatuscode"},
	} {
		_, err := buildErr(c.kind, Env{}, next, c.kv...)
		wantOptionError(t, err, c.option)
		if !strings.Contains(err.Error(), c.option) {
			t.Errorf("%v: the error does not name %s: %v", c.kv, c.option, err)
		}
	}
	for _, kv := range [][]string{
		{"sourcerange", "10.0.0.1, 192.168.0.0/16 ,::1, 2001:db8::/32"},
		{"sourcerange", "10.0.0.1", "ipstrategy", ""},
		{"sourcerange", "10.0.0.1", "ipstrategy", "true"},
		{"sourcerange", "10.0.0.1", "rejectstatuscode", "0"},
		{"sourcerange", "10.0.0.1", "ipstrategy.depth", "0", "ipstrategy.excludedips", "10.0.0.2"},
	} {
		if _, err := buildErr("ipallowlist", Env{}, next, kv...); err != nil {
			t.Errorf("%v: %v", kv, err)
		}
	}
}

func TestIPAllowListClientAddress(t *testing.T) {
	next := &recorder{}
	h := build(t, "ipallowlist", trustedEnv("192.0.2.0/24"), next, "sourcerange", "10.0.0.0/8, 2001:db8::1")
	for _, c := range []struct {
		remote string
		hdr    []string
		want   int
	}{
		{"10.1.2.3:5000", nil, 200},
		{"[::ffff:10.1.2.3]:5000", nil, 200}, // IPv4-mapped peer: the IPv4 address
		{"[2001:db8::1]:5000", nil, 200},
		{"[2001:db8::2]:5000", nil, 403},
		{"203.0.113.9:5000", nil, 403},
		// A client that is not behind a trusted proxy cannot pick its address.
		{"203.0.113.9:5000", []string{"X-Forwarded-For", "10.0.0.1"}, 403},
		{"203.0.113.9:5000", []string{"X-Real-Ip", "10.0.0.1"}, 403},
		// Behind a trusted proxy, the client is the chain's rightmost untrusted address.
		{"192.0.2.10:5000", []string{"X-Forwarded-For", "10.9.9.9"}, 200},
		{"192.0.2.10:5000", []string{"X-Forwarded-For", "10.9.9.9, 203.0.113.9"}, 403},
		{"192.0.2.10:5000", []string{"X-Forwarded-For", "203.0.113.9, 10.9.9.9, 192.0.2.11"}, 200},
		// The trusted proxy itself is not in sourceRange.
		{"192.0.2.10:5000", nil, 403},
		{"not-an-address", nil, 403},
	} {
		before := next.count()
		w := do(h, "GET", "http://app.example/", c.remote, c.hdr...)
		if w.Code != c.want {
			t.Errorf("%s %v: status %d, want %d", c.remote, c.hdr, w.Code, c.want)
		}
		got := next.count() - before
		switch {
		case c.want == 200 && got != 1:
			t.Errorf("%s %v: allowed but the upstream got %d requests", c.remote, c.hdr, got)
		case c.want != 200 && got != 0:
			t.Errorf("%s %v: refused but the upstream got the request", c.remote, c.hdr)
		case c.want == 403 && w.Body.String() != "Forbidden":
			t.Errorf("%s %v: body %q, want Forbidden", c.remote, c.hdr, w.Body.String())
		}
	}
}

func TestIPAllowListDepth(t *testing.T) {
	const chain = "10.0.0.1,11.0.0.1,12.0.0.1,13.0.0.1"
	env := trustedEnv("192.0.2.0/24")
	for _, c := range []struct {
		depth, allowed string
		remote         string
		want           int
	}{
		// Traefik's documented examples: depth 1 is 13.0.0.1, 3 is 11.0.0.1, 5 is none.
		{"1", "13.0.0.1", "192.0.2.1:1", 200},
		{"2", "12.0.0.1", "192.0.2.1:1", 200},
		{"2", "13.0.0.1", "192.0.2.1:1", 403},
		{"3", "11.0.0.1", "192.0.2.1:1", 200},
		{"4", "10.0.0.1", "192.0.2.1:1", 200},
		{"5", "0.0.0.0/0", "192.0.2.1:1", 403},
		// From a peer the edge does not trust, the chain is the client's
		// word: Traefik's entry point would have deleted it.
		{"1", "13.0.0.1", "203.0.113.1:1", 403},
		{"4", "10.0.0.1", "203.0.113.1:1", 403},
	} {
		next := &recorder{}
		h := build(t, "ipallowlist", env, next, "sourcerange", c.allowed, "ipstrategy.depth", c.depth)
		w := do(h, "GET", "http://app.example/", c.remote, "X-Forwarded-For", chain)
		if w.Code != c.want {
			t.Errorf("depth %s, allowed %s, from %s: status %d, want %d", c.depth, c.allowed, c.remote, w.Code, c.want)
		}
	}
	// The chain in several header lines is one chain.
	next := &recorder{}
	h := build(t, "ipallowlist", env, next, "sourcerange", "11.0.0.1", "ipstrategy.depth", "3")
	if w := do(h, "GET", "http://app.example/", "192.0.2.1:1", "X-Forwarded-For", "10.0.0.1, 11.0.0.1", "X-Forwarded-For", "12.0.0.1,13.0.0.1"); w.Code != 200 {
		t.Errorf("chain in two lines: status %d", w.Code)
	}
	// An entry that is not an address is refused.
	h = build(t, "ipallowlist", env, next, "sourcerange", "0.0.0.0/0", "ipstrategy.depth", "1")
	if w := do(h, "GET", "http://app.example/", "192.0.2.1:1", "X-Forwarded-For", "10.0.0.1, unknown"); w.Code != 403 {
		t.Errorf("entry not an address: status %d", w.Code)
	}
}

func TestIPAllowListExcludedIPs(t *testing.T) {
	env := trustedEnv("192.0.2.0/24")
	for _, c := range []struct {
		chain, excluded, allowed string
		want                     int
	}{
		// Traefik's documented examples.
		{"10.0.0.1,11.0.0.1,12.0.0.1,13.0.0.1", "12.0.0.1,13.0.0.1", "11.0.0.1", 200},
		{"10.0.0.1,11.0.0.1,12.0.0.1,13.0.0.1", "15.0.0.1,13.0.0.1", "12.0.0.1", 200},
		{"10.0.0.1,11.0.0.1,12.0.0.1,13.0.0.1", "10.0.0.1,13.0.0.1", "12.0.0.1", 200},
		{"10.0.0.1,11.0.0.1,12.0.0.1,13.0.0.1", "15.0.0.1,16.0.0.1", "13.0.0.1", 200},
		{"10.0.0.1,11.0.0.1", "10.0.0.1,11.0.0.1", "0.0.0.0/0", 403},
		// Ranges, and empty entries skipped.
		{"10.0.0.1, ,11.0.0.1, ,12.0.0.1", "12.0.0.0/8", "11.0.0.1", 200},
		// A trusted proxy whose last entry is not an address vouched for
		// no one (the edge's rule stops there): the chain is not read.
		{"10.0.0.1,11.0.0.1, ", "12.0.0.0/8", "11.0.0.1", 403},
		{"10.0.0.1,garbage,12.0.0.1", "12.0.0.0/8", "0.0.0.0/0", 403},
	} {
		next := &recorder{}
		h := build(t, "ipallowlist", env, next, "sourcerange", c.allowed, "ipstrategy.excludedips", c.excluded)
		w := do(h, "GET", "http://app.example/", "192.0.2.1:1", "X-Forwarded-For", c.chain)
		if w.Code != c.want {
			t.Errorf("%s excluding %s, allowed %s: status %d, want %d", c.chain, c.excluded, c.allowed, w.Code, c.want)
		}
	}
	// depth wins over excludedIPs, as Traefik documents.
	next := &recorder{}
	h := build(t, "ipallowlist", env, next, "sourcerange", "13.0.0.1", "ipstrategy.depth", "1", "ipstrategy.excludedips", "13.0.0.1")
	if w := do(h, "GET", "http://app.example/", "192.0.2.1:1", "X-Forwarded-For", "12.0.0.1,13.0.0.1"); w.Code != 200 {
		t.Errorf("depth with excludedIPs: status %d, want 200 (depth wins)", w.Code)
	}
}

func TestIPAllowListIPv6Subnet(t *testing.T) {
	next := &recorder{}
	h := build(t, "ipallowlist", Env{}, next, "sourcerange", "2001:db8:1:2::", "ipstrategy.ipv6subnet", "64")
	if w := do(h, "GET", "http://app.example/", "[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:1"); w.Code != 200 {
		t.Errorf("address in the /64: status %d, want 200", w.Code)
	}
	if w := do(h, "GET", "http://app.example/", "[2001:db8:1:3::1]:1"); w.Code != 403 {
		t.Errorf("address outside the /64: status %d, want 403", w.Code)
	}
	if w := do(h, "GET", "http://app.example/", "10.0.0.1:1"); w.Code != 403 {
		t.Errorf("IPv4 address: status %d, want 403", w.Code)
	}
}

func TestIPAllowListRejectStatus(t *testing.T) {
	next := &recorder{}
	h := build(t, "ipallowlist", Env{}, next, "sourcerange", "10.0.0.1", "rejectstatuscode", "404")
	w := do(h, "GET", "http://app.example/", "10.0.0.2:1")
	if w.Code != http.StatusNotFound || w.Body.String() != "Not Found" {
		t.Errorf("status %d body %q, want 404 Not Found", w.Code, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if next.count() != 0 {
		t.Error("the upstream got a refused request")
	}
	// ipWhiteList, the old name, is the same middleware (403).
	h = build(t, "ipwhitelist", Env{}, next, "sourcerange", "10.0.0.1")
	if w := do(h, "GET", "http://app.example/", "10.0.0.2:1"); w.Code != http.StatusForbidden {
		t.Errorf("ipwhitelist: status %d, want 403", w.Code)
	}
	if w := do(h, "GET", "http://app.example/", "10.0.0.1:1"); w.Code != http.StatusOK {
		t.Errorf("ipwhitelist: status %d, want 200", w.Code)
	}
}

func BenchmarkIPAllowList(b *testing.B) {
	// The edge's rule for a trusted peer: an address of the chain.
	client := netip.MustParseAddr("203.0.113.1")
	env := Env{ClientIP: func(*http.Request) netip.Addr { return client }}
	h, err := buildErr("ipallowlist", env, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), "sourcerange", "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16", "ipstrategy.depth", "1")
	if err != nil {
		b.Fatal(err)
	}
	r, _ := http.NewRequest("GET", "http://app.example/", nil)
	r.RemoteAddr = "192.0.2.1:4000"
	r.Header.Set("X-Forwarded-For", "203.0.113.1, 192.168.1.1")
	w := sinkWriter{}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

type sinkWriter struct{}

func (sinkWriter) Header() http.Header         { return http.Header{} }
func (sinkWriter) Write(p []byte) (int, error) { return len(p), nil }
func (sinkWriter) WriteHeader(int)             {}
