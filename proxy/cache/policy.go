package cache

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// Why a response was not stored: the detail= of its Cache-Status (RFC 9211 §2.8).
const (
	detailStatus      = "status"        // status code outside the conservative cacheable set
	detailNoStore     = "no-store"      // response Cache-Control: no-store
	detailPrivate     = "private"       // response Cache-Control: private
	detailNoCache     = "no-cache"      // response Cache-Control: no-cache (no revalidation here)
	detailSetCookie   = "set-cookie"    // baton never stores a response that sets a cookie
	detailAuth        = "authorization" // request had Authorization, response not marked shareable
	detailVaryStar    = "vary-star"     // Vary: * never matches
	detailTrailer     = "trailer"       // trailers are not stored
	detailNoFreshness = "no-freshness"  // no s-maxage, max-age or Expires: no heuristics here
	detailStale       = "stale"         // explicit freshness already used up on arrival
	detailTooLarge    = "too-large"     // body beyond the per-entry limit
	detailReqNoStore  = "request-no-store"
)

// cacheableStatus is the conservative set of statuses baton stores, and only
// with explicit freshness: the heuristically cacheable ones of RFC 9110 §15.1
// minus 206 (no partial content here).
func cacheableStatus(code int) bool {
	switch code {
	case 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// admission is the verdict on a response to a GET that may be stored.
type admission struct {
	entry  *Entry // nil: not stored, see detail
	detail string
}

// admit applies RFC 9111 §3 for a shared cache to a response header about to
// be sent. It prepares the entry (header copied, freshness computed); the body
// is filled in as it streams.
func (c *Cache) admit(st *Status, r *http.Request, code int, h http.Header, responseTime time.Time) admission {
	if !cacheableStatus(code) {
		return admission{detail: detailStatus}
	}
	cc := parseResponseControl(h["Cache-Control"])
	switch {
	case cc.noStore:
		return admission{detail: detailNoStore}
	case cc.private:
		return admission{detail: detailPrivate}
	case cc.noCache:
		return admission{detail: detailNoCache}
	case len(h["Set-Cookie"]) > 0:
		return admission{detail: detailSetCookie}
	}
	sharedAuth := cc.public || cc.mustRevalidate || cc.sMaxAge >= 0
	if len(r.Header["Authorization"]) > 0 && !sharedAuth {
		return admission{detail: detailAuth}
	}
	names, star := varyNames(h)
	if star {
		return admission{detail: detailVaryStar}
	}
	if len(h["Trailer"]) > 0 {
		return admission{detail: detailTrailer}
	}
	date, ok := httpTime(h["Date"])
	if !ok {
		date = responseTime
	}
	lifetime, ok := freshnessLifetime(cc, h, date)
	if !ok {
		return admission{detail: detailNoFreshness}
	}
	initialAge := correctedInitialAge(h, date, st.requestTime, responseTime)
	if lifetime <= initialAge {
		return admission{detail: detailStale}
	}
	if cl := contentLength(h); cl > c.entryLimit {
		return admission{detail: detailTooLarge}
	}
	stored := storedHeader(h)
	return admission{entry: &Entry{
		status:       code,
		header:       stored,
		hitStatus:    hitStatus(h["Cache-Status"]),
		responseTime: responseTime,
		initialAge:   initialAge,
		lifetime:     lifetime,
		sharedAuth:   sharedAuth,
		now:          c.now,
		key:          st.key,
		varyValues:   varyValues(names, r.Header),
		owner:        &variants{vary: names}, // replaced by the shard's own on insert
	}}
}

// freshnessLifetime is s-maxage, else max-age, else Expires minus Date (RFC 9111
// §4.2.1). There is no heuristic freshness: a response that does not say how long
// it stays fresh is not stored. A malformed value counts as already stale.
func freshnessLifetime(cc responseControl, h http.Header, date time.Time) (time.Duration, bool) {
	switch {
	case cc.sMaxAge >= 0:
		return time.Duration(cc.sMaxAge) * time.Second, true
	case cc.sMaxAge == -2:
		return 0, true
	case cc.maxAge >= 0:
		return time.Duration(cc.maxAge) * time.Second, true
	case cc.maxAge == -2:
		return 0, true
	}
	if len(h["Expires"]) == 0 {
		return 0, false
	}
	expires, ok := httpTime(h["Expires"])
	if !ok { // "Expires: 0" and other invalid dates mean already expired (§5.3)
		return 0, true
	}
	return expires.Sub(date), true
}

// correctedInitialAge is RFC 9111 §4.2.3's corrected_initial_age.
func correctedInitialAge(h http.Header, date, requestTime, responseTime time.Time) time.Duration {
	apparent := max(responseTime.Sub(date), 0)
	var ageValue time.Duration
	if v := h["Age"]; len(v) > 0 {
		if n := deltaSeconds(strings.TrimSpace(v[0])); n >= 0 {
			ageValue = time.Duration(n) * time.Second
		}
	}
	corrected := ageValue + max(responseTime.Sub(requestTime), 0)
	return max(apparent, corrected)
}

func httpTime(vv []string) (time.Time, bool) {
	if len(vv) == 0 {
		return time.Time{}, false
	}
	t, err := http.ParseTime(strings.TrimSpace(vv[0]))
	return t, err == nil
}

// contentLength is the declared body length, -1 when unknown.
func contentLength(h http.Header) int64 {
	v := h["Content-Length"]
	if len(v) != 1 {
		return -1
	}
	n := deltaSeconds(strings.TrimSpace(v[0])) // same grammar: 1*DIGIT
	if n < 0 || n == deltaMax {
		return -1
	}
	return n
}

// notStored are fields of a response that belong to one exchange, not to the
// stored response: hop-by-hop fields (RFC 9110 §7.6.1), Age (recomputed on every
// hit) and Cache-Status (rebuilt).
var notStored = map[string]bool{
	"Connection": true, "Proxy-Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true,
	"Upgrade": true, "Age": true, "Cache-Status": true,
}

// storedHeader copies h without per-exchange fields, those named by Connection,
// and baton's own X-Baton-* diagnostics, which concern one request only. Each
// value slice is clipped so that a later append by a caller copies it.
func storedHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vv := range h {
		if notStored[k] || strings.HasPrefix(k, "X-Baton-") {
			continue
		}
		out[k] = slices.Clip(slices.Clone(vv))
	}
	for _, v := range h["Connection"] {
		for _, name := range strings.Split(v, ",") {
			delete(out, http.CanonicalHeaderKey(strings.TrimSpace(name)))
		}
	}
	return out
}

const statusHit = "baton; hit"

var hitOnly = []string{statusHit}

// hitStatus appends baton's member to the Cache-Status an upstream cache sent:
// the list runs from the origin towards the user (RFC 9211 §2).
func hitStatus(upstream []string) []string {
	if len(upstream) == 0 {
		return hitOnly
	}
	return slices.Clip(append(slices.Clone(upstream), statusHit))
}

// entrySize is what an entry counts against the byte bound: body, header and
// key, plus a fixed overhead for the structures around them.
func entrySize(e *Entry) int64 {
	n := int64(len(e.body) + len(e.key) + entryOverhead)
	for k, vv := range e.header {
		n += int64(len(k))
		for _, v := range vv {
			n += int64(len(v)) + 16
		}
	}
	for _, v := range e.varyValues {
		n += int64(len(v)) + 16
	}
	return n
}

const entryOverhead = 256
