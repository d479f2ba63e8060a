package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/batonproxy/baton/integration/bench/benchproc"
)

func main() {
	bin := flag.String("bin", "", "directory with the backend and baton binaries")
	dur := flag.Duration("d", 15*time.Second, "duration of each run")
	slow := flag.Int("slowloris", 1000, "slow-header clients")
	headerTimeout := flag.Duration("header-timeout", 3*time.Second, "baton's proxy.read_header_timeout")
	flag.Parse()
	dir, err := os.MkdirTemp("", "recreate-overload-")
	check(err)
	defer os.RemoveAll(dir)
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Kill()
			p.Wait()
		}
	}()
	slowPort, fastPort := freePort(), freePort()
	procs = append(procs, start(filepath.Join(*bin, "backend"), "-addr", fmt.Sprintf("127.0.0.1:%d", slowPort), "-delay", "20ms", "-concurrency", "20"))
	procs = append(procs, start(filepath.Join(*bin, "backend"), "-addr", fmt.Sprintf("127.0.0.1:%d", fastPort)))
	port, metrics := freePort(), freePort()
	cfg := filepath.Join(dir, "baton.yaml")
	check(os.WriteFile(cfg, []byte(fmt.Sprintf(`listen:
  http: "127.0.0.1:%d"
admin:
  socket: %s/baton.sock
  metrics: "127.0.0.1:%d"
state:
  dir: %s/state
docker:
  enabled: false
log:
  level: warn
proxy:
  read_header_timeout: %s
  max_inflight: 5000
routes:
  - host: slow.test
    path: /
    upstreams: ["127.0.0.1:%d"]
    max_inflight: 40
  - host: fast.test
    path: /
    upstreams: ["127.0.0.1:%d"]
`, port, dir, metrics, dir, *headerTimeout, slowPort, fastPort)), 0o600))
	baton := start(filepath.Join(*bin, "baton"), "serve", "--config", cfg)
	procs = append(procs, baton)
	for _, p := range []int{slowPort, fastPort, port, metrics} {
		waitPort(p)
	}
	pid := baton.Process.Pid
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", metrics)

	fmt.Printf("baton RSS at rest: %.1f MiB\n\n", benchproc.RSSMiB(pid))
	base := wrk(url, "fast.test", 8, *dur)
	fmt.Printf("baseline    fast.test, 8 conns alone:        p99 %s, %s req/s\n", base.p99, base.rps)

	// Overload.
	watch := watchBaton(pid, metricsURL)
	var hammer wrkResult
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); hammer = wrk(url, "slow.test", 200, *dur) }()
	good := wrk(url, "fast.test", 8, *dur)
	wg.Wait()
	peak, adminMax, adminFails := watch()
	t0 := time.Now()
	status := get(url, "slow.test")
	after := time.Since(t0)
	shedService, shedGlobal := shedCounts(metricsURL)
	fmt.Printf("overload    slow.test, 200 conns (10x its 20 workers): %s req/s, %s non-2xx (shed), p99 %s\n", hammer.rps, hammer.non2xx, hammer.p99)
	fmt.Printf("            fast.test, 8 well-behaved conns:  p99 %s, %s req/s, %s non-2xx\n", good.p99, good.rps, good.non2xx)
	fmt.Printf("            baton RSS peak %.1f MiB; shed: service %s, global %s; admin /metrics slowest %s, %d failed\n",
		peak, shedService, shedGlobal, adminMax.Round(time.Millisecond), adminFails)
	fmt.Printf("            first request after the load dropped: %d in %s\n\n", status, after.Round(time.Microsecond))

	// Slowloris.
	watch = watchBaton(pid, metricsURL)
	stop := make(chan struct{})
	var cut, open atomic.Int64
	for i := 0; i < *slow; i++ {
		go slowClient(fmt.Sprintf("127.0.0.1:%d", port), stop, &cut, &open)
	}
	deadline := time.Now().Add(10 * time.Second)
	for open.Load() < int64(*slow) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Printf("slowloris   %d slow-header clients connected\n", open.Load())
	loris := wrk(url, "fast.test", 8, *dur)
	close(stop)
	peak, adminMax, adminFails = watch()
	fmt.Printf("            fast.test, 8 well-behaved conns:  p99 %s (alone %s), %s req/s, %s non-2xx\n", loris.p99, base.p99, loris.rps, loris.non2xx)
	fmt.Printf("            slow clients cut by baton at the header timeout (%s): %d; baton RSS peak %.1f MiB; admin /metrics slowest %s, %d failed\n",
		*headerTimeout, cut.Load(), peak, adminMax.Round(time.Millisecond), adminFails)
}

// slowClient sends a request head a byte a second, never ending it; when
// baton cuts it, it dials again.
func slowClient(addr string, stop chan struct{}, cut, open *atomic.Int64) {
	first := true
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				continue
			}
		}
		if first {
			open.Add(1)
			first = false
		}
		closed := make(chan struct{})
		go func() { io.Copy(io.Discard, c); close(closed) }()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: fast.test\r\n")
		tick := time.NewTicker(time.Second)
	loop:
		for {
			select {
			case <-stop:
				tick.Stop()
				c.Close()
				return
			case <-closed:
				cut.Add(1)
				break loop
			case <-tick.C:
				io.WriteString(c, "X")
			}
		}
		tick.Stop()
		c.Close()
	}
}

// watchBaton samples baton's RSS and the admin metrics endpoint until the
// returned func is called; it returns the peak RSS, the slowest admin answer
// and how many admin requests failed.
func watchBaton(pid int, metricsURL string) func() (float64, time.Duration, int) {
	stop, done := make(chan struct{}), make(chan struct{})
	var peak float64
	var slowest time.Duration
	fails := 0
	go func() {
		defer close(done)
		client := &http.Client{Timeout: 5 * time.Second}
		for {
			if r := benchproc.RSSMiB(pid); r > peak {
				peak = r
			}
			t0 := time.Now()
			resp, err := client.Get(metricsURL)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if err != nil || resp.StatusCode != 200 {
				fails++
			} else if d := time.Since(t0); d > slowest {
				slowest = d
			}
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return func() (float64, time.Duration, int) { close(stop); <-done; return peak, slowest, fails }
}

type wrkResult struct{ p99, rps, non2xx string }

var (
	p99Re    = regexp.MustCompile(`(?m)^\s+99%\s+(\S+)`)
	rpsRe    = regexp.MustCompile(`Requests/sec:\s+(\S+)`)
	non2xxRe = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
)

func wrk(url, host string, conns int, d time.Duration) wrkResult {
	out, err := exec.Command("wrk", "-t1", fmt.Sprintf("-c%d", conns), fmt.Sprintf("-d%s", d), "--latency", "-H", "Host: "+host, url).CombinedOutput()
	check(err)
	r := wrkResult{p99: "?", rps: "?", non2xx: "0"}
	if m := p99Re.FindSubmatch(out); m != nil {
		r.p99 = string(m[1])
	}
	if m := rpsRe.FindSubmatch(out); m != nil {
		r.rps = string(m[1])
	}
	if m := non2xxRe.FindSubmatch(out); m != nil {
		r.non2xx = string(m[1])
	}
	return r
}

func get(url, host string) int {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func shedCounts(metricsURL string) (service, global string) {
	service, global = "0", "0"
	resp, err := http.Get(metricsURL)
	check(err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, `baton_requests_shed_total{reason="service"}`):
			service = strings.Fields(line)[1]
		case strings.HasPrefix(line, `baton_requests_shed_total{reason="global"}`):
			global = strings.Fields(line)[1]
		}
	}
	return service, global
}

func start(path string, args ...string) *exec.Cmd {
	cmd := exec.Command(path, args...)
	cmd.Stderr = os.Stderr
	check(cmd.Start())
	return cmd
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-overload:", err)
		os.Exit(1)
	}
}

func freePort() int {
	p, err := benchproc.FreePort()
	check(err)
	return p
}

func waitPort(port int) { check(benchproc.WaitPort(port)) }
