package check

import (
	"errors"
	"strings"

	"github.com/batonproxy/baton/cutover"
	"github.com/batonproxy/baton/proxy"
	"github.com/batonproxy/baton/upstream"
)

// notHandledWhy says why baton leaves a service's containers alone.
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
