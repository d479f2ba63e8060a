package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/cutover"
	"github.com/batonproxy/baton/integration/harness"
)

// privateCA makes a CA (its PEM written to a file for baton's
// servers_transports) and a server certificate it signs for name.
func privateCA(t *testing.T, name string) (caFile, certPEM, keyPEM string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ports test CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
}

type portAnswer struct {
	status            int
	release, listener string
	proto             string
}

func askPort(url, host string) portAnswer {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Host = host
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return portAnswer{release: "error: " + err.Error()}
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return portAnswer{resp.StatusCode, resp.Header.Get("X-Release"), resp.Header.Get("X-Listener"), resp.Header.Get("X-Proto")}
}

// One container, three Traefik services on three ports, each named by its
// own router: plain HTTP (GitLab's / on one port), HTTPS verified against a
// private CA through a servers transport of baton.yaml, and h2c. Each host
// reaches its own port in its own scheme; a blue-green deploy of the
// service completes with verify (its main endpoint, the verify router's
// service, is the HTTPS one: gated and verified over TLS), and afterwards
// every host serves the new release on its port. A container whose
// transport baton cannot resolve is not routed and named.
func TestSeveralTraefikServicesPerContainerDeployAndSchemes(t *testing.T) {
	caFile, certPEM, keyPEM := privateCA(t, "app.internal")
	v1, v2 := release(t, "aaaaaaa"), release(t, "bbbbbbb")
	net := harness.Network(t)
	b := harness.StartBaton(t, fmt.Sprintf("servers_transports:\n  private:\n    server_name: app.internal\n    root_cas: [%q]\n", caFile))
	l := map[string]string{
		"traefik.enable":       "true",
		"baton.service":        "multi",
		"baton.drain.timeout":  "2s",
		"baton.stop.grace":     "5s",
		"baton.verify.timeout": "5s",
		// admin sorts first: admin.test is the service's first host, so
		// the verify request goes through the admin router.
		"traefik.http.routers.admin.rule":                           "Host(`admin.test`)",
		"traefik.http.routers.admin.service":                        "admin",
		"traefik.http.services.admin.loadbalancer.server.port":      "8443",
		"traefik.http.services.admin.loadbalancer.server.scheme":    "https",
		"traefik.http.services.admin.loadBalancer.serversTransport": "private@file",
		"traefik.http.routers.app.rule":                             "Host(`app.test`)",
		"traefik.http.routers.app.service":                          "app",
		"traefik.http.services.app.loadbalancer.server.port":        "8080",
		"traefik.http.routers.grpc.rule":                            "Host(`grpc.test`)",
		"traefik.http.routers.grpc.service":                         "grpc",
		"traefik.http.services.grpc.loadbalancer.server.port":       "9090",
		"traefik.http.services.grpc.loadbalancer.server.scheme":     "h2c",
	}
	for k, v := range fastHealth {
		l[k] = v
	}
	env := []string{"TLS_PORT=8443", "TLS_CERT=" + certPEM, "TLS_KEY=" + keyPEM, "H2C_PORT=9090"}
	old := harness.Run(t, harness.ContainerOpts{Image: v1, Network: net, Labels: l, Env: env})
	// The same labels with a transport baton.yaml does not define.
	bad := map[string]string{"traefik.enable": "true", "baton.service": "bad",
		"traefik.http.routers.bad.rule":                           "Host(`bad.test`)",
		"traefik.http.services.bad.loadbalancer.server.port":      "8443",
		"traefik.http.services.bad.loadbalancer.server.scheme":    "https",
		"traefik.http.services.bad.loadbalancer.serverstransport": "nosuch@file"}
	badC := harness.Run(t, harness.ContainerOpts{Image: v1, Network: net, Labels: bad, Env: env})

	want := map[string]portAnswer{
		"app.test":   {200, "", "http", "HTTP/1.1"},
		"admin.test": {200, "", "https", "HTTP/2.0"},
		"grpc.test":  {200, "", "h2c", "HTTP/2.0"},
	}
	check := func(rel string) {
		t.Helper()
		for host, w := range want {
			w.release = rel
			var got portAnswer
			harness.Eventually(t, 20*time.Second, host+" serving "+rel, func() bool { got = askPort(b.URL+"/", host); return got == w })
			if got != w {
				t.Fatalf("%s: %+v, want %+v", host, got, w)
			}
		}
	}
	check("aaaaaaa")

	out, code := b.CLI("deploy", "multi", "--image", v2)
	if code != 0 || !strings.Contains(out, "verified") {
		t.Fatalf("deploy exit %d:\n%s", code, out)
	}
	rec := lastRecord(t, b, "multi")
	if rec.Step != cutover.StepDone || rec.Verified != "verified" || rec.Expected != "bbbbbbb" {
		t.Fatalf("record: step %s verified %s expected %s", rec.Step, rec.Verified, rec.Expected)
	}
	check("bbbbbbb")
	harness.Eventually(t, 15*time.Second, "old container retired", func() bool { return !harness.Exists(t, old.ID) })

	// The unresolvable transport: not routed, the label and the name in the problem.
	if a := askPort(b.URL+"/", "bad.test"); a.status != http.StatusNotFound {
		t.Errorf("bad.test (transport nosuch@file): %+v, want 404: never routed", a)
	}
	st := batonStatus(t, b)
	found := false
	for _, p := range st.Problems {
		if p.Container == badC.Name && strings.Contains(p.Error, "traefik.http.services.bad.loadbalancer.serverstransport") && strings.Contains(p.Error, "no servers transport nosuch") {
			found = true
		}
	}
	if !found {
		t.Errorf("no problem names the bad container's transport: %+v", st.Problems)
	}
}
