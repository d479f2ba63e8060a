package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/batonproxy/baton/integration/harness"
)

// BenchmarkDeployUnderLoad repeats the zero-downtime deploy of an app whose
// readiness takes 3 s, under steady load, and reports the totals
// (make bench-deploy: 10 deploys). Each iteration alternates releases.
func BenchmarkDeployUnderLoad(b *testing.B) {
	v1 := harness.Image(b, "aaaaaaa-ready3s", map[string]string{"org.opencontainers.image.revision": "aaaaaaa"}, "RELEASE=aaaaaaa", "READY_DELAY=3s")
	v2 := harness.Image(b, "bbbbbbb-ready3s", map[string]string{"org.opencontainers.image.revision": "bbbbbbb"}, "RELEASE=bbbbbbb", "READY_DELAY=3s")
	net := harness.Network(b)
	bt := harness.StartBaton(b, "")
	harness.Run(b, harness.ContainerOpts{Image: v1, Network: net, Labels: map[string]string{
		"baton.enable": "true", "baton.service": "web", "baton.host": "web.test", "baton.health.path": "/healthz",
		"baton.health.interval": "100ms", "baton.health.min_healthy": "1s", "baton.drain.timeout": "5s", "baton.verify.timeout": "5s"}})
	harness.WaitHTTP(b, bt.URL+"/", "web.test", 30*time.Second)
	var total, before, during harness.Report
	var p99Before, p99During, allBefore, allDuring []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		img := v2
		if i%2 == 1 {
			img = v1
		}
		load := (&harness.Load{URL: bt.URL + "/", Host: "web.test", Workers: 8}).Start()
		time.Sleep(2 * time.Second)
		start := load.Since()
		out, code := bt.CLI("deploy", "web", "--image", img)
		end := load.Since()
		load.Stop()
		if code != 0 {
			b.Fatalf("deploy %d exit %d:\n%s", i, code, out)
		}
		bf, dr := load.Report(0, start), load.Report(start, end)
		allBefore = append(allBefore, load.Latencies(0, start)...)
		allDuring = append(allDuring, load.Latencies(start, end)...)
		before.Requests += bf.Requests
		during.Requests += dr.Requests
		total.Non2xx += bf.Non2xx + dr.Non2xx
		total.ConnErrors += bf.ConnErrors + dr.ConnErrors
		p99Before, p99During = append(p99Before, bf.P99), append(p99During, dr.P99)
		b.Logf("deploy %d: before %s | during %s", i+1, bf, dr)
	}
	b.StopTimer()
	fmt.Printf("deploys: %d, requests before: %d, during: %d, non-2xx: %d, connection errors: %d\n",
		b.N, before.Requests, during.Requests, total.Non2xx, total.ConnErrors)
	fmt.Printf("p99 before (per deploy): %v\np99 during (per deploy): %v\n", p99Before, p99During)
	fmt.Printf("p99 over all deploys: before %s, during %s (%.2fx)\n", harness.P99(allBefore), harness.P99(allDuring),
		float64(harness.P99(allDuring))/float64(harness.P99(allBefore)))
	b.ReportMetric(float64(total.Non2xx+total.ConnErrors), "errors")
}
