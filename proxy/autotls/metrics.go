package autotls

import "github.com/prometheus/client_golang/prometheus"

var (
	expiryDesc = prometheus.NewDesc("baton_tls_certificate_expiry_timestamp_seconds",
		"When each host's certificate expires (Unix time); 0 while none is loaded.", []string{"host"}, nil)
	failingDesc = prometheus.NewDesc("baton_tls_certificate_failing",
		"1 when the host's last attempt to obtain or renew its certificate failed.", []string{"host"}, nil)
)

// Collector reports each managed host's certificate at scrape time: alert on
// an expiry coming close, or on a host that keeps failing.
func (m *Manager) Collector() prometheus.Collector { return collector{m} }

type collector struct{ m *Manager }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- expiryDesc
	ch <- failingDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	for _, cert := range c.m.Certificates() {
		expiry, failing := 0.0, 0.0
		if cert.Ready {
			expiry = float64(cert.NotAfter.Unix())
		}
		if cert.LastError != "" {
			failing = 1
		}
		ch <- prometheus.MustNewConstMetric(expiryDesc, prometheus.GaugeValue, expiry, cert.Host)
		ch <- prometheus.MustNewConstMetric(failingDesc, prometheus.GaugeValue, failing, cert.Host)
	}
}
