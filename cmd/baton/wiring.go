package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/batonproxy/baton/admin"
	"github.com/batonproxy/baton/config"
	"github.com/batonproxy/baton/cutover"
	"github.com/batonproxy/baton/drain"
	"github.com/batonproxy/baton/upstream"
	"github.com/docker/docker/api/types/system"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// deployWiring is the Docker side of serve: provider, controller, deployer.
type deployWiring struct {
	docker     provider
	controller *cutover.Controller
	deployer   *cutover.Deployer
	store      *cutover.Store
}

// provider is what serve runs of the Docker side: the container provider
// (upstream.Docker) or the Swarm provider (upstream.Swarm).
type provider interface {
	Run(ctx context.Context, sink upstream.Sink)
	Degraded() string
	cutover.StatusReader
}

// infoReader is the one SDK call docker.mode auto needs.
type infoReader interface {
	Info(ctx context.Context) (system.Info, error)
}

// swarmMode decides docker.mode: swarm as configured, or, with auto, when
// the engine is a Swarm manager (a worker cannot list services). auto on an
// engine that does not answer is refused rather than guessed.
func swarmMode(ctx context.Context, cfg config.Docker, cli infoReader) (bool, error) {
	switch cfg.ProviderMode() {
	case config.ModeSwarm:
		return true, nil
	case config.ModeAuto:
		info, err := cli.Info(ctx)
		if err != nil {
			return false, fmt.Errorf("docker.mode auto: cannot ask the engine whether it is a Swarm manager (set docker.mode: containers or swarm): %w", err)
		}
		return info.Swarm.ControlAvailable, nil
	}
	return false, nil
}

// labelDefaults turns the config's defaults section into the base label spec;
// a bad default names its file and line.
func labelDefaults(cfg *config.Config) (upstream.Spec, error) {
	spec := upstream.DefaultSpec()
	for k, v := range cfg.Defaults {
		if _, err := upstream.ApplyDefaults(spec, map[string]string{k: v}); err != nil {
			return spec, fmt.Errorf("%s:%d: %w", cfg.File, cfg.DefaultsLine[k], err)
		}
	}
	return upstream.ApplyDefaults(spec, cfg.Defaults)
}

func (s *server) wireDocker(ctx context.Context, registry *drain.Registry, verifyToken string) error {
	defaults, err := labelDefaults(s.cfg)
	if err != nil {
		return err
	}
	cli, err := upstream.NewDockerClient(s.cfg.Docker.Host)
	if err != nil {
		return err
	}
	labelErrors := prometheus.NewCounter(prometheus.CounterOpts{Name: "baton_label_errors_total", Help: "Containers not routed because of a bad label (counted once per container and error)."})
	s.registry.MustRegister(labelErrors)
	opts := upstream.DockerOptions{
		Defaults: defaults, ExposedByDefault: s.cfg.Docker.ExposedByDefault, TraefikLabels: s.cfg.Docker.Traefik(),
		Network: s.cfg.Docker.Network, Constraint: s.cfg.Docker.Constraint, Logger: s.logger, OnLabelError: func(string) { labelErrors.Inc() },
		Transports: s.cfg.HasTransport,
	}
	d := upstream.NewDocker(cli, opts)
	var prov provider = d
	var engine cutover.Engine = d
	onSwarm, err := swarmMode(ctx, s.cfg.Docker, cli)
	if err != nil {
		return err
	}
	if onSwarm {
		// Services and tasks; deploys are refused by name until baton drives
		// Swarm updates (docs/swarm.md). d stays the drain side's adapter.
		prov, engine = upstream.NewSwarm(cli, opts, 0), upstream.SwarmEngine{}
		s.logger.Info("docker provider: swarm services and tasks", zap.String("mode", s.cfg.Docker.ProviderMode()))
	}
	if err := s.switchboard.Persist(filepath.Join(s.cfg.State.Dir, "routes.json")); err != nil {
		return err
	}
	s.savedLive = routedServices(s.switchboard)
	gater := cutover.HealthGater{Docker: prov, Logger: s.logger, Transports: s.transports}
	// On Swarm a task of another version is Swarm's own update: it joins
	// after its gate once the old version is gone (adoption would retire
	// tasks baton cannot stop).
	ctrl := cutover.NewController(ctx, s.switchboard, gater, cutover.ControllerOptions{Logger: s.logger, Adopt: !onSwarm})
	store, err := cutover.NewStore(s.cfg.State.Dir)
	if err != nil {
		return err
	}
	s.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "baton_state_write_errors_total",
		Help: "Writes to the state dir (deploy records, the pre-deploy probe, the saved route table) that failed: a full or read-only disk refuses deploys."},
		func() float64 { return float64(store.WriteErrors() + s.switchboard.SaveErrors()) }))
	metrics := newDeployMetrics(s.registry)
	notifier := &cutover.Notifier{URLs: s.cfg.Notify.Webhooks, Logger: s.logger}
	dep := &cutover.Deployer{
		Controller: ctrl,
		Engine:     engine,
		Gater:      gater,
		Drainer:    cutover.RegistryDrainer{Registry: registry},
		Retirer:    cutover.ContainerRetirer{Retirer: &drain.Retirer{Docker: d, Exec: d, Logger: s.logger}, Transports: s.transports},
		Verifier: &cutover.FrontDoor{
			URL:        "http://" + loopbackAddr(s.listeners[0].Addr()),
			HTTPSURL:   s.httpsURL(),
			Secure:     s.secure,
			Roots:      s.internalRoots(),
			Token:      verifyToken,
			Transports: s.transports,
			Live:       func(service string) []upstream.Instance { _, live := ctrl.Live(service); return live },
		},
		Store:    store,
		Purge:    func(service string) { s.cache.Purge(service, "") },
		Logger:   s.logger,
		OnFinish: func(rec *cutover.Record) { metrics.observe(rec); notifier.Notify(rec) },
		// Deploys the replaced process handed over go on once it has drained.
		HandedOffAfter: s.parentDone(),
		OnEvent:        s.events.Publish,
	}
	// The controller decides adoptions; the deployer carries them out.
	go func() {
		for {
			select {
			case a := <-ctrl.Adoptions():
				go func() {
					if rec, err := dep.Adopt(ctx, a.Service, a.Fresh); err != nil {
						s.logger.Warn("adoption did not complete", zap.String("service", a.Service), zap.Error(err))
					} else {
						s.logger.Info("adopted a new version", zap.String("service", a.Service), zap.String("deploy", rec.ID), zap.String("version", rec.Expected))
					}
				}()
			case <-ctx.Done():
				return
			}
		}
	}()
	s.deploy = &deployWiring{docker: prov, controller: ctrl, deployer: dep, store: store}
	unfinished, releases, err := dep.ClaimUnfinished()
	if err != nil {
		return fmt.Errorf("state dir %s: %w", s.cfg.State.Dir, err)
	}
	if len(unfinished) > 0 {
		s.logger.Info("resuming interrupted deploys", zap.Int("count", len(unfinished)))
		go dep.Resume(ctx, unfinished, releases)
	}
	s.status.Containers, s.status.Records, s.status.Docker = ctrl, store, prov.Degraded
	// A disk that filled while no deploy ran is named too; one probe write
	// per 5 s at most, however often status is polled.
	s.status.State = func() string { return store.CheckedProblem(5 * time.Second) }
	go func() {
		defer func() {
			if r := recover(); r != nil {
				s.logger.Error("docker provider panicked", zap.Any("panic", r), zap.Stack("stack"))
			}
		}()
		prov.Run(ctx, ctrl)
	}()
	return nil
}

// loopbackAddr is where baton reaches its own listener: a wildcard bind is
// reached on 127.0.0.1.
func loopbackAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ip := tcp.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(tcp.Port))
}

func randomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// deployMetrics are the deploy state machine's Prometheus series.
type deployMetrics struct {
	deploys   *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	drained   prometheus.Counter
	cancelled prometheus.Counter
	killed    prometheus.Counter
}

func newDeployMetrics(reg prometheus.Registerer) *deployMetrics {
	m := &deployMetrics{
		deploys:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "baton_deploys_total", Help: "Deploys by service and result (done, failed, reverted)."}, []string{"service", "result"}),
		duration:  prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "baton_deploy_step_seconds", Help: "Time spent in each deploy step.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 14)}, []string{"step"}),
		drained:   prometheus.NewCounter(prometheus.CounterOpts{Name: "baton_drained_requests_total", Help: "Requests that finished on an old target while it drained."}),
		cancelled: prometheus.NewCounter(prometheus.CounterOpts{Name: "baton_drain_cancelled_total", Help: "Requests and upgraded connections ended at the drain bound."}),
		killed:    prometheus.NewCounter(prometheus.CounterOpts{Name: "baton_sigkills_total", Help: "Containers that needed SIGKILL after their stop grace."}),
	}
	reg.MustRegister(m.deploys, m.duration, m.drained, m.cancelled, m.killed)
	return m
}

func (m *deployMetrics) observe(rec *cutover.Record) {
	m.deploys.WithLabelValues(rec.Service, string(rec.Step)).Inc()
	for i := 1; i < len(rec.Events); i++ {
		prev := rec.Events[i-1]
		m.duration.WithLabelValues(string(prev.Step)).Observe(rec.Events[i].At.Sub(prev.At).Seconds())
	}
	m.drained.Add(float64(rec.Drained))
	m.cancelled.Add(float64(rec.Cancelled))
	m.killed.Add(float64(rec.Killed))
}

var _ admin.Deployer = (*cutover.Deployer)(nil)

// httpsURL is where the verify probe reaches baton's HTTPS listener; "" when
// TLS is off.
func (s *server) httpsURL() string {
	if s.https == nil {
		return ""
	}
	return "https://" + loopbackAddr(s.https.Addr())
}

// secure reports whether a host is served over HTTPS.
func (s *server) secure(host string) bool { return s.certs != nil && s.certs.Secure(host) }

// internalRoots is the internal CA's root, which every certificate baton
// serves must chain to; nil with an ACME CA (its root may not be on this host).
func (s *server) internalRoots() *x509.CertPool {
	if s.certs == nil {
		return nil
	}
	pemBytes, err := s.certs.RootPEM()
	if err != nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	return pool
}
