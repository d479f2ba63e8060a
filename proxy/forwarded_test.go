package proxy

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// forwardedNames are the headers that say who the client is.
var forwardedNames = []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port", "X-Real-Ip", "Forwarded"}

// echoForwarded is a backend that answers with the forwarded headers it got,
// every line of each, as JSON.
func echoForwarded(t *testing.T) *Target {
	return backend(t, func(w http.ResponseWriter, r *http.Request) {
		got := map[string][]string{}
		for _, k := range forwardedNames {
			if v, ok := r.Header[k]; ok {
				got[k] = v
			}
		}
		json.NewEncoder(w).Encode(got)
	})
}

// forged is what a client that lies about itself sends.
var forged = http.Header{
	"X-Forwarded-For":   {"198.51.100.1", "203.0.113.9, 10.0.0.2"},
	"X-Real-Ip":         {"198.51.100.1"},
	"Forwarded":         {"for=198.51.100.1;proto=https"},
	"X-Forwarded-Proto": {"https"},
	"X-Forwarded-Host":  {"evil.test"},
	"X-Forwarded-Port":  {"8443"},
}

// sendForwarded sends header through baton at base as GET (baton's fast path)
// or as POST with a body (handed to net/http), and returns what the backend got.
func sendForwarded(t *testing.T, base, method string, header http.Header) map[string][]string {
	t.Helper()
	var body *strings.Reader
	if method == http.MethodPost {
		body = strings.NewReader("a body")
	} else {
		body = strings.NewReader("")
	}
	req, _ := http.NewRequest(method, base+"/", body)
	req.Host = "app.test"
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := map[string][]string{}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatalf("%s: status %d: %v", method, resp.StatusCode, err)
	}
	return got
}

func listenerPort(t *testing.T, base string) string {
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

// wantHeaders compares every forwarded header; a missing want entry means absent.
func wantHeaders(t *testing.T, label string, got map[string][]string, want map[string]string) {
	t.Helper()
	for _, k := range forwardedNames {
		w, wantSet := want[k]
		g, gotSet := got[k]
		switch {
		case !wantSet && gotSet:
			t.Errorf("%s: %s = %q reached the upstream, want it removed", label, k, g)
		case wantSet && (len(g) != 1 || g[0] != w):
			t.Errorf("%s: %s = %q, want [%q]", label, k, g, w)
		}
	}
}

func TestForwardedReplacedWithoutTrustedProxies(t *testing.T) {
	for name, trusted := range map[string][]netip.Prefix{
		"none trusted":             nil,
		"peer outside the trusted": {netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")},
	} {
		_, base := newProxy(t, HandlerOptions{TrustedProxies: trusted}, &Route{Service: "app", Host: "app.test", Targets: []*Target{echoForwarded(t)}})
		want := map[string]string{
			"X-Forwarded-For":   "127.0.0.1",
			"X-Real-Ip":         "127.0.0.1",
			"X-Forwarded-Proto": "http",
			"X-Forwarded-Host":  "app.test",
			"X-Forwarded-Port":  listenerPort(t, base),
		}
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			wantHeaders(t, name+", forged, "+method, sendForwarded(t, base, method, forged), want)
			wantHeaders(t, name+", plain, "+method, sendForwarded(t, base, method, nil), want)
		}
	}
}

func TestForwardedKeptFromTrustedProxy(t *testing.T) {
	// The test client connects from loopback: 127.0.0.1 plays the CDN, and
	// 10.0.0.0/8 a load balancer in front of it.
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	_, base := newProxy(t, HandlerOptions{TrustedProxies: trusted}, &Route{Service: "app", Host: "app.test", Targets: []*Target{echoForwarded(t)}})
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		// 10.0.0.2 is trusted and skipped; 203.0.113.9 is the client; the
		// leftmost address is the client's own claim and is not believed.
		wantHeaders(t, "forwarded by a trusted proxy, "+method, sendForwarded(t, base, method, forged), map[string]string{
			"X-Forwarded-For":   "198.51.100.1, 203.0.113.9, 10.0.0.2, 127.0.0.1",
			"X-Real-Ip":         "203.0.113.9",
			"X-Forwarded-Proto": "https",
			"X-Forwarded-Host":  "evil.test",
			"X-Forwarded-Port":  "8443",
			"Forwarded":         "for=198.51.100.1;proto=https",
		})
		// A trusted peer that sends nothing gets what baton saw.
		wantHeaders(t, "trusted peer, no headers, "+method, sendForwarded(t, base, method, nil), map[string]string{
			"X-Forwarded-For":   "127.0.0.1",
			"X-Real-Ip":         "127.0.0.1",
			"X-Forwarded-Proto": "http",
			"X-Forwarded-Host":  "app.test",
			"X-Forwarded-Port":  listenerPort(t, base),
		})
	}
}

func TestClientIPWalksTheChainFromTheRight(t *testing.T) {
	trusted := TrustedProxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("192.0.2.1/32")}
	cases := []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"untrusted peer: its chain is ignored", "198.51.100.7:1234", []string{"203.0.113.9"}, "198.51.100.7"},
		{"trusted peer, no chain", "10.1.1.1:1234", nil, "10.1.1.1"},
		{"rightmost untrusted", "10.1.1.1:1", []string{"1.1.1.1, 203.0.113.9, 10.9.9.9"}, "203.0.113.9"},
		{"chain over several lines", "10.1.1.1:1", []string{"1.1.1.1, 203.0.113.9", "10.2.2.2", "10.3.3.3"}, "203.0.113.9"},
		{"every hop trusted: the leftmost", "10.1.1.1:1", []string{"10.4.4.4, 10.5.5.5"}, "10.4.4.4"},
		{"not an address ends the walk", "10.1.1.1:1", []string{"203.0.113.9, unknown, 10.5.5.5"}, "10.5.5.5"},
		{"an empty entry ends the walk", "10.1.1.1:1", []string{"203.0.113.9,,10.5.5.5"}, "10.5.5.5"},
		{"an address with a port", "10.1.1.1:1", []string{"203.0.113.9:5555, 10.5.5.5"}, "203.0.113.9"},
		{"IPv6 peer and chain", "[2001:db8::1]:443", []string{"2001:db8:ffff::1, 2001:db8::2"}, "2001:db8:ffff::1"},
		{"IPv6 outside the range", "[2001:db8::1]:443", []string{"2001:db9::5, 2001:db8::2"}, "2001:db9::5"},
		{"IPv4-mapped counts as IPv4", "[::ffff:10.1.1.1]:1", []string{"::ffff:10.2.2.2, 203.0.113.9"}, "203.0.113.9"},
		{"single address", "192.0.2.1:1", []string{"192.0.2.2"}, "192.0.2.2"},
		{"no address at all", "@", []string{"203.0.113.9"}, "invalid IP"},
	}
	for _, c := range cases {
		r := &http.Request{RemoteAddr: c.remote, Header: http.Header{}}
		if c.xff != nil {
			r.Header["X-Forwarded-For"] = c.xff
		}
		if got := trusted.ClientIP(r).String(); got != c.want {
			t.Errorf("%s: ClientIP = %s, want %s", c.name, got, c.want)
		}
	}
	if got := (TrustedProxies(nil)).ClientIP(&http.Request{RemoteAddr: "10.1.1.1:1", Header: http.Header{"X-Forwarded-For": {"203.0.113.9"}}}); got.String() != "10.1.1.1" {
		t.Errorf("no trusted proxies: ClientIP = %s, want the peer", got)
	}
}

func TestClientIPSameBeforeAndAfterTheRewrite(t *testing.T) {
	h := NewHandler(NewRouter(nil), HandlerOptions{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	for _, remote := range []string{"10.1.1.1:1", "198.51.100.7:1", "[::ffff:10.1.1.1]:1"} {
		r := &http.Request{RemoteAddr: remote, Host: "app.test", Header: http.Header{"X-Forwarded-For": {"1.1.1.1, 203.0.113.9, 10.9.9.9"}}}
		before := h.ClientIP(r)
		h.trusted.setForwarded(r.Header, r)
		if after := h.ClientIP(r); after != before || r.Header.Get("X-Real-Ip") != before.String() {
			t.Errorf("peer %s: ClientIP %s before the rewrite, %s after; X-Real-Ip %q", remote, before, after, r.Header.Get("X-Real-Ip"))
		}
	}
}

func TestForwardedPortFallbacks(t *testing.T) {
	cases := []struct {
		name string
		r    *http.Request
		want string
	}{
		{"port in Host", &http.Request{Host: "app.test:8080"}, "8080"},
		{"plain, no port", &http.Request{Host: "app.test"}, "80"},
		{"IPv6 host, no port", &http.Request{Host: "[2001:db8::1]"}, "80"},
		{"IPv6 host and port", &http.Request{Host: "[2001:db8::1]:8443"}, "8443"},
		{"TLS, no port", &http.Request{Host: "app.test", TLS: &tls.ConnectionState{}}, "443"},
		{"net/http's LocalAddrContextKey", (&http.Request{Host: "app.test:1"}).WithContext(context.WithValue(context.Background(), http.LocalAddrContextKey, &net.TCPAddr{Port: 8081})), "8081"},
	}
	for _, c := range cases {
		if got := forwardedPort(c.r); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// Regression: a client's X-Forwarded-Prefix reached the app (and stripPrefix
// added to it), so an app building URLs from it believed the client.
func TestClientForwardedPrefixIsDropped(t *testing.T) {
	up := backend(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Join(r.Header["X-Forwarded-Prefix"], ","))
	})
	_, url := newProxy(t, HandlerOptions{}, &Route{Service: "s", Host: "s.test", Targets: []*Target{up}})
	req, _ := http.NewRequest(http.MethodGet, url+"/", nil)
	req.Host = "s.test"
	req.Header.Set("X-Forwarded-Prefix", "/evil")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != "" {
		t.Errorf("upstream saw X-Forwarded-Prefix %q from an untrusted client", b)
	}
}
