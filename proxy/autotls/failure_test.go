package autotls

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/internal/testutil"
	"github.com/batonproxy/baton/proxy"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
)

// An ACME CA that cannot be reached leaves the host pending, with the reason
// on the host, and plain HTTP keeps serving it.
func TestUnreachableCAIsNamedOnTheHost(t *testing.T) {
	m, err := New(Options{CA: "https://127.0.0.1:1/directory", Storage: t.TempDir(), Challenges: []string{"http-01"},
		HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	m.Sync([]*proxy.Route{{Host: "app.example.com"}})
	var certs []Certificate
	testutil.EventuallyWithin(t, 20*time.Second, "a failure recorded", func() bool {
		certs = m.Certificates()
		return len(certs) == 1 && certs[0].LastError != ""
	})
	if certs[0].Ready || !strings.Contains(certs[0].LastError, "127.0.0.1:1") {
		t.Fatalf("certificate %+v", certs[0])
	}
	if m.Secure("app.example.com") {
		t.Error("a host without a certificate counts as served over HTTPS")
	}
	want := `
# HELP baton_tls_certificate_failing 1 when the host's last attempt to obtain or renew its certificate failed.
# TYPE baton_tls_certificate_failing gauge
baton_tls_certificate_failing{host="app.example.com"} 1
`
	if err := promtest.CollectAndCompare(m.Collector(), strings.NewReader(want), "baton_tls_certificate_failing"); err != nil {
		t.Error(err)
	}
}

// A host removed while its first certificate is being obtained stops the
// obtain at once: no order goes on for a name no route claims. The CA here
// answers nothing, so the obtain hangs on its first request until cancelled.
func TestRemovedHostStopsItsObtain(t *testing.T) {
	asked := make(chan struct{}, 16)
	cancelled := make(chan struct{}, 16)
	ca := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked <- struct{}{}
		select {
		case <-r.Context().Done():
			cancelled <- struct{}{}
		case <-time.After(30 * time.Second):
		}
	}))
	defer ca.Close()
	root := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(root, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := New(Options{CA: ca.URL + "/directory", CARoot: root, Storage: t.TempDir(), Challenges: []string{"http-01"},
		HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	m.Sync([]*proxy.Route{{Host: "gone.example.com"}})
	select {
	case <-asked:
	case <-time.After(10 * time.Second):
		t.Fatal("the obtain never reached the CA")
	}
	m.Sync(nil) // the last route for the host is gone
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the obtain for a removed host went on")
	}
}
