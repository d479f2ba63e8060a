package proxy

import "time"

// Metrics is what the proxy reports per route. Observers are bound once per route
// when a table is stored, so a request only touches pre-resolved counters and never
// hashes label values.
type Metrics interface {
	Route(service, host, path string) RouteObserver
}

// RouteObserver records the outcome of requests on one route.
type RouteObserver interface {
	// Observe records a finished request with the status the client got (499 when
	// the client left first) and the time it took.
	Observe(status int, elapsed time.Duration)
	// UpstreamError counts a failed upstream exchange by kind: refused, reset,
	// timeout, draining, other.
	UpstreamError(kind string)
}

type nopMetrics struct{}

func (nopMetrics) Route(string, string, string) RouteObserver { return nopObserver{} }

type nopObserver struct{}

func (nopObserver) Observe(int, time.Duration) {}
func (nopObserver) UpstreamError(string)       {}
