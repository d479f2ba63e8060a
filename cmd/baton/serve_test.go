package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/batonproxy/baton/config"
	"github.com/batonproxy/baton/cutover"
	"github.com/batonproxy/baton/proxy"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

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
			path := filepath.Join(t.TempDir(), "baton.yaml")
			write := func(src string) {
				if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			write(tc.base + tc.before)
			cfg, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			core, logs := observer.New(zap.InfoLevel)
			s := &server{cfg: cfg, configPath: path, logger: zap.New(core)}
			s.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "reloads"}, []string{"result"})
			s.switchboard = cutover.NewSwitchboard(proxy.NewRouter(nil), proxy.NewTargets(proxy.TransportOptions{}), nil, nil)

			s.reload()
			if n := logs.FilterMessageSnippet(tc.key).Len(); n != 0 {
				t.Fatalf("an unchanged file warned %d times: %v", n, logs.All())
			}
			write(tc.base + tc.after)
			s.reload()
			if n := logs.FilterMessageSnippet(tc.key).FilterMessageSnippet("restart").Len(); n != 1 {
				t.Fatalf("changed %s: %d restart warnings, want 1: %v", tc.name, n, logs.All())
			}
		})
	}
}
