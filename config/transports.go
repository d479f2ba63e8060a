package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/batonproxy/baton/internal/setting"
)

// ServersTransport is how baton speaks TLS to an upstream whose scheme is
// https (Traefik's serversTransports of its file provider, the subset baton
// honours). A Traefik label names it as name@file
// (traefik.http.services.<s>.loadbalancer.serversTransport), a baton label
// as name (baton.upstream.transport). Without one, an https upstream is
// verified against the system's roots, for the name of the address dialled
// (the container's IP), as Traefik does without serverName.
type ServersTransport struct {
	// ServerName is sent as SNI and is the name the certificate must carry;
	// "" = the address dialled.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any certificate (a self-signed one the
	// operator cannot hand baton): the connection is encrypted, not authenticated.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// RootCAs are PEM files of the roots that must sign the upstream's
	// certificate, instead of the system's (a private CA).
	RootCAs []string `yaml:"root_cas"`
}

// TLSConfig is the client TLS config of the transport; root_cas are read
// and parsed here (on load, so a bad file stops baton with its name).
func (t ServersTransport) TLSConfig() (*tls.Config, error) {
	c := &tls.Config{ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if len(t.RootCAs) == 0 {
		return c, nil
	}
	pool := x509.NewCertPool()
	for _, f := range t.RootCAs {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("root_cas %s: %w", f, err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("root_cas %s: no PEM certificate in the file", f)
		}
	}
	c.RootCAs = pool
	return c, nil
}

// TransportTLS builds every servers transport's TLS config, by name.
func (c *Config) TransportTLS() (map[string]*tls.Config, error) {
	out := make(map[string]*tls.Config, len(c.ServersTransports))
	for name, t := range c.ServersTransports {
		tc, err := t.TLSConfig()
		if err != nil {
			return nil, fmt.Errorf("servers_transports.%s: %w", name, err)
		}
		out[name] = tc
	}
	return out, nil
}

// HasTransport reports whether servers_transports defines name.
func (c *Config) HasTransport(name string) bool {
	_, ok := c.ServersTransports[name]
	return ok
}

func validateTransports(c *Config, bad func(path, value, why string)) {
	names := make([]string, 0, len(c.ServersTransports))
	for n := range c.ServersTransports {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t := c.ServersTransports[name]
		p := "servers_transports." + name
		if name == "" || strings.ContainsAny(name, "@ \t/") {
			bad(p, name, "want a name without @, spaces or slashes (labels name it as name@file)")
			continue
		}
		if t.ServerName != "" && setting.CheckHost(t.ServerName) != nil {
			bad(p+".server_name", t.ServerName, "want a host name")
		}
		if t.InsecureSkipVerify && len(t.RootCAs) > 0 {
			bad(p+".insecure_skip_verify", "true", "with root_cas set: say which one you mean (insecure_skip_verify accepts any certificate, root_cas would never be used)")
		}
		for i := range t.RootCAs {
			single := ServersTransport{RootCAs: t.RootCAs[i : i+1]}
			if _, err := single.TLSConfig(); err != nil {
				bad(fmt.Sprintf("%s.root_cas[%d]", p, i), t.RootCAs[i], err.Error())
			}
		}
	}
	if v, ok := c.Defaults["upstream.transport"]; ok && !c.HasTransport(strings.TrimSuffix(strings.TrimSpace(v), "@file")) {
		bad("defaults.upstream.transport", v, "no such servers transport under servers_transports")
	}
}
