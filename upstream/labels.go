package upstream

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Container is what the label parser needs to know of a container.
type Container struct {
	ID          string
	Name        string
	Labels      map[string]string
	ImageLabels map[string]string
}

// ParseOptions mirror the docker section of the config.
type ParseOptions struct {
	ExposedByDefault bool
	TraefikLabels    bool
	// Transports reports whether baton.yaml defines a servers transport of
	// that name (servers_transports); nil = none is defined. A container
	// whose endpoint names an unknown one is not routed (fail closed).
	Transports func(name string) bool
}

// LabelError names the container, label and value that are wrong, and why.
type LabelError struct {
	Container string
	Label     string
	Value     string
	Reason    string
}

func (e *LabelError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("container %q: label %s: %s", e.Container, e.Label, e.Reason)
	}
	return fmt.Sprintf("container %q: label %s=%q: %s", e.Container, e.Label, e.Value, e.Reason)
}

// DefaultSpec is the design's defaults for every label.
func DefaultSpec() Spec {
	return Spec{
		Path:         "/",
		Health:       HealthSpec{Path: "/", Interval: time.Second, Timeout: 2 * time.Second, MinHealthy: 10 * time.Second, Deadline: 5 * time.Minute},
		Verify:       VerifySpec{Path: DefaultVerifyPath, Timeout: 30 * time.Second},
		Deploy:       DeploySpec{Strategy: "bluegreen", MaxParallel: 1, Stagger: 30 * time.Second, AutoRevert: true},
		DrainTimeout: 30 * time.Second,
		PreStop:      PreStopSpec{Timeout: 60 * time.Second},
		Hold:         15 * time.Second,
	}
}

// setter applies one label value to a spec.
type setter func(s *Spec, v string) error

// keys is the one table of baton's label keys (without the "baton." prefix),
// used for container labels and for the config file's defaults alike.
var keys = map[string]setter{
	"service":             func(s *Spec, v string) error { return setName(&s.Service, v) },
	"host":                func(s *Spec, v string) error { return setHosts(&s.Hosts, v) },
	"path":                func(s *Spec, v string) error { return setPath(&s.Path, v) },
	"port":                func(s *Spec, v string) error { return setPort(&s.Port, v) },
	"network":             func(s *Spec, v string) error { s.Network = v; return nil },
	"version":             func(s *Spec, v string) error { s.Version = strings.TrimSpace(v); return nil },
	"health.path":         func(s *Spec, v string) error { return setPath(&s.Health.Path, v) },
	"health.interval":     func(s *Spec, v string) error { return setDuration(&s.Health.Interval, v) },
	"health.timeout":      func(s *Spec, v string) error { return setDuration(&s.Health.Timeout, v) },
	"health.min_healthy":  func(s *Spec, v string) error { return setDurationZero(&s.Health.MinHealthy, v) },
	"health.deadline":     func(s *Spec, v string) error { return setDuration(&s.Health.Deadline, v) },
	"verify.path":         func(s *Spec, v string) error { return setPath(&s.Verify.Path, v) },
	"verify.header":       func(s *Spec, v string) error { s.Verify.Header = v; return nil },
	"verify.timeout":      func(s *Spec, v string) error { return setDuration(&s.Verify.Timeout, v) },
	"deploy.strategy":     setStrategy,
	"deploy.max_parallel": func(s *Spec, v string) error { return setPositive(&s.Deploy.MaxParallel, v) },
	"deploy.stagger":      func(s *Spec, v string) error { return setDurationZero(&s.Deploy.Stagger, v) },
	"deploy.auto_revert":  func(s *Spec, v string) error { return setBool(&s.Deploy.AutoRevert, v) },
	"drain.timeout":       func(s *Spec, v string) error { return setDurationZero(&s.DrainTimeout, v) },
	"stop.grace":          func(s *Spec, v string) error { return setDurationZero(&s.StopGrace, v) },
	"prestop.http":        func(s *Spec, v string) error { return setPath(&s.PreStop.HTTP, v) },
	"prestop.exec":        func(s *Spec, v string) error { s.PreStop.Exec = v; return nil },
	"prestop.signal":      setSignal,
	"prestop.wait":        func(s *Spec, v string) error { return setPath(&s.PreStop.Wait, v) },
	"prestop.timeout":     func(s *Spec, v string) error { return setDuration(&s.PreStop.Timeout, v) },
	"sticky":              func(s *Spec, v string) error { return setCookie(&s.StickyCookie, v) },
	"hold":                func(s *Spec, v string) error { return setDurationZero(&s.Hold, v) },
	"max_inflight":        func(s *Spec, v string) error { return setCount(&s.MaxInflight, v) },
	"cache":               func(s *Spec, v string) error { return setBool(&s.Cache, v) },
	"tls":                 setTLS,
	"tls.hsts":            func(s *Spec, v string) error { return setHSTS(&s.HSTS, v) },
	"upgrades":            func(s *Spec, v string) error { return setUpgrades(&s.Upgrades, v) },
	"upstream.scheme":     func(s *Spec, v string) (err error) { s.Scheme, err = ParseScheme(v); return err },
	"upstream.transport":  setTransportName,                         // resolved against baton.yaml by ParseLabels
	"enable":              func(*Spec, string) error { return nil }, // read by ParseLabels itself
}

// ApplyDefaults applies label-style keys (the config's defaults section) over base.
func ApplyDefaults(base Spec, kv map[string]string) (Spec, error) {
	var errs []error
	names := sortedKeys(kv)
	for _, k := range names {
		set, ok := keys[k]
		if !ok || k == "enable" || k == "service" || k == "version" || k == "host" {
			errs = append(errs, fmt.Errorf("defaults.%s: not a default baton understands", k))
			continue
		}
		if err := set(&base, kv[k]); err != nil {
			errs = append(errs, fmt.Errorf("defaults.%s=%q: %v", k, kv[k], err))
		}
	}
	return base, errors.Join(errs...)
}

// ParseLabels reads a container's labels over defaults. enabled is false when
// the container does not opt in; err lists every bad label (the container is
// then not routed; nothing else is affected); ignored lists Traefik labels
// baton does not honour.
func ParseLabels(c Container, defaults Spec, o ParseOptions) (spec Spec, enabled bool, ignored []string, err error) {
	spec = defaults
	spec.Hosts = nil
	name := strings.TrimPrefix(c.Name, "/")
	enabled = o.ExposedByDefault
	if v, ok := c.Labels["baton.enable"]; ok {
		b, perr := strconv.ParseBool(v)
		if perr != nil {
			return spec, true, nil, &LabelError{Container: name, Label: "baton.enable", Value: v, Reason: "want true or false"}
		}
		enabled = b
	} else if v, ok := c.Labels["traefik.enable"]; ok && o.TraefikLabels {
		enabled, _ = strconv.ParseBool(v)
	} else if !enabled && o.TraefikLabels && hasTraefikRouting(c.Labels) {
		// Traefik's exposedByDefault is true: it routes this container. baton
		// does not guess; it says so, where the operator looks.
		return spec, true, nil, &LabelError{Container: name, Label: "traefik.enable",
			Reason: "traefik.* labels without traefik.enable=true: Traefik (exposedByDefault) would route this container, baton routes only containers that opt in; add traefik.enable=true (or set docker.exposed_by_default: true)"}
	}
	if !enabled {
		return spec, false, nil, nil
	}
	var errs []error
	if o.TraefikLabels {
		ignored, errs = applyTraefik(&spec, name, c.Labels, o)
	}
	for _, k := range sortedKeys(c.Labels) {
		if !strings.HasPrefix(k, "baton.") {
			continue
		}
		set, ok := keys[strings.TrimPrefix(k, "baton.")]
		if !ok {
			errs = append(errs, &LabelError{Container: name, Label: k, Value: c.Labels[k], Reason: "unknown baton label"})
			continue
		}
		err := set(&spec, c.Labels[k])
		if err == nil && k == "baton.upstream.transport" {
			spec.Transport, err = transportRef(c.Labels[k], true, o.Transports)
		}
		if err != nil {
			errs = append(errs, &LabelError{Container: name, Label: k, Value: c.Labels[k], Reason: err.Error()})
		}
	}
	spec.syncMainEndpoint()
	if spec.Service == "" {
		spec.Service = defaultService(name, c.Labels)
	}
	if spec.Version == "" {
		spec.Version = c.ImageLabels["org.opencontainers.image.revision"]
	}
	return spec, true, ignored, errors.Join(errs...)
}

// hasTraefikRouting reports whether labels configure Traefik routing.
func hasTraefikRouting(labels map[string]string) bool {
	for k := range labels {
		lk := strings.ToLower(k)
		// Any Traefik label but traefik.enable: v1 labels too (Traefik v3
		// drops them and routes the container by its default rule).
		if strings.HasPrefix(lk, "traefik.") && lk != "traefik.enable" && lk != "traefik.docker.network" {
			return true
		}
	}
	return false
}

func defaultService(name string, labels map[string]string) string {
	p, s := labels["com.docker.compose.project"], labels["com.docker.compose.service"]
	if p != "" && s != "" {
		return p + "-" + s
	}
	return name
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
