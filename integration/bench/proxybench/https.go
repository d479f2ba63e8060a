package main

import (
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// benchTLSHost is the host of the HTTPS rows: baton's internal CA certifies it,
// and nginx is given the same certificate and key.
const benchTLSHost = "bench.localhost"

// startBatonHTTPS starts a second baton with TLS from its internal CA, and
// waits until it has the certificate (wrk sends an IP as server name: the
// default_sni certificate answers it).
func startBatonHTTPS(procs *[]*exec.Cmd, bin, dir string, backend int, gomaxprocs, gogc string) *target {
	port, httpPort := freePort(), freePort()
	d := filepath.Join(dir, "baton-https")
	check(os.MkdirAll(d, 0o700))
	cfg := write(filepath.Join(d, "baton.yaml"), fmt.Sprintf(`listen:
  http: "127.0.0.1:%d"
  https: "127.0.0.1:%d"
admin:
  socket: %s/baton.sock
  metrics: ""
  ui: ""
state:
  dir: %s/state
tls:
  ca: internal
  default_sni: %s
docker:
  enabled: false
log:
  level: warn
routes:
  - host: %s
    upstreams: ["127.0.0.1:%d"]
`, httpPort, port, d, d, benchTLSHost, benchTLSHost, backend))
	var env []string
	if gomaxprocs != "" {
		env = append(env, "GOMAXPROCS="+gomaxprocs)
	}
	if gogc != "" {
		env = append(env, "GOGC="+gogc)
	}
	t := &target{name: "baton-https", port: port, proxy: true, https: true, cmd: start(procs, filepath.Join(bin, "baton"), env, "serve", "--config", cfg)}
	waitPort(port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{ServerName: benchTLSHost, InsecureSkipVerify: true})
		if err == nil {
			c.Close()
			return t
		}
		if time.Now().After(deadline) {
			check(fmt.Errorf("baton-https: no certificate within 30s: %v", err))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// batonCertificate finds the certificate and key baton stored for the host.
func batonCertificate(dir string) (crt, key string) {
	matches, _ := filepath.Glob(filepath.Join(dir, "baton-https", "state", "certs", "certificates", "*", benchTLSHost, benchTLSHost+".crt"))
	if len(matches) != 1 {
		check(fmt.Errorf("baton's certificate for %s not found in its storage (%v)", benchTLSHost, matches))
	}
	crt = matches[0]
	return crt, crt[:len(crt)-len(".crt")] + ".key"
}

// startNginxHTTPS serves TLS with baton's certificate, the same protocol
// versions and the TLS 1.3 suite Go picks, so the handshakes cost the same.
func startNginxHTTPS(procs *[]*exec.Cmd, dir string, backend int, crt, key string) *target {
	port := freePort()
	d := filepath.Join(dir, "nginx-https")
	check(os.MkdirAll(d, 0o700))
	cfg := write(filepath.Join(d, "nginx.conf"), fmt.Sprintf(`daemon off;
worker_processes auto;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream backend { server 127.0.0.1:%[2]d; keepalive 64; keepalive_requests 100000; }
  server {
    listen 127.0.0.1:%[3]d ssl;
    ssl_certificate %[4]s;
    ssl_certificate_key %[5]s;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`, d, backend, port, crt, key))
	return &target{name: "nginx-https", port: port, proxy: true, https: true, cmd: start(procs, "nginx", nil, "-c", cfg, "-p", d+"/")}
}

// handshakeSummary names the protocol version and suite a client gets, to
// show both HTTPS rows negotiate the same.
func handshakeSummary(port int) string {
	c, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{ServerName: benchTLSHost, InsecureSkipVerify: true})
	if err != nil {
		return "handshake failed: " + err.Error()
	}
	defer c.Close()
	st := c.ConnectionState()
	return fmt.Sprintf("%s %s, certificate %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), st.PeerCertificates[0].Subject.CommonName)
}
