package cache

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// Cache is safe for concurrent use. Its zero value is not usable; call New.
type Cache struct {
	shards     []shard
	mask       uint64
	seed       maphash.Seed
	entryLimit int64
	metrics    Metrics
	epoch      atomic.Uint64 // bumped by every Purge
	now        func() time.Time
}

// shard is one lock's worth of the table: its entries, its in-flight fills and
// its LRU list. A hit locks only its shard, never the whole cache.
type shard struct {
	mu         sync.Mutex
	items      map[string]*variants
	flights    map[string]*flight
	head, tail *Entry // most recently used at the head
	bytes      int64
	budget     int64
	count      int
	_          [64]byte // keep neighbouring shards' locks off one cache line
}

// variants are the entries stored for one primary key, one per combination of
// the request values named by the response's Vary (a single one without Vary).
type variants struct {
	vary    []string // canonical field names, sorted
	entries []*Entry
}

// maxVariants bounds the entries of one URI so that a Vary on a wild header
// (User-Agent) cannot turn a lookup into a long scan.
const maxVariants = 16

// minShardBytes keeps shards large enough to hold several entries each.
const minShardBytes = 1 << 20

// New returns a cache holding at most maxBytes of responses. A single response
// is stored only up to maxBytes/8 (less with many shards). maxBytes <= 0 gives a
// cache that stores nothing and answers every request with fwd=bypass. m may be nil.
func New(maxBytes int64, m Metrics) *Cache {
	if m == nil {
		m = NopMetrics{}
	}
	n := 1
	for n < 16 && maxBytes/int64(n*2) >= minShardBytes {
		n *= 2
	}
	c := &Cache{
		shards:  make([]shard, n),
		mask:    uint64(n - 1),
		seed:    maphash.MakeSeed(),
		metrics: m,
		now:     time.Now,
	}
	budget := max(maxBytes, 0) / int64(n)
	c.entryLimit = min(maxBytes/8, budget/4)
	if n == 1 {
		c.entryLimit = maxBytes / 8
	}
	for i := range c.shards {
		c.shards[i] = shard{items: map[string]*variants{}, flights: map[string]*flight{}, budget: budget}
	}
	return c
}

func (c *Cache) enabled() bool { return c.entryLimit > 0 }

func (c *Cache) shardFor(key []byte) *shard {
	return &c.shards[maphash.Bytes(c.seed, key)&c.mask]
}

// EntryLimit is the largest response body the cache stores.
func (c *Cache) EntryLimit() int64 { return c.entryLimit }

// Bytes is the accounted size of everything stored, for a gauge.
func (c *Cache) Bytes() int64 {
	var n int64
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += sh.bytes
		sh.mu.Unlock()
	}
	return n
}

// Len is the number of stored entries, for a gauge.
func (c *Cache) Len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += sh.count
		sh.mu.Unlock()
	}
	return n
}

// Purge drops every entry of service whose path lies under pathPrefix ("" or
// "/" for all, segment-wise: "/api" holds "/api/x", not "/apix"), and makes any
// fill already under way when it was called store nothing: a response fetched
// from the old target just before a switch must not land after the purge.
func (c *Cache) Purge(service, pathPrefix string) (removed int) {
	c.epoch.Add(1)
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for key, v := range sh.items {
			s, path := keyParts(key)
			if s != service || !underPrefix(path, pathPrefix) {
				continue
			}
			for _, e := range v.entries {
				sh.unlink(e)
				removed++
			}
			delete(sh.items, key)
		}
		sh.mu.Unlock()
	}
	if removed > 0 {
		c.metrics.Purged(removed)
	}
	return removed
}

// store inserts e unless a purge happened since its request began. It evicts
// least recently used entries of the shard to stay within its budget.
func (c *Cache) store(st *Status, e *Entry) bool {
	e.size = entrySize(e)
	sh := st.shard
	var evicted int64
	sh.mu.Lock()
	// Checked under the shard lock: Purge bumps the epoch before it sweeps, so
	// either this sees the new epoch or the sweep sees this entry.
	if c.epoch.Load() != st.epoch || e.size > sh.budget {
		sh.mu.Unlock()
		return false
	}
	v := sh.items[e.key]
	if v != nil && !equalStrings(v.vary, e.owner.vary) {
		// The newest response's Vary governs: variants under another Vary are obsolete.
		for _, old := range v.entries {
			sh.unlink(old)
		}
		v.entries = nil
		v.vary = e.owner.vary
	}
	if v == nil {
		v = e.owner
		sh.items[e.key] = v
	}
	e.owner = v
	for _, old := range v.entries {
		if equalStrings(old.varyValues, e.varyValues) {
			sh.remove(old)
			break
		}
	}
	if len(v.entries) >= maxVariants {
		sh.remove(v.entries[0])
	}
	v.entries = append(v.entries, e)
	sh.items[e.key] = v // remove may have dropped the key when v emptied
	sh.pushFront(e)
	for sh.bytes > sh.budget && sh.tail != e {
		evicted += sh.tail.size
		sh.remove(sh.tail)
	}
	sh.mu.Unlock()
	c.metrics.Stored(e.size)
	if evicted > 0 {
		c.metrics.Evicted(evicted)
	}
	return true
}

// invalidate drops every variant stored under key (RFC 9111 §4.4).
func (c *Cache) invalidate(st *Status) {
	sh := st.shard
	sh.mu.Lock()
	if v := sh.items[st.key]; v != nil {
		for _, e := range v.entries {
			sh.unlink(e)
		}
		delete(sh.items, st.key)
	}
	sh.mu.Unlock()
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
