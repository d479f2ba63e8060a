package middleware

import (
	"hash/maphash"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
)

// rateLimit is Traefik's rateLimit: a token bucket per source (see
// sourceCriterion: by default the client address), filled at average
// requests per period (default 1s) and holding burst (default 1) tokens.
// Like Traefik's it shapes as well as limits: a request that finds the
// bucket empty waits for its token when that is at most 1/(2·rate) away
// (500ms for rates below one a second), and is answered 429 Too Many
// Requests otherwise, with Retry-After (whole seconds, rounded up) and
// X-Retry-In (the wait, as Go prints a duration); its token is given back.
// average 0 (the default) is no limit.
//
// A source's bucket is forgotten after it has been idle for Traefik's time
// to live (2s for a rate of one a second or more; 1+1/rate seconds below),
// so a source that comes back starts with a full bucket, as in Traefik. At
// most 65536 sources are kept (Traefik's bound), the least recently seen
// making room. The buckets are in 64 shards, each with its own lock, so
// sources do not wait on one another.
//
// redis.* (Traefik's distributed limiter) is refused: baton has none.
func init() { register("ratelimit", newRateLimit) }

const (
	rateShards     = 64
	rateMaxSources = 65536
)

type rateLimit struct {
	next     http.Handler
	src      sourceCriterion
	rate     float64 // tokens a second
	burst    float64
	maxDelay time.Duration
	ttl      int64 // ns
	perShard int
	seed     maphash.Seed
	shards   [rateShards]bucketShard
	now      func() time.Time
	log      *zap.Logger
}

type bucketShard struct {
	mu sync.Mutex
	m  map[sourceKey]tokenBucket
	_  [48]byte // a shard to a cache line, or near enough
}

type tokenBucket struct {
	tokens float64
	last   int64 // ns: when tokens was last brought up to date
}

func newRateLimit(s Spec, env Env, next http.Handler) (http.Handler, error) {
	o := newOptions(s)
	log := kindLogger(s, env)
	if r := o.prefixed("redis."); len(r) > 0 {
		keys := slices.Sorted(maps.Keys(r))
		return nil, &OptionError{Option: "redis." + keys[0], Value: r[keys[0]], Reason: "baton has no Redis-backed rate limiter; each baton limits on its own"}
	}
	average, _, err := accessInt(o, "average", 0)
	if err != nil {
		return nil, err
	}
	if average > math.MaxInt64/int64(time.Second) {
		return nil, &OptionError{Option: "average", Value: strconv.FormatInt(average, 10), Reason: "too large"}
	}
	period, _, err := accessDuration(o, "period")
	if err != nil {
		return nil, err
	}
	if period < 0 {
		return nil, &OptionError{Option: "period", Value: period.String(), Reason: "a negative period"}
	}
	if period == 0 {
		period = time.Second
	}
	burst, _, err := accessInt(o, "burst", 0)
	if err != nil {
		return nil, err
	}
	burst = max(burst, 1)
	rl := &rateLimit{next: next, burst: float64(burst), perShard: rateMaxSources / rateShards, seed: maphash.MakeSeed(), now: time.Now, log: log}
	if rl.src, err = parseSourceCriterion(o, env, log, false); err != nil {
		return nil, err
	}
	if err := o.unknown(); err != nil {
		return nil, err
	}
	if average == 0 {
		rl.rate = math.Inf(1)
		return rl, nil
	}
	// Traefik's arithmetic, truncations included.
	rl.rate = float64(average*int64(time.Second)) / float64(period)
	if rl.rate < 1 {
		rl.maxDelay = 500 * time.Millisecond
	} else {
		rl.maxDelay = time.Second / (time.Duration(rl.rate) * 2)
	}
	ttl := 1
	if rl.rate >= 1 {
		ttl++
	} else {
		ttl += int(1 / rl.rate)
	}
	rl.ttl = int64(ttl) * int64(time.Second)
	for i := range rl.shards {
		rl.shards[i].m = map[sourceKey]tokenBucket{}
	}
	return rl, nil
}

func (rl *rateLimit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if math.IsInf(rl.rate, 1) {
		rl.next.ServeHTTP(w, r)
		return
	}
	key := rl.src.key(r)
	delay := rl.reserve(key, rl.now().UnixNano())
	if delay > rl.maxDelay {
		if ce := rl.log.Check(zap.DebugLevel, "rateLimit: too many requests"); ce != nil {
			ce.Write(zap.Stringer("source", key), zap.Duration("retry_in", delay))
		}
		h := w.Header()
		h.Set("Retry-After", strconv.FormatFloat(math.Ceil(delay.Seconds()), 'f', 0, 64))
		h.Set("X-Retry-In", delay.String())
		writeText(w, http.StatusTooManyRequests, "Too Many Requests")
		return
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-r.Context().Done():
			t.Stop()
			http.Error(w, "context canceled", http.StatusInternalServerError)
			return
		case <-t.C:
		}
	}
	rl.next.ServeHTTP(w, r)
}

// reserve takes a token from key's bucket at now and returns how long until
// it is there (0: now). A wait longer than maxDelay is not taken: the token
// is given back, as Traefik cancels its reservation.
func (rl *rateLimit) reserve(key sourceKey, now int64) time.Duration {
	sh := &rl.shards[key.hash(rl.seed)%rateShards]
	sh.mu.Lock()
	b, ok := sh.m[key]
	if !ok || now-b.last >= rl.ttl {
		if !ok && len(sh.m) >= rl.perShard {
			sh.evict(now, rl.ttl)
		}
		b = tokenBucket{tokens: rl.burst, last: now}
	}
	if elapsed := now - b.last; elapsed > 0 {
		b.tokens = min(rl.burst, b.tokens+float64(elapsed)/float64(time.Second)*rl.rate)
	}
	b.last = max(b.last, now)
	b.tokens--
	var delay time.Duration
	if b.tokens < 0 {
		delay = time.Duration(-b.tokens / rl.rate * float64(time.Second))
		if delay > rl.maxDelay {
			b.tokens++
		}
	}
	sh.m[key] = b
	sh.mu.Unlock()
	return delay
}

// evict makes room in a full shard: the buckets idle for ttl go, or, when
// none is, the least recently used one.
func (sh *bucketShard) evict(now, ttl int64) {
	var oldest sourceKey
	oldestAt := int64(math.MaxInt64)
	freed := false
	for k, b := range sh.m {
		if now-b.last >= ttl {
			delete(sh.m, k)
			freed = true
		} else if b.last < oldestAt {
			oldest, oldestAt = k, b.last
		}
	}
	if !freed {
		delete(sh.m, oldest)
	}
}

// sources is how many buckets are kept (tests).
func (rl *rateLimit) sources() int {
	n := 0
	for i := range rl.shards {
		sh := &rl.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}
