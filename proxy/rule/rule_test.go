package rule

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// req builds a request as a server would hand it over: target in origin or
// absolute form, then header lines "Key: value".
func req(method, target string, header ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for _, h := range header {
		k, v, _ := strings.Cut(h, ": ")
		r.Header.Add(k, v)
	}
	return r
}

// hostOf is the host as the edge hands it to Match: lower case, no port.
func hostOf(r *http.Request) string {
	h := r.Host
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	return strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
}

type probe struct {
	method, target string
	header         []string
	ip             string
	want           bool
}

func get(target string, want bool) probe { return probe{method: "GET", target: target, want: want} }

func (p probe) run(t *testing.T, src string, r *Rule) {
	t.Helper()
	method := p.method
	if method == "" {
		method = "GET"
	}
	hr := req(method, p.target, p.header...)
	var ip netip.Addr
	if p.ip != "" {
		ip = netip.MustParseAddr(p.ip)
	}
	if got := r.Match(hr, hostOf(hr), ip); got != p.want {
		t.Errorf("%s: %s %s %v ip %s: match = %v, want %v", src, method, p.target, p.header, p.ip, got, p.want)
	}
}

// TestMatchers follows Traefik v3's documented matchers and its own tests of
// them (pkg/muxer/http/matcher_test.go, mux_test.go), case by case.
func TestMatchers(t *testing.T) {
	cases := []struct {
		rule   string
		probes []probe
	}{
		// Host: whole host, case-insensitive, port ignored.
		{"Host(`example.com`)", []probe{
			get("https://example.com", true), get("https://example.com:8080", true), get("https://example.com/path", true),
			get("https://EXAMPLE.COM/path", true), get("https://example.org", false), get("https://www.example.com", false),
		}},
		{"Host(`EXAMPLE.COM`)", []probe{get("https://example.com/path", true), get("https://example.org", false)}},
		// A trailing dot on either side.
		{"Host(`example.com.`)", []probe{
			get("https://example.com", true), get("https://example.com.", true), get("https://example.com./path", true),
			get("https://example.org", false), get("https://example.org.", false),
		}},
		{"Host(`example.com`)", []probe{get("https://example.com.", true), get("https://example.org.", false)}},
		// Punycode only: the client must send it.
		{"Host(`xn--9t9h.com`)", []probe{get("https://xn--9t9h.com/path", true), get("https://example.com", false)}},
		// One label in place of "*"; not the apex, not two labels.
		{"Host(`*.example.com`)", []probe{
			get("https://test.example.com", true), get("https://other.example.com", true), get("https://example.com", false),
			get("https://test.otherexample.com", false), get("https://a.b.example.com", false),
		}},
		{"Host(`*`)", []probe{get("https://localhost", true), get("https://example.com/x", true)}},
		{"Host(`127.0.0.1`)", []probe{get("http://127.0.0.1/foo", true), get("http://127.0.0.2/foo", false)}},
		{"Host(`10::10`)", []probe{get("http://[10::10]/foo", true), get("http://[10::10]:8080/foo", true)}},

		// HostRegexp: Go regexp on the lower-case host, unanchored.
		{"HostRegexp(`^[a-zA-Z-]+\\.com$`)", []probe{
			get("https://example.com", true), get("https://example.com:8080", true), get("https://example.org", false),
		}},
		{"HostRegexp(`^[A-Z]+\\.com$`)", []probe{get("https://EXAMPLE.com", false), get("https://example.com", false)}},
		{"HostRegexp(`example`)", []probe{get("https://www.example.org", true), get("https://other.org", false)}},
		// A regexp matching "" matches every request: Traefik also tries it
		// on the (empty) CNAME-flattened host.
		{"HostRegexp(`^(www\\.)?$`)", []probe{get("https://anything.test", true)}},

		// Path: the routing path, whole.
		{"Path(`/css`)", []probe{
			get("https://example.com/css", true), get("https://example.org/css", true), get("https://example.com/css/", false),
			get("https://example.com/css/main.css", false), get("https://example.com/html", false), get("https://example.com", false),
		}},
		// Unreserved escapes are decoded, reserved ones kept.
		{"Path(`/foo bar`)", []probe{get("https://example.com/foo%20bar", true)}},
		{"Path(`/foo%2Fbar`)", []probe{get("https://example.com/foo%2Fbar", true)}},
		{"Path(`/foo/bar`)", []probe{get("https://example.com/foo%2Fbar", false), get("https://example.com/foo/bar", true)}},

		// PathPrefix: a plain string prefix.
		{"PathPrefix(`/css`)", []probe{
			get("https://example.com/css", true), get("https://example.com/css/", true), get("https://example.com/css/main.css", true),
			get("https://example.com/cssx", true), get("https://example.com/html", false), get("https://example.com", false),
		}},
		{`PathPrefix("/css")`, []probe{get("https://example.org/css", true), get("https://example.org/js", false)}},

		// PathRegexp: Go regexp on the routing path, case-sensitive.
		{"PathRegexp(`^/(css|js)`)", []probe{
			get("https://example.com/css", true), get("https://example.com/css/main.css", true), get("https://example.com/js/", true),
			get("https://example.com/CSS", false), get("https://example.com/html", false),
		}},

		// Method: the value upper-cased against the method as sent.
		{"Method(`GET`)", []probe{{method: "GET", target: "/", want: true}, {method: "POST", target: "/"}, {method: "get", target: "/"}}},
		{"Method(`get`)", []probe{{method: "GET", target: "/", want: true}, {method: "POST", target: "/"}}},

		// Header: canonical key; any field line equal to the value.
		{"Header(`X-Custom`, `https`)", []probe{
			{target: "/", header: []string{"X-Custom: https"}, want: true},
			{target: "/", header: []string{"X-Custom: http", "X-Custom: https"}, want: true},
			{target: "/", header: []string{"X-Custom: https, http"}},
			{target: "/", header: []string{"X-Other: https"}},
			// Named in Connection: Traefik's entry point deletes it first.
			{target: "/", header: []string{"X-Custom: https", "Connection: keep-alive, x-custom"}},
		}},
		{"Header(`x-custom`, `https`)", []probe{{target: "/", header: []string{"X-Custom: https"}, want: true}}},
		{"Header(`Upgrade`, `websocket`)", []probe{
			{target: "/", header: []string{"Connection: Upgrade", "Upgrade: websocket"}, want: true},
			// Traefik keeps only the first Upgrade value when Connection names it.
			{target: "/", header: []string{"Connection: Upgrade", "Upgrade: h2c", "Upgrade: websocket"}},
			{target: "/", header: []string{"Upgrade: h2c", "Upgrade: websocket"}, want: true},
		}},
		{"HeaderRegexp(`X-Custom`, `^https?$`)", []probe{
			{target: "/", header: []string{"X-Custom: http"}, want: true},
			{target: "/", header: []string{"X-Custom: ws", "X-Custom: https"}, want: true},
			{target: "/", header: []string{"X-Custom: HTTPS"}},
			{target: "/", header: []string{"X-Other: http"}},
		}},

		// Query: decoded parameters, any value equal.
		{"Query(`q`, `traefik`)", []probe{
			get("https://example.com?q=traefik", true), get("https://example.com?rel=ddg&q=traefik", true),
			get("https://example.com?q=traefik&q=proxy", true), get("https://example.com?q=awesome&q=traefik", true),
			get("https://example.com", false), get("https://example.com?q=nginx", false), get("https://example.com?q=TRAEFIK", false),
			get("https://example.com?Q=traefik", false), get("https://example.com?rel=traefik", false),
			get("https://example.com?%71=%74raefik", true),
			// As url.ParseQuery: a pair with ';' or a bad escape is skipped.
			get("https://example.com?q=traefik;x", false), get("https://example.com?q=%zz&q=traefik", true),
		}},
		{"Query(`q`, `a b`)", []probe{get("/?q=a+b", true), get("/?q=a%20b", true), get("/?q=a%2Bb", false)}},
		// One value: the parameter present and empty.
		{"Query(`mobile`)", []probe{
			get("https://example.com?mobile", true), get("https://example.com?mobile=", true),
			get("https://example.com?mobile=true", false), get("https://example.com", false),
		}},
		{"QueryRegexp(`q`, `^(traefik|nginx)$`)", []probe{
			get("https://example.com?q=traefik", true), get("https://example.com?rel=ddg&q=nginx", true),
			get("https://example.com?q=NGINX", false), get("https://example.com?q=haproxy", false), get("https://example.com?rel=nginx", false),
		}},
		{"QueryRegexp(`q`, `^.*$`)", []probe{get("https://example.com?q=TRAEFIK", true), get("https://example.com?Q=nginx", false)}},
		{"QueryRegexp(`q`, `^a b$`)", []probe{get("/?q=a+b", true), get("/?q=a%20b", true)}},
		{"QueryRegexp(`mobile`)", []probe{get("/?mobile", true), get("/?mobile=1", false)}},

		// ClientIP: an address or a range, on the client address given.
		{"ClientIP(`127.0.0.1`)", []probe{
			{target: "/", ip: "127.0.0.1", want: true}, {target: "/", ip: "192.168.1.1"}, {target: "/"},
			{target: "/", ip: "::ffff:127.0.0.1", want: true},
		}},
		{"ClientIP(`::ffff:127.0.0.1`)", []probe{{target: "/", ip: "127.0.0.1", want: true}}},
		{"ClientIP(`192.168.1.0/24`)", []probe{
			{target: "/", ip: "192.168.1.1", want: true}, {target: "/", ip: "192.168.1.100", want: true}, {target: "/", ip: "192.168.2.1"},
		}},
		{"ClientIP(`192.168.1.7/24`)", []probe{{target: "/", ip: "192.168.1.1", want: true}}},
		{"ClientIP(`::/0`)", []probe{{target: "/", ip: "10.0.0.1"}, {target: "/", ip: "2001:db8::1", want: true}}},

		// Operators: && binds tighter than ||; ! goes down to the matchers.
		{"Host(`localhost`) && PathPrefix(`/css`)", []probe{get("https://localhost/css", true), get("https://localhost/js", false)}},
		{"Host(`example.com`) || Host(`example.org`)", []probe{
			get("https://example.com/css", true), get("https://example.org/js", true), get("https://example.eu/html", false),
		}},
		{`Host("example.com") || (Host("example.org") && Path("/css"))`, []probe{
			get("https://example.com/js", true), get("https://example.org/css", true), get("https://example.org/js", false), get("https://example.eu/css", false),
		}},
		{`Host("example.com") || Host("example.org") && Path("/css")`, []probe{
			get("https://example.com/js", true), get("https://example.org/css", true), get("https://example.org/js", false),
		}},
		{`(Host("example.com") || Host("example.org")) && Path("/css")`, []probe{
			get("https://example.com/css", true), get("https://example.com/js", false), get("https://example.org/css", true), get("https://example.eu/css", false),
		}},
		{`(Host("example.com") && Path("/js")) || ((Host("example.org")) && Path("/css"))`, []probe{
			get("https://example.com/css", false), get("https://example.com/js", true), get("https://example.org/css", true), get("https://example.org/js", false),
		}},
		{`!Host("example.com")`, []probe{get("https://example.org", true), get("https://example.com", false)}},
		{`!(Host("example.com") || Host("example.org"))`, []probe{
			get("https://example.eu/js", true), get("https://example.com/css", false), get("https://example.org/js", false),
		}},
		{`!(Host("example.com") && Path("/css"))`, []probe{
			get("https://example.com/js", true), get("https://example.eu/css", true), get("https://example.com/css", false),
		}},
		{`!(Host("example.com") && !Path("/css"))`, []probe{
			get("https://example.com/css", true), get("https://example.org/css", true), get("https://example.com/js", false),
		}},
		{`!Host("example.com") || !Path("/css")`, []probe{
			get("https://example.com/js", true), get("https://example.org/css", true), get("https://example.com/css", false),
		}},
		{`!(!(Host("example.com") && Pathprefix("/css")))`, []probe{
			get("https://example.com/css", true), get("https://example.com/js", false), get("https://example.org/css", false),
		}},
		{`!Host("example.com") && Pathprefix("/css")`, []probe{
			get("https://example.org/css", true), get("https://example.org/js", false), get("https://example.com/css", false),
		}},
		{"!!Host(`a.test`)", []probe{get("http://a.test/", true), get("http://b.test/", false)}},
		// Matcher names as Traefik registers them: documented, lower, UPPER, Title.
		{`PATHPREFIX("/css")`, []probe{get("https://example.com/css", true), get("https://example.com/js", false)}},
		{`pathprefix("/css")`, []probe{get("https://example.com/css", true)}},
		{`Pathprefix("/css")`, []probe{get("https://example.com/css", true)}},
		{"hostregexp(`^a`) && CLIENTIP(`10.0.0.0/8`) && Clientip(`10.1.0.0/16`)", []probe{
			{target: "http://a.test/", ip: "10.1.2.3", want: true}, {target: "http://a.test/", ip: "10.2.0.1"},
		}},
		// Values: Go string literals; a double-quoted one takes Go's escapes, a raw one drops CRs.
		{`PathRegexp("^/a\\.b$")`, []probe{get("/a.b", true), get("/axb", false)}},
		{"Path(`/a\r`)", []probe{get("/a", true)}},
		// White space, line breaks after an operator.
		{"  Host(`a.test`)\t&&\n\tPath(`/x`)\n", []probe{get("http://a.test/x", true)}},
		// The v2 forms baton reads as alternatives.
		{"Host(`a.test`, `b.test`)", []probe{get("http://a.test/", true), get("http://b.test/", true), get("http://c.test/", false)}},
		{"PathPrefix(`/a`, `/b`) && Host(`a.test`)", []probe{get("http://a.test/b/c", true), get("http://a.test/c", false), get("http://b.test/a", false)}},
		// Trailing comma, as Go allows in a call.
		{"Host(`a.test`,)", []probe{get("http://a.test/", true)}},
	}
	for _, c := range cases {
		r, err := Parse(c.rule)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.rule, err)
			continue
		}
		for _, p := range c.probes {
			p.run(t, c.rule, r)
		}
	}
}

func TestRefused(t *testing.T) {
	bad := map[string]string{
		// Traefik refuses these too.
		"":                             "empty",
		"rulewithnotmatcher":           "want (",
		"Host(example.com)":            "want a value",
		"Host('example.com')":          "single quotes",
		"Host()":                       "takes 1",
		"Host(``)":                     "empty value",
		"Host(`🦭.com`)":                "non-ASCII",
		"HostRegexp()":                 "takes 1",
		"HostRegexp(``)":               "empty value",
		"HostRegexp(`🦭.com`)":          "non-ASCII",
		"HostRegexp(`(example.com`)":   "missing closing",
		"HostRegexp(`a`, `b`)":         "takes 1",
		"Path(`css`)":                  "starts with /",
		"Path(`/css`, `/js`)":          "takes 1",
		"PathPrefix(`css`)":            "starts with /",
		"PathRegexp(`/(css`)":          "missing closing",
		"Method()":                     "takes 1",
		"Method(``)":                   "empty value",
		"Method(`GET`, `POST`)":        "takes 1",
		"Header(`X-Custom`)":           "takes 2",
		"Header(`X-Custom`, ``)":       "empty value",
		"Header(``, `example.com`)":    "empty value",
		"Header(`A`, `b`, `c`)":        "takes 2",
		"HeaderRegexp(`X-A`, `(x`)":    "missing closing",
		"Query()":                      "takes 1 or 2",
		"Query(``)":                    "empty value",
		"Query(`q`, ``)":               "empty value",
		"Query(`q`, `a`, `b`)":         "takes 1 or 2",
		"QueryRegexp(`q`, `(traefik`)": "missing closing",
		"ClientIP(`1`)":                "not an address",
		"ClientIP()":                   "takes 1",
		"ClientIP(`127.0.0.1`, `::1`)": "takes 1",
		"ClientIP(`fe80::1%eth0`)":     "zone",
		"Headers(`X`, `y`)":            "v2 matcher",
		"HostSNI(`*`)":                 "TCP",
		"Nope(`x`)":                    "unknown matcher",
		"PathPREFIX(`/x`)":             "unknown matcher",
		"Host(`a`) &&":                 "found the end",
		"Host(`a`) & Path(`/`)":        "operators",
		"Host(`a`) junk":               "after a complete rule",
		"Host(`a` `b`)":                "want , or )",
		"(Host(`a`)":                   "want )",
		"Host(`a`))":                   "after a complete rule",
		"Host(`a`)\n&& Path(`/`)":      "semicolon",
		"Host(`a`\n)":                  "semicolon",
		"Host(`a`) /* x */":            "comments",
		"Host(\"a\n\")":                "line break inside",
		"Host(\"a\\q\")":               "invalid escape",
		"Host(`a":                      "no closing",
		"Host(1)":                      "unexpected character",
		"Host(`a`) == Host(`b`)":       "unexpected character",
		"Host(`a\xff`)":                "invalid UTF-8",
		// Traefik accepts these; they cannot do what they say.
		"HostRegexp(`{domain:[a-z]+}.example.com`)": "v2 template",
		"PathRegexp(`/{path:(css|js)}`)":            "v2 template",
		"HeaderRegexp(`X-A`, `http{secure:s?}`)":    "v2 template",
		"QueryRegexp(`q`, `{value:(a|b)}`)":         "v2 template",
		"PathPrefix(`/app{regex:$|/.*}`)":           "template",
		"Path(`/user/{id}`)":                        "template",
		"Query(`mobile=true`)":                      "key=value",
		"Host(`a.test:8080`)":                       "port",
		"Host(`[::1]`)":                             "port",
		"Host(`**.example.com`)":                    "wildcard",
		"Host(`a.*.test`)":                          "wildcard",
		"Host(`a..test`)":                           "empty label",
		"Host(`a b`)":                               "never appears",
		"Header(`X-Forwarded-Proto`, `https`)":      "rewrites this header",
		"HeaderRegexp(`x-real-ip`, `.`)":            "rewrites this header",
		"Header(`X_Forwarded_For`, `1.2.3.4`)":      "rewrites this header",
		"Header(`Connection`, `close`)":             "removes the Connection",
		"Header(`A B`, `c`)":                        "token",
	}
	for src, want := range bad {
		_, err := Parse(src)
		var pe *Error
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q) = %v, want an *Error", src, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, strconv.Quote(src)) || !strings.Contains(msg, "offset") || !strings.Contains(msg, want) {
			t.Errorf("Parse(%q): %q, want the rule quoted, an offset and %q", src, msg, want)
		}
	}
	if _, err := Parse(strings.Repeat("(", 100) + "Host(`a`)" + strings.Repeat(")", 100)); err == nil || !strings.Contains(err.Error(), "nested") {
		t.Errorf("deep nesting: %v", err)
	}
	if _, err := Parse(strings.Repeat("(", 60) + "Host(`a`)" + strings.Repeat(")", 60)); err != nil {
		t.Errorf("60 parentheses: %v", err)
	}
}

func TestErrorOffset(t *testing.T) {
	_, err := Parse("Host(`a`) && Nope(`x`)")
	var pe *Error
	if !errors.As(err, &pe) || pe.Offset != 13 {
		t.Fatalf("err = %#v, want offset 13", err)
	}
}

func TestPriorityIsLength(t *testing.T) {
	for src, want := range map[string]int{"Host(`example.org`)": 19, "Host(`a`) && PathPrefix(`/api`)": 31, " Host(`a`) ": 11} {
		if r, err := Parse(src); err != nil || r.Priority() != want {
			t.Errorf("Priority(%q) = %v, %v; want %d", src, r, err, want)
		}
	}
}

func TestString(t *testing.T) {
	for src, want := range map[string]string{
		`Host("A.Test")`: "Host(`a.test`)",
		"host(`a`)&&( PathPrefix(`/x`) ||Path(`/y`) )":             "Host(`a`) && (PathPrefix(`/x`) || Path(`/y`))",
		"Host(`a`) || Host(`b`) && Path(`/`)":                      "Host(`a`) || Host(`b`) && Path(`/`)",
		"!(Host(`a`) || !Method(`GET`))":                           "!Host(`a`) && Method(`GET`)",
		"Host(`a`, `b`) && Path(`/`)":                              "(Host(`a`) || Host(`b`)) && Path(`/`)",
		"Header(`X-A`, \"back`tick\")":                             "Header(`X-A`, \"back`tick\")",
		"Query(\"q\", \"\\xff\")":                                  "Query(`q`, \"\\xff\")",
		"ClientIP(`10.0.0.0/8`)":                                   "ClientIP(`10.0.0.0/8`)",
		"QueryRegexp(`q`)":                                         "QueryRegexp(`q`)",
		"((Host(`a`) && Path(`/`)) || Host(`b`)) && Method(`GET`)": "(Host(`a`) && Path(`/`) || Host(`b`)) && Method(`GET`)",
	} {
		r, err := Parse(src)
		if err != nil {
			t.Errorf("Parse(%q): %v", src, err)
			continue
		}
		if r.String() != want {
			t.Errorf("String(%q) = %q, want %q", src, r.String(), want)
		}
		again, err := Parse(r.String())
		if err != nil || again.String() != r.String() {
			t.Errorf("Parse(String(%q)) = %v, %v", src, again, err)
		}
	}
}

func TestRoutingPath(t *testing.T) {
	for target, want := range map[string]string{
		"/plain/path":            "/plain/path",
		"/foo%20bar":             "/foo bar",
		"/foo%2Fbar":             "/foo%2Fbar",
		"/foo%20bar%2Fbaz%23qux": "/foo bar%2Fbaz%23qux",
		"/foo%2fbar":             "/foo/bar", // Traefik keeps only the upper-case forms it lists
		"/a!b(c)":                "/a!b(c)",
		"/a%21b":                 "/a%21b",
		"/a%41b":                 "/aAb",
		"/caf%C3%A9":             "/café",
		"/100%25":                "/100%25",
	} {
		r := httptest.NewRequest("GET", target, nil)
		if got := RoutingPath(r.URL); got != want {
			t.Errorf("RoutingPath(%s) = %q, want %q", target, got, want)
		}
	}
	plain := httptest.NewRequest("GET", "/plain/path?x=1", nil)
	bang := httptest.NewRequest("GET", "/a!b", nil)
	if n := testing.AllocsPerRun(100, func() { RoutingPath(plain.URL); RoutingPath(bang.URL) }); n != 0 {
		t.Errorf("RoutingPath allocates %v times on a path without escapes", n)
	}
}

func TestIndex(t *testing.T) {
	cases := map[string]Index{
		"Host(`a.test`)":                               {HostPaths: []HostPath{{"a.test", ""}}},
		"Host(`A.test`) && PathPrefix(`/api`)":         {HostPaths: []HostPath{{"a.test", "/api"}}},
		"Host(`a`) && PathPrefix(`/x`) || Host(`b`)":   {HostPaths: []HostPath{{"a", "/x"}, {"b", ""}}},
		"(Host(`a`) || Host(`b`)) && PathPrefix(`/x`)": {HostPaths: []HostPath{{"a", "/x"}, {"b", "/x"}}},
		"PathPrefix(`/api`)":                           {HostPaths: []HostPath{{"*", "/api"}}},
		"Host(`*`) && PathPrefix(`/`)":                 {HostPaths: []HostPath{{"*", "/"}}},
		"Host(`a.test`) && Header(`X-A`, `1`)":         {Hosts: []string{"a.test", "a.test."}},
		"Host(`a.test.`) && Method(`GET`)":             {Hosts: []string{"a.test", "a.test.", "a.test.."}},
		"(Host(`a`) || Host(`b`)) && Method(`GET`)":    {Hosts: []string{"a", "a.", "b", "b."}},
		"Host(`a`) && Host(`a.`) && Method(`GET`)":     {Hosts: []string{"a", "a."}},
		"Host(`a`) && Host(`b`)":                       {Hosts: []string{}},
		"Host(`a`) && !Host(`b`)":                      {Hosts: []string{"a", "a."}},
		"Host(`a`) || Method(`GET`)":                   {AnyHost: true},
		"!Host(`a`)":                                   {AnyHost: true},
		"Host(`*.example.com`)":                        {AnyHost: true},
		"Host(`*`) && Method(`GET`)":                   {AnyHost: true},
		"HostRegexp(`^a\\.test$`)":                     {AnyHost: true},
		"PathPrefix(`/a`) && PathPrefix(`/a/b`)":       {AnyHost: true},
	}
	for src, want := range cases {
		r, err := Parse(src)
		if err != nil {
			t.Errorf("Parse(%q): %v", src, err)
			continue
		}
		if got := r.Index(); !reflect.DeepEqual(got, want) {
			t.Errorf("Index(%q) = %+v, want %+v", src, got, want)
		}
	}
}

// TestHostPaths is upstream.ParseRule's expansion, as it has always been.
func TestHostPaths(t *testing.T) {
	good := map[string]string{
		"Host(`a.test`)":                                           "a.test/",
		"Host(`a.test`, `b.test`)":                                 "a.test/ b.test/",
		"Host(`a.test`) || Host(`b.test`)":                         "a.test/ b.test/",
		"(Host(`a.test`) || Host(`b.test`)) && PathPrefix(`/api`)": "a.test/api b.test/api",
		"PathPrefix(`/api`)":                                       "*/api",
		`Host("A.Test")`:                                           "a.test/",
		"Host(`*.example.com`)":                                    "*.example.com/",
		"Host(`a`) && Host(`A`)":                                   "a/",
	}
	for src, want := range good {
		r, err := Parse(src)
		if err != nil {
			t.Errorf("Parse(%q): %v", src, err)
			continue
		}
		hps, err := r.HostPaths()
		var got []string
		for _, hp := range hps {
			got = append(got, hp.Host+hp.PathPrefix)
		}
		if err != nil || strings.Join(got, " ") != want {
			t.Errorf("HostPaths(%q) = %v, %v; want %s", src, got, err, want)
		}
	}
	for src, want := range map[string]string{
		"!Host(`a.test`)":                                 "negation",
		"Host(`a`) && Method(`GET`)":                      "neither Host nor PathPrefix",
		"Host(`a`) && Host(`b`)":                          "can never match",
		"PathPrefix(`/a`) && PathPrefix(`/b`)":            "not one path prefix",
		strings.Repeat("Host(`a`) || ", 64) + "Host(`b`)": "more than 64",
	} {
		r, err := Parse(src)
		if err != nil {
			t.Errorf("Parse(%q): %v", src, err)
			continue
		}
		if _, err := r.HostPaths(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("HostPaths(%q) = %v, want %q", src, err, want)
		}
	}
}

func TestV2FormsAndNeedsClientIP(t *testing.T) {
	for src, want := range map[string][2]bool{
		"Host(`a`)":                         {false, false},
		"Host(`a`, `b`)":                    {true, false},
		"PathPrefix(`/a`, `/b`)":            {true, false},
		"Host(`a`) && ClientIP(`10.0.0.1`)": {false, true},
	} {
		r, err := Parse(src)
		if err != nil || r.V2Forms() != want[0] || r.NeedsClientIP() != want[1] {
			t.Errorf("%s: V2Forms, NeedsClientIP = %v, %v (%v); want %v", src, r.V2Forms(), r.NeedsClientIP(), err, want)
		}
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	r, err := Parse("Host(`a.test`) && PathRegexp(`^/api/v[0-9]+/`) && HeaderRegexp(`Accept`, `json`) && Query(`page`, `2`) && Method(`GET`) || HostRegexp(`^(www\\.)?b\\.test$`) && Header(`X-A`, `1`) && !ClientIP(`10.0.0.0/8`)")
	if err != nil {
		t.Fatal(err)
	}
	hr := req("GET", "http://a.test/api/v2/items?page=2&q=x+y", "Accept: application/json")
	ip := netip.MustParseAddr("192.0.2.1")
	if !r.Match(hr, "a.test", ip) {
		t.Fatal("no match")
	}
	hr2 := req("GET", "http://www.b.test/", "X-A: 1")
	if !r.Match(hr2, "www.b.test", ip) {
		t.Fatal("no match 2")
	}
	if n := testing.AllocsPerRun(200, func() { r.Match(hr, "a.test", ip); r.Match(hr2, "www.b.test", ip) }); n != 0 && !raceEnabled {
		t.Errorf("Match allocates %v times", n)
	}
}
