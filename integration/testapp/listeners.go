package main

import (
	"crypto/tls"
	"errors"
	"log"
	"net/http"
	"os"
	"time"
)

// extraListeners serves the same app on more ports, each in its own
// scheme, so one container can be several Traefik services:
//
//	TLS_PORT   HTTPS (HTTP/2 and HTTP/1.1 by ALPN) with the certificate and key
//	           given as PEM in TLS_CERT and TLS_KEY (a test's private CA signs them)
//	H2C_PORT   HTTP/2 in clear with prior knowledge (a gRPC-style backend)
//
// Every answer says which listener served it (X-Listener: http, https or
// h2c) and the protocol it came in (X-Proto).
func extraListeners(h http.Handler) []*http.Server {
	var out []*http.Server
	if port := os.Getenv("TLS_PORT"); port != "" {
		cert, err := tls.X509KeyPair([]byte(os.Getenv("TLS_CERT")), []byte(os.Getenv("TLS_KEY")))
		if err != nil {
			log.Fatalf("TLS_CERT/TLS_KEY: %v", err)
		}
		srv := &http.Server{Addr: ":" + port, Handler: tagged("https", h), ReadHeaderTimeout: 5 * time.Second,
			TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
		go func() {
			log.Printf("https listening on %s", srv.Addr)
			if err := srv.ListenAndServeTLS("", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Fatal(err)
			}
		}()
		out = append(out, srv)
	}
	if port := os.Getenv("H2C_PORT"); port != "" {
		srv := &http.Server{Addr: ":" + port, Handler: tagged("h2c", h), ReadHeaderTimeout: 5 * time.Second, Protocols: new(http.Protocols)}
		srv.Protocols.SetUnencryptedHTTP2(true)
		go func() {
			log.Printf("h2c listening on %s", srv.Addr)
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Fatal(err)
			}
		}()
		out = append(out, srv)
	}
	return out
}

func tagged(listener string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("X-Listener", listener)
		rw.Header().Set("X-Proto", r.Proto)
		h.ServeHTTP(rw, r)
	})
}
