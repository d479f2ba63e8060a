// Package cache is baton's in-memory HTTP response cache for routes labelled
// baton.cache=true. It follows RFC 9111's rules for a shared cache,
// conservatively: only explicit freshness (no heuristics), no revalidation (a
// stale or no-cache response goes upstream and is replaced), and never a
// response that sets a cookie. It is bounded in bytes with per-shard LRU
// eviction, coalesces concurrent misses for one key into one upstream request,
// and says what it did in a Cache-Status field (RFC 9211).
//
// The proxy uses it in three steps: Lookup; on a hit Entry.Respond; otherwise
// Record around the upstream exchange and Recorder.End. Serve does all three.
//
// The main type is Cache (cache.go); Entry (entry.go) is one stored answer and
// Recorder (recorder.go) one fill. No goroutine of its own: the proxy's
// requests drive it; coalesced misses wait in Lookup (lookup.go).
package cache
