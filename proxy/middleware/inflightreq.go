package middleware

import (
	"hash/maphash"
	"net/http"
	"strconv"
	"sync"

	"go.uber.org/zap"
)

// inFlightReq is Traefik's inFlightReq: at most amount requests of a source
// are served at once; one more is answered 429 Too Many Requests with the
// body "max connections reached: <amount>" (oxy's connlimit, which Traefik
// uses). The source is sourceCriterion's, by default the request's Host (not
// the client address, as Traefik documents).
//
// amount is required: Traefik takes 0 (its default) and then answers every
// request 429; baton refuses the middleware instead.
//
// The counts are in 64 shards, each with its own lock; a source's count is
// dropped when it comes back to 0, so memory is bounded by the requests in
// flight.
func init() { register("inflightreq", newInFlightReq) }

const inFlightShards = 64

type inFlightReq struct {
	next   http.Handler
	src    sourceCriterion
	amount int64
	text   string
	seed   maphash.Seed
	shards [inFlightShards]inFlightShard
	log    *zap.Logger
}

type inFlightShard struct {
	mu sync.Mutex
	m  map[sourceKey]int64
	_  [48]byte
}

func newInFlightReq(s Spec, env Env, next http.Handler) (http.Handler, error) {
	o := newOptions(s)
	log := kindLogger(s, env)
	amount, set, err := accessInt(o, "amount", 0)
	if err != nil {
		return nil, err
	}
	if !set || amount == 0 {
		return nil, &OptionError{Option: "amount", Value: strconv.FormatInt(amount, 10), Reason: "required, at least 1 (Traefik's 0 answers every request 429)"}
	}
	f := &inFlightReq{next: next, amount: amount, seed: maphash.MakeSeed(), log: log}
	f.text = "max connections reached: " + strconv.FormatInt(amount, 10)
	if f.src, err = parseSourceCriterion(o, env, log, true); err != nil {
		return nil, err
	}
	if err := o.unknown(); err != nil {
		return nil, err
	}
	for i := range f.shards {
		f.shards[i].m = map[sourceKey]int64{}
	}
	return f, nil
}

func (f *inFlightReq) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := f.src.key(r)
	sh := &f.shards[key.hash(f.seed)%inFlightShards]
	sh.mu.Lock()
	n := sh.m[key]
	if n >= f.amount {
		sh.mu.Unlock()
		if ce := f.log.Check(zap.DebugLevel, "inFlightReq: too many requests in flight"); ce != nil {
			ce.Write(zap.Stringer("source", key))
		}
		writeText(w, http.StatusTooManyRequests, f.text)
		return
	}
	sh.m[key] = n + 1
	sh.mu.Unlock()
	defer f.release(sh, key)
	f.next.ServeHTTP(w, r)
}

func (f *inFlightReq) release(sh *inFlightShard, key sourceKey) {
	sh.mu.Lock()
	if n := sh.m[key] - 1; n > 0 {
		sh.m[key] = n
	} else {
		delete(sh.m, key)
	}
	sh.mu.Unlock()
}

// inFlight counts the sources and the requests in flight (tests).
func (f *inFlightReq) inFlight() (sources int, total int64) {
	for i := range f.shards {
		sh := &f.shards[i]
		sh.mu.Lock()
		sources += len(sh.m)
		for _, n := range sh.m {
			total += n
		}
		sh.mu.Unlock()
	}
	return sources, total
}
