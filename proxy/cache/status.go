package cache

import "time"

// fwd= values of Cache-Status (RFC 9211 §2.2): why a request went upstream.
const (
	FwdBypass   = "bypass"    // the cache does not handle this request (Range, Upgrade, cache off)
	FwdMethod   = "method"    // not GET or HEAD
	FwdURIMiss  = "uri-miss"  // nothing stored for this URI
	FwdVaryMiss = "vary-miss" // stored for this URI, but under other Vary values
	FwdStale    = "stale"     // stored, but no longer fresh (baton does not revalidate)
	FwdRequest  = "request"   // stored and fresh, but the request's directives or Authorization forbid using it
	FwdMiss     = "miss"      // a coalesced fill this request waited for stored nothing it could use
)

// Status is the cache's verdict on a request, from Lookup. A Status that is not
// a hit must be handed to Record, and the Recorder ended, even when the
// upstream exchange fails: the request may be leading a fill others wait for.
type Status struct {
	fwd         string // "" for a hit
	key         string // primary key, when the request may store or invalidate
	shard       *shard
	flight      *flight // this request leads a fill others wait for
	epoch       uint64  // purge epoch at the start; a fill begun before a purge is not stored
	requestTime time.Time
	store       bool // a response may be stored (GET, no request no-store)
	noStoreReq  bool // the request said no-store
	invalidate  bool // an unsafe method: a success invalidates the URI (RFC 9111 §4.4)
}

// Hit reports whether the request is answered from the cache.
func (s Status) Hit() bool { return s.fwd == "" }

// Fwd is the Cache-Status fwd= reason, "" on a hit.
func (s Status) Fwd() string { return s.fwd }

// Leads reports whether this request leads a coalesced fill.
func (s Status) Leads() bool { return s.flight != nil }

// String is the Cache-Status field value before the response is known:
// "baton; hit" or "baton; fwd=<reason>".
func (s Status) String() string {
	if s.fwd == "" {
		return statusHit
	}
	return "baton; fwd=" + s.fwd
}

// CacheStatus is the Cache-Status field value for a forwarded response:
// the request's fwd= reason, then "stored" or the detail of why not. detail ""
// and stored false leave both out (the response was never a candidate).
func CacheStatus(s Status, stored bool, detail string) string {
	v := s.String()
	switch {
	case s.fwd == "":
	case stored:
		v += "; stored"
	case detail != "":
		v += "; detail=" + detail
	}
	return v
}
