package health

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A probe speaks the container's scheme: https trusting what its servers
// transport trusts, h2c as HTTP/2 in clear.
func TestProbeSpeaksTheUpstreamScheme(t *testing.T) {
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer up.Close()
	roots := x509.NewCertPool()
	roots.AddCert(up.Certificate())
	addr := strings.TrimPrefix(up.URL, "https://")
	check := func(c *http.Client, url string) error {
		return (&Probe{URL: url, Client: c}).Check(context.Background())
	}
	if err := check(NewClient("https", &tls.Config{RootCAs: roots}, ""), URLScheme("https")+"://"+addr+"/"); err != nil {
		t.Errorf("https with the private CA: %v", err)
	}
	if err := check(NewClient("https", nil, ""), "https://"+addr+"/"); err == nil {
		t.Error("https against the system roots accepted httptest's certificate")
	}
	if err := check(NewClient("https", &tls.Config{RootCAs: roots}, "gone"), "https://"+addr+"/"); err == nil || !strings.Contains(err.Error(), "servers transport gone is not defined") {
		t.Errorf("undefined transport: %v", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Protocols: new(http.Protocols), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			w.WriteHeader(http.StatusHTTPVersionNotSupported)
		}
	})}
	srv.Protocols.SetUnencryptedHTTP2(true)
	go srv.Serve(ln)
	defer srv.Close()
	if err := check(NewClient("h2c", nil, ""), URLScheme("h2c")+"://"+ln.Addr().String()+"/"); err != nil {
		t.Errorf("h2c: %v", err)
	}
	if err := check(NewClient("http", nil, ""), "http://"+ln.Addr().String()+"/"); err == nil {
		t.Error("HTTP/1.1 to an h2c-only server said ready")
	}
}
