package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/batonproxy/baton/integration/bench/benchproc"
)

// The connection-scale rows (issue 16): what an idle connection costs,
// plain and TLS, what a relayed idle WebSocket costs, and how many
// connections at once the descriptor limit allows. Each row starts a fresh
// baton and a fresh nginx (so that neither's heap has room left from the load
// rows to absorb the new connections unseen) and measures them one after
// the other in the same run. This process is the client: it holds every
// connection itself, in its own descriptor table.

// raiseNofile lifts this process's soft descriptor limit to the hard one,
// and returns the hard one.
func raiseNofile() int {
	var rl syscall.Rlimit
	check(syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl))
	rl.Cur = rl.Max
	check(syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl))
	return int(rl.Max)
}

// held is a client connection kept open after its first answer.
type held struct {
	c  net.Conn
	br *bufio.Reader
}

const dialers = 64 // connections opened at once while a row ramps up

// holdConns opens n keep-alive connections to port, each answered once, and
// returns them open. tc, when set, speaks TLS.
func holdConns(port, n int, host string, tc *tls.Config) ([]held, int) {
	out := make([]held, n)
	var answered atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < dialers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second)
				if err != nil {
					continue
				}
				if tc != nil {
					c = tls.Client(c, tc)
				}
				h := held{c: c, br: bufio.NewReaderSize(c, 2048)}
				out[i] = h
				if ask(h, host) {
					answered.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return out, int(answered.Load())
}

// ask sends one GET on h and reads its whole answer: true for a 200.
func ask(h held, host string) bool {
	_ = h.c.SetDeadline(time.Now().Add(30 * time.Second))
	defer h.c.SetDeadline(time.Time{})
	if _, err := fmt.Fprintf(h.c, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", host); err != nil {
		return false
	}
	resp, err := http.ReadResponse(h.br, nil)
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return err == nil && resp.StatusCode == http.StatusOK
}

// askAll sends one more request on every held connection, all of them open.
func askAll(conns []held, host string) int {
	var answered, next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < dialers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(conns) {
					return
				}
				if conns[i].c != nil && ask(conns[i], host) {
					answered.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return int(answered.Load())
}

func closeAll(conns []held) {
	for _, h := range conns {
		if h.c != nil {
			h.c.Close()
		}
	}
}

// settle is how long connections sit idle before the RSS is read: past
// baton's idle move (1 s) and a GC cycle or two.
const settle = 4 * time.Second

// idleCost measures the RSS of pid's process tree per connection that
// open adds: the tree's RSS once the connections are idle, less its RSS
// before.
type costRow struct {
	name       string
	n, ok      int
	kibPerConn float64
	rssMiB     float64
	cpuSec     float64
}

func measureHeld(name string, pid int, n int, open func() (int, func())) costRow {
	time.Sleep(time.Second)
	before := benchproc.RSSMiB(pid)
	cpu0 := benchproc.CPUSeconds(pid)
	ok, done := open()
	time.Sleep(settle)
	after := benchproc.RSSMiB(pid)
	r := costRow{name: name, n: n, ok: ok, kibPerConn: (after - before) * 1024 / float64(n), rssMiB: after, cpuSec: benchproc.CPUSeconds(pid) - cpu0}
	done()
	fmt.Printf("  %-12s %6d connections, %6d answered, RSS %6.1f -> %6.1f MiB, %5.1f KiB per connection\n", name, n, ok, before, after, r.kibPerConn)
	return r
}

// stopTarget ends one target's process (the row's own baton or nginx).
func stopTarget(t *target) {
	_ = t.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _, _ = t.cmd.Process.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = t.cmd.Process.Kill()
		<-done
	}
}

// startNginxScale is nginx for the connection rows: descriptors and
// worker_connections up to the limit, long keep-alive, and /ws proxied as a
// WebSocket (nginx's documented Upgrade/Connection pass-through). crt, when
// set, serves TLS (and HTTP/2) with baton's certificate, as startNginxHTTPS.
func startNginxScale(procs *[]*exec.Cmd, dir, name string, backend, nofile int, crt, key string) *target {
	port := freePort()
	d := filepath.Join(dir, name)
	check(os.MkdirAll(d, 0o700))
	listen := fmt.Sprintf("listen 127.0.0.1:%d;", port)
	if crt != "" {
		listen = fmt.Sprintf(`listen 127.0.0.1:%d ssl http2;
    ssl_certificate %s;
    ssl_certificate_key %s;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256;`, port, crt, key)
	}
	cfg := write(filepath.Join(d, "nginx.conf"), fmt.Sprintf(`daemon off;
worker_processes auto;
worker_rlimit_nofile %[4]d;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log error;
events { worker_connections %[4]d; }
http {
  access_log off;
  keepalive_timeout 300s;
  keepalive_requests 100000;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream backend { server 127.0.0.1:%[2]d; keepalive 64; keepalive_requests 100000; }
  server {
    %[3]s
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
    location /ws {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_set_header Host $host;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
    }
  }
}
`, d, backend, listen, nofile))
	return &target{name: name, port: port, proxy: true, https: crt != "", cmd: start(procs, "nginx", nil, "-c", cfg, "-p", d+"/")}
}

// rowDir is a fresh directory for one row's processes.
func rowDir(dir, row string) string {
	d := filepath.Join(dir, row)
	check(os.MkdirAll(d, 0o700))
	return d
}

func clientTLS() *tls.Config {
	return &tls.Config{ServerName: benchTLSHost, InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}, ClientSessionCache: nil}
}

// idleRow: n keep-alive connections, each answered once, held idle; plain
// or TLS; baton then nginx.
func idleRow(procs *[]*exec.Cmd, bin, dir string, backend, n, nofile int, tlsRow bool, gomaxprocs, gogc string) []costRow {
	row := "idle"
	if tlsRow {
		row = "idle-tls"
	}
	d := rowDir(dir, row)
	fmt.Printf("%s: %d idle keep-alive connections, each answered once (RSS delta of the process tree / N, after %s idle)\n", row, n, settle)
	var bt, nt *target
	host := "bench.test"
	var tc *tls.Config
	if tlsRow {
		bt = startBatonHTTPS(procs, bin, d, backend, gomaxprocs, gogc)
		crt, key := batonCertificate(d)
		nt = startNginxScale(procs, d, "nginx-https", backend, nofile, crt, key)
		host, tc = benchTLSHost, clientTLS()
	} else {
		bt = startBaton(procs, bin, d, backend, gomaxprocs, gogc)
		nt = startNginxScale(procs, d, "nginx", backend, nofile, "", "")
	}
	waitPort(bt.port)
	waitPort(nt.port)
	var out []costRow
	for _, t := range []*target{bt, nt} {
		out = append(out, measureHeld(t.name, t.cmd.Process.Pid, n, func() (int, func()) {
			conns, ok := holdConns(t.port, n, host, tc)
			return ok, func() { closeAll(conns) }
		}))
		stopTarget(t)
	}
	return out
}

// maxReserve is what a proxy needs of its descriptors besides its client
// connections: listeners, the admin socket, logs, the poller, and the
// upstream connections open while the row ramps up (dialers at most in
// flight, plus the idle pool).
const maxReserve = 300

// maxRow holds as many connections at once as the descriptor limit allows,
// each answered once as it opens and once more while all are open.
func maxRow(procs *[]*exec.Cmd, bin, dir string, backend, nofile int, gomaxprocs, gogc string) []costRow {
	n := nofile - maxReserve
	d := rowDir(dir, "max")
	fmt.Printf("max: %d connections at once (the issue asks 50,000: the hard RLIMIT_NOFILE here is %d, which no process can raise;\n"+
		"     baton needs one descriptor per client connection, plus its upstream ones and %d kept for listeners and logs)\n", n, nofile, maxReserve)
	bt := startBaton(procs, bin, d, backend, gomaxprocs, gogc)
	nt := startNginxScale(procs, d, "nginx", backend, nofile, "", "")
	waitPort(bt.port)
	waitPort(nt.port)
	var out []costRow
	for _, t := range []*target{bt, nt} {
		var again int
		r := measureHeld(t.name, t.cmd.Process.Pid, n, func() (int, func()) {
			conns, ok := holdConns(t.port, n, "bench.test", nil)
			again = askAll(conns, "bench.test")
			return ok, func() { closeAll(conns) }
		})
		fmt.Printf("  %-12s answered again with all %d open: %d; CPU %.2f s for the row\n", t.name, n, again, r.cpuSec)
		if again < r.ok {
			r.ok = again
		}
		out = append(out, r)
		stopTarget(t)
	}
	return out
}
