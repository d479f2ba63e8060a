package rule

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseRule: Parse never panics; it refuses with an *Error quoting the
// rule, or accepts a rule whose String parses back to itself, whose Index
// agrees with Match, and whose Match never panics.
func FuzzParseRule(f *testing.F) {
	for _, s := range []string{
		"Host(`a.test`)", "(Host(`a`) || Host(`b`)) && PathPrefix(`/x`)", "Headers(`a`,`b`)", "((((", "Host(\"x\")",
		"Host(`a.test`) && !PathRegexp(`^/(css|js)`) || HostRegexp(`^b\\.`) && Query(`q`, `1`)",
		"Header(`X-A`, `1`) && ClientIP(`10.0.0.0/8`) || Method(`get`)", "Host(`*.example.com`) && Path(`/a%20b`)",
		"Host(`a.`, `b`) && PathPrefix(`/a`, `/b`)", "QueryRegexp(`q`) && HeaderRegexp(`Accept`, `json`)",
		"!(!Host(`a`) && Host(`b`))", "Host(`a`)\n&& Path(`/`)", "Host(`*`)",
	} {
		f.Add(s)
	}
	probes := []probe{
		{target: "http://a.test/a/b?q=1", ip: "10.1.2.3", header: []string{"X-A: 1", "Accept: json"}},
		{target: "http://b.test/x", ip: "192.0.2.1"},
		{target: "http://a./a%20b?q", method: "POST"},
		{target: "http://x.example.com/css/y"},
		{target: "/"},
	}
	f.Fuzz(func(t *testing.T, src string) {
		r, err := Parse(src)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), strconv.Quote(src)) {
				t.Fatalf("error %q is not an *Error quoting the rule", err)
			}
			return
		}
		again, err := Parse(r.String())
		if err != nil || again.String() != r.String() {
			t.Fatalf("Parse(String()) of %q: %q, %v", src, r.String(), err)
		}
		ix := r.Index()
		r.HostPaths()
		hosts := []string{"", "a.test", "b.test", "a.", "x.example.com"}
		for _, hp := range ix.HostPaths {
			hosts = append(hosts, HostVariants(hp.Host)...)
		}
		hosts = append(hosts, ix.Hosts...)
		for _, p := range probes {
			hr := req(p.method, p.target, p.header...)
			if p.method == "" {
				hr.Method = "GET"
			}
			var ip netip.Addr
			if p.ip != "" {
				ip = netip.MustParseAddr(p.ip)
			}
			rp := RoutingPath(hr.URL)
			for _, h := range hosts {
				got := r.Match(hr, h, ip)
				if got != r.MatchRouted(hr, h, rp, ip) {
					t.Fatalf("%q: Match and MatchRouted disagree", src)
				}
				if ix.HostPaths != nil && got != indexMatches(ix, h, rp) {
					t.Fatalf("%q: host %q path %q: Match %v, Index %+v says otherwise", src, h, rp, got, ix)
				}
				if got && !ix.AnyHost && ix.HostPaths == nil && !contains(ix.Hosts, h) {
					t.Fatalf("%q: matches host %q, not in Index.Hosts %v", src, h, ix.Hosts)
				}
			}
		}
	})
}

// indexMatches is how a table serves Index.HostPaths.
func indexMatches(ix Index, host, rp string) bool {
	for _, hp := range ix.HostPaths {
		if (hp.Host == "*" || contains(HostVariants(hp.Host), host)) && strings.HasPrefix(rp, hp.PathPrefix) {
			return true
		}
	}
	return false
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
