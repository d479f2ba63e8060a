package cache

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// flight is a fill under way: the first miss for a key fetches, the misses
// that arrive meanwhile wait for it instead of going upstream too.
type flight struct {
	done    chan struct{}
	stored  bool         // set before done is closed
	waiters atomic.Int32 // requests waiting, for tests and diagnostics
}

// Lookup finds a stored response usable for r on service. On a hit it returns
// the entry; serve it with Entry.Respond. Otherwise the Status says why the
// request goes upstream; hand it to Record. When another request for the same
// key is already being fetched, Lookup waits for it (bounded by r's context)
// and answers from its result; the error is non-nil only when r's context ended
// while waiting.
func (c *Cache) Lookup(service string, r *http.Request) (*Entry, Status, error) {
	st := Status{requestTime: c.now(), epoch: c.epoch.Load()}
	if !c.enabled() {
		st.fwd = FwdBypass
		return nil, st, nil
	}
	var kb [keyBufSize]byte
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		st.fwd = FwdMethod
		if !safeMethod(r.Method) {
			key := appendKey(kb[:0], service, r)
			st.key, st.shard, st.invalidate = string(key), c.shardFor(key), true
		}
		return nil, st, nil
	}
	if len(r.Header["Range"]) > 0 || len(r.Header["Upgrade"]) > 0 {
		st.fwd = FwdBypass
		return nil, st, nil
	}
	rc := requestControl{maxAge: -1, minFresh: -1}
	if v := r.Header["Cache-Control"]; len(v) > 0 {
		rc = parseRequestControl(v)
	}
	auth := len(r.Header["Authorization"]) > 0
	key := appendKey(kb[:0], service, r)
	sh := c.shardFor(key)
	st.shard = sh
	st.store = r.Method == http.MethodGet && !rc.noStore
	st.noStoreReq = rc.noStore
	// A client that refuses stored answers gets the origin's, not a coalesced one.
	mayWait := !rc.noCache && rc.maxAge != 0
	waited := false
	now := st.requestTime
	for {
		sh.mu.Lock()
		e, fwd := sh.find(key, r, now, rc, auth)
		if e != nil {
			sh.touch(e)
			sh.mu.Unlock()
			c.metrics.Hit()
			st.fwd = ""
			return e, st, nil
		}
		st.fwd = fwd
		if mayWait && !waited {
			if f := sh.flights[string(key)]; f != nil {
				f.waiters.Add(1)
				sh.mu.Unlock()
				err := wait(r.Context(), f)
				f.waiters.Add(-1)
				if err != nil {
					return nil, st, fmt.Errorf("cache: waiting for the fill of %s%s: %w", r.Host, r.URL.Path, err)
				}
				waited = true
				now = c.now()
				if f.stored {
					continue // answered from what the leader stored, if it suits this request
				}
				// Not storable (or not stored): each waiter goes upstream itself,
				// without a flight, and may store what it gets.
				st.fwd, st.key = FwdMiss, string(key)
				c.metrics.Miss()
				return nil, st, nil
			}
		}
		if st.key == "" {
			st.key = string(key)
		}
		// A conditional request may get a 304 that others cannot use: it does
		// not lead a fill, though it may store a 200.
		if mayWait && !waited && st.store && !conditional(r.Header) {
			st.flight = &flight{done: make(chan struct{})}
			sh.flights[st.key] = st.flight
		}
		sh.mu.Unlock()
		c.metrics.Miss()
		return nil, st, nil
	}
}

func wait(ctx context.Context, f *flight) error {
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// find returns a usable entry for r, or why there is none. It needs sh.mu.
// A stale entry is dropped on sight: baton does not revalidate.
func (sh *shard) find(key []byte, r *http.Request, now time.Time, rc requestControl, auth bool) (*Entry, string) {
	v := sh.items[string(key)]
	if v == nil {
		return nil, FwdURIMiss
	}
	var e *Entry
	for _, x := range v.entries {
		if varyMatch(v.vary, x.varyValues, r.Header) {
			e = x
			break
		}
	}
	if e == nil {
		return nil, FwdVaryMiss
	}
	age := e.age(now)
	if age >= e.lifetime {
		sh.remove(e)
		return nil, FwdStale
	}
	switch {
	case rc.noCache || rc.maxAge == 0:
		return nil, FwdRequest
	case rc.maxAge > 0 && age > time.Duration(rc.maxAge)*time.Second:
		return nil, FwdRequest
	case rc.minFresh >= 0 && e.lifetime-age < time.Duration(rc.minFresh)*time.Second:
		return nil, FwdRequest
	case auth && !e.sharedAuth:
		return nil, FwdRequest
	}
	return e, ""
}

// finish ends st's flight, if it leads one, waking its waiters.
func (c *Cache) finish(st *Status, stored bool) {
	f := st.flight
	if f == nil {
		return
	}
	st.flight = nil
	sh := st.shard
	sh.mu.Lock()
	if sh.flights[st.key] == f {
		delete(sh.flights, st.key)
	}
	f.stored = stored
	sh.mu.Unlock()
	close(f.done)
}

func conditional(h http.Header) bool {
	return len(h["If-None-Match"]) > 0 || len(h["If-Modified-Since"]) > 0
}

func safeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}
