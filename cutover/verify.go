package cutover

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"time"

	"github.com/batonproxy/baton/health"
	"github.com/batonproxy/baton/upstream"
)

// Verify causes: why the live service did not answer with the new fingerprint.
const (
	VerifyOldTarget    = "old_target_in_pool"
	VerifyCacheHit     = "served_from_cache"
	VerifyUpstream     = "upstream_error"
	VerifyNewServesOld = "new_container_serves_old_release"
	VerifyOtherService = "host_routed_to_another_service"
	VerifyMismatch     = "fingerprint_mismatch"
	VerifyTLS          = "tls_certificate"
)

// VerifyError is a failed verification with its named cause and a hint.
type VerifyError struct {
	Cause    string
	Expected string
	Actual   string
	Detail   string
	hint     string
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("verify: %s: expected %s, got %q (%s)", e.Cause, e.Expected, e.Actual, e.Detail)
}

// Hint tells the operator what to do about it.
func (e *VerifyError) Hint() string { return e.hint }

// FrontDoor verifies a deploy the way users reach the service: through baton's
// own public listener, with the service's Host (and SNI), no cookies. Every
// answer must carry the expected fingerprint.
type FrontDoor struct {
	// URL of baton's public listener, e.g. http://127.0.0.1:8080 or https://127.0.0.1:443.
	URL string
	// Token makes baton name the service and target that answered (X-Baton-*).
	Token string
	// Purge drops the service's cached responses before probing.
	Purge func(service string)
	// Live returns the service's live containers (the new ones after a switch).
	Live func(service string) []upstream.Instance
	// HTTPSURL is baton's HTTPS listener. Hosts for which Secure reports true
	// are probed there, with the host as SNI, as browsers reach them.
	HTTPSURL string
	Secure   func(host string) bool
	// Roots, when set, must sign the certificate the HTTPS probe is shown (the
	// internal CA's root). Without it the probe checks the name and the dates:
	// an ACME CA's root may be one baton has no copy of (staging, a private CA).
	Roots *x509.CertPool
	// Client is used for the probes; nil: a client that follows no redirects.
	Client *http.Client
	// Transports are the servers transports' TLS configs by name, for the
	// direct probe of an https container.
	Transports map[string]*tls.Config
}

type answer struct {
	status      int
	fingerprint string
	service     string
	target      string
	cacheStatus string
	age         string // a cache's Age field (RFC 9111 §5.1), shown by caches that send no Cache-Status
	err         error
	tlsErr      error // the TLS handshake failed: no valid certificate for the host
}

// Describe names what the probe asks for: the URL users would type, and SNI
// when it goes over HTTPS.
func (v *FrontDoor) Describe(spec upstream.Spec) string {
	host := ""
	if len(spec.Hosts) > 0 {
		host = spec.Hosts[0]
	}
	path := spec.Verify.URLPath()
	if v.HTTPSURL != "" && v.Secure != nil && v.Secure(host) {
		return "https://" + host + path + " (SNI " + host + ")"
	}
	return "http://" + host + path
}

// Verify probes until a whole round of answers matches or the timeout passes.
func (v *FrontDoor) Verify(ctx context.Context, service string, spec upstream.Spec, expected string, replicas int) (string, error) {
	if v.Purge != nil {
		v.Purge(service)
	}
	timeout := spec.Verify.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	count := 2 * replicas
	if count < 3 {
		count = 3
	}
	var last *VerifyError
	for {
		actual, verr := v.round(ctx, service, spec, expected, count)
		if verr == nil {
			return actual, nil
		}
		if ctx.Err() != nil && last != nil {
			// The deadline cut this round short: what the rounds before it
			// saw (a cache hit, the old target) is the cause, not the timeout.
			return last.Actual, last
		}
		last = verr
		select {
		case <-ctx.Done():
			return last.Actual, last
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (v *FrontDoor) round(ctx context.Context, service string, spec upstream.Spec, expected string, count int) (string, *VerifyError) {
	host := ""
	if len(spec.Hosts) > 0 {
		host = spec.Hosts[0]
	}
	live := map[string]upstream.Instance{}
	if v.Live != nil {
		for _, in := range v.Live(service) {
			live[in.ID] = in
		}
	}
	// count probes at least; more (up to 3x) until every new container has
	// answered once, since other traffic shares the round-robin.
	var actual string
	unseen := make(map[string]bool, len(live))
	for id := range live {
		unseen[id] = true
	}
	for i := 0; i < count || len(unseen) > 0 && i < 3*count; i++ {
		a := v.probe(ctx, host, spec, expected)
		actual = a.fingerprint
		if a.err == nil && a.status/100 == 2 && SameFingerprint(a.fingerprint, expected) {
			delete(unseen, a.target)
			continue
		}
		return actual, v.diagnose(ctx, a, service, spec, expected, live)
	}
	return actual, nil
}

func (v *FrontDoor) probe(ctx context.Context, host string, spec upstream.Spec, expected string) answer {
	path := spec.Verify.URLPath()
	base, secure := v.URL, v.HTTPSURL != "" && v.Secure != nil && v.Secure(host)
	if secure {
		base = v.HTTPSURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+path, nil)
	if err != nil {
		return answer{err: err}
	}
	req.Host = host
	// No Cache-Control: the probe asks as a user's browser would, so a cache
	// entry that outlived the purge shows up instead of hiding.
	if v.Token != "" {
		req.Header.Set("X-Baton-Verify", v.Token)
	}
	return get(v.client(host), req, spec.Verify.Header, expected)
}

// get sends one probe and reads its answer: the fingerprint, who answered
// (X-Baton-* when the probe carries baton's token), whether a cache did, and
// a failed TLS handshake apart from other errors.
func get(client *http.Client, req *http.Request, header, expected string) answer {
	// The dial may outlive a cancelled Do, so the handshake result crosses
	// goroutines through an atomic.
	var handshake atomic.Pointer[error]
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			if err != nil {
				handshake.Store(&err)
			}
		},
	}))
	resp, err := client.Do(req)
	if err != nil {
		a := answer{err: err}
		if p := handshake.Load(); p != nil {
			a.tlsErr = *p
		}
		return a
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return answer{
		status:      resp.StatusCode,
		fingerprint: ExtractFingerprint(resp.Header, body, header, expected),
		service:     resp.Header.Get("X-Baton-Service"),
		target:      resp.Header.Get("X-Baton-Target"),
		cacheStatus: resp.Header.Get("Cache-Status"),
		age:         resp.Header.Get("Age"),
	}
}

func (v *FrontDoor) client(host string) *http.Client {
	if v.Client != nil {
		return v.Client
	}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{
				ServerName: host,
				// Checked by hand below: the root may be one the system lacks.
				InsecureSkipVerify: true,
				VerifyConnection:   func(cs tls.ConnectionState) error { return checkCertificate(cs, host, v.Roots) },
			},
			DisableKeepAlives: true, // each probe a new connection: no sticky pool reuse
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// diagnose names why an answer did not match.
func (v *FrontDoor) diagnose(ctx context.Context, a answer, service string, spec upstream.Spec, expected string, live map[string]upstream.Instance) *VerifyError {
	e := &VerifyError{Expected: expected, Actual: a.fingerprint}
	switch {
	case a.tlsErr != nil:
		e.Cause = VerifyTLS
		e.Detail = a.tlsErr.Error()
		e.hint = "baton has no valid certificate for " + strings.Join(spec.Hosts, ", ") + " yet: see `baton tls` and the ACME errors in baton's log; the previous release still runs"
	case a.err != nil || a.status == http.StatusBadGateway || a.status == http.StatusServiceUnavailable || a.status == http.StatusGatewayTimeout:
		e.Cause = VerifyUpstream
		e.Detail = fmt.Sprintf("status %d, error %v", a.status, a.err)
		e.hint = "the new release answers " + spec.Verify.Path + " with an error: check its logs; the previous release still runs"
	case a.service != "" && a.service != service:
		e.Cause = VerifyOtherService
		e.Detail = "answered by service " + a.service
		e.hint = "the host is routed to service " + a.service + ": two services claim it; see baton status problems"
	case cacheHit(a.cacheStatus) != "" || a.age != "":
		e.Cause = VerifyCacheHit
		by := cacheHit(a.cacheStatus)
		e.Detail = "Cache-Status: " + a.cacheStatus
		if by == "" {
			by, e.Detail = "Age: "+a.age, "Age: "+a.age
		}
		if by == "baton" {
			e.hint = "baton's own cache answered although the deploy purged it: run `baton cache purge " + service + "` and report it"
		} else {
			e.hint = "a cache other than baton's (" + by + ") answered " + spec.Verify.Path + " from its store: purge it on deploy, or send Cache-Control: no-store on " + spec.Verify.Path
		}
	case a.target != "" && len(live) > 0 && live[a.target].ID == "":
		e.Cause = VerifyOldTarget
		e.Detail = "answered by target " + shortID(a.target) + ", which is not one of the new containers"
		e.hint = "an old container still receives traffic for this host: look for a second container with the same host labels"
	case a.target != "" && live[a.target].ID != "":
		direct := v.direct(ctx, live[a.target], spec)
		e.Cause = VerifyNewServesOld
		e.Detail = fmt.Sprintf("the new container %s answers %q directly too", live[a.target].Name, direct)
		if !SameFingerprint(direct, a.fingerprint) {
			e.Cause = VerifyMismatch
			e.Detail = fmt.Sprintf("through baton %q, directly %q", a.fingerprint, direct)
		}
		e.hint = "the image was built without the new release fingerprint: pass the SHA as a build arg, or check --expect"
	default:
		e.Cause = VerifyMismatch
		e.Detail = fmt.Sprintf("status %d", a.status)
		e.hint = "the live answer does not carry the expected fingerprint"
	}
	return e
}

// cacheHit names the cache that answered from its store, from a Cache-Status
// field (RFC 9211: a list of "cache-name; hit" or "cache-name; fwd=..."
// members, the one nearest the origin first); "" when none did.
func cacheHit(field string) string {
	for _, member := range strings.Split(field, ",") {
		name, params, _ := strings.Cut(member, ";")
		for _, p := range strings.Split(params, ";") {
			if strings.TrimSpace(p) == "hit" {
				return strings.Trim(strings.TrimSpace(name), `"`)
			}
		}
	}
	return ""
}

// checkCertificate accepts the certificate a user's browser would: valid now,
// for host, and, when roots are given, signed by one of them.
func checkCertificate(cs tls.ConnectionState, host string, roots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("no certificate shown")
	}
	leaf := cs.PeerCertificates[0]
	if roots != nil {
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter})
		return err
	}
	if err := leaf.VerifyHostname(host); err != nil {
		return err
	}
	if now := time.Now(); now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return fmt.Errorf("certificate for %s valid from %s to %s, not now", host, leaf.NotBefore.Format(time.RFC3339), leaf.NotAfter.Format(time.RFC3339))
	}
	return nil
}

// direct asks a container itself, bypassing baton, to tell a bad image from a bad route.
func (v *FrontDoor) direct(ctx context.Context, in upstream.Instance, spec upstream.Spec) string {
	path := spec.Verify.URLPath()
	// The main endpoint, in its scheme: the one the verify router reaches.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, health.URLScheme(in.Spec.Scheme)+"://"+in.Addr+path, nil)
	if err != nil {
		return ""
	}
	resp, err := probeClient(in.Spec.Scheme, in.Spec.Transport, v.Transports).Do(req)
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return ExtractFingerprint(resp.Header, body, spec.Verify.Header, "")
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
