package integration

import (
	"crypto/x509"
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
		// Scheme https: the app answers TLS on port, with a certificate
		// no public root signs (a self-signed backend).
		Scheme string `yaml:"scheme"`
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
		// HTTP is Traefik's answer to this router's hosts and paths over
		// plain HTTP: "app" (the router answers), "redirect" (to https,
		// by a router of the set or the entrypoint's static redirection),
		// "404", or "other" (another router of the set answers there, and
		// its own entry says how); default "app" on web (or all
		// entrypoints) without tls, else "404".
		HTTP string `yaml:"http"`
		// HTTPS is Traefik's answer over TLS with the host as SNI: "app"
		// (the router answers) or "none"; default "app" when the router
		// has tls or a websecure entrypoint, else "none" (not checked).
		HTTPS string `yaml:"https"`
		// Refused, when set, is the problem baton names for this router
		// (a part of its text): baton cannot honour it, and says why.
		// Unset: baton must route it as Traefik does.
		Refused string `yaml:"refused"`
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

// Every collected label set runs on real containers behind its own baton,
// which has an HTTPS listener with its internal CA: each router is routed
// as Traefik v3 would route it (its hosts and paths, to the right container
// and port; a TLS router over HTTPS with its host as SNI, and over plain
// HTTP what Traefik answers there), or refused with the problem the set's
// expectation names. Never is a router Traefik protects (auth, an allow
// list) served to a client without credentials, never does a router
// Traefik would not serve reach an app, and never does a TLS-only router
// answer with its app over plain HTTP.
func TestTraefikLabelSetsRouteAsTraefikOrAreRefused(t *testing.T) {
	sets := loadLabelSets(t)
	net := harness.Network(t)
	var sum summary
	t.Run("sets", func(t *testing.T) {
		for _, set := range sets {
			set := set
			t.Run(set.Name, func(t *testing.T) {
				t.Parallel()
				sum.add(runLabelSet(t, net, set))
			})
		}
	})
	t.Logf("%d label sets:\n%s", len(sets), sum.String())
}

// routerVerdict is what baton did with one expected router.
type routerVerdict string

const (
	verdictRouted    routerVerdict = "routed as Traefik"
	verdictProtected routerVerdict = "protected as Traefik"
	verdictRefused   routerVerdict = "refused, named"
	verdictUnserved  routerVerdict = "not served, as Traefik"
	// The plain-HTTP answers to TLS-only routers' hosts.
	verdictPlain404      routerVerdict = "TLS-only router, plain HTTP: 404 as Traefik"
	verdictPlainRedirect routerVerdict = "TLS-only router, plain HTTP: redirect to https as Traefik"
	verdictPlainBaton    routerVerdict = "TLS-only router, plain HTTP: 308 to https (baton's rule for a host with a certificate; Traefik without a static redirect: 404)"
	verdictPlainApp      routerVerdict = "plain HTTP: 308 to https (baton's rule for a host with a certificate; Traefik: the app)"
)

// labelSetBaton is one set's baton and how a client reaches it.
type labelSetBaton struct {
	b     *harness.Baton
	roots *x509.CertPool
}

func runLabelSet(t *testing.T, net string, set labelSet) map[routerVerdict]int {
	constraint := "batontest.set=" + harness.RunID() + "-" + set.Name
	httpAddr, httpsAddr := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t)), fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	b := harness.StartBatonHTTPS(t, httpAddr, httpsAddr, "tls:\n  ca: internal\ndocker:\n  constraint: \""+constraint+"\"\ndefaults:\n  health.path: /healthz\n  health.interval: 100ms\n  health.min_healthy: 1s\n  health.deadline: 20s\n")
	rootPEM, code := b.CLI("tls", "root")
	roots := x509.NewCertPool()
	if code != 0 || !roots.AppendCertsFromPEM([]byte(rootPEM)) {
		t.Fatalf("baton tls root (exit %d): %s", code, rootPEM)
	}
	lb := labelSetBaton{b: b, roots: roots}
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
		env := []string{"RELEASE=" + release[c.Name], "ECHO=1", "AUTH_SESSION=s3cret"}
		if c.Scheme == "https" {
			// Plain HTTP on the next port, which nothing routes to.
			_, cert, key := privateCA(t, c.Name)
			env = append(env, fmt.Sprintf("PORT=%d", port+1), fmt.Sprintf("TLS_PORT=%d", port), "TLS_CERT="+cert, "TLS_KEY="+key)
		} else {
			env = append(env, fmt.Sprintf("PORT=%d", port))
		}
		// The image EXPOSEs the port its app listens on, as the real
		// image does: Traefik (and baton) take it when no label names one.
		img := harness.ImageExposing(t, fmt.Sprintf("labelsets-p%d", port), port, map[string]string{"org.opencontainers.image.revision": "1111111"})
		harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Labels: labels, Name: docker[c.Name],
			Env: env})
	}
	// Settled: every container is routed (ready), or named in a problem.
	var st admin.Status
	harness.Eventually(t, 30*time.Second, "every container of the set routed or named in a problem", func() bool {
		st = batonStatus(t, b)
		return settled(st, set, release)
	})
	got := map[routerVerdict]int{}
	for _, e := range set.Expect {
		problem := problemOf(st, set, docker, e.Router)
		backends := backendsOf(e.Backend, set, release)
		if problem == "" && e.Kind != "tcp" {
			problem = backendProblem(st, docker, release, backends)
		}
		switch {
		case e.Refused != "" && !strings.Contains(problem, e.Refused):
			t.Errorf("router %s: the set expects baton to refuse it naming %q; problem: %q (all: %v)", e.Router, e.Refused, problem, st.Problems)
		case e.Refused == "" && problem != "":
			t.Errorf("router %s: the set expects it routed as Traefik, but baton names a problem: %q", e.Router, problem)
		}
		if e.Kind == "tcp" {
			got[verdictRefused]++
			got[routerVerdict("refused: "+e.Refused)]++
			continue
		}
		refused := problem != ""
		served := e.Served == nil || *e.Served
		hosts := e.Hosts
		if len(hosts) == 0 {
			hosts = []string{"any-host.test"}
		}
		paths := e.Paths
		if len(paths) == 0 {
			paths = []string{exactPathOf(e.Rule)}
		}
		tlsOnly := !onPlainHTTP(e.Entry, e.TLS)
		httpWant, httpsWant := e.HTTP, e.HTTPS
		if httpWant == "" {
			httpWant = "404"
			if !tlsOnly {
				httpWant = "app"
			}
		}
		if httpsWant == "" {
			httpsWant = "none"
			if e.TLS || onSecure(e.Entry) {
				httpsWant = "app"
			}
		}
		check := func(scheme, h, p string, a answer) {
			appAnswered := a.release != "" && strings.HasPrefix(a.release, set.Name+"/")
			switch {
			case refused || !served:
				// Not routed: the router's place must not reach its app
				// (another router of the set may answer a shared host).
				if appAnswered && e.Protected {
					t.Errorf("router %s (%s://%s%s) is refused or unserved, yet an app of the set answered %d without credentials (%s)", e.Router, scheme, h, p, a.code, a.release)
				}
			case e.Protected:
				if a.code/100 == 2 && appAnswered {
					t.Errorf("router %s (%s://%s%s) is protected by Traefik but baton served the app without credentials: %d %s", e.Router, scheme, h, p, a.code, a.release)
				}
			case redirectsToHTTPS(set, e.Mids) && a.code/100 == 3 && scheme == "http":
				// redirectScheme on plain HTTP: Traefik's answer is the
				// redirect, to the same host over https.
				if !strings.HasPrefix(a.location, "https://"+h) {
					t.Errorf("router %s (%s://%s%s) redirected to %q, want https://%s...", e.Router, scheme, h, p, a.location, h)
				}
			default:
				if a.code != http.StatusOK || !appAnswered {
					t.Errorf("router %s (%s://%s%s): %d %q %q, want the app's answer as Traefik routes it\nstatus: %+v", e.Router, scheme, h, p, a.code, a.release, firstLine(a.body), st.Problems)
				} else if backends != nil && !backends[a.release] {
					t.Errorf("router %s (%s://%s%s) answered by %s, Traefik sends it to %v", e.Router, scheme, h, p, a.release, backends)
				}
			}
		}
		for _, h := range hosts {
			for _, p := range paths {
				certified := false
				if httpsWant == "app" && h != "any-host.test" {
					// The certificate is issued in the background: wait
					// for the handshake where the router should answer.
					a, ok := lb.askTLS(h, p, !refused && served)
					certified = ok
					if ok || !refused && served {
						check("https", h, p, a)
					}
				}
				if httpWant == "other" {
					continue
				}
				a := askThrough(t, b, h, p)
				appAnswered := a.release != "" && strings.HasPrefix(a.release, set.Name+"/")
				batonRedirect := a.code == http.StatusPermanentRedirect && a.location == "https://"+h+":"+portOf(httpsAddr)+p
				switch httpWant {
				case "app":
					if batonRedirect {
						// The host has a certificate: baton sends plain
						// HTTP to HTTPS. A router on every entrypoint
						// answers there itself; a router on web only
						// leaves HTTPS to the host's TLS router (checked
						// under its own entry), which may well ask for
						// credentials Traefik's plain router does not.
						if !certified && len(e.Entry) == 0 {
							a, _ = lb.askTLS(h, p, true)
							check("https", h, p, a)
						}
						got[verdictPlainApp]++
						continue
					}
					check("http", h, p, a)
				case "redirect", "404":
					if appAnswered && a.code/100 == 2 {
						t.Errorf("router %s (http://%s%s) answers on TLS only in Traefik (%s over plain HTTP), yet the app answered over plain HTTP: %d %s", e.Router, h, p, httpWant, a.code, a.release)
					}
					switch {
					case refused || !served:
						// Not routed in baton: whatever answers, it is not the app.
					case httpWant == "redirect" && a.code/100 == 3 && strings.HasPrefix(a.location, "https://"+h):
						got[verdictPlainRedirect]++
					case httpWant == "404" && a.code == http.StatusNotFound:
						got[verdictPlain404]++
					case httpWant == "404" && batonRedirect:
						got[verdictPlainBaton]++
					default:
						t.Errorf("router %s (http://%s%s): %d %q (Location %q), want Traefik's %s over plain HTTP", e.Router, h, p, a.code, a.release, a.location, httpWant)
					}
				default:
					t.Fatalf("router %s: http: %q is none of app, redirect, 404, other", e.Router, httpWant)
				}
			}
		}
		switch {
		case refused:
			got[verdictRefused]++
			got[routerVerdict("refused: "+e.Refused)]++
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

// answer is what a client got.
type answer struct {
	code                    int
	release, body, location string
}

// askTLS asks over HTTPS with host as SNI and Host, trusting the set's
// internal CA. With wait, it retries until the handshake succeeds (the
// certificate is issued in the background), up to a deadline; ok reports
// whether a TLS answer came.
func (lb labelSetBaton) askTLS(host, path string, wait bool) (a answer, ok bool) {
	client := tlsClient(lb.b.HTTPSAddr, lb.roots)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get("https://" + host + path)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return answer{resp.StatusCode, resp.Header.Get("X-Release"), string(body), resp.Header.Get("Location")}, true
		}
		if !wait || time.Now().After(deadline) {
			return answer{body: err.Error()}, false
		}
		time.Sleep(100 * time.Millisecond)
	}
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

// onSecure: one of the router's entrypoints is websecure (or https).
func onSecure(entrypoints []string) bool {
	for _, ep := range entrypoints {
		if ep == "websecure" || ep == "https" {
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

// backendProblem: a router with no labels of its own (Traefik's default
// router) is refused when baton names a problem for its container; the
// problem's text, or "".
func backendProblem(st admin.Status, docker, release map[string]string, backends map[string]bool) string {
	for name, rel := range release {
		if !backends[rel] {
			continue
		}
		for _, p := range st.Problems {
			if p.Error != "" && p.Container == docker[name] {
				return p.Error
			}
		}
	}
	return ""
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

// problemOf is the problem baton names for the router, "" when none: one
// that names the router, or else one of the container that carries the
// router's labels.
func problemOf(st admin.Status, set labelSet, docker map[string]string, router string) string {
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
	byContainer := ""
	for _, p := range st.Problems {
		if p.Error == "" {
			continue
		}
		if strings.Contains(p.Error, "router "+strings.ToLower(router)+" ") {
			return p.Error
		}
		if holder != "" && p.Container == holder && byContainer == "" {
			byContainer = p.Error
		}
	}
	return byContainer
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

func askThrough(t *testing.T, b *harness.Baton, host, path string) answer {
	req, _ := http.NewRequest(http.MethodGet, b.URL+path, nil)
	req.Host = host
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return answer{body: err.Error()}
	}
	defer resp.Body.Close()
	b2, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header.Get("X-Release"), string(b2), resp.Header.Get("Location")}
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
	return strings.Join(out, "\n")
}
