package cutover

import (
	"context"
	"crypto/tls"
	"net/http"
	"time"

	"github.com/batonproxy/baton/drain"
	"github.com/batonproxy/baton/health"
	"github.com/batonproxy/baton/proxy"
	"github.com/batonproxy/baton/upstream"
	"go.uber.org/zap"
)

// StatusReader reads a container's state (upstream.Docker).
type StatusReader interface {
	Status(ctx context.Context, id string) (upstream.ContainerStatus, error)
}

type inspector struct{ r StatusReader }

func (i inspector) State(ctx context.Context, id string) (health.ContainerState, error) {
	st, err := i.r.Status(ctx, id)
	return health.ContainerState{Running: st.Running, Restarting: st.Restarting, ExitCode: st.ExitCode, RestartCount: st.RestartCount, Health: st.Health}, err
}

// HealthGater gates containers with the health package: the label's probe,
// interval and windows; the container's state from Docker.
type HealthGater struct {
	Docker StatusReader
	Logger *zap.Logger
	// Transports are the servers transports' TLS configs by name: a probe
	// of an https endpoint trusts what the proxy trusts.
	Transports map[string]*tls.Config
}

// Gate implements Gater.
func (g HealthGater) Gate(ctx context.Context, in upstream.Instance, opts GateOptions) error {
	h := in.Spec.Health
	gate := &health.Gate{
		Container:  inspector{g.Docker},
		ID:         in.ID,
		Interval:   h.Interval,
		MinHealthy: h.MinHealthy,
		Deadline:   h.Deadline,
		Logger:     g.Logger,
	}
	if in.Spec.Routed() {
		// The main endpoint, in its scheme (see upstream.Spec.MainService).
		gate.Probe = &health.Probe{URL: health.URLScheme(in.Spec.Scheme) + "://" + in.Addr + h.Path, Timeout: h.Timeout,
			Client: probeClient(in.Spec.Scheme, in.Spec.Transport, g.Transports)}
	}
	if opts.Quick {
		// Found running when baton started: it was serving before; one good
		// probe is enough, so a restart of baton does not stall traffic.
		gate.MinHealthy = 0
	}
	gate.Alone = opts.Alone
	if opts.Progress != nil {
		gate.OnProbe = func(o health.Observation, v health.Verdict, held time.Duration) {
			opts.Progress(Progress{Container: in.Name, Held: held, Need: h.MinHealthy, Serving: v == health.Serving})
		}
	}
	_, err := gate.Run(ctx)
	return err
}

// RegistryDrainer drains targets through the drain registry the proxy reports to.
type RegistryDrainer struct{ Registry *drain.Registry }

// Drain implements Drainer.
func (d RegistryDrainer) Drain(ctx context.Context, id string, bound time.Duration) (int, int) {
	rep := d.Registry.For(id).Drain(ctx, bound)
	return rep.Finished, rep.Cancelled + rep.UpgradesClosed
}

// ContainerRetirer retires containers with drain.Retirer and the labels' hooks.
type ContainerRetirer struct {
	Retirer *drain.Retirer
	// Transports: the pre-stop hooks of an https main endpoint trust what
	// the proxy trusts.
	Transports map[string]*tls.Config
}

// Retire implements Retirer.
func (r ContainerRetirer) Retire(ctx context.Context, in upstream.Instance) (bool, error) {
	grace := in.Spec.StopGrace
	if grace == 0 {
		grace = in.StopTimeout
	}
	p := in.Spec.PreStop
	rep, err := r.Retirer.Retire(ctx, drain.RetireSpec{
		ID: in.ID, Name: in.Name, Addr: in.Addr, StopSignal: in.StopSignal, Grace: grace,
		// The hooks go to the main endpoint, in its scheme.
		URLScheme: health.URLScheme(in.Spec.Scheme), Client: hookClient(in.Spec.Scheme, in.Spec.Transport, r.Transports),
		PreStop: drain.PreStop{HTTP: p.HTTP, Exec: p.Exec, Signal: p.Signal, Wait: p.Wait, Timeout: p.Timeout},
	})
	return rep.Killed, err
}

// probeClient speaks an endpoint's scheme with its servers transport.
func probeClient(scheme, transport string, transports map[string]*tls.Config) *http.Client {
	tc, ok := transports[transport]
	missing := ""
	if transport != "" && !ok {
		missing = transport
	}
	return health.NewClient(scheme, tc, missing)
}

// hookClient speaks an https or h2c main endpoint's scheme to pre-stop
// hooks; nil (the Retirer's own client) for plain HTTP.
func hookClient(scheme, transport string, transports map[string]*tls.Config) *http.Client {
	if scheme != upstream.SchemeHTTPS && scheme != upstream.SchemeH2C {
		return nil
	}
	return probeClient(scheme, transport, transports)
}

// RegistryAccounting is drain.Registry as the switchboard's Accounting.
type RegistryAccounting struct{ Registry *drain.Registry }

func (a RegistryAccounting) Tracker(id string) proxy.TargetTracker { return a.Registry.For(id) }
func (a RegistryAccounting) Forget(id string) bool                 { return a.Registry.ForgetIdle(id) }
