package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/batonproxy/baton/config"
	"github.com/batonproxy/baton/cutover"
	"github.com/batonproxy/baton/proxy"
	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// reloadRig is a server started from src, as far as reload needs one.
type reloadRig struct {
	t    *testing.T
	path string
	s    *server
	logs *observer.ObservedLogs
}

func newReloadRig(t *testing.T, src string) *reloadRig {
	t.Helper()
	r := &reloadRig{t: t, path: filepath.Join(t.TempDir(), "baton.yaml")}
	r.write(src)
	cfg, err := config.Load(r.path)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	r.logs = logs
	r.s = &server{cfg: cfg, configPath: r.path, logger: zap.New(core)}
	r.s.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "reloads"}, []string{"result"})
	r.s.switchboard = cutover.NewSwitchboard(proxy.NewRouter(nil), proxy.NewTargets(proxy.TransportOptions{}), nil, nil)
	return r
}

func (r *reloadRig) write(src string) {
	r.t.Helper()
	if err := os.WriteFile(r.path, []byte(src), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

// reload reloads and fails unless the reload was taken: a refused one logs
// no restart warning either, and would pass a test of their absence.
func (r *reloadRig) reload() {
	r.t.Helper()
	ok := promtest.ToFloat64(r.s.reloads.WithLabelValues("ok"))
	r.s.reload()
	if got := promtest.ToFloat64(r.s.reloads.WithLabelValues("ok")); got != ok+1 {
		r.t.Fatalf("the reload was not taken: %v", r.logs.FilterMessageSnippet("reload refused").All())
	}
}

// Some settings are read once at start: a reload that changes them must say
// it takes a restart, and an unchanged file must not warn. The handler is
// built once with proxy.trusted_proxies; listen.http3 is a pointer in the
// config, so it must be compared by value.
func TestReloadSaysWhatTakesARestart(t *testing.T) {
	cases := []struct {
		name, base, before, after, key string
	}{
		{name: "trusted_proxies", key: "trusted_proxies",
			base:   "listen:\n  http: \"127.0.0.1:8080\"\nadmin:\n  socket: /run/baton/baton.sock\n",
			before: "proxy:\n  trusted_proxies: [10.0.0.0/8]\n",
			after:  "proxy:\n  trusted_proxies: [10.0.0.0/8, 203.0.113.0/24]\n"},
		{name: "listen.http3", key: "listen",
			base:   "admin:\n  socket: /run/baton/baton.sock\ntls:\n  ca: internal\nlisten:\n  http: \"127.0.0.1:8080\"\n",
			before: "  http3: true\n",
			after:  "  http3: false\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newReloadRig(t, tc.base+tc.before)
			r.reload()
			if n := r.logs.FilterMessageSnippet(tc.key).Len(); n != 0 {
				t.Fatalf("an unchanged file warned %d times: %v", n, r.logs.All())
			}
			r.write(tc.base + tc.after)
			r.reload()
			if n := r.logs.FilterMessageSnippet(tc.key).FilterMessageSnippet("restart").Len(); n != 1 {
				t.Fatalf("changed %s: %d restart warnings, want 1: %v", tc.name, n, r.logs.All())
			}
		})
	}
}

// A file that does not load is refused and counted so; the running config
// keeps serving.
func TestReloadRefusesABadFile(t *testing.T) {
	r := newReloadRig(t, "listen:\n  http: \"127.0.0.1:8080\"\n")
	r.write("listen:\n  htp: \"127.0.0.1:8080\"\n") // unknown key
	r.s.reload()
	if n := promtest.ToFloat64(r.s.reloads.WithLabelValues("error")); n != 1 {
		t.Fatalf("reloads{result=error} = %v, want 1", n)
	}
	if l := r.logs.FilterMessageSnippet("reload refused").All(); len(l) != 1 || r.s.cfg.Listen.HTTP != "127.0.0.1:8080" {
		t.Fatalf("refusal logged %v, running listen.http %q", l, r.s.cfg.Listen.HTTP)
	}
}
