package admin

import (
	"errors"
	"net/http"

	"github.com/batonproxy/baton/proxy/autotls"
)

// Certificates is the part of the certificate manager the API shows
// (proxy/autotls.Manager).
type Certificates interface {
	Certificates() []autotls.Certificate
	RootPEM() ([]byte, error)
}

// HandleTLS adds GET /v1/tls (each host with TLS and its certificate) and
// GET /v1/tls/root (the internal CA's root, PEM). c is nil when TLS is off.
func (a *API) HandleTLS(c Certificates) {
	a.Handle("GET /v1/tls", func(w http.ResponseWriter, r *http.Request) {
		if c == nil {
			WriteJSON(w, http.StatusOK, []autotls.Certificate{})
			return
		}
		WriteJSON(w, http.StatusOK, c.Certificates())
	})
	a.Handle("GET /v1/tls/root", func(w http.ResponseWriter, r *http.Request) {
		if c == nil {
			http.Error(w, "TLS is off (tls.ca: off): there is no internal CA", http.StatusNotFound)
			return
		}
		pem, err := c.RootPEM()
		if errors.Is(err, autotls.ErrNoInternalCA) {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		} else if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Write(pem)
	})
}
