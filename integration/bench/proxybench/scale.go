package main

import (
	"fmt"
	"os/exec"
)

// scaleRows runs the connection-scale and HTTP/2 rows that row selects,
// then prints them side by side with nginx.
func scaleRows(procs *[]*exec.Cmd, bin, dir string, backend int, row func(string) bool, idleN, wsN, h2Rounds int, gomaxprocs, gogc string) {
	nofile := raiseNofile()
	type line struct {
		figure        string
		baton, nginx  string
		ratio, detail string
	}
	var lines []line
	cost := func(figure string, rs []costRow) {
		b, n := rs[0], rs[1]
		lines = append(lines, line{figure, fmt.Sprintf("%.1f KiB", b.kibPerConn), fmt.Sprintf("%.1f KiB", n.kibPerConn),
			fmt.Sprintf("%.2fx", b.kibPerConn/n.kibPerConn), fmt.Sprintf("answered %d/%d and %d/%d", b.ok, b.n, n.ok, n.n)})
	}
	fmt.Println()
	if row("idle") {
		cost(fmt.Sprintf("RSS per idle HTTP/1.1 connection (%d)", idleN), idleRow(procs, bin, dir, backend, idleN, nofile, false, gomaxprocs, gogc))
	}
	if row("idle-tls") {
		cost(fmt.Sprintf("RSS per idle HTTPS connection (%d)", idleN), idleRow(procs, bin, dir, backend, idleN, nofile, true, gomaxprocs, gogc))
	}
	if row("ws") {
		cost(fmt.Sprintf("RSS per relayed idle WebSocket (%d)", wsN), wsRow(procs, bin, dir, backend, wsN, nofile, gomaxprocs, gogc))
	}
	if row("h2") && have("h2load") {
		b, n := h2Row(procs, bin, dir, backend, nofile, h2Rounds, gomaxprocs, gogc)
		lines = append(lines,
			line{"HTTP/2 req/s (h2load -c 32 -m 10)", fmt.Sprintf("%.0f", b.rps), fmt.Sprintf("%.0f", n.rps), fmt.Sprintf("%.2fx", b.rps/n.rps), fmt.Sprintf("failed %.0f and %.0f", b.failed, n.failed)},
			line{"HTTP/2 proxy CPU per request", fmt.Sprintf("%.1f µs", b.cpuPerReq), fmt.Sprintf("%.1f µs", n.cpuPerReq), fmt.Sprintf("%.2fx", b.cpuPerReq/n.cpuPerReq), ""})
	} else if row("h2") {
		fmt.Println("h2: skipped, h2load is not installed (Debian's nghttp2-client)")
	}
	if row("max") {
		rs := maxRow(procs, bin, dir, backend, nofile, gomaxprocs, gogc)
		b, n := rs[0], rs[1]
		lines = append(lines, line{fmt.Sprintf("connections at once (%d: hard RLIMIT_NOFILE %d, not 50,000)", b.n, nofile),
			fmt.Sprintf("%d answered, RSS %.0f MiB, CPU %.1f s", b.ok, b.rssMiB, b.cpuSec),
			fmt.Sprintf("%d answered, RSS %.0f MiB, CPU %.1f s", n.ok, n.rssMiB, n.cpuSec),
			fmt.Sprintf("%.2fx RSS", b.rssMiB/n.rssMiB), "each connection answered twice, the second time with all open"})
	}
	if len(lines) == 0 {
		return
	}
	fmt.Println()
	fmt.Println("| figure | baton | nginx | baton/nginx | |")
	fmt.Println("|---|---|---|---|---|")
	for _, l := range lines {
		fmt.Printf("| %s | %s | %s | %s | %s |\n", l.figure, l.baton, l.nginx, l.ratio, l.detail)
	}
}
