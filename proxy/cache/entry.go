package cache

import (
	"net/http"
	"strconv"
	"time"
)

// Entry is one stored response. Everything but its LRU links is immutable once
// stored, so a hit is served without holding any lock.
type Entry struct {
	status int
	header http.Header // filtered: no hop-by-hop, Age, Cache-Status or X-Baton-* fields
	body   []byte

	// hitStatus is the Cache-Status on a hit: upstream caches' members, then ours.
	hitStatus []string

	responseTime time.Time     // when baton received the response
	initialAge   time.Duration // corrected_initial_age, RFC 9111 §4.2.3
	lifetime     time.Duration // freshness lifetime, RFC 9111 §4.2.1
	sharedAuth   bool          // may answer requests with Authorization (§3.5)
	now          func() time.Time

	key        string   // primary key
	varyValues []string // request values of the owner's Vary names
	size       int64
	owner      *variants
	prev, next *Entry // LRU list of the shard, most recent at the head
}

// StatusCode is the stored response's status.
func (e *Entry) StatusCode() int { return e.status }

// Header is the stored response's header. Callers must not modify it.
func (e *Entry) Header() http.Header { return e.header }

// Body is the stored response's body. Callers must not modify it.
func (e *Entry) Body() []byte { return e.body }

// Age is the entry's current age (RFC 9111 §4.2.3).
func (e *Entry) Age() time.Duration { return e.age(e.now()) }

func (e *Entry) age(now time.Time) time.Duration {
	resident := now.Sub(e.responseTime)
	if resident < 0 {
		resident = 0
	}
	return e.initialAge + resident
}

// Respond writes the stored response to w: its header, an Age field (RFC 9111
// §5.1), Cache-Status "baton; hit", and the body unless r is HEAD. Fields the
// caller set on w before (X-Baton-Service, say) are kept.
func (e *Entry) Respond(w http.ResponseWriter, r *http.Request) {
	dst := w.Header()
	for k, vv := range e.header {
		dst[k] = vv
	}
	dst["Age"] = ageValue(e.Age())
	dst["Cache-Status"] = e.hitStatus
	w.WriteHeader(e.status)
	if r.Method != http.MethodHead && len(e.body) > 0 {
		_, _ = w.Write(e.body) // a client gone mid-body is its own loss
	}
}

// ageValues holds the Age fields for the first minutes, so that the common hit
// allocates nothing for its Age.
var ageValues = func() (t [600][]string) {
	for i := range t {
		t[i] = []string{strconv.Itoa(i)}
	}
	return t
}()

func ageValue(age time.Duration) []string {
	s := int64(age / time.Second)
	if s < int64(len(ageValues)) {
		return ageValues[s]
	}
	if s > deltaMax {
		s = deltaMax
	}
	return []string{strconv.FormatInt(s, 10)}
}
