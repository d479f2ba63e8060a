package proxy

import "github.com/prometheus/client_golang/prometheus"

// listenerCollector reports a listener's fast-path counters, read when
// scraped (the counters are atomics the connections bump anyway).
type listenerCollector struct {
	name                                  string
	l                                     *Listener
	refusals, retries, buffers, idleMoves *prometheus.Desc
}

// Collector reports the listener's counters under the label listener=name
// (http, https): requests refused for their framing, accepts retried (out of
// file descriptors), connections holding buffers now, idle waits moved.
func (l *Listener) Collector(name string) prometheus.Collector {
	labels := prometheus.Labels{"listener": name}
	return &listenerCollector{name: name, l: l,
		refusals:  prometheus.NewDesc("baton_http1_refused_total", "HTTP/1.1 requests refused (400, 405, 414, 417, 431, 501, 505) and their connections closed.", nil, labels),
		retries:   prometheus.NewDesc("baton_accept_retries_total", "Accepts that failed (out of file descriptors, say) and were retried after a pause.", nil, labels),
		buffers:   prometheus.NewDesc("baton_http1_connections_buffered", "HTTP/1.1 connections holding read and write buffers now (serving a request); idle ones hold none.", nil, labels),
		idleMoves: prometheus.NewDesc("baton_http1_idle_moves_total", "Idle HTTP/1.1 connections whose wait moved to a fresh goroutine.", nil, labels),
	}
}

func (c *listenerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.refusals
	ch <- c.retries
	ch <- c.buffers
	ch <- c.idleMoves
}

func (c *listenerCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.l.fast.Stats()
	ch <- prometheus.MustNewConstMetric(c.refusals, prometheus.CounterValue, float64(st.Refusals))
	ch <- prometheus.MustNewConstMetric(c.retries, prometheus.CounterValue, float64(st.AcceptRetries))
	ch <- prometheus.MustNewConstMetric(c.buffers, prometheus.GaugeValue, float64(st.BuffersHeld))
	ch <- prometheus.MustNewConstMetric(c.idleMoves, prometheus.CounterValue, float64(st.IdleMoves))
}
