package check

import (
	"errors"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/batonproxy/baton/cutover"
	"github.com/batonproxy/baton/proxy"
	"github.com/batonproxy/baton/proxy/middleware"
	"github.com/batonproxy/baton/upstream"
)

// Options are the settings of the baton that will serve the project, from
// its baton.yaml (or the embedded defaults), as serve reads them.
type Options struct {
	Defaults         upstream.Spec // the defaults section over the design's defaults
	ExposedByDefault bool          // docker.exposed_by_default
	TraefikLabels    bool          // docker.traefik_labels
	Constraint       string        // docker.constraint
	Network          string        // docker.network, preferred to reach containers
	DockerOff        bool          // docker.enabled: false
	HTTPS            bool          // tls on: an HTTPS listener
	Static           []cutover.ServiceRoutes
	MiddlewareEnv    middleware.Env
}

// Check says, for each service of p, what a running baton with o would
// route and refuse once its containers run and are ready. Each service is
// described as the container Compose creates for it and given to the
// Docker provider's own decision (upstream.InstanceOf: labels, enable,
// port, network); the routable ones are published together to a
// switchboard of their own (cutover.PreviewRoutes: middlewares resolved
// across services, router checks, host conflicts, in file order).
func Check(p *Project, o Options) Report {
	r := Report{Project: p.Name, Files: p.Files, HTTPS: o.HTTPS, Warnings: p.Warnings}
	if o.DockerOff {
		r.Problems = append(r.Problems, "docker.enabled is false in the config: baton routes no container")
	}
	io := upstream.InstanceOptions{Defaults: o.Defaults, ExposedByDefault: o.ExposedByDefault, TraefikLabels: o.TraefikLabels, Constraint: o.Constraint}
	if o.Network != "" {
		io.Preferred = []string{o.Network}
	}
	instances := make([]*upstream.Instance, len(p.Services))
	var routable []upstream.Instance
	for i, s := range p.Services {
		if o.DockerOff {
			continue
		}
		if in := upstream.InstanceOf(p.Container(s), nil, io); in != nil {
			instances[i] = in
			routable = append(routable, *in)
		}
	}
	pv := cutover.PreviewRoutes(routable, cutover.PreviewOptions{HTTPS: o.HTTPS, MiddlewareEnv: o.MiddlewareEnv, Static: o.Static})
	for i, s := range p.Services {
		r.Services = append(r.Services, serviceReport(p, s, instances[i], pv, o))
	}
	r.Routable = len(r.Problems) == 0
	for _, s := range r.Services {
		if len(s.Refusals) > 0 {
			r.Routable = false
		}
	}
	return r
}

func serviceReport(p *Project, s Service, in *upstream.Instance, pv cutover.Preview, o Options) ServiceReport {
	sr := ServiceReport{Compose: s.Name, At: s.Pos, Container: p.ContainerName(s)}
	lw := labelWhere{s: s}
	switch {
	case in == nil:
		sr.Verdict, sr.Note = NotHandled, notHandledWhy(s, o)
	case in.Err != nil:
		sr.Service, sr.Verdict = in.Service, Refused
		for _, err := range flatten(in.Err) {
			sr.Refusals = append(sr.Refusals, lw.refusal(err))
		}
	case !in.Spec.Routed():
		sr.Service, sr.Verdict = in.Service, Worker
	default:
		sr.Service = in.Service
		if _, port, err := net.SplitHostPort(in.Addr); err == nil {
			sr.Port, _ = strconv.Atoi(port)
		}
		sr.Routes, sr.Refusals = routesOf(in.Service, sr.Port, pv, o.HTTPS, lw)
		switch {
		case len(sr.Refusals) == 0:
			sr.Verdict = Routed
		case len(sr.Routes) > 0:
			sr.Verdict = Partly
		default:
			sr.Verdict = Refused
		}
	}
	if in != nil {
		for _, l := range in.Ignored {
			sr.Ignored = append(sr.Ignored, Label{Label: l, At: lw.at(l)})
		}
	}
	if d := deployLabelRefusals(s); len(d) > 0 {
		sr.Refusals = append(sr.Refusals, d...)
		if sr.Verdict == NotHandled || sr.Verdict == Worker {
			sr.Verdict = Refused
		} else if sr.Verdict == Routed {
			sr.Verdict = Partly
		}
	}
	return sr
}

// routesOf reads the preview's routes of one baton service, with the
// routers and host claims the publish refused.
func routesOf(service string, port int, pv cutover.Preview, https bool, lw labelWhere) (routes []Route, refusals []Refusal) {
	var mine []error
	seen := map[string]bool{}
	for _, err := range pv.Refused {
		var rr *cutover.RouterRefused
		var ce *proxy.ConflictError
		if (errors.As(err, &rr) && rr.Service == service || errors.As(err, &ce) && ce.Refused == service) && !seen[err.Error()] {
			seen[err.Error()] = true
			mine = append(mine, err)
			refusals = append(refusals, lw.refusal(err))
		}
	}
	for _, sr := range pv.Services {
		if sr.Name != service {
			continue
		}
		rules := sr.Routing.Routes
		if len(rules) == 0 { // baton.host: one route per host at the path
			for _, h := range sr.Routing.Hosts {
				rules = append(rules, cutover.RouteRule{Host: h, Path: sr.Routing.Path})
			}
		}
		for _, rule := range rules {
			if refusedRoute(rule, mine) {
				continue
			}
			routes = append(routes, Route{Router: rule.Router, Host: rule.Host, Path: rule.Path, Rule: rule.Rule, Priority: rule.Priority,
				Port: port, Listeners: listeners(rule.Listener, sr.Routing.PlainHTTP, https), Middlewares: rule.Middlewares})
		}
	}
	return routes, refusals
}

// refusedRoute: one of errs refuses this route (its router, or its host
// and path claim).
func refusedRoute(rule cutover.RouteRule, errs []error) bool {
	where := rule.Host + rule.Path
	if rule.Rule != "" {
		where = rule.Rule
	}
	for _, err := range errs {
		var rr *cutover.RouterRefused
		var ce *proxy.ConflictError
		switch {
		case errors.As(err, &rr):
			if rr.Router == rule.Router && (rr.Where == "" || rr.Where == where) {
				return true
			}
		case errors.As(err, &ce):
			if ce.RefusedRouter == rule.Router && (rule.Rule != "" || ce.Host == rule.Host && ce.Path == rule.Path) {
				return true
			}
		}
	}
	return false
}

// listeners says where a route answers. With TLS on, a route for both
// listeners gets a certificate and plain HTTP is redirected to HTTPS
// (proxy/autotls), unless the service stays on plain HTTP (baton.tls=false,
// a Traefik router with tls=false).
func listeners(l string, plainHTTP, https bool) string {
	switch {
	case l != "":
		return l
	case !https || plainHTTP:
		return "http"
	default:
		return "https (http redirects)"
	}
}

func notHandledWhy(s Service, o Options) string {
	switch {
	case o.DockerOff:
		return "docker.enabled is false"
	case !upstream.MatchesConstraint(o.Constraint, s.Labels):
		return "outside docker.constraint " + o.Constraint + ": baton does not consider its containers"
	case s.Labels["baton.enable"] != "":
		return "baton.enable=" + s.Labels["baton.enable"]
	case o.TraefikLabels && s.Labels["traefik.enable"] != "":
		return "traefik.enable=" + s.Labels["traefik.enable"]
	case !o.TraefikLabels && hasPrefixFold(s.Labels, "traefik."):
		return "docker.traefik_labels is false: its traefik.* labels are not read, and it has no baton.enable=true"
	default:
		return "no baton.enable=true or traefik.enable=true (docker.exposed_by_default is false): baton leaves it alone"
	}
}

// deployLabelRefusals: baton.* and traefik.* labels under deploy.labels are
// Swarm service labels. `docker compose up` does not put them on the
// containers (docker stack deploy puts them on the Swarm service), and
// baton reads container labels: written only there, they do nothing, and
// what they would configure (a middleware, TLS) would be missing.
func deployLabelRefusals(s Service) []Refusal {
	var out []Refusal
	for _, k := range sortedKeys(s.DeployLabels) {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, "baton.") && !strings.HasPrefix(lk, "traefik.") {
			continue
		}
		if v, ok := s.Labels[k]; ok && v == s.DeployLabels[k] {
			continue // also a container label: it is read there
		}
		out = append(out, Refusal{Label: "deploy.labels: " + k, Value: s.DeployLabels[k], At: s.Where["deploy.labels."+k],
			Reason: "a Swarm service label: Compose does not put deploy.labels on containers and baton reads container labels, so it does nothing; move it under labels:"})
	}
	return out
}

// labelWhere finds the labels a problem names in the Compose file.
type labelWhere struct{ s Service }

// at is where label is written (keys compared case-insensitively, as
// Traefik's), else where the service is.
func (lw labelWhere) at(label string) string {
	if k, ok := lw.key(label); ok {
		return lw.s.Where[k]
	}
	return lw.s.Pos
}

// sameAs are the Traefik labels whose value a baton label's problem is
// about when the baton label itself is not written.
var sameAs = map[string]string{"baton.network": "traefik.docker.network"}

// key is the label as written: label itself in any case, or the Traefik
// label it stands for.
func (lw labelWhere) key(label string) (string, bool) {
	for _, want := range []string{label, sameAs[label]} {
		if want == "" {
			continue
		}
		if _, ok := lw.s.Labels[want]; ok {
			return want, true
		}
		for k := range lw.s.Labels {
			if strings.EqualFold(k, want) {
				return k, true
			}
		}
	}
	return "", false
}

// routerLabel is the router's label among suffixes that is written, first
// found first.
func (lw labelWhere) routerLabel(router string, suffixes ...string) string {
	for _, suf := range suffixes {
		if k, ok := lw.key("traefik.http.routers." + router + "." + suf); ok {
			return k
		}
	}
	return ""
}

// refusal turns one problem of the running baton into a Refusal naming the
// label, its value and line.
func (lw labelWhere) refusal(err error) Refusal {
	ref := Refusal{Reason: err.Error(), Problem: err.Error()}
	var le *upstream.LabelError
	var rr *cutover.RouterRefused
	var ce *proxy.ConflictError
	switch {
	case errors.As(err, &le):
		ref.Label, ref.Value, ref.Reason, ref.At = le.Label, le.Value, le.Reason, lw.at(le.Label)
		if k, ok := lw.key(le.Label); ok {
			ref.Label = k // as written: camelCase, or traefik.docker.network for baton.network
		}
		if parts := strings.Split(strings.ToLower(le.Label), "."); len(parts) > 4 && parts[1] == "http" && parts[2] == "routers" {
			ref.Router = parts[3]
		}
		if le.Label == "baton.port" && strings.Contains(le.Reason, "exposes no port") {
			ref.Note = "baton check reads the Compose file, not the image: if the image EXPOSEs exactly one port, the running baton routes to it; set baton.port (or expose:) to be sure"
		}
	case errors.As(err, &rr):
		ref.Router, ref.Reason = rr.Router, rr.Reason.Error()
		switch {
		case errors.Is(err, cutover.ErrHTTPSOnly):
			ref.Label = lw.routerLabel(rr.Router, "entrypoints", "tls", "tls.certresolver")
		case rr.Where == "":
			ref.Label = lw.routerLabel(rr.Router, "rule")
		default:
			ref.Label = lw.routerLabel(rr.Router, "middlewares")
		}
	case errors.As(err, &ce):
		ref.Router = ce.RefusedRouter
		ref.Label = lw.routerLabel(ce.RefusedRouter, "rule")
		if ce.RefusedRouter == "" {
			ref.Label, _ = lw.key("baton.host")
		}
		ref.Note = "here the service first in the file keeps the host; a running baton keeps it for the service routed first"
	}
	if ref.Label != "" {
		ref.At = lw.at(ref.Label)
		if ref.Value == "" {
			if k, ok := lw.key(ref.Label); ok {
				ref.Value = lw.s.Labels[k]
			}
		}
	}
	if ref.At == "" {
		ref.At = lw.s.Pos
	}
	return ref
}

// flatten undoes errors.Join: one error per label.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

func hasPrefixFold(labels map[string]string, prefix string) bool {
	for k := range labels {
		if strings.HasPrefix(strings.ToLower(k), prefix) {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
