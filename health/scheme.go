package health

import (
	"crypto/tls"
	"errors"
	"net/http"
)

// Upstream schemes a probe speaks (Traefik's server.scheme).
const (
	schemeHTTPS = "https"
	schemeH2C   = "h2c"
)

// URLScheme is the scheme of a probe URL for an upstream scheme: https for
// https, http for http and h2c (HTTP/2 in clear is a transport, not a URL
// scheme).
func URLScheme(scheme string) string {
	if scheme == schemeHTTPS {
		return "https"
	}
	return "http"
}

// NewClient returns a probe client that speaks scheme ("" or http, https,
// h2c) to a container: for https with tc, the servers transport's TLS
// config (nil = the system's roots, the name of the address dialled), so a
// probe trusts exactly what the proxy trusts; for h2c, HTTP/2 with prior
// knowledge. It never follows redirects, keeps no idle connection and never
// goes through HTTP_PROXY, as the default probe client. missing names a
// servers transport that is not defined: every probe then fails, naming it.
func NewClient(scheme string, tc *tls.Config, missing string) *http.Client {
	if scheme != schemeHTTPS && scheme != schemeH2C {
		return probeClient
	}
	t := &http.Transport{DisableKeepAlives: true, Proxy: nil, DisableCompression: true}
	p := new(http.Protocols)
	switch scheme {
	case schemeHTTPS:
		if tc == nil {
			tc = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		tc = tc.Clone()
		if missing != "" {
			tc.VerifyConnection = func(tls.ConnectionState) error {
				return errors.New("servers transport " + missing + " is not defined in baton.yaml")
			}
		}
		t.TLSClientConfig = tc
		p.SetHTTP1(true)
		p.SetHTTP2(true)
	case schemeH2C:
		p.SetUnencryptedHTTP2(true)
	}
	t.Protocols = p
	return &http.Client{Transport: t, CheckRedirect: probeClient.CheckRedirect}
}
