package cache

import (
	"net/http"
)

// Recorder is the http.ResponseWriter the proxy relays an upstream response
// through on a caching route. It passes everything on to the client at once
// (the body streams; Flush works) while keeping a copy of a storable response,
// which End stores if the body arrived whole. It sets Cache-Status when the
// header is written, so every response of the route carries one, errors too.
type Recorder struct {
	w   http.ResponseWriter
	c   *Cache
	r   *http.Request
	st  Status
	ent *Entry // being filled; nil when the response is not stored

	wroteHeader bool
	ended       bool
	written     int64 // body bytes passed to the client
	declared    int64 // Content-Length, -1 when unknown
}

// Record wraps w for a request that Lookup did not answer.
func (c *Cache) Record(w http.ResponseWriter, r *http.Request, st Status) *Recorder {
	return &Recorder{w: w, c: c, r: r, st: st, declared: -1}
}

// Header is the client response's header.
func (rec *Recorder) Header() http.Header { return rec.w.Header() }

// WriteHeader decides, from the final status and header, whether the response
// is stored, adds Cache-Status, and sends the header on.
func (rec *Recorder) WriteHeader(code int) {
	if rec.wroteHeader || (code >= 100 && code < 200 && code != http.StatusSwitchingProtocols) {
		rec.w.WriteHeader(code)
		return
	}
	rec.wroteHeader = true
	h := rec.w.Header()
	stored, detail := false, ""
	switch {
	case rec.st.invalidate:
		if code < 400 { // a successful unsafe request changes the resource (RFC 9111 §4.4)
			rec.c.invalidate(&rec.st)
		}
	case rec.st.store:
		a := rec.c.admit(&rec.st, rec.r, code, h, rec.c.now())
		rec.ent, detail, stored = a.entry, a.detail, a.entry != nil
		if rec.ent != nil {
			rec.declared = contentLength(h)
			if rec.declared > 0 {
				rec.ent.body = make([]byte, 0, rec.declared)
			}
		}
	case rec.st.noStoreReq:
		detail = detailReqNoStore
	}
	h.Add("Cache-Status", CacheStatus(rec.st, stored, detail))
	rec.w.WriteHeader(code)
}

// Write sends p to the client and keeps a copy while the response may be stored.
func (rec *Recorder) Write(p []byte) (int, error) {
	if !rec.wroteHeader {
		rec.WriteHeader(http.StatusOK)
	}
	n, err := rec.w.Write(p)
	rec.written += int64(n)
	if e := rec.ent; e != nil {
		if err != nil || int64(len(e.body)+n) > rec.c.entryLimit {
			rec.ent = nil // the client left, or it grew too large: not stored
		} else {
			e.body = append(e.body, p[:n]...)
		}
	}
	return n, err
}

// Flush sends buffered data to the client, for streamed responses.
func (rec *Recorder) Flush() {
	if f, ok := rec.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the client's writer (Hijack, deadlines).
func (rec *Recorder) Unwrap() http.ResponseWriter { return rec.w }

// End stores the response if it may be stored and complete is true (the
// proxy relayed the whole body) and, when this request led a fill, wakes the
// requests waiting for it. It must be called once per Recorder, also when the
// exchange failed; later calls do nothing.
func (rec *Recorder) End(complete bool) (stored bool) {
	if rec.ended {
		return false
	}
	rec.ended = true
	e := rec.ent
	rec.ent = nil
	whole := rec.declared < 0 || rec.written == rec.declared
	if e != nil && complete && whole && rec.r.Context().Err() == nil {
		stored = rec.c.store(&rec.st, e)
	}
	rec.c.finish(&rec.st, stored)
	return stored
}

// Serve answers r from the cache, or through forward, which relays the
// upstream response to the writer it is given and reports whether the whole
// body was relayed. A panic in forward (http.ErrAbortHandler on a cut body)
// stores nothing and still releases coalesced waiters. The error is non-nil
// only when r's context ended while waiting for another request's fill; the
// client is gone and nothing was written.
func (c *Cache) Serve(w http.ResponseWriter, r *http.Request, service string, forward func(http.ResponseWriter) (complete bool)) error {
	e, st, err := c.Lookup(service, r)
	if err != nil {
		return err
	}
	if e != nil {
		e.Respond(w, r)
		return nil
	}
	rec := c.Record(w, r, st)
	complete := false
	defer func() { rec.End(complete) }()
	complete = forward(rec)
	return nil
}
