package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

type target struct {
	name   string
	port   int
	cmd    *exec.Cmd // nil for direct
	proxy  bool
	https  bool // wrk speaks TLS to it (the HTTPS rows)
	h3     bool // quic-go's client speaks HTTP/3 to it (h3Load), not wrk
	rounds []sample
}

type sample struct {
	rps, p50, p99 float64 // requests/s, ms, ms
	cpuPerReq     float64 // µs of proxy CPU per request
	backendPerReq float64 // µs of backend CPU per request
	rssMiB        float64
	requests      float64
}

func main() {
	bin := flag.String("bin", "", "directory with the backend and baton binaries")
	dur := flag.Duration("d", 10*time.Second, "wrk duration per round and target")
	conns := flag.Int("c", 64, "wrk connections")
	threads := flag.Int("t", 2, "wrk threads")
	rounds := flag.Int("rounds", 2, "interleaved rounds")
	only := flag.String("only", "", "comma-separated targets (direct,baton,nginx,haproxy,caddy,baton-https,nginx-https,baton-h3); empty = all")
	gomaxprocs := flag.String("baton-gomaxprocs", "", "GOMAXPROCS for baton (empty = Go's default)")
	gogc := flag.String("baton-gogc", "", "GOGC for baton (empty = baton's default)")
	rowsFlag := flag.String("rows", "load,idle,idle-tls,ws,h2,max", "comma-separated rows: load (wrk, the targets of -only), idle and idle-tls (RSS per idle connection), ws (RSS per relayed WebSocket), h2 (h2load), max (connections at once)")
	idleN := flag.Int("idle-n", 10000, "connections of the idle rows")
	wsN := flag.Int("ws-n", 5000, "WebSockets of the ws row")
	h2Rounds := flag.Int("h2-rounds", 2, "interleaved rounds of the h2 row")
	flag.Parse()
	row := func(n string) bool { return strings.Contains(","+*rowsFlag+",", ","+n+",") }
	dir, err := os.MkdirTemp("", "proxybench-")
	check(err)
	defer os.RemoveAll(dir)

	var procs []*exec.Cmd
	stop := func() {
		for _, p := range procs {
			if p.Process != nil {
				_ = p.Process.Signal(syscall.SIGTERM)
			}
		}
		time.Sleep(300 * time.Millisecond)
		for _, p := range procs {
			if p.Process != nil {
				_ = p.Process.Kill()
				_, _ = p.Process.Wait()
			}
		}
	}
	defer stop()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() { <-sigs; stop(); os.Exit(130) }()

	backendPort := freePort()
	backend := start(&procs, filepath.Join(*bin, "backend"), nil, "-addr", fmt.Sprintf("127.0.0.1:%d", backendPort))
	waitPort(backendPort)
	if row("load") {
		loadRows(&procs, *bin, dir, backendPort, backend, *only, *gomaxprocs, *gogc, *dur, *threads, *conns, *rounds)
	}
	scaleRows(&procs, *bin, dir, backendPort, row, *idleN, *wsN, *h2Rounds, *gomaxprocs, *gogc)
}

// loadRows are wrk's rows: every target of -only, interleaved rounds.
func loadRows(procs *[]*exec.Cmd, bin, dir string, backendPort int, backend *exec.Cmd, only, gomaxprocs, gogc string, dur time.Duration, threads, conns, rounds int) {
	targets := []*target{{name: "direct", port: backendPort}}
	want := func(n string) bool { return only == "" || strings.Contains(","+only+",", ","+n+",") }
	if want("baton") {
		targets = append(targets, startBaton(procs, bin, dir, backendPort, gomaxprocs, gogc))
	}
	if want("nginx") && have("nginx") {
		targets = append(targets, startNginx(procs, dir, backendPort))
	}
	if want("haproxy") && have("haproxy") {
		targets = append(targets, startHAProxy(procs, dir, backendPort))
	}
	if want("caddy") && have("caddy") {
		targets = append(targets, startCaddy(procs, dir, backendPort))
	}
	if (want("baton-https") && (!want("nginx-https") || have("nginx"))) || want("baton-h3") {
		bt := startBatonHTTPS(procs, bin, dir, backendPort, gomaxprocs, gogc)
		if want("baton-https") {
			targets = append(targets, bt)
		}
		if want("baton-h3") {
			targets = append(targets, h3Target(bt))
		}
		if want("nginx-https") && have("nginx") {
			// nginx serves the very certificate and key baton obtained.
			crt, key := batonCertificate(dir)
			targets = append(targets, startNginxHTTPS(procs, dir, backendPort, crt, key))
		}
	}
	for _, t := range targets {
		waitPort(t.port)
	}
	for _, t := range targets {
		if t.https {
			fmt.Printf("%s: %s\n", t.name, handshakeSummary(t.port))
		}
	}
	fmt.Printf("wrk -t%d -c%d -d%s, %d interleaved rounds, 1 KiB answers, loopback\n", threads, conns, dur, rounds)
	for r := 0; r < rounds; r++ {
		for _, t := range targets {
			wrk(t, 1*time.Second, threads, conns, backend, false) // warm-up: pools and caches
			s := wrk(t, dur, threads, conns, backend, true)
			t.rounds = append(t.rounds, s)
			fmt.Printf("round %d %-8s %9.0f req/s  p50 %6.2fms  p99 %6.2fms  proxy %6.1fµs/req  backend %5.1fµs/req  RSS %5.1f MiB\n",
				r+1, t.name, s.rps, s.p50, s.p99, s.cpuPerReq, s.backendPerReq, s.rssMiB)
		}
	}
	report(targets)
	stopped := map[*exec.Cmd]bool{}
	for _, t := range targets {
		if t.cmd != nil && !stopped[t.cmd] { // baton-h3 is baton-https' process
			stopped[t.cmd] = true
			stopTarget(t) // the scale rows start their own
		}
	}
}

func report(targets []*target) {
	avg := map[string]sample{}
	fmt.Println()
	fmt.Println("| target | req/s | p50 ms | p99 ms | proxy CPU µs/req | backend CPU µs/req | RSS MiB |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, t := range targets {
		a := mean(t.rounds)
		avg[t.name] = a
		cpu, rss := fmt.Sprintf("%.1f", a.cpuPerReq), fmt.Sprintf("%.1f", a.rssMiB)
		if !t.proxy {
			cpu, rss = "-", "-"
		}
		fmt.Printf("| %s | %.0f | %.2f | %.2f | %s | %.1f | %s |\n", t.name, a.rps, a.p50, a.p99, cpu, a.backendPerReq, rss)
	}
	if bh, ok := avg["baton-https"]; ok {
		if nh, ok := avg["nginx-https"]; ok {
			fmt.Println()
			fmt.Println("| HTTPS: baton vs nginx | req/s ratio | CPU/req ratio | p99 ratio |")
			fmt.Println("|---|---|---|---|")
			fmt.Printf("| nginx-https | %.2fx | %.2fx | %.2fx |\n", bh.rps/nh.rps, bh.cpuPerReq/nh.cpuPerReq, bh.p99/nh.p99)
		}
	}
	if h, ok := avg["baton-h3"]; ok {
		fmt.Println()
		fmt.Printf("HTTP/3: no peer (nginx 1.22 in Debian has no HTTP/3; wrk has none): baton %.0f req/s to quic-go's client (%d connections), proxy %.1f µs/req\n",
			h.rps, h3Conns, h.cpuPerReq)
	}
	b, ok := avg["baton"]
	if !ok {
		return
	}
	fmt.Println()
	fmt.Println("| baton vs | req/s ratio | CPU/req ratio | p99 ratio |")
	fmt.Println("|---|---|---|---|")
	names := make([]string, 0, len(avg))
	for n := range avg {
		if n != "baton" && !strings.HasSuffix(n, "-https") && !strings.HasSuffix(n, "-h3") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		o := avg[n]
		cpu := "-"
		if o.cpuPerReq > 0 {
			cpu = fmt.Sprintf("%.2fx", b.cpuPerReq/o.cpuPerReq)
		}
		fmt.Printf("| %s | %.2fx | %s | %.2fx |\n", n, b.rps/o.rps, cpu, b.p99/o.p99)
	}
	fmt.Println()
	verdict := func(name string, ok bool, detail string) {
		v := "FAIL"
		if ok {
			v = "PASS"
		}
		fmt.Printf("%s  %s (%s)\n", v, name, detail)
	}
	if n, ok := avg["nginx"]; ok {
		verdict("req/s >= 0.5x nginx", b.rps >= 0.5*n.rps, fmt.Sprintf("%.2fx", b.rps/n.rps))
		verdict("p99 <= 2x nginx", b.p99 <= 2*n.p99, fmt.Sprintf("%.2fx", b.p99/n.p99))
	}
	if c, ok := avg["caddy"]; ok {
		verdict("req/s >= 2x caddy", b.rps >= 2*c.rps, fmt.Sprintf("%.2fx", b.rps/c.rps))
	}
	if h, ok := avg["haproxy"]; ok {
		verdict("CPU/req <= 2.5x haproxy", b.cpuPerReq <= 2.5*h.cpuPerReq, fmt.Sprintf("%.2fx", b.cpuPerReq/h.cpuPerReq))
	}
	verdict("RSS < 40 MiB", b.rssMiB < 40, fmt.Sprintf("%.1f MiB", b.rssMiB))
}

func mean(ss []sample) sample {
	var m sample
	for _, s := range ss {
		m.rps += s.rps / float64(len(ss))
		m.p50 += s.p50 / float64(len(ss))
		m.p99 += s.p99 / float64(len(ss))
		m.cpuPerReq += s.cpuPerReq / float64(len(ss))
		m.backendPerReq += s.backendPerReq / float64(len(ss))
		m.rssMiB += s.rssMiB / float64(len(ss))
	}
	return m
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "proxybench:", err)
		os.Exit(1)
	}
}

func have(cmd string) bool {
	_, err := exec.LookPath(cmd)
	if err != nil {
		fmt.Fprintf(os.Stderr, "proxybench: %s not installed; its row is skipped\n", cmd)
	}
	return err == nil
}
