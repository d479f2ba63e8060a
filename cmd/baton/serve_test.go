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

// The handler is built once with proxy.trusted_proxies: a reload that
// changes them must say it takes a restart, not pass in silence.
func TestReloadReportsTrustedProxiesNeedRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "baton.yaml")
	write := func(src string) {
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const base = "listen:\n  http: \"127.0.0.1:8080\"\nadmin:\n  socket: /run/baton/baton.sock\n"
	write(base + "proxy:\n  trusted_proxies: [10.0.0.0/8]\n")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	s := &server{cfg: cfg, configPath: path, logger: zap.New(core)}
	s.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "reloads"}, []string{"result"})
	s.switchboard = cutover.NewSwitchboard(proxy.NewRouter(nil), proxy.NewTargets(proxy.TransportOptions{}), nil, nil)

	s.reload()
	if n := logs.FilterMessageSnippet("trusted_proxies").Len(); n != 0 {
		t.Fatalf("an unchanged file warned %d times: %v", n, logs.All())
	}
	write(base + "proxy:\n  trusted_proxies: [10.0.0.0/8, 203.0.113.0/24]\n")
	s.reload()
	if n := logs.FilterMessageSnippet("trusted_proxies").FilterMessageSnippet("restart").Len(); n != 1 {
		t.Fatalf("changed trusted_proxies: %d restart warnings, want 1: %v", n, logs.All())
	}
}

// listen.http3 is a pointer in the config: an unchanged file must not read
// as a changed listen section, a changed one must say it takes a restart.
func TestReloadComparesListenHTTP3ByValue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "baton.yaml")
	write := func(src string) {
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const base = "admin:\n  socket: /run/baton/baton.sock\ntls:\n  ca: internal\nlisten:\n  http: \"127.0.0.1:8080\"\n"
	write(base + "  http3: true\n")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	s := &server{cfg: cfg, configPath: path, logger: zap.New(core)}
	s.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "reloads"}, []string{"result"})
	s.switchboard = cutover.NewSwitchboard(proxy.NewRouter(nil), proxy.NewTargets(proxy.TransportOptions{}), nil, nil)

	s.reload()
	if n := logs.FilterMessageSnippet("listen").Len(); n != 0 {
		t.Fatalf("an unchanged file warned %d times: %v", n, logs.All())
	}
	write(base + "  http3: false\n")
	s.reload()
	if n := logs.FilterMessageSnippet("listen").FilterMessageSnippet("restart").Len(); n != 1 {
		t.Fatalf("listen.http3 turned off: %d restart warnings, want 1: %v", n, logs.All())
	}
}
