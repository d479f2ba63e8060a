package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/batonproxy/baton/admin"
	"github.com/batonproxy/baton/integration/harness"
	"gopkg.in/yaml.v3"
)

// labelSet is one entry of testdata/traefik-labelsets.yaml: containers with
// the labels real users gave them, and what Traefik v3 does with them.
type labelSet struct {
	Name       string `yaml:"name"`
	Source     string `yaml:"source"`
	Containers []struct {
		Name   string            `yaml:"name"`
		Port   int               `yaml:"port"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"containers"`
	Expect []struct {
		Router    string   `yaml:"router"`
		Hosts     []string `yaml:"hosts"`
		Paths     []string `yaml:"paths"`
		Rule      string   `yaml:"rule"`
		Protected bool     `yaml:"protected"`
		Backend   string   `yaml:"backend"`
		Served    *bool    `yaml:"served"`
		Kind      string   `yaml:"kind"`
		Entry     []string `yaml:"entrypoints"`
		Mids      []string `yaml:"middlewares"`
		TLS       bool     `yaml:"tls"`
	} `yaml:"expect"`
}

func loadLabelSets(t *testing.T) []labelSet {
	data, err := os.ReadFile("testdata/traefik-labelsets.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var sets []labelSet
	if err := yaml.Unmarshal(data, &sets); err != nil {
		t.Fatalf("testdata/traefik-labelsets.yaml: %v", err)
	}
	return sets
}

// Every collected label set runs on real containers behind its own baton:
// each router is routed as Traefik v3 would route it (its hosts and paths,
// to the right container and port), or refused with a problem that names
// it. Never is a router Traefik protects (auth, an allow list) served to a
// client without credentials, and never does a router Traefik would not
// serve reach an app.
func TestTraefikLabelSetsRouteAsTraefikOrAreRefused(t *testing.T) {
	sets := loadLabelSets(t)
	net := harness.Network(t)
	img := harness.Image(t, "labelsets", map[string]string{"org.opencontainers.image.revision": "1111111"})
	var sum summary
	t.Run("sets", func(t *testing.T) {
		for _, set := range sets {
			set := set
			t.Run(set.Name, func(t *testing.T) {
				t.Parallel()
				sum.add(runLabelSet(t, net, img, set))
			})
		}
	})
	t.Logf("%d label sets: %s", len(sets), sum.String())
}

// routerVerdict is what baton did with one expected router.
type routerVerdict string

const (
	verdictRouted    routerVerdict = "routed as Traefik"
	verdictProtected routerVerdict = "protected as Traefik"
	verdictRefused   routerVerdict = "refused, named"
	verdictUnserved  routerVerdict = "not served, as Traefik"
)

func runLabelSet(t *testing.T, net, img string, set labelSet) map[routerVerdict]int {
	constraint := "batontest.set=" + harness.RunID() + "-" + set.Name
	b := harness.StartBaton(t, "docker:\n  constraint: \""+constraint+"\"\ndefaults:\n  health.path: /healthz\n  health.interval: 100ms\n  health.min_healthy: 1s\n  health.deadline: 20s\n")
	release := map[string]string{} // container name in the set -> its RELEASE
	docker := map[string]string{}  // container name in the set -> its Docker name
	for _, c := range set.Containers {
		labels := map[string]string{"batontest.set": harness.RunID() + "-" + set.Name}
		for k, v := range c.Labels {
			labels[k] = v
		}
		port := c.Port
		if port == 0 {
			port = 80
		}
		release[c.Name] = set.Name + "/" + c.Name
		docker[c.Name] = harness.RunID() + "-" + set.Name + "-" + c.Name
		harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Labels: labels, Name: docker[c.Name],
			Env: []string{"RELEASE=" + release[c.Name], fmt.Sprintf("PORT=%d", port), "ECHO=1", "AUTH_SESSION=s3cret"}})
	}
	// Settled: every container is routed (ready), or named in a problem.
	var st admin.Status
	harness.Eventually(t, 30*time.Second, "every container of the set routed or named in a problem", func() bool {
		st = batonStatus(t, b)
		return settled(st, set, release)
	})
	got := map[routerVerdict]int{}
	for _, e := range set.Expect {
		if e.Kind == "tcp" {
			if !namesProblem(st, set, docker, e.Router) {
				t.Errorf("TCP router %s: baton serves HTTP only and must say so; problems: %v", e.Router, st.Problems)
			}
			got[verdictRefused]++
			continue
		}
		served := e.Served == nil || *e.Served
		backends := backendsOf(e.Backend, set, release)
		refused := namesProblem(st, set, docker, e.Router) || backendRefused(st, set, docker, release, backends)
		hosts := e.Hosts
		if len(hosts) == 0 {
			hosts = []string{"any-host.test"}
		}
		paths := e.Paths
		if len(paths) == 0 {
			paths = []string{exactPathOf(e.Rule)}
		}
		if !onPlainHTTP(e.Entry, e.TLS) {
			// This baton has no HTTPS listener: a router that answers on
			// HTTPS only must be refused, named; its host may answer on
			// plain HTTP through another router, as in Traefik.
			if !refused {
				t.Errorf("router %s answers on HTTPS only, baton has no HTTPS listener, and no problem says so: %v", e.Router, st.Problems)
			}
			got[verdictRefused]++
			continue
		}
		for _, h := range hosts {
			for _, p := range paths {
				code, rel, body, loc := askThrough(t, b, h, p)
				appAnswered := rel != "" && strings.HasPrefix(rel, set.Name+"/")
				switch {
				case refused || !served:
					// Not routed: the router's place must not reach its app
					// (another router of the set may answer a shared host).
					if appAnswered && e.Protected {
						t.Errorf("router %s (%s%s) is refused or unserved, yet an app of the set answered %d without credentials (%s)", e.Router, h, p, code, rel)
					}
				case e.Protected:
					if code/100 == 2 && appAnswered {
						t.Errorf("router %s (%s%s) is protected by Traefik but baton served the app without credentials: %d %s", e.Router, h, p, code, rel)
					}
				case redirectsToHTTPS(set, e.Mids) && code/100 == 3:
					// redirectScheme on plain HTTP: Traefik's answer is the
					// redirect, to the same host over https.
					if !strings.HasPrefix(loc, "https://"+h) {
						t.Errorf("router %s (%s%s) redirected to %q, want https://%s...", e.Router, h, p, loc, h)
					}
				default:
					if code != http.StatusOK || !appAnswered {
						t.Errorf("router %s (%s%s): %d %q %q, want the app's answer as Traefik routes it\nstatus: %+v", e.Router, h, p, code, rel, firstLine(body), st.Problems)
					} else if backends != nil && !backends[rel] {
						t.Errorf("router %s (%s%s) answered by %s, Traefik sends it to %v", e.Router, h, p, rel, backends)
					}
				}
			}
		}
		switch {
		case refused:
			got[verdictRefused]++
		case !served:
			got[verdictUnserved]++
		case e.Protected:
			got[verdictProtected]++
		default:
			got[verdictRouted]++
		}
	}
	t.Logf("%s: %v", set.Name, got)
	return got
}

func batonStatus(t *testing.T, b *harness.Baton) admin.Status {
	out, code := b.CLI("status", "--json")
	var st admin.Status
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("baton status --json: %d %s", code, out)
	}
	return st
}

// settled: each container baton tracks (it opts in, or carries Traefik
// labels that baton must answer for) is a ready target or named in a problem.
func settled(st admin.Status, set labelSet, release map[string]string) bool {
	tracked := 0
	for _, c := range set.Containers {
		if tracks(c.Labels) {
			tracked++
		}
	}
	ready := 0
	for _, s := range st.Services {
		for _, tg := range s.Targets {
			if tg.State == "ready" {
				ready++
			}
		}
	}
	named := 0
	for _, p := range st.Problems {
		if p.Container != "" && p.Error != "" {
			named++
		}
	}
	return ready+named >= tracked
}

// onPlainHTTP: the router answers on plain HTTP (entrypoints web or http,
// or none, which is all of them) and does not require TLS.
func onPlainHTTP(entrypoints []string, tls bool) bool {
	if tls {
		return false
	}
	if len(entrypoints) == 0 {
		return true
	}
	for _, ep := range entrypoints {
		if ep == "web" || ep == "http" {
			return true
		}
	}
	return false
}

// redirectsToHTTPS: one of the router's middlewares is a redirectScheme
// (or a chain holding one) that the set defines.
func redirectsToHTTPS(set labelSet, mids []string) bool {
	kinds := map[string]string{}
	members := map[string][]string{}
	for _, c := range set.Containers {
		for k, v := range c.Labels {
			parts := strings.Split(strings.ToLower(k), ".")
			if len(parts) >= 5 && parts[1] == "http" && parts[2] == "middlewares" {
				kinds[parts[3]] = parts[4]
				if parts[4] == "chain" {
					members[parts[3]] = strings.Split(strings.ToLower(v), ",")
				}
			}
		}
	}
	var has func(name string, depth int) bool
	has = func(name string, depth int) bool {
		name, _, _ = strings.Cut(strings.TrimSpace(strings.ToLower(name)), "@")
		if depth > 8 {
			return false
		}
		if kinds[name] == "redirectscheme" {
			return true
		}
		for _, m := range members[name] {
			if has(m, depth+1) {
				return true
			}
		}
		return false
	}
	for _, m := range mids {
		if has(m, 0) {
			return true
		}
	}
	return false
}

// exactPathOf is the path a request needs for a rule with Path(`p`), else "/".
func exactPathOf(rule string) string {
	if i := strings.Index(rule, "Path(`"); i >= 0 {
		rest := rule[i+len("Path(`"):]
		if j := strings.IndexByte(rest, '`'); j > 0 {
			return rest[:j]
		}
	}
	return "/"
}

// backendRefused: a router with no labels of its own (Traefik's default
// router) is refused when baton names a problem for its container.
func backendRefused(st admin.Status, set labelSet, docker, release map[string]string, backends map[string]bool) bool {
	for name, rel := range release {
		if !backends[rel] {
			continue
		}
		for _, p := range st.Problems {
			if p.Error != "" && p.Container == docker[name] {
				return true
			}
		}
	}
	return false
}

// tracks: baton answers for a container that opts in (traefik.enable=true)
// or carries Traefik labels without saying traefik.enable=false.
func tracks(labels map[string]string) bool {
	if v, ok := labels["traefik.enable"]; ok {
		return v == "true"
	}
	for k := range labels {
		if strings.HasPrefix(strings.ToLower(k), "traefik.") {
			return true
		}
	}
	return false
}

// namesProblem reports whether baton refused the router with a named
// problem: one that names the router, or the container that carries the
// router's labels.
func namesProblem(st admin.Status, set labelSet, docker map[string]string, router string) bool {
	holder := ""
	prefix := "traefik.http.routers." + strings.ToLower(router) + "."
	tcpPrefix := "traefik.tcp.routers." + strings.ToLower(router) + "."
	for _, c := range set.Containers {
		for k := range c.Labels {
			if lk := strings.ToLower(k); strings.HasPrefix(lk, prefix) || strings.HasPrefix(lk, tcpPrefix) {
				holder = docker[c.Name]
			}
		}
	}
	for _, p := range st.Problems {
		if p.Error == "" {
			continue
		}
		if strings.Contains(p.Error, "router "+strings.ToLower(router)+" ") || (holder != "" && p.Container == holder) {
			return true
		}
	}
	return false
}

// backendsOf maps Traefik's upstream ("scheme://name:port", or several
// joined by " + " where Traefik merges one service over containers) to the
// RELEASEs of the set's containers of those names; nil when the set does not
// say. Where Traefik balances over several containers and baton routes to a
// subset, the answer must still come from one of them.
func backendsOf(backend string, set labelSet, release map[string]string) map[string]bool {
	if len(set.Containers) == 1 {
		return map[string]bool{release[set.Containers[0].Name]: true}
	}
	out := map[string]bool{}
	for _, b := range strings.Split(backend, "+") {
		host := strings.TrimSpace(b)
		if _, rest, ok := strings.Cut(host, "://"); ok {
			host = rest
		}
		host, _, _ = strings.Cut(host, ":")
		host, _, _ = strings.Cut(host, "/")
		host, _, _ = strings.Cut(host, " ")
		if rel, ok := release[host]; ok {
			out[rel] = true
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func askThrough(t *testing.T, b *harness.Baton, host, path string) (code int, release, body, location string) {
	req, _ := http.NewRequest(http.MethodGet, b.URL+path, nil)
	req.Host = host
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err.Error(), ""
	}
	defer resp.Body.Close()
	b2, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Release"), string(b2), resp.Header.Get("Location")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// summary adds up the verdicts of parallel subtests.
type summary struct {
	mu  sync.Mutex
	sum map[routerVerdict]int
}

func (s *summary) add(m map[routerVerdict]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sum == nil {
		s.sum = map[routerVerdict]int{}
	}
	for k, v := range m {
		s.sum[k] += v
	}
}

func (s *summary) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k, v := range s.sum {
		out = append(out, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
