package autotls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/batonproxy/baton/proxy"
	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3"
	"go.uber.org/zap"
)

// Options configure the certificate manager (the config's tls section, plus
// the addresses the listeners are bound to).
type Options struct {
	CA         string // letsencrypt, staging, internal, or an ACME directory URL
	Email      string
	Storage    string // certmagic's storage; the internal CA keeps its root here too
	CARoot     string // PEM file trusted for the ACME server's own HTTPS; "" = system roots
	Challenges []string
	DefaultSNI string // certificate for handshakes with no server name, or one without a certificate

	// HTTPAddr and HTTPSAddr are the bound public listeners: the challenges are
	// answered there, and redirects name the HTTPS port when it is not 443.
	HTTPAddr, HTTPSAddr string

	Logger *zap.Logger

	// ReleaseAfter is how long a host stays managed once no route for it has
	// a target (a service whose containers are all gone): through a Compose
	// recreate or a short stop it keeps its certificate in memory; after
	// this it is no longer renewed. 0 = one hour.
	ReleaseAfter time.Duration

	// renewCheckInterval overrides certmagic's (10 minutes) in tests.
	renewCheckInterval time.Duration
}

// Manager keeps a certificate for every host the route table gives TLS.
type Manager struct {
	magic    *certmagic.Config
	cache    *certmagic.Cache
	acme     *certmagic.ACMEIssuer // nil with the internal CA
	internal *internalCA           // nil with an ACME CA
	logger   *zap.Logger

	// httpsPort is appended to redirects (":8443"); "" when HTTPS is on 443.
	httpsPort string

	// policies is read on every request of the HTTP and HTTPS listeners.
	policies atomic.Pointer[map[string]hostPolicy]

	// failures holds each host's last failed attempt to obtain or renew
	// (host -> string), cleared when one succeeds: `baton tls` shows it.
	failures sync.Map

	mu           sync.Mutex
	managed      map[string]context.CancelFunc // host -> ends its obtain, when one is under way
	skipped      map[string]skipReason         // logged once per host and reason
	emptySince   map[string]time.Time          // hosts whose routes have no target, since when
	releaseAfter time.Duration
	now          func() time.Time
	ctx          context.Context
	stop         context.CancelFunc
	stopOnce     sync.Once
}

// New prepares the manager; certificates are obtained once Sync names hosts.
func New(o Options) (*Manager, error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.ReleaseAfter <= 0 {
		o.ReleaseAfter = time.Hour
	}
	m := &Manager{logger: o.Logger.Named("tls"), managed: map[string]context.CancelFunc{}, skipped: map[string]skipReason{},
		emptySince: map[string]time.Time{}, releaseAfter: o.ReleaseAfter, now: time.Now}
	m.ctx, m.stop = context.WithCancel(context.Background())
	empty := map[string]hostPolicy{}
	m.policies.Store(&empty)
	if _, port, err := net.SplitHostPort(o.HTTPSAddr); err == nil && port != "443" {
		m.httpsPort = ":" + port
	}
	if err := os.MkdirAll(o.Storage, 0o700); err != nil {
		return nil, fmt.Errorf("tls.storage %s: %w", o.Storage, err)
	}
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return m.magic, nil },
		RenewCheckInterval: o.renewCheckInterval,
		Logger:             m.logger,
	})
	m.magic = certmagic.New(m.cache, certmagic.Config{
		Storage:            &certmagic.FileStorage{Path: o.Storage},
		Logger:             m.logger,
		DefaultServerName:  o.DefaultSNI,
		FallbackServerName: o.DefaultSNI,
		OnEvent:            m.onEvent,
	})
	if o.CA == "internal" {
		ca, err := loadOrCreateCA(filepath.Join(o.Storage, "internal-ca"))
		if err != nil {
			return nil, fmt.Errorf("tls.ca internal: %w", err)
		}
		m.internal = ca
		m.magic.Issuers = []certmagic.Issuer{ca}
		return m, nil
	}
	issuer, err := m.acmeIssuer(o)
	if err != nil {
		return nil, err
	}
	m.acme = issuer
	m.magic.Issuers = []certmagic.Issuer{issuer}
	return m, nil
}

func (m *Manager) acmeIssuer(o Options) (*certmagic.ACMEIssuer, error) {
	tmpl := certmagic.ACMEIssuer{
		CA:                      directoryURL(o.CA),
		Email:                   o.Email,
		Agreed:                  true,
		DisableHTTPChallenge:    !contains(o.Challenges, "http-01"),
		DisableTLSALPNChallenge: !contains(o.Challenges, "tls-alpn-01"),
		Logger:                  m.logger,
	}
	// The challenges are answered by baton's own listeners. Naming their ports
	// makes certmagic find them busy and leave them to us, instead of binding
	// :80 and :443 itself.
	if host, port, err := net.SplitHostPort(o.HTTPAddr); err == nil {
		tmpl.ListenHost = host
		tmpl.AltHTTPPort, _ = strconv.Atoi(port)
	}
	if _, port, err := net.SplitHostPort(o.HTTPSAddr); err == nil {
		tmpl.AltTLSALPNPort, _ = strconv.Atoi(port)
	}
	if o.CARoot != "" {
		pemBytes, err := os.ReadFile(o.CARoot)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_root: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("tls.ca_root %s: no PEM certificate in the file", o.CARoot)
		}
		tmpl.TrustedRoots = pool
	}
	return certmagic.NewACMEIssuer(m.magic, tmpl), nil
}

func directoryURL(ca string) string {
	switch ca {
	case "letsencrypt":
		return certmagic.LetsEncryptProductionCA
	case "staging":
		return certmagic.LetsEncryptStagingCA
	}
	return ca
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// TLSConfig is the HTTPS listener's: certificates by SNI from certmagic's
// cache, HTTP/2 first, TLS-ALPN-01 challenges, TLS 1.2 at least with AEAD
// suites only (TLS 1.3's are always modern).
func (m *Manager) TLSConfig() *tls.Config {
	return &tls.Config{
		GetCertificate: m.magic.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1", acmez.ACMETLS1Protocol},
		MinVersion:     tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
	}
}

// Sync makes the managed hosts those the routes give TLS: new hosts are
// managed (a stored certificate is loaded, else one is obtained in the
// background), hosts no route claims any more are dropped and no longer renewed.
func (m *Manager) Sync(routes []*proxy.Route) {
	policies, skipped := policiesFrom(routes, m.acme != nil)
	m.mu.Lock()
	defer m.mu.Unlock()
	released := m.releaseUnclaimedLocked(routes, policies)
	for host, p := range *m.policies.Load() {
		if next, ok := policies[host]; ok && p.ready.Load() {
			next.ready.Store(true)
		}
	}
	m.policies.Store(&policies)
	if len(released) > 0 {
		m.logger.Info("hosts without a target for "+m.releaseAfter.String()+": certificates released", zap.Strings("hosts", released))
	}
	var added, removed []string
	for host := range policies {
		if _, ok := m.managed[host]; !ok {
			added = append(added, host)
		}
	}
	for host := range m.managed {
		if _, ok := policies[host]; !ok {
			removed = append(removed, host)
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	for host, why := range skipped {
		if m.skipped[host] != why {
			m.logger.Info("host served on plain HTTP only", zap.String("host", host), zap.String("reason", string(why)))
		}
	}
	m.skipped = skipped
	if len(removed) > 0 {
		subjects := make([]certmagic.SubjectIssuer, len(removed))
		for i, h := range removed {
			subjects[i] = certmagic.SubjectIssuer{Subject: h}
			m.managed[h]() // an obtain still under way for it stops
			delete(m.managed, h)
		}
		m.cache.RemoveManaged(subjects)
		m.logger.Info("hosts no longer routed: certificates no longer renewed", zap.Strings("hosts", removed))
	}
	if len(added) > 0 {
		// ManageAsync loads stored certificates (no new order on a restart)
		// and obtains the others in the background, retrying with backoff,
		// under a context per host: a host removed before its certificate
		// came stops its obtain (and its retries) at once.
		started := added[:0:0]
		for _, h := range added {
			ctx, cancel := context.WithCancel(m.ctx)
			m.managed[h] = cancel
			if err := m.magic.ManageAsync(ctx, []string{h}); err != nil {
				m.logger.Error("certificate management did not start", zap.String("host", h), zap.Error(err))
				continue
			}
			started = append(started, h)
		}
		if len(started) > 0 {
			m.logger.Info("managing certificates", zap.Strings("hosts", started))
		}
	}
}

// releaseUnclaimedLocked drops from policies the hosts whose routes have had
// no target for releaseAfter, and returns them: a host no container claims
// any more is no longer renewed. A route with targets (or draining ones)
// claims its host again at once.
func (m *Manager) releaseUnclaimedLocked(routes []*proxy.Route, policies map[string]hostPolicy) (released []string) {
	claimed := make(map[string]bool, len(routes))
	for _, r := range routes {
		host := strings.ToLower(r.Host)
		claimed[host] = claimed[host] || len(r.Targets)+len(r.Draining) > 0
	}
	now := m.now()
	for host := range policies {
		if claimed[host] {
			delete(m.emptySince, host)
			continue
		}
		since, ok := m.emptySince[host]
		if !ok {
			m.emptySince[host] = now
			continue
		}
		if now.Sub(since) >= m.releaseAfter {
			delete(policies, host)
			if _, ok := m.managed[host]; ok {
				released = append(released, host)
			}
		}
	}
	for host := range m.emptySince {
		if _, routed := claimed[host]; !routed {
			delete(m.emptySince, host)
		}
	}
	sort.Strings(released)
	return released
}

// Watch syncs the managed hosts with every route table the router publishes,
// and at least every releaseAfter/4, until ctx ends.
func (m *Manager) Watch(ctx context.Context, router *proxy.Router) {
	tick := time.NewTicker(m.releaseAfter / 4)
	defer tick.Stop()
	for {
		changed := router.Changed()
		m.Sync(router.Table().Routes())
		select {
		case <-changed:
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// Secure reports whether users reach host over HTTPS: it has TLS and a
// certificate (until then plain HTTP serves it, without a redirect).
func (m *Manager) Secure(host string) bool {
	host = hostOnly(host)
	p, ok := (*m.policies.Load())[host]
	return ok && m.hasCertificate(host, p)
}

// hasCertificate reports whether host has a certificate valid now, and
// remembers a yes in its policy (certificates are replaced, never dropped,
// while the host stays managed).
func (m *Manager) hasCertificate(host string, p hostPolicy) bool {
	if p.ready.Load() {
		return true
	}
	now := time.Now()
	for _, cert := range m.cache.AllMatchingCertificates(host) {
		if leaf := cert.Leaf; leaf != nil && now.After(leaf.NotBefore) && now.Before(leaf.NotAfter) {
			p.ready.Store(true)
			return true
		}
	}
	return false
}

// onEvent keeps the last failure of each host, so an operator sees why a
// certificate is pending without reading the log.
func (m *Manager) onEvent(_ context.Context, event string, data map[string]any) error {
	host, _ := data["identifier"].(string)
	switch event {
	case "cert_failed":
		if err, _ := data["error"].(error); err != nil && host != "" {
			m.failures.Store(host, time.Now().UTC().Format(time.RFC3339)+": "+err.Error())
		}
	case "cert_obtained":
		m.failures.Delete(host)
	}
	return nil
}

// Certificate is one host's certificate as the cache holds it.
type Certificate struct {
	Host      string    `json:"host"`
	Issuer    string    `json:"issuer,omitempty"`
	NotAfter  time.Time `json:"not_after,omitempty"`
	HSTS      string    `json:"hsts,omitempty"`
	Ready     bool      `json:"ready"`                // a certificate is loaded and valid now
	LastError string    `json:"last_error,omitempty"` // the last failed attempt to obtain or renew it
}

// Certificates lists the managed hosts and the certificate each has.
func (m *Manager) Certificates() []Certificate {
	policies := *m.policies.Load()
	out := make([]Certificate, 0, len(policies))
	now := time.Now()
	for host, p := range policies {
		c := Certificate{Host: host, HSTS: p.hsts}
		if e, ok := m.failures.Load(host); ok {
			c.LastError = e.(string)
		}
		for _, cert := range m.cache.AllMatchingCertificates(host) {
			if leaf := cert.Leaf; leaf != nil && now.Before(leaf.NotAfter) && leaf.NotAfter.After(c.NotAfter) {
				c.NotAfter, c.Issuer, c.Ready = leaf.NotAfter, leaf.Issuer.CommonName, true
			}
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Host < out[j].Host })
	return out
}

// RootPEM is the internal CA's root certificate, for browsers and curl to
// trust; ErrNoInternalCA with an ACME CA.
func (m *Manager) RootPEM() ([]byte, error) {
	if m.internal == nil {
		return nil, ErrNoInternalCA
	}
	return m.internal.rootPEM, nil
}

// ErrNoInternalCA: the root is only baton's own with tls.ca: internal.
var ErrNoInternalCA = errors.New("tls.ca is not internal: the certificates come from an ACME CA, whose root is its own")

// Stop ends background obtaining and renewal.
func (m *Manager) Stop() {
	m.stopOnce.Do(func() {
		m.stop()
		m.cache.Stop()
	})
}
