package proxy

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The dashboard's charts come from the counters the proxy already keeps:
// requests and 5xx per second, and p99 from the latency histogram.
func TestRatesFoldSecondsIntoSteps(t *testing.T) {
	m := NewPromMetrics(prometheus.NewRegistry(), nil)
	r := NewRates(m)
	web, api := m.Route("web", "web.test", "/"), m.Route("api", "api.test", "/")
	web.Observe(200, time.Millisecond) // before the baseline: not in any step
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r.Sample(t0)
	for s := 1; s <= 4; s++ {
		for i := 0; i < 10*s; i++ {
			status := 200
			if i == 0 {
				status = 502
			}
			web.Observe(status, 20*time.Millisecond)
		}
		r.Sample(t0.Add(time.Duration(s) * time.Second))
	}
	api.Observe(200, 3*time.Second)
	r.Sample(t0.Add(5 * time.Second))

	sum := r.Summary(2 * time.Second)
	w := sum.Services["web"]
	// Seconds 1..5 in steps of 2 from the newest: [1], [2,3], [4,5].
	if len(w) != 3 {
		t.Fatalf("web points %+v", w)
	}
	if w[0].RPS != 10 || w[1].RPS != 25 || w[2].RPS != 20 {
		t.Fatalf("web rps %v %v %v, want 10 25 20", w[0].RPS, w[1].RPS, w[2].RPS)
	}
	if got := w[1].ErrorRate; math.Abs(got-2.0/50) > 1e-9 {
		t.Fatalf("error rate %v, want 0.04", got)
	}
	// Every request took 20ms: p99 is in the 10..25ms bucket.
	if p := w[2].P99; p <= 10 || p > 25 {
		t.Fatalf("p99 %vms, want within (10, 25]", p)
	}
	if !w[2].At.Equal(t0.Add(5 * time.Second)) {
		t.Fatalf("last point at %v", w[2].At)
	}
	a := sum.Services["api"]
	// A service gets the whole window, quiet steps as zeros.
	if len(a) != 3 || a[0].RPS != 0 || a[0].P99 != 0 || a[2].RPS != 0.5 || a[2].P99 <= 2500 || a[2].P99 > 5000 {
		t.Fatalf("api points %+v", a)
	}
}

// Past the window the oldest seconds are dropped.
func TestRatesKeepOnlyTheWindow(t *testing.T) {
	m := NewPromMetrics(prometheus.NewRegistry(), nil)
	r := NewRates(m)
	o := m.Route("web", "web.test", "/")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r.Sample(t0)
	n := int(RateWindow/time.Second) + 30
	for s := 1; s <= n; s++ {
		o.Observe(200, time.Millisecond)
		r.Sample(t0.Add(time.Duration(s) * time.Second))
	}
	w := r.Summary(time.Second).Services["web"]
	if len(w) != int(RateWindow/time.Second) || !w[len(w)-1].At.Equal(t0.Add(time.Duration(n)*time.Second)) {
		t.Fatalf("%d points, last at %v", len(w), w[len(w)-1].At)
	}
	for _, p := range w {
		if p.RPS != 1 {
			t.Fatalf("point %+v", p)
		}
	}
}

func TestQuantile(t *testing.T) {
	bounds := []float64{1, 2, 4}
	cases := []struct {
		cum  []uint64
		want float64
	}{
		{[]uint64{0, 0, 0, 0}, 0},
		{[]uint64{100, 100, 100, 100}, 0.99}, // all in (0,1]
		{[]uint64{0, 100, 100, 100}, 1.99},   // all in (1,2]
		{[]uint64{0, 0, 0, 100}, 4},          // beyond the last bound: the last bound
	}
	for _, c := range cases {
		if got := quantile(0.99, bounds, c.cum); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("quantile(%v) = %v, want %v", c.cum, got, c.want)
		}
	}
}
