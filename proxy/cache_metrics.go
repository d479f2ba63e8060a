package proxy

import (
	"github.com/batonproxy/baton/proxy/cache"
	"github.com/prometheus/client_golang/prometheus"
)

// NewCache builds the response cache with its Prometheus series on reg.
func NewCache(maxBytes int64, reg prometheus.Registerer) *cache.Cache {
	m := &cacheMetrics{
		hits:    prometheus.NewCounter(prometheus.CounterOpts{Name: "baton_cache_hits_total", Help: "Responses served from the cache."}),
		misses:  prometheus.NewCounter(prometheus.CounterOpts{Name: "baton_cache_misses_total", Help: "Cacheable requests sent upstream."}),
		stored:  prometheus.NewCounter(prometheus.CounterOpts{Name: "baton_cache_stored_bytes_total", Help: "Bytes stored in the cache."}),
		evicted: prometheus.NewCounter(prometheus.CounterOpts{Name: "baton_cache_evicted_bytes_total", Help: "Bytes evicted by the LRU bound."}),
		purged:  prometheus.NewCounter(prometheus.CounterOpts{Name: "baton_cache_purged_total", Help: "Entries removed by purges (deploy switch, revert, baton cache purge)."}),
	}
	c := cache.New(maxBytes, m)
	reg.MustRegister(m.hits, m.misses, m.stored, m.evicted, m.purged,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "baton_cache_bytes", Help: "Bytes held by the cache."}, func() float64 { return float64(c.Bytes()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "baton_cache_entries", Help: "Entries held by the cache."}, func() float64 { return float64(c.Len()) }))
	return c
}

type cacheMetrics struct {
	hits, misses, stored, evicted, purged prometheus.Counter
}

func (m *cacheMetrics) Hit()            { m.hits.Inc() }
func (m *cacheMetrics) Miss()           { m.misses.Inc() }
func (m *cacheMetrics) Stored(n int64)  { m.stored.Add(float64(n)) }
func (m *cacheMetrics) Evicted(n int64) { m.evicted.Add(float64(n)) }
func (m *cacheMetrics) Purged(n int)    { m.purged.Add(float64(n)) }
