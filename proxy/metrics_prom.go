package proxy

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// latencyBuckets are the bounds of baton_request_duration_seconds; Rates
// reads p99 from them.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// PromMetrics reports proxy metrics to a Prometheus registry that baton owns.
type PromMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	errors   *prometheus.CounterVec
	shed     map[string]prometheus.Counter // by reason, resolved once
}

// NewPromMetrics registers the proxy's metrics on reg. targets, if not nil, is
// scraped for in-flight requests per target.
func NewPromMetrics(reg prometheus.Registerer, targets *Targets) *PromMetrics {
	m := &PromMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "baton_requests_total",
			Help: "Requests served, by route and status class (499 = client left).",
		}, []string{"service", "host", "path", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "baton_request_duration_seconds",
			Help:    "Time from request to the end of the response, by service.",
			Buckets: latencyBuckets,
		}, []string{"service"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "baton_upstream_errors_total",
			Help: "Failed upstream exchanges by kind: refused, reset, timeout, draining, too_large, bad_request, other.",
		}, []string{"service", "kind"}),
	}
	shed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "baton_requests_shed_total",
		Help: "Requests answered 503 at once because too many were in flight: reason global (proxy.max_inflight) or service (baton.max_inflight).",
	}, []string{"reason"})
	m.shed = map[string]prometheus.Counter{ShedGlobal: shed.WithLabelValues(ShedGlobal), ShedService: shed.WithLabelValues(ShedService)}
	reg.MustRegister(m.requests, m.latency, m.errors, shed)
	if targets != nil {
		reg.MustRegister(&inflightCollector{targets: targets, desc: prometheus.NewDesc(
			"baton_target_inflight_requests", "Requests in flight per target.", []string{"target", "addr"}, nil)})
	}
	return m
}

// Shed counts a request refused by an in-flight bound (ShedCounter).
func (m *PromMetrics) Shed(reason string) {
	if c := m.shed[reason]; c != nil {
		c.Inc()
	}
}

// Route binds the counters of one route.
func (m *PromMetrics) Route(service, host, path string) RouteObserver {
	o := &promRoute{service: service, errors: m.errors, latency: m.latency.WithLabelValues(service)}
	for i := range o.byClass {
		o.byClass[i] = m.requests.WithLabelValues(service, host, path, strconv.Itoa(i+1)+"xx")
	}
	o.clientGone = m.requests.WithLabelValues(service, host, path, "499")
	return o
}

type promRoute struct {
	service    string
	byClass    [5]prometheus.Counter
	clientGone prometheus.Counter
	latency    prometheus.Observer
	errors     *prometheus.CounterVec
}

func (o *promRoute) Observe(status int, elapsed time.Duration) {
	switch {
	case status == StatusClientClosed:
		o.clientGone.Inc()
	case status >= 100 && status < 600:
		o.byClass[status/100-1].Inc()
	}
	o.latency.Observe(elapsed.Seconds())
}

// UpstreamError is rare, so resolving the label here is fine.
func (o *promRoute) UpstreamError(kind string) { o.errors.WithLabelValues(o.service, kind).Inc() }

type inflightCollector struct {
	targets *Targets
	desc    *prometheus.Desc
}

func (c *inflightCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *inflightCollector) Collect(ch chan<- prometheus.Metric) {
	c.targets.Each(func(t *Target) {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(t.InFlight()), t.ID, t.Addr)
	})
}
