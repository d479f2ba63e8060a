package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/batonproxy/baton/integration/bench/benchproc"
)

func start(procs *[]*exec.Cmd, path string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	check(cmd.Start())
	*procs = append(*procs, cmd)
	return cmd
}

func write(path, content string) string {
	check(os.WriteFile(path, []byte(content), 0o600))
	return path
}

func startBaton(procs *[]*exec.Cmd, bin, dir string, backend int, gomaxprocs, gogc string) *target {
	port := freePort()
	cfg := write(filepath.Join(dir, "baton.yaml"), fmt.Sprintf(`listen:
  http: "127.0.0.1:%d"
admin:
  socket: %s/baton.sock
  metrics: ""
  ui: ""
state:
  dir: %s/state
docker:
  enabled: false
log:
  level: warn
routes:
  - host: "*"
    upstreams: ["127.0.0.1:%d"]
`, port, dir, dir, backend))
	var env []string
	if gomaxprocs != "" {
		env = append(env, "GOMAXPROCS="+gomaxprocs)
	}
	if gogc != "" {
		env = append(env, "GOGC="+gogc)
	}
	return &target{name: "baton", port: port, proxy: true, cmd: start(procs, filepath.Join(bin, "baton"), env, "serve", "--config", cfg)}
}

func startNginx(procs *[]*exec.Cmd, dir string, backend int) *target {
	port := freePort()
	d := filepath.Join(dir, "nginx")
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
    listen 127.0.0.1:%[3]d;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`, d, backend, port))
	return &target{name: "nginx", port: port, proxy: true, cmd: start(procs, "nginx", nil, "-c", cfg, "-p", d+"/")}
}

func startHAProxy(procs *[]*exec.Cmd, dir string, backend int) *target {
	port := freePort()
	cfg := write(filepath.Join(dir, "haproxy.cfg"), fmt.Sprintf(`global
  maxconn 8192
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  option forwardfor
  http-reuse always
frontend front
  bind 127.0.0.1:%d
  default_backend back
backend back
  server s1 127.0.0.1:%d
`, port, backend))
	return &target{name: "haproxy", port: port, proxy: true, cmd: start(procs, "haproxy", nil, "-db", "-f", cfg)}
}

func startCaddy(procs *[]*exec.Cmd, dir string, backend int) *target {
	port := freePort()
	d := filepath.Join(dir, "caddy")
	check(os.MkdirAll(d, 0o700))
	cfg := write(filepath.Join(d, "Caddyfile"), fmt.Sprintf(`{
	admin off
	auto_https off
}
http://:%d {
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:%d
}
`, port, backend))
	env := []string{"XDG_DATA_HOME=" + d, "XDG_CONFIG_HOME=" + d, "HOME=" + d}
	return &target{name: "caddy", port: port, proxy: true, cmd: start(procs, "caddy", env, "run", "--config", cfg, "--adapter", "caddyfile")}
}

var (
	reqsRe    = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	totalRe   = regexp.MustCompile(`(\d+) requests in`)
	latencyRe = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)`)
)

// wrk drives one target and measures the proxy's and the backend's CPU time
// over the run from /proc (the whole process tree: nginx workers included).
func wrk(t *target, d time.Duration, threads, conns int, backend *exec.Cmd, measure bool) sample {
	var proxyBefore, backendBefore float64
	if t.cmd != nil {
		proxyBefore = benchproc.CPUSeconds(t.cmd.Process.Pid)
	}
	backendBefore = benchproc.CPUSeconds(backend.Process.Pid)
	if t.h3 {
		return h3Sample(t, d, conns, backend, proxyBefore, backendBefore, measure)
	}
	url, host := fmt.Sprintf("http://127.0.0.1:%d/", t.port), "bench.test"
	if t.https {
		url, host = fmt.Sprintf("https://127.0.0.1:%d/", t.port), benchTLSHost
	}
	out, err := exec.Command("wrk", fmt.Sprintf("-t%d", threads), fmt.Sprintf("-c%d", conns), fmt.Sprintf("-d%s", d), "--latency",
		"-H", "Host: "+host, url).CombinedOutput()
	if err != nil {
		check(fmt.Errorf("wrk %s: %v\n%s", t.name, err, out))
	}
	if !measure {
		return sample{}
	}
	s := sample{}
	if m := reqsRe.FindSubmatch(out); m != nil {
		s.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	if m := totalRe.FindSubmatch(out); m != nil {
		s.requests, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	for _, m := range latencyRe.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		switch string(m[3]) {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		if string(m[1]) == "50" {
			s.p50 = v
		} else {
			s.p99 = v
		}
	}
	if strings.Contains(string(out), "Non-2xx") || strings.Contains(string(out), "Socket errors") {
		fmt.Printf("  (%s: %s)\n", t.name, strings.TrimSpace(lastLines(string(out), 3)))
	}
	if s.requests > 0 {
		if t.cmd != nil {
			s.cpuPerReq = (benchproc.CPUSeconds(t.cmd.Process.Pid) - proxyBefore) / s.requests * 1e6
			s.rssMiB = benchproc.RSSMiB(t.cmd.Process.Pid)
		}
		s.backendPerReq = (benchproc.CPUSeconds(backend.Process.Pid) - backendBefore) / s.requests * 1e6
	}
	return s
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}

// h3Sample is wrk's sample for the HTTP/3 row, from h3Load.
func h3Sample(t *target, d time.Duration, conns int, backend *exec.Cmd, proxyBefore, backendBefore float64, measure bool) sample {
	rps, requests, p50, p99, failed := h3Load(t.port, d, conns)
	if !measure {
		return sample{}
	}
	if failed > 0 {
		fmt.Printf("  (%s: %d requests failed)\n", t.name, failed)
	}
	s := sample{rps: rps, requests: requests, p50: p50, p99: p99}
	if requests > 0 {
		s.cpuPerReq = (benchproc.CPUSeconds(t.cmd.Process.Pid) - proxyBefore) / requests * 1e6
		s.rssMiB = benchproc.RSSMiB(t.cmd.Process.Pid)
		s.backendPerReq = (benchproc.CPUSeconds(backend.Process.Pid) - backendBefore) / requests * 1e6
	}
	return s
}

func freePort() int {
	p, err := benchproc.FreePort()
	check(err)
	return p
}

func waitPort(port int) { check(benchproc.WaitPort(port)) }
