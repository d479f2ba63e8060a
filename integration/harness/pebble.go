package harness

import (
	"crypto/x509"
	"encoding/pem"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
)

// Pebble is Let's Encrypt's ACME test server, run inside the test process on
// loopback with its own roots. Its validation authority resolves every name to
// 127.0.0.1 (through a DNS stub of its own) and dials the HTTP and TLS ports it
// was given: the baton under test's listeners.
type Pebble struct {
	// DirectoryURL is the ACME directory (tls.ca).
	DirectoryURL string
	// ServerRootFile is a PEM file of the root that signs Pebble's own HTTPS
	// (tls.ca_root): not the one that signs the certificates it issues.
	ServerRootFile string

	ca     *ca.CAImpl
	orders atomic.Int64
	logs   *syncBuffer
}

var pebbleEnv sync.Once

// newOrderPath is Pebble's newOrder endpoint (unexported there; its directory
// names it).
const newOrderPath = "/order-plz"

// StartPebble starts Pebble for a baton whose HTTP listener is on httpPort and
// HTTPS listener on tlsPort; it stops when the test ends.
func StartPebble(t T, httpPort, tlsPort int) *Pebble {
	t.Helper()
	pebbleEnv.Do(func() {
		// No random 0-15 s sleep before each validation, and no nonces
		// rejected at random: the tests stay quick and deterministic.
		os.Setenv("PEBBLE_VA_NOSLEEP", "1")
		os.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	})
	p := &Pebble{logs: &syncBuffer{}}
	logger := log.New(p.logs, "pebble ", log.LstdFlags)
	resolver := startDNSStub(t)
	store := db.NewMemoryStore()
	p.ca = ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "default"}})
	v := va.New(logger, httpPort, tlsPort, false, resolver, store)
	front := wfe.New(logger, store, v, p.ca, []string{"pebble.letsencrypt.org"}, false, false, 3, 5)
	mux := front.Handler()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == newOrderPath {
			p.orders.Add(1)
		}
		mux.ServeHTTP(w, r)
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	p.DirectoryURL = srv.URL + wfe.DirectoryPath
	p.ServerRootFile = filepath.Join(t.TempDir(), "pebble-server-root.pem")
	if err := os.WriteFile(p.ServerRootFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pebble log:\n%s", p.logs.String())
		}
	})
	return p
}

// Roots is the pool of the root that signs the certificates Pebble issues: a
// client trusting only it is a client that trusts nothing but this ACME CA.
func (p *Pebble) Roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.ca.GetRootCert(0).PEM())
	return pool
}

// Orders counts the new-order requests Pebble received.
func (p *Pebble) Orders() int { return int(p.orders.Load()) }

// Logs is what Pebble logged (validation attempts name their challenge type).
func (p *Pebble) Logs() string { return p.logs.String() }

// startDNSStub answers every A question with 127.0.0.1 and every other with
// nothing, over TCP (how Pebble's validation authority asks). It returns its
// address.
func startDNSStub(t T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, question := range q.Question {
			if question.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: question.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A:   net.IPv4(127, 0, 0, 1),
				})
			}
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return ln.Addr().String()
}
