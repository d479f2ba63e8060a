package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestComposeExampleConfigLoads(t *testing.T) {
	cfg, err := Load("../configs/compose-baton.yaml")
	if err != nil {
		t.Fatalf("configs/compose-baton.yaml: %v", err)
	}
	if cfg.Listen.HTTPS != ":443" || cfg.TLS.CA != "internal" || !cfg.TLS.On() {
		t.Fatalf("compose example decoded wrong: %+v", cfg)
	}
}

func TestExampleAndDefaultsLoad(t *testing.T) {
	cfg, err := Load("../configs/baton.yaml")
	if err != nil {
		t.Fatalf("configs/baton.yaml: %v", err)
	}
	if cfg.Listen.HTTP != "127.0.0.1:8080" || cfg.Cache.MaxSize != 64<<20 || cfg.Proxy.IdleTimeout != 2*time.Minute {
		t.Fatalf("example decoded wrong: %+v", cfg)
	}
	if cfg.Defaults["health.min_healthy"] != "10s" || cfg.DefaultsLine["health.min_healthy"] == 0 {
		t.Fatalf("defaults = %v lines %v", cfg.Defaults, cfg.DefaultsLine)
	}
	if len(cfg.Routes) != 1 || cfg.Routes[0].Upstreams[0] != "127.0.0.1:9001" || cfg.Routes[0].Line == 0 {
		t.Fatalf("routes = %+v", cfg.Routes)
	}
	d := Default()
	if d.Listen.HTTP != ":80" || d.Admin.Socket != "/run/baton/baton.sock" || !d.Docker.On() || !d.Docker.Traefik() {
		t.Fatalf("embedded defaults = %+v", d)
	}
}

func TestMinimalDesignFileLoads(t *testing.T) {
	// The minimal file of the design, which every version of baton accepts.
	src := `listen:
  http: "127.0.0.1:8080"
admin:
  socket: /run/baton/baton.sock
  metrics: "127.0.0.1:9180"
state:
  dir: /var/lib/baton
routes:
  - host: "*"
    path: /
    upstreams: ["127.0.0.1:9001"]
`
	if _, err := Parse("baton.yaml", []byte(src)); err != nil {
		t.Fatal(err)
	}
}

func TestErrorsNameFileLineAndKey(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string
	}{
		{"unknown key", "listen:\n  http: \":80\"\ndocker:\n  exposed_by_defualt: true\n",
			[]string{"baton.yaml:4:", "docker.exposed_by_defualt", "unknown key"}},
		{"unknown top-level key", "listne:\n  http: \":80\"\n",
			[]string{"baton.yaml:1:", "listne", "unknown key"}},
		{"bad duration", "proxy:\n  idle_timeout: 5x\n",
			[]string{"baton.yaml:2:", "proxy.idle_timeout", "5x"}},
		{"bad address", "listen:\n  http: \"127.0.0.1:80x\"\n",
			[]string{"baton.yaml:2:", "listen.http", "invalid port"}},
		{"bad size", "cache:\n  max_size: lots\n",
			[]string{"baton.yaml:2:", "cache.max_size", "invalid size"}},
		{"bad route host", "routes:\n  - host: \"a.*.com\"\n    upstreams: [\"127.0.0.1:1\"]\n",
			[]string{"baton.yaml:2:", "routes[0].host", "wildcard"}},
		{"bad upstream", "routes:\n  - host: a.test\n    upstreams: [\"nohost\"]\n",
			[]string{"baton.yaml:3:", "routes[0].upstreams[0]", "host:port"}},
		{"duplicate route", "routes:\n  - host: a.test\n    upstreams: [\"127.0.0.1:1\"]\n  - host: A.test\n    upstreams: [\"127.0.0.1:2\"]\n",
			[]string{"baton.yaml:4:", "routes[1]", "already routed at line 2"}},
		{"tcp admin without token", "admin:\n  socket: \"127.0.0.1:9999\"\n",
			[]string{"baton.yaml:2:", "admin.socket", "token"}},
		{"metrics beyond loopback without token", "admin:\n  metrics: \":9180\"\n",
			[]string{"baton.yaml:2:", "admin.metrics", "token"}},
		{"dashboard beyond loopback without token", "admin:\n  ui: \"192.0.2.10:9181\"\n",
			[]string{"baton.yaml:2:", "admin.ui", "admin.token"}},
		{"dashboard on every address without token", "admin:\n  ui: \":9181\"\n",
			[]string{"baton.yaml:2:", "admin.ui", "admin.token"}},
		{"bad dashboard address", "admin:\n  ui: \"localhost\"\n",
			[]string{"baton.yaml:2:", "admin.ui"}},
		{"dashboard buttons with the dashboard off", "admin:\n  ui: \"\"\n  ui_actions: true\n",
			[]string{"baton.yaml:3:", "admin.ui_actions", "off"}},
		{"bad ca", "tls:\n  ca: letsencript\n",
			[]string{"baton.yaml:2:", "tls.ca"}},
		{"https without tls", "listen:\n  http: \":80\"\n  https: \":443\"\n",
			[]string{"baton.yaml:3:", "listen.https", "tls.ca"}},
		{"bad challenge", "tls:\n  ca: internal\n  challenges: [http-01, dns-01]\n",
			[]string{"baton.yaml:3:", "tls.challenges[1]", "dns-01"}},
		{"missing ca_root", "tls:\n  ca: https://acme.example.test/dir\n  ca_root: /nonexistent/root.pem\n",
			[]string{"baton.yaml:3:", "tls.ca_root", "cannot read"}},
		{"negative release_after", "tls:\n  ca: internal\n  release_after: -5m\n",
			[]string{"baton.yaml:3:", "tls.release_after", "positive"}},
		{"bad release_after", "tls:\n  ca: internal\n  release_after: soon\n",
			[]string{"baton.yaml:3:", "tls.release_after", "soon"}},
		{"bad trusted proxy", "proxy:\n  trusted_proxies:\n    - 10.0.0.0/8\n    - 10.0.0.0/33\n",
			[]string{"baton.yaml:4:", "proxy.trusted_proxies[1]", "10.0.0.0/33", "CIDR"}},
		{"trusted proxy not an address", "proxy:\n  trusted_proxies: [\"cdn.example.com\"]\n",
			[]string{"baton.yaml:2:", "proxy.trusted_proxies[0]", "cdn.example.com"}},
		{"trusted proxies not a list", "proxy:\n  trusted_proxies: 10.0.0.0/8\n",
			[]string{"baton.yaml:2:", "proxy.trusted_proxies"}},
		{"http3 without https", "listen:\n  http: \":80\"\n  http3: true\n",
			[]string{"baton.yaml:3:", "listen.http3", "HTTPS listener"}},
		{"http3 not a bool", "tls:\n  ca: internal\nlisten:\n  http3: sometimes\n",
			[]string{"baton.yaml:4:", "listen.http3", "sometimes"}},
		{"http3 misspelt", "listen:\n  http_3: false\n",
			[]string{"baton.yaml:2:", "listen.http_3", "unknown key"}},
		{"negative upgrade timeout", "upgrade:\n  timeout: -1s\n",
			[]string{"baton.yaml:2:", "upgrade.timeout", "positive"}},
		{"bad upgrade drain", "upgrade:\n  drain_timeout: later\n",
			[]string{"baton.yaml:2:", "upgrade.drain_timeout", "later"}},
		{"bad docker mode", "docker:\n  network: web\n  mode: kubernetes\n",
			[]string{"baton.yaml:3:", "docker.mode", "kubernetes", "containers, swarm or auto"}},
		{"docker mode misspelt", "docker:\n  mdoe: swarm\n",
			[]string{"baton.yaml:2:", "docker.mdoe", "unknown key"}},
		{"bad route hsts", "routes:\n  - host: a.test\n    upstreams: [\"127.0.0.1:1\"]\n    hsts: forever\n",
			[]string{"baton.yaml:4:", "routes[0].hsts", "max-age"}},
	}
	for _, c := range cases {
		_, err := Parse("baton.yaml", []byte(c.src))
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", c.name, err, w)
			}
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(t.TempDir() + "/nope.yaml")
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("missing file: %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestTLSDefaults(t *testing.T) {
	cfg, err := Parse("baton.yaml", []byte("tls:\n  email: ops@example.com\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLS.CA != "letsencrypt" || cfg.Listen.HTTPS != ":443" || strings.Join(cfg.TLS.Challenges, ",") != "http-01,tls-alpn-01" || !cfg.TLS.On() {
		t.Fatalf("tls defaults: %+v, https %q", cfg.TLS, cfg.Listen.HTTPS)
	}
	cfg, err = Parse("baton.yaml", []byte("routes:\n  - host: a.test\n    upstreams: [\"127.0.0.1:1\"]\n    tls: false\n    hsts: 1h\n"))
	if err != nil || cfg.TLS.On() || cfg.Listen.HTTPS != "" || cfg.Routes[0].TLS == nil || *cfg.Routes[0].TLS || cfg.Routes[0].HSTS != "1h" {
		t.Fatalf("tls off by default: %+v %v", cfg, err)
	}
}

// HTTP/3 comes with HTTPS unless turned off, and never without it.
func TestHTTP3Default(t *testing.T) {
	cases := []struct {
		src  string
		want bool
	}{
		{"tls:\n  ca: internal\n", true},
		{"tls:\n  ca: internal\nlisten:\n  http3: false\n", false},
		{"tls:\n  ca: internal\nlisten:\n  https: \"127.0.0.1:8443\"\n  http3: true\n", true},
		{"listen:\n  http: \":80\"\n", false},
		{"listen:\n  http3: false\n", false},
	}
	for _, c := range cases {
		cfg, err := Parse("baton.yaml", []byte(c.src))
		if err != nil {
			t.Errorf("%q: %v", c.src, err)
			continue
		}
		if got := cfg.Listen.HTTP3On(); got != c.want {
			t.Errorf("%q: HTTP3On = %v, want %v", c.src, got, c.want)
		}
	}
	if Default().Listen.HTTP3On() {
		t.Error("the embedded defaults (no TLS) serve HTTP/3")
	}
}

func TestTrustedProxies(t *testing.T) {
	src := "proxy:\n  trusted_proxies:\n    - 173.245.48.0/20\n    - 2400:cb00::/32\n    - 10.1.2.3/8\n    - 192.0.2.7\n    - \"::ffff:198.51.100.0/120\"\n"
	cfg, err := Parse("baton.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got, err := cfg.Proxy.TrustedPrefixes()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"173.245.48.0/20", "2400:cb00::/32", "10.0.0.0/8", "192.0.2.7/32", "198.51.100.0/24"}
	if len(got) != len(want) {
		t.Fatalf("trusted = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("trusted[%d] = %s, want %s", i, got[i], want[i])
		}
	}
	if d := Default(); len(d.Proxy.TrustedProxies) != 0 {
		t.Errorf("default trusts %v, want no one", d.Proxy.TrustedProxies)
	}
}

// The head limits default to nginx's and haproxy's and name their key when wrong.
func TestHeaderLimits(t *testing.T) {
	d := Default()
	if d.Proxy.MaxHeaderBytes != 32<<10 || d.Proxy.MaxHeaderLineBytes != 8<<10 || d.Proxy.MaxHeaderFields != 100 {
		t.Errorf("defaults %d/%d/%d, want 32KiB/8KiB/100", d.Proxy.MaxHeaderBytes, d.Proxy.MaxHeaderLineBytes, d.Proxy.MaxHeaderFields)
	}
	_, err := Parse("baton.yaml", []byte("proxy:\n  max_header_bytes: 16KiB\n  max_header_line_bytes: 20KiB\n"))
	if err == nil || !strings.Contains(err.Error(), "baton.yaml:3") || !strings.Contains(err.Error(), "proxy.max_header_line_bytes") {
		t.Errorf("line limit over the total: %v, want an error naming baton.yaml:3 and the key", err)
	}
}

// admin.ui is on, on loopback, when the file does not name it, and off with "".
func TestDashboardAddress(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"absent", "listen:\n  http: \":80\"\n", DefaultUI},
		{"off", "admin:\n  ui: \"\"\n", ""},
		{"another loopback port", "admin:\n  ui: \"127.0.0.1:7000\"\n", "127.0.0.1:7000"},
		{"beyond loopback with a token", "admin:\n  token: s3cret\n  ui: \"192.0.2.10:9181\"\n", "192.0.2.10:9181"},
	}
	for _, c := range cases {
		cfg, err := Parse("baton.yaml", []byte(c.src))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if cfg.Admin.UI != c.want {
			t.Errorf("%s: admin.ui = %q, want %q", c.name, cfg.Admin.UI, c.want)
		}
	}
	if d := Default(); d.Admin.UI != DefaultUI {
		t.Errorf("embedded defaults: admin.ui = %q, want %q", d.Admin.UI, DefaultUI)
	}
}

func TestMaxInflightNegativeIsRefusedByName(t *testing.T) {
	_, err := Parse("baton.yaml", []byte("proxy:\n  max_inflight: -5\n"))
	if err == nil || !strings.Contains(err.Error(), "proxy.max_inflight") {
		t.Fatalf("err = %v, want proxy.max_inflight named", err)
	}
	if _, err := Parse("baton.yaml", []byte("routes:\n  - host: a.test\n    path: /\n    upstreams: [\"127.0.0.1:1\"]\n    max_inflight: -1\n")); err == nil || !strings.Contains(err.Error(), "routes[0].max_inflight") {
		t.Fatalf("err = %v, want routes[0].max_inflight named", err)
	}
	c, err := Parse("baton.yaml", []byte("proxy:\n  max_inflight: 2000\n"))
	if err != nil || c.Proxy.MaxInflight != 2000 {
		t.Fatalf("max_inflight 2000: %v %+v", err, c.Proxy)
	}
}

func TestDockerModeDefaultsToContainers(t *testing.T) {
	for src, want := range map[string]string{
		"docker:\n  network: web\n": ModeContainers,
		"docker:\n  mode: swarm\n":  ModeSwarm,
		"docker:\n  mode: auto\n":   ModeAuto,
	} {
		cfg, err := Parse("baton.yaml", []byte(src))
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		if got := cfg.Docker.ProviderMode(); got != want {
			t.Errorf("%q: mode %q, want %q", src, got, want)
		}
	}
	if got := Default().Docker.ProviderMode(); got != ModeContainers {
		t.Errorf("embedded defaults: mode %q, want containers (the single-host path stays the default)", got)
	}
}
