package autotls

import (
	"net/http"
	"strings"
)

const acmeChallengePrefix = "/.well-known/acme-challenge/"

// HTTPHandler fronts the plain HTTP listener: it answers HTTP-01 challenges,
// sends hosts that have TLS and a certificate to HTTPS with 308 (which keeps
// the method and the body, unlike 301), and passes everything else to next:
// hosts on plain HTTP, unknown hosts, challenges that are not baton's, and a
// host whose first certificate is still being obtained (so turning TLS on
// never takes a working site down while the CA answers).
func (m *Manager) HTTPHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.acme != nil && m.acme.HandleHTTPChallenge(w, r) {
			return
		}
		host := hostOnly(r.Host)
		// A challenge baton did not start may be an upstream's own ACME client:
		// never redirect it.
		p, secure := (*m.policies.Load())[host]
		if !secure || strings.HasPrefix(r.URL.Path, acmeChallengePrefix) || !m.hasCertificate(host, p) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Location", "https://"+host+m.httpsPort+r.URL.RequestURI())
		w.WriteHeader(http.StatusPermanentRedirect)
	})
}

// HTTPSHandler fronts the HTTPS listener: it adds Strict-Transport-Security
// for hosts that opted in, then passes the request to next.
func (m *Manager) HTTPSHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := (*m.policies.Load())[hostOnly(r.Host)]; ok && p.hsts != "" {
			w.Header().Set("Strict-Transport-Security", p.hsts)
		}
		next.ServeHTTP(w, r)
	})
}
