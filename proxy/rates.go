package proxy

import (
	"context"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Rates keeps the last minutes of request rate, error rate and p99 per
// service for the dashboard, so that no external Prometheus is needed. It
// reads the counters PromMetrics already keeps, once a second from a ticker:
// the request path pays nothing beyond what it paid before (an atomic add per
// counter and histogram bucket, as client_golang does).
type Rates struct {
	requests prometheus.Collector // baton_requests_total
	latency  prometheus.Collector // baton_request_duration_seconds
	bounds   []float64

	mu    sync.Mutex
	last  map[string]cumulative // by service, at the previous sample
	ring  []second              // one slot per second, oldest overwritten
	next  int                   // slot the next sample goes to
	count int                   // slots filled, up to len(ring)
}

// RateWindow is how far back the rates go.
const RateWindow = 5 * time.Minute

type cumulative struct {
	requests, errors uint64
	buckets          []uint64 // cumulative counts per latency bound, then +Inf
}

// second is what happened in one second, by service.
type second struct {
	at       time.Time
	services map[string]cumulative // deltas, same shape as cumulative
}

// NewRates samples m's counters. Call Sample every second (Run does).
func NewRates(m *PromMetrics) *Rates {
	return &Rates{requests: m.requests, latency: m.latency, bounds: latencyBuckets,
		last: map[string]cumulative{}, ring: make([]second, int(RateWindow/time.Second))}
}

// Run samples every second until ctx ends.
func (r *Rates) Run(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			r.Sample(now)
		}
	}
}

// Sample reads the counters and stores what changed since the last sample.
// The first sample only sets the baseline.
func (r *Rates) Sample(now time.Time) {
	cur := r.read()
	r.mu.Lock()
	defer r.mu.Unlock()
	prev := r.last
	r.last = cur
	if r.count == 0 {
		r.ring[0] = second{at: now}
		r.next, r.count = 1, 1
		return
	}
	delta := map[string]cumulative{}
	for svc, c := range cur {
		p := prev[svc] // a service new since the last sample: all it counted is new
		d := cumulative{requests: sub(c.requests, p.requests), errors: sub(c.errors, p.errors), buckets: make([]uint64, len(c.buckets))}
		for i := range c.buckets {
			if i < len(p.buckets) {
				d.buckets[i] = sub(c.buckets[i], p.buckets[i])
			} else {
				d.buckets[i] = c.buckets[i]
			}
		}
		if d.requests > 0 {
			delta[svc] = d
		}
	}
	r.ring[r.next] = second{at: now, services: delta}
	r.next = (r.next + 1) % len(r.ring)
	if r.count < len(r.ring) {
		r.count++
	}
}

// sub never wraps: counters only grow, but a reading taken mid-update must
// not turn into four billion requests.
func sub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// read gathers the counters by service: requests, 5xx answers, latency buckets.
func (r *Rates) read() map[string]cumulative {
	out := map[string]cumulative{}
	collect(r.requests, func(m *dto.Metric) {
		svc, code := label(m, "service"), label(m, "code")
		c := out[svc]
		n := uint64(m.GetCounter().GetValue())
		c.requests += n
		if code == "5xx" {
			c.errors += n
		}
		out[svc] = c
	})
	collect(r.latency, func(m *dto.Metric) {
		svc := label(m, "service")
		c := out[svc]
		h := m.GetHistogram()
		c.buckets = make([]uint64, len(r.bounds)+1)
		for i, b := range h.GetBucket() {
			if i < len(r.bounds) {
				c.buckets[i] = b.GetCumulativeCount()
			}
		}
		c.buckets[len(r.bounds)] = h.GetSampleCount()
		out[svc] = c
	})
	return out
}

func collect(c prometheus.Collector, each func(*dto.Metric)) {
	ch := make(chan prometheus.Metric, 64)
	go func() { c.Collect(ch); close(ch) }()
	for m := range ch {
		var d dto.Metric
		if m.Write(&d) == nil {
			each(&d)
		}
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// RatePoint is one step of a service's chart.
type RatePoint struct {
	At        time.Time `json:"at"`         // end of the step
	RPS       float64   `json:"rps"`        // requests per second
	ErrorRate float64   `json:"error_rate"` // share of answers that were 5xx, 0..1
	P99       float64   `json:"p99_ms"`     // 99th percentile latency in ms (bucket-interpolated, as histogram_quantile); 0 with no request
}

// RateSummary is the answer of GET /v1/metrics/summary.
type RateSummary struct {
	StepSeconds   int                    `json:"step_seconds"`
	WindowSeconds int                    `json:"window_seconds"`
	Services      map[string][]RatePoint `json:"services"`
}

// Summary folds the seconds kept into points of step, oldest first, for
// every service seen in the window.
func (r *Rates) Summary(step time.Duration) RateSummary {
	if step < time.Second {
		step = time.Second
	}
	per := int(step / time.Second)
	r.mu.Lock()
	secs := make([]second, 0, r.count)
	for i := r.count; i > 0; i-- {
		if s := r.ring[(r.next-i+len(r.ring))%len(r.ring)]; s.services != nil { // not the baseline
			secs = append(secs, s)
		}
	}
	r.mu.Unlock()
	out := RateSummary{StepSeconds: per, WindowSeconds: int(RateWindow / time.Second), Services: map[string][]RatePoint{}}
	names := map[string]bool{}
	for _, s := range secs {
		for svc := range s.services {
			names[svc] = true
		}
	}
	svcs := make([]string, 0, len(names))
	for n := range names {
		svcs = append(svcs, n)
	}
	sort.Strings(svcs)
	// Steps end at the newest second and go back.
	for _, svc := range svcs {
		var points []RatePoint
		for end := len(secs); end > 0; end -= per {
			start := max(end-per, 0)
			sum := cumulative{buckets: make([]uint64, len(r.bounds)+1)}
			for _, s := range secs[start:end] {
				d := s.services[svc]
				sum.requests += d.requests
				sum.errors += d.errors
				for i := range d.buckets {
					sum.buckets[i] += d.buckets[i]
				}
			}
			p := RatePoint{At: secs[end-1].at.UTC(), RPS: float64(sum.requests) / float64(end-start)}
			if sum.requests > 0 {
				p.ErrorRate = float64(sum.errors) / float64(sum.requests)
			}
			p.P99 = quantile(0.99, r.bounds, sum.buckets) * 1000
			points = append(points, p)
		}
		for i, j := 0, len(points)-1; i < j; i, j = i+1, j-1 {
			points[i], points[j] = points[j], points[i]
		}
		out.Services[svc] = points
	}
	return out
}

// quantile interpolates within the bucket that holds the q-th observation,
// as Prometheus' histogram_quantile does; past the last bound it answers the
// last bound (the histogram knows nothing beyond it).
func quantile(q float64, bounds []float64, cum []uint64) float64 {
	total := cum[len(cum)-1]
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	lower, prev := 0.0, uint64(0)
	for i, b := range bounds {
		if float64(cum[i]) >= rank {
			inBucket := cum[i] - prev
			if inBucket == 0 {
				return b
			}
			return lower + (b-lower)*(rank-float64(prev))/float64(inBucket)
		}
		lower, prev = b, cum[i]
	}
	return math.Max(lower, bounds[len(bounds)-1])
}
