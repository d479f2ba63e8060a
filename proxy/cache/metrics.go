package cache

// Metrics receives the cache's counters. The proxy binds it to Prometheus; the
// cache itself knows nothing of a registry. Calls are made outside the cache's
// locks and must be cheap and safe for concurrent use.
type Metrics interface {
	Hit()                // a request answered from the cache
	Miss()               // a GET or HEAD that went upstream (any fwd= reason)
	Stored(bytes int64)  // an entry added, its accounted size
	Evicted(bytes int64) // entries dropped to stay within the byte bound
	Purged(n int)        // entries dropped by Purge
}

// NopMetrics discards every count; it is what New uses when given nil.
type NopMetrics struct{}

func (NopMetrics) Hit()          {}
func (NopMetrics) Miss()         {}
func (NopMetrics) Stored(int64)  {}
func (NopMetrics) Evicted(int64) {}
func (NopMetrics) Purged(int)    {}
