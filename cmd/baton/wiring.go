package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"path/filepath"

	"github.com/batonproxy/baton/admin"
	"github.com/batonproxy/baton/config"
	"github.com/batonproxy/baton/cutover"
	"github.com/batonproxy/baton/drain"
	"github.com/batonproxy/baton/upstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// deployWiring is the Docker side of serve: provider, controller, deployer.
type deployWiring struct {
	docker     *upstream.Docker
	controller *cutover.Controller
	deployer   *cutover.Deployer
	store      *cutover.Store
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
	d := upstream.NewDocker(cli, nil, upstream.DockerOptions{
		Defaults: defaults, ExposedByDefault: s.cfg.Docker.ExposedByDefault, TraefikLabels: s.cfg.Docker.Traefik(),
		Network: s.cfg.Docker.Network, Constraint: s.cfg.Docker.Constraint, Logger: s.logger, OnLabelError: func(string) { labelErrors.Inc() },
		Transports: s.cfg.HasTransport,
	})
	if err := s.switchboard.Persist(filepath.Join(s.cfg.State.Dir, "routes.json")); err != nil {
		return err
	}
	s.savedLive = routedServices(s.switchboard)
	gater := cutover.HealthGater{Docker: d, Logger: s.logger, Transports: s.transports}
	ctrl := cutover.NewController(ctx, s.switchboard, gater, s.logger)
	d.SetSink(ctrl)
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
		Engine:     d,
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
	}
	ctrl.OnNewVersion = func(service string, fresh []upstream.Instance) {
		if rec, err := dep.Adopt(ctx, service, fresh); err != nil {
			s.logger.Warn("adoption did not complete", zap.String("service", service), zap.Error(err))
		} else {
			s.logger.Info("adopted a new version", zap.String("service", service), zap.String("deploy", rec.ID), zap.String("version", rec.Expected))
		}
	}
	s.deploy = &deployWiring{docker: d, controller: ctrl, deployer: dep, store: store}
	unfinished, releases, err := dep.ClaimUnfinished()
	if err != nil {
		return fmt.Errorf("state dir %s: %w", s.cfg.State.Dir, err)
	}
	if len(unfinished) > 0 {
		s.logger.Info("resuming interrupted deploys", zap.Int("count", len(unfinished)))
		go dep.Resume(ctx, unfinished, releases)
	}
	s.status.deploy = s.deploy
	go func() {
		defer func() {
			if r := recover(); r != nil {
				s.logger.Error("docker provider panicked", zap.Any("panic", r), zap.Stack("stack"))
			}
		}()
		d.Run(ctx)
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
