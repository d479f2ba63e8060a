package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"reflect"
	"sync"
	"syscall"
	"time"

	"github.com/batonproxy/baton/admin"
	"github.com/batonproxy/baton/config"
	"github.com/batonproxy/baton/cutover"
	"github.com/batonproxy/baton/drain"
	"github.com/batonproxy/baton/internal/handover"
	"github.com/batonproxy/baton/internal/setting"
	"github.com/batonproxy/baton/proxy"
	"github.com/batonproxy/baton/proxy/autotls"
	"github.com/batonproxy/baton/proxy/cache"
	"github.com/batonproxy/baton/proxy/middleware"
	"github.com/batonproxy/baton/status"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "path of baton.yaml (default: embedded defaults)")
	logFormat := fs.String("log-format", "", "json or console (default: the config's log.format, else json)")
	if err := fs.Parse(args); err != nil {
		return exitCode{code: 2}
	}
	// Sockets from systemd or from the baton this process replaces.
	inherited, child, err := handover.FromEnv()
	if err != nil {
		return fmt.Errorf("inherited sockets: %w", err)
	}
	err = serve(ctx, *configPath, *logFormat, inherited, child)
	if err != nil {
		child.Fail(err) // the upgrading parent quotes it; nothing after a ready
	}
	return err
}

func serve(ctx context.Context, configPath, logFormat string, inherited *handover.Set, child *handover.Child) error {
	cfg, err := loadConfig(configPath)
	if err != nil {
		inherited.Close()
		return err
	}
	if logFormat != "" {
		cfg.Log.Format = logFormat
	}
	logger, err := newLogger(cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		inherited.Close()
		return err
	}
	defer logger.Sync()
	s, err := newServer(cfg, configPath, logger, inherited)
	if err != nil {
		return err
	}
	s.up.child = child
	return s.run(ctx)
}

func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Default(), nil
	}
	return config.Load(path)
}

// server is the wiring of one `baton serve` process.
type server struct {
	cfg        *config.Config
	configPath string
	logger     *zap.Logger

	registry     *prometheus.Registry
	proxyMetrics *proxy.PromMetrics
	reloads      *prometheus.CounterVec
	targets      *proxy.Targets
	router       *proxy.Router
	switchboard  *cutover.Switchboard
	status       *status.Board

	listeners   []*proxy.Listener // HTTP first, then HTTPS when TLS is on
	https       *proxy.Listener   // nil when TLS is off
	h3          *proxy.HTTP3      // nil when TLS or listen.http3 is off
	certs       *autotls.Manager  // nil when TLS is off
	adminLn     net.Listener
	metricsLn   net.Listener
	drains      *drain.Registry
	verifyToken string
	cache       *cache.Cache
	deploy      *deployWiring // nil when the Docker provider is off
	rates       *proxy.Rates  // the dashboard's charts
	events      *admin.Events // the dashboard's deploy stream
	uiLn        net.Listener  // the dashboard's; nil when admin.ui is ""

	ctx       context.Context // run's; cancelled at exit
	up        upgradeState
	savedLive []string // Docker services the saved routes served at start
	// transports are the servers transports' TLS configs by name (read at
	// start; a reload that changes them says they change on restart).
	transports map[string]*tls.Config
}

// newServer binds the listeners, or takes them from inherited (systemd's
// sockets, or those of the baton this process replaces); an inherited socket
// that no listener claims is an error.
func newServer(cfg *config.Config, configPath string, logger *zap.Logger, inherited *handover.Set) (*server, error) {
	s, err := buildServer(cfg, configPath, logger, inherited)
	if err == nil {
		err = inherited.Unmatched()
		if err != nil {
			s.closeListeners()
		}
	}
	inherited.Close()
	if err != nil {
		return nil, err
	}
	return s, nil
}

// bindTCP is the inherited socket for the listener name at addr, else a new one.
func bindTCP(inherited *handover.Set, name, addr string) (net.Listener, error) {
	if ln := inherited.Take(name, addr); ln != nil {
		return ln, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return ln, nil
}

func buildServer(cfg *config.Config, configPath string, logger *zap.Logger, inherited *handover.Set) (*server, error) {
	s := &server{cfg: cfg, configPath: configPath, logger: logger, registry: prometheus.NewRegistry()}
	s.up.handedOver = make(chan struct{})
	s.up.started = time.Now().UTC()
	s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	logOpenFileLimit(logger)
	s.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "baton_config_reloads_total", Help: "Config reloads on SIGHUP, by result (ok, error).",
	}, []string{"result"})
	s.registry.MustRegister(s.reloads)

	s.targets = proxy.NewTargets(proxy.TransportOptions{ResponseHeaderTimeout: cfg.Proxy.UpstreamHeaderTimeout})
	transports, err := cfg.TransportTLS()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	s.transports = transports
	s.targets.SetTransports(transports)
	s.proxyMetrics = proxy.NewPromMetrics(s.registry, s.targets)
	s.router = proxy.NewRouter(s.proxyMetrics)
	s.rates, s.events = proxy.NewRates(s.proxyMetrics), admin.NewEvents()
	s.drains = drain.NewRegistry()
	s.verifyToken = randomToken()
	s.switchboard = cutover.NewSwitchboard(s.router, s.targets, cutover.RegistryAccounting{Registry: s.drains}, logger)
	s.status = &status.Board{Routes: s.switchboard, Targets: s.targets, Streams: s.drains.Upgrades, Secure: s.secure,
		Process: func() *admin.Process {
			return &admin.Process{Version: version, PID: os.Getpid(), Started: s.up.started, Upgrading: s.up.isUpgrading()}
		}}
	s.switchboard.SetStatic(staticRoutes(cfg))

	s.cache = proxy.NewCache(int64(cfg.Cache.MaxSize), s.registry)
	trusted, err := cfg.Proxy.TrustedPrefixes()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if len(trusted) > 0 {
		logger.Info("forwarded headers kept from trusted proxies", zap.Strings("trusted_proxies", cfg.Proxy.TrustedProxies))
	}
	handler := proxy.NewHandler(s.router, proxy.HandlerOptions{
		Logger: logger, AccessLog: cfg.Log.Access, MaxBodyBytes: int64(cfg.Proxy.MaxBodyBytes), VerifyToken: s.verifyToken, Cache: s.cache,
		TrustedProxies: trusted, MaxInflight: cfg.Proxy.MaxInflight, Shed: s.proxyMetrics,
	})
	// Middlewares (ipAllowList, rateLimit) see the client as the edge does.
	s.switchboard.MiddlewareEnv = middleware.Env{ClientIP: handler.ClientIP, Logger: logger}
	s.switchboard.HTTPS = cfg.TLS.On()
	// A host whose service has no target is released after the same bound
	// as its certificate, TLS on or off.
	s.switchboard.ReleaseAfter = cfg.TLS.ReleaseAfter
	sopts := proxy.ServerOptions{ReadHeaderTimeout: cfg.Proxy.ReadHeaderTimeout, IdleTimeout: cfg.Proxy.IdleTimeout, MaxHeaderBytes: int(cfg.Proxy.MaxHeaderBytes),
		MaxHeaderLineBytes: int(cfg.Proxy.MaxHeaderLineBytes), MaxHeaderFields: cfg.Proxy.MaxHeaderFields}
	httpHandler := http.Handler(handler)
	if cfg.TLS.On() {
		s.certs, err = autotls.New(autotls.Options{
			CA: cfg.TLS.CA, Email: cfg.TLS.Email, Storage: cfg.TLS.Storage, CARoot: cfg.TLS.CARoot,
			Challenges: cfg.TLS.Challenges, DefaultSNI: cfg.TLS.DefaultSNI, ReleaseAfter: cfg.TLS.ReleaseAfter,
			HTTPAddr: cfg.Listen.HTTP, HTTPSAddr: cfg.Listen.HTTPS, Logger: logger,
		})
		if err != nil {
			return nil, err
		}
		httpHandler = s.certs.HTTPHandler(handler)
		s.registry.MustRegister(s.certs.Collector())
	}
	sock, err := bindTCP(inherited, handover.NameHTTP, cfg.Listen.HTTP)
	if err != nil {
		s.stopCerts()
		return nil, fmt.Errorf("listen.http: %w", err)
	}
	s.listeners = append(s.listeners, proxy.ServeOn(sock, httpHandler, sopts, logger))
	s.registry.MustRegister(s.listeners[0].Collector("http"))
	if s.certs != nil {
		if sock, err = bindTCP(inherited, handover.NameHTTPS, cfg.Listen.HTTPS); err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("listen.https: %w", err)
		}
		httpsHandler := s.certs.HTTPSHandler(handler)
		tcpHandler := httpsHandler
		tc := s.certs.TLSConfig()
		if cfg.Listen.HTTP3On() {
			// The same handler (HSTS, routing, middlewares, drain) behind
			// QUIC; the TCP side advertises it while it serves.
			s.h3 = proxy.NewHTTP3(httpsHandler, tc, sopts, logger)
			tcpHandler = s.h3.Advertise(httpsHandler)
		} else if pc := inherited.TakePacket(handover.NameHTTP3, cfg.Listen.HTTPS); pc != nil {
			// The process before this one served HTTP/3; this config does
			// not (listen.http3: false).
			logger.Info("HTTP/3 is off: the inherited UDP socket is closed", zap.String("addr", pc.LocalAddr().String()))
			pc.Close()
		}
		s.https = proxy.ServeTLSOn(sock, tcpHandler, tc, sopts, logger)
		s.listeners = append(s.listeners, s.https)
		s.registry.MustRegister(s.https.Collector("https"))
		if s.h3 != nil {
			// An upgrade hands HTTP/3's UDP socket over with the others:
			// one socket, so no datagram finds the port closed.
			pc, err := inherited.TakePacket(handover.NameHTTP3, cfg.Listen.HTTPS), error(nil)
			if pc == nil {
				pc, err = proxy.BindUDP(s.https.Addr())
			}
			if err == nil {
				err = s.h3.Listen(pc)
				if err != nil {
					pc.Close()
				}
			}
			if err != nil {
				s.h3 = nil
				s.closeListeners()
				return nil, fmt.Errorf("listen.http3: %w (listen.http3: false serves HTTPS without HTTP/3)", err)
			}
		}
	}

	if s.adminLn = inherited.Take(handover.NameAdmin, cfg.Admin.Socket); s.adminLn == nil {
		if s.adminLn, err = admin.Listen(cfg.Admin.Socket, cfg.Admin.Token); err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("admin.socket: %w", err)
		}
	}
	if cfg.Admin.Metrics != "" {
		if s.metricsLn, err = bindTCP(inherited, handover.NameMetrics, cfg.Admin.Metrics); err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("admin.metrics: %w", err)
		}
	}
	if cfg.Admin.UI != "" {
		if s.uiLn, err = bindTCP(inherited, handover.NameUI, cfg.Admin.UI); err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("admin.ui: %w", err)
		}
	}
	return s, nil
}

func (s *server) stopCerts() {
	if s.certs != nil {
		s.certs.Stop()
	}
}

func (s *server) closeListeners() {
	s.stopCerts()
	for _, l := range s.listeners {
		l.Shutdown(context.Background())
	}
	if s.h3 != nil {
		s.h3.Close()
	}
	if s.adminLn != nil {
		s.adminLn.Close()
	}
	if s.metricsLn != nil {
		s.metricsLn.Close()
	}
	if s.uiLn != nil {
		s.uiLn.Close()
	}
}

// staticRoutes turns the config's routes into switchboard entries, one service
// per route named after its host and path.
func staticRoutes(cfg *config.Config) []cutover.ServiceRoutes {
	out := make([]cutover.ServiceRoutes, 0, len(cfg.Routes))
	for _, r := range cfg.Routes {
		hsts, _ := setting.ParseHSTS(r.HSTS) // validated when the file was loaded
		sr := cutover.ServiceRoutes{
			Name:    "static:" + r.Host + r.Path,
			Routing: cutover.Routing{Hosts: []string{r.Host}, Path: r.Path, PlainHTTP: r.TLS != nil && !*r.TLS, HSTS: hsts, MaxInflight: r.MaxInflight},
		}
		for _, u := range r.Upstreams {
			sr.Live = append(sr.Live, cutover.Endpoint{ID: "static:" + u, Addr: u})
		}
		out = append(out, sr)
	}
	return out
}

func (s *server) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.ctx = ctx
	if s.cfg.Docker.On() {
		if err := s.wireDocker(ctx, s.drains, s.verifyToken); err != nil {
			s.closeListeners()
			return fmt.Errorf("docker: %w", err)
		}
	}
	if ul, ok := s.adminLn.(*net.UnixListener); ok && s.up.child != nil {
		// The socket a previous baton bound goes with this process at a
		// plain stop, as a bound one does (an upgrade keeps it: stopAccepting).
		ul.SetUnlinkOnClose(true)
	}
	if s.up.child != nil {
		// The process this one replaces serves meanwhile: accept nothing
		// until the routes are what it routes.
		if err := s.waitReady(ctx); err != nil {
			s.closeListeners()
			return err
		}
	}
	defer s.switchboard.Stop()
	errc := make(chan error, 6)
	for _, l := range s.listeners {
		l := l
		go func() { errc <- s.errIfServing(l.Serve()) }()
		s.logger.Info("listening", zap.String("addr", l.Addr().String()))
	}
	if s.h3 != nil {
		go func() { errc <- s.h3.Serve() }()
		s.logger.Info("listening", zap.String("addr", s.h3.Addr().String()), zap.String("protocol", "HTTP/3 (UDP)"))
	}
	api := admin.NewAPI(s.status, s.logger)
	api.HandleUpgrade(s, func(err error) bool {
		return errors.Is(err, cutover.ErrRollingDeploy) || errors.Is(err, admin.ErrUpgradeBusy)
	})
	api.HandlePurge(s.cache)
	if s.certs != nil {
		api.HandleTLS(s.certs)
		go s.certs.Watch(ctx, s.router)
		defer s.certs.Stop()
	} else {
		api.HandleTLS(nil)
	}
	if s.deploy != nil {
		api.HandleDeploys(s.deploy.deployer, s.deploy.store)
	}
	stopUI, err := s.wireDashboard(ctx, api, errc)
	if err != nil {
		s.closeListeners()
		return err
	}
	defer stopUI(context.Background())
	adminSrv := &http.Server{Handler: admin.RequireToken(api, s.cfg.Admin.Token), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.errIfServing(adminSrv.Serve(s.adminLn)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("admin: %w", err)
		}
	}()
	s.logger.Info("admin API listening", zap.String("addr", s.cfg.Admin.Socket))
	var metricsSrv *http.Server
	if s.metricsLn != nil {
		metricsSrv = &http.Server{Handler: admin.RequireToken(s.metricsHandler(), s.cfg.Admin.Token), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := s.errIfServing(metricsSrv.Serve(s.metricsLn)); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("metrics: %w", err)
			}
		}()
		s.logger.Info("metrics listening", zap.String("addr", s.metricsLn.Addr().String()))
	}

	if s.up.child != nil {
		if err := s.up.child.Ready(version); err != nil {
			s.logger.Warn("upgrade: could not tell the previous process", zap.Error(err))
		}
		s.notify(fmt.Sprintf("MAINPID=%d\nREADY=1", os.Getpid()))
		s.logger.Info("upgrade: serving; the previous process drains and exits", zap.String("version", version))
	} else {
		s.notify("READY=1")
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	usr2 := make(chan os.Signal, 1)
	signal.Notify(usr2, syscall.SIGUSR2)
	defer signal.Stop(usr2)
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-s.up.handedOver:
			break loop
		case <-hup:
			s.reload()
		case <-usr2:
			go func() {
				if _, err := s.Upgrade(ctx); err != nil {
					s.logger.Error("upgrade on SIGUSR2 failed", zap.Error(err))
				}
			}()
		case err = <-errc:
			if err = s.errIfServing(err); err != nil {
				break loop
			}
		}
	}
	shutdown := func(ctx context.Context) {
		var wg sync.WaitGroup
		for _, l := range s.listeners {
			wg.Go(func() { _ = l.Shutdown(ctx) })
		}
		if s.h3 != nil {
			// HTTP/3 sends GOAWAY and finishes its requests within the
			// same bound as HTTP/1.1 and HTTP/2; but at an upgrade only for
			// h3HandOverBound: the next process reads the same UDP socket,
			// and while this one still reads it too, each datagram goes to
			// one of the two (QUIC connections cannot move between
			// processes: the new one's packets would be dropped here, and
			// a new client's first flight retried until it reaches it).
			h3ctx := ctx
			if s.handingOver() {
				var cancel context.CancelFunc
				h3ctx, cancel = context.WithTimeout(ctx, h3HandOverBound)
				defer cancel()
			}
			wg.Go(func() { _ = s.h3.Shutdown(h3ctx) })
		}
		wg.Go(func() { _ = adminSrv.Shutdown(ctx) })
		if metricsSrv != nil {
			wg.Go(func() { _ = metricsSrv.Shutdown(ctx) })
		}
		wg.Wait()
	}
	if s.handingOver() {
		s.finishHandOver(shutdown)
		return nil
	}
	s.logger.Info("shutting down")
	s.notify("STOPPING=1")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shutdown(shutdownCtx)
	return err
}

// notify tells systemd (Type=notify); without $NOTIFY_SOCKET it does nothing.
func (s *server) notify(state string) {
	if err := handover.Notify(state); err != nil {
		s.logger.Warn("sd_notify", zap.Error(err))
	}
}

// reload re-reads the config file. A bad file is refused and the running config
// keeps serving; listeners are not rebound (that needs a restart, and says so).
func (s *server) reload() {
	if s.configPath == "" {
		s.logger.Info("reload: no config file; nothing to do")
		return
	}
	cfg, err := config.Load(s.configPath)
	if err != nil {
		s.reloads.WithLabelValues("error").Inc()
		s.logger.Error("reload refused; the running config keeps serving", zap.Error(err))
		return
	}
	if !reflect.DeepEqual(cfg.Listen, s.cfg.Listen) || cfg.Admin != s.cfg.Admin {
		s.logger.Warn("reload: listen and admin addresses change only on restart")
	}
	if !reflect.DeepEqual(cfg.ServersTransports, s.cfg.ServersTransports) {
		s.logger.Warn("reload: servers_transports change only on restart")
	}
	if !reflect.DeepEqual(cfg.TLS, s.cfg.TLS) {
		s.logger.Warn("reload: the tls section changes only on restart")
	}
	if !reflect.DeepEqual(cfg.Proxy, s.cfg.Proxy) {
		// The handler and listeners are built once with these, trusted_proxies
		// among them: a reload that seemed to change whose X-Forwarded-For
		// baton believes, and did not, must not go unsaid.
		s.logger.Warn("reload: the proxy section (limits, timeouts, trusted_proxies) changes only on restart")
	}
	s.switchboard.SetStatic(staticRoutes(cfg))
	s.cfg.Routes = cfg.Routes
	s.reloads.WithLabelValues("ok").Inc()
	s.logger.Info("config reloaded", zap.String("file", s.configPath), zap.Int("routes", len(cfg.Routes)))
}

func (s *server) metricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	if s.cfg.Admin.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	}
	return mux
}
