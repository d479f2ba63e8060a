package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"time"

	"github.com/batonproxy/baton/integration/bench/benchproc"
)

var (
	h2RateRe = regexp.MustCompile(`finished in [\d.]+s, ([\d.]+) req/s`)
	h2ReqsRe = regexp.MustCompile(`requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed`)
)

type h2Sample struct{ rps, cpuPerReq, failed float64 }

// h2load drives t over HTTP/2 (TLS, ALPN h2) for d and measures the proxy's
// CPU per succeeded request.
func h2load(t *target, d time.Duration) h2Sample {
	cpu0 := benchproc.CPUSeconds(t.cmd.Process.Pid)
	out, err := exec.Command("h2load", "-c", "32", "-m", "10", "-t", "1", "-D", strconv.Itoa(int(d.Seconds())),
		"-H", ":authority: "+benchTLSHost, fmt.Sprintf("https://127.0.0.1:%d/", t.port)).CombinedOutput()
	if err != nil {
		check(fmt.Errorf("h2load %s: %v\n%s", t.name, err, out))
	}
	cpu := benchproc.CPUSeconds(t.cmd.Process.Pid) - cpu0
	var s h2Sample
	if m := h2RateRe.FindSubmatch(out); m != nil {
		s.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	if m := h2ReqsRe.FindSubmatch(out); m != nil {
		ok, _ := strconv.ParseFloat(string(m[1]), 64)
		s.failed, _ = strconv.ParseFloat(string(m[2]), 64)
		if ok > 0 {
			s.cpuPerReq = cpu / ok * 1e6
		}
	}
	if s.rps == 0 {
		check(fmt.Errorf("h2load %s: no rate in its output\n%s", t.name, out))
	}
	return s
}

// h2Row: h2load -c 32 -m 10 -t 1 -D 8 on baton-https and nginx-https
// (HTTP/2, 1 KiB answers), interleaved rounds after a warm-up each.
func h2Row(procs *[]*exec.Cmd, bin, dir string, backend, nofile, rounds int, gomaxprocs, gogc string) (baton, nginx h2Sample) {
	d := rowDir(dir, "h2")
	bt := startBatonHTTPS(procs, bin, d, backend, gomaxprocs, gogc)
	crt, key := batonCertificate(d)
	nt := startNginxScale(procs, d, "nginx-https", backend, nofile, crt, key)
	waitPort(nt.port)
	fmt.Printf("h2: h2load -c 32 -m 10 -t 1 -D 8, HTTP/2 over TLS, 1 KiB answers, %d interleaved rounds\n", rounds)
	var bs, ns []h2Sample
	for r := 0; r < rounds; r++ {
		for _, t := range []*target{bt, nt} {
			h2load(t, 2*time.Second) // warm-up
			s := h2load(t, 8*time.Second)
			fmt.Printf("  round %d %-12s %9.0f req/s  proxy %6.1fµs/req  failed %.0f\n", r+1, t.name, s.rps, s.cpuPerReq, s.failed)
			if t == bt {
				bs = append(bs, s)
			} else {
				ns = append(ns, s)
			}
		}
	}
	stopTarget(bt)
	stopTarget(nt)
	return meanH2(bs), meanH2(ns)
}

func meanH2(ss []h2Sample) h2Sample {
	var m h2Sample
	for _, s := range ss {
		m.rps += s.rps / float64(len(ss))
		m.cpuPerReq += s.cpuPerReq / float64(len(ss))
		m.failed += s.failed
	}
	return m
}
