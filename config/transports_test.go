package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestServersTransportsLoad(t *testing.T) {
	ca := writeCA(t)
	src := "servers_transports:\n  private-ca:\n    server_name: app.internal\n    root_cas: [" + ca + "]\n  selfsigned:\n    insecure_skip_verify: true\n"
	cfg, err := Parse("baton.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	tls, err := cfg.TransportTLS()
	if err != nil {
		t.Fatal(err)
	}
	if c := tls["private-ca"]; c == nil || c.ServerName != "app.internal" || c.RootCAs == nil || c.InsecureSkipVerify {
		t.Fatalf("private-ca: %+v", c)
	}
	if c := tls["selfsigned"]; c == nil || !c.InsecureSkipVerify || c.RootCAs != nil {
		t.Fatalf("selfsigned: %+v", c)
	}
	if !cfg.HasTransport("selfsigned") || cfg.HasTransport("other") {
		t.Fatal("HasTransport")
	}
}

func TestServersTransportsErrorsNameLineAndKey(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	cases := []struct{ src, want string }{
		{"servers_transports:\n  a:\n    insecure: true\n", "baton.yaml:3: servers_transports.a.insecure: unknown key"},
		{"servers_transports:\n  a:\n    root_cas: [/nonexistent/ca.pem]\n", "baton.yaml:3: servers_transports.a.root_cas[0]: \"/nonexistent/ca.pem\": root_cas /nonexistent/ca.pem"},
		{"servers_transports:\n  a:\n    root_cas: [" + notPEM + "]\n", "no PEM certificate"},
		{"servers_transports:\n  a@file:\n    server_name: x\n", "baton.yaml:2: servers_transports.a@file"},
		{"servers_transports:\n  a:\n    server_name: \"bad host\"\n", "baton.yaml:3: servers_transports.a.server_name"},
		{"defaults:\n  upstream.transport: nosuch\n", "baton.yaml:2: defaults.upstream.transport: \"nosuch\": no such servers transport"},
	}
	for _, c := range cases {
		_, err := Parse("baton.yaml", []byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err %v, want %q", c.src, err, c.want)
		}
	}
}
