package autotls

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/caddyserver/certmagic"
)

// Lifetimes of the internal CA's certificates. Leaves are short-lived, as an
// ACME CA's are, so renewal runs often enough to be known to work.
const internalRootLifetime = 10 * 365 * 24 * time.Hour

// internalLeafLifetime is a variable so the renewal test can shorten it.
var internalLeafLifetime = 7 * 24 * time.Hour

// internalCA is a local certificate authority for hosts no public CA will
// certify (app.localhost, private networks). Its root is created once and kept
// under the certificate storage, so browsers told to trust it keep trusting it.
type internalCA struct {
	root    *x509.Certificate
	key     crypto.Signer
	rootPEM []byte
}

// loadOrCreateCA reads the root from dir, or creates and saves one.
func loadOrCreateCA(dir string) (*internalCA, error) {
	certPath, keyPath := filepath.Join(dir, "root.crt"), filepath.Join(dir, "root.key")
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	switch {
	case certErr == nil && keyErr == nil:
		return parseCA(certPEM, keyPEM)
	case errors.Is(certErr, os.ErrNotExist) && errors.Is(keyErr, os.ErrNotExist):
		return createCA(dir, certPath, keyPath)
	case certErr != nil && !errors.Is(certErr, os.ErrNotExist):
		return nil, fmt.Errorf("internal CA root %s: %w", certPath, certErr)
	case keyErr != nil && !errors.Is(keyErr, os.ErrNotExist):
		return nil, fmt.Errorf("internal CA key %s: %w", keyPath, keyErr)
	default:
		// One of the pair is missing: creating a new root would silently
		// invalidate every trust store that holds the old one.
		return nil, fmt.Errorf("internal CA in %s: one of root.crt and root.key is missing; restore it, or remove both to create a new root", dir)
	}
}

func parseCA(certPEM, keyPEM []byte) (*internalCA, error) {
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, errors.New("internal CA: root.crt or root.key is not PEM")
	}
	root, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("internal CA root: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("internal CA key: %w", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("internal CA key: not a signing key")
	}
	return &internalCA{root: root, key: signer, rootPEM: certPEM}, nil
}

func createCA(dir, certPath, keyPath string) (*internalCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "baton internal CA (" + host + ", " + now.UTC().Format("2006-01-02") + ")", Organization: []string{"baton"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(internalRootLifetime),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("internal CA: create root: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("internal CA: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	// The key first: a crash between the two writes leaves a key without a
	// root, which loadOrCreateCA reports instead of replacing.
	if err := writeFileSync(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, fmt.Errorf("internal CA key: %w", err)
	}
	if err := writeFileSync(certPath, certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("internal CA root: %w", err)
	}
	root, _ := x509.ParseCertificate(der)
	return &internalCA{root: root, key: key, rootPEM: certPEM}, nil
}

// Issue signs a leaf for the names of a CSR that certmagic made (certmagic.Issuer).
func (ca *internalCA) Issue(_ context.Context, csr *x509.CertificateRequest) (*certmagic.IssuedCertificate, error) {
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("internal CA: CSR signature: %w", err)
	}
	now := time.Now()
	notAfter := now.Add(internalLeafLifetime)
	if notAfter.After(ca.root.NotAfter) {
		notAfter = ca.root.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: firstName(csr)},
		DNSNames:     csr.DNSNames,
		IPAddresses:  csr.IPAddresses,
		NotBefore:    now.Add(-5 * time.Minute), // clocks of clients drift
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if _, isRSA := csr.PublicKey.(*rsa.PublicKey); isRSA {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.root, csr.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("internal CA: sign %v: %w", csr.DNSNames, err)
	}
	return &certmagic.IssuedCertificate{Certificate: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// IssuerKey names where certificates came from in certmagic's storage.
func (ca *internalCA) IssuerKey() string { return "baton-internal" }

func firstName(csr *x509.CertificateRequest) string {
	if len(csr.DNSNames) > 0 {
		return csr.DNSNames[0]
	}
	if len(csr.IPAddresses) > 0 {
		return csr.IPAddresses[0].String()
	}
	return csr.Subject.CommonName
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}

// writeFileSync writes through a temporary file, fsyncs and renames, so a
// crash never leaves half a key.
func writeFileSync(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
