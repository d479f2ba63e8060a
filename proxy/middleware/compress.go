package middleware

import (
	"bufio"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// compressMiddleware is Traefik's compress middleware: the response is
// compressed with gzip, br or zstd, chosen from the request's
// Accept-Encoding by q-value and, at equal q, by the order of encodings
// ("*" ranks first at equal q and means defaultencoding, or the first of
// encodings; identity ranks last; q=0 refuses). Not compressed, as in
// Traefik: HEAD requests; requests whose Content-Type is excluded
// (application/grpc always is); requests without Accept-Encoding unless
// defaultencoding is set; a gzip choice the client did not name itself
// (Traefik's gzip handler, klauspost's gzhttp, compresses only for an
// Accept-Encoding naming gzip: "*" alone gets no gzip); responses that
// already have a Content-Encoding, or a Content-Range (gzhttp's rule,
// baton's for every encoding), or an excluded (or, with includes, not
// included) or unparsable Content-Type; responses shorter than
// minresponsebodybytes (from Content-Length when the upstream sent one,
// else by buffering that many bytes); 1xx, 204 and 304. Compressing drops
// Content-Length and Accept-Ranges and sets Content-Encoding; Vary gets
// Accept-Encoding whenever the encoding was negotiated, compressed or not.
// Flush pushes what the compressor holds to the client, so an event stream
// still streams (once data was written: a Flush before any does nothing,
// as in Traefik). Writers are pooled. Options:
//
//	excludedcontenttypes  media types never compressed (plus application/grpc)
//	includedcontenttypes  only these media types are compressed (exclusive
//	                      with excludedcontenttypes)
//	minresponsebodybytes  default 1024 (0 means the default, as in Traefik)
//	encodings             default gzip,br,zstd (their order is the priority)
//	defaultencoding       one of encodings, used without Accept-Encoding
//	                      and for "*"
//
// Levels are Traefik's: gzip 6 (klauspost), brotli quality 6, zstd default;
// baton's zstd encoder runs on the request's goroutine (concurrency 1).
type compressMiddleware struct {
	next       http.Handler
	excludes   []mediaRange // application/grpc first
	includes   []mediaRange
	minSize    int
	encodings  []string
	defaultEnc string
	writers    sync.Pool
}

// mediaRange is a configured content type: a media type (lower case) and
// the parameters that must match too, if any (gzhttp's rule).
type mediaRange struct {
	mediaType string
	params    map[string]string
}

const defaultMinResponseBodyBytes = 1024

var supportedEncodings = []string{"gzip", "br", "zstd"}

func init() { register("compress", buildCompress) }

func buildCompress(s Spec, env Env, next http.Handler) (http.Handler, error) {
	o := newOptions(s)
	// "traefik.http.middlewares.x.compress=true" declares the middleware with
	// every default (Traefik's allowEmpty): no option, or the empty key.
	if v, ok := o.get(""); ok && !strings.EqualFold(strings.TrimSpace(v), "true") {
		return nil, &OptionError{Option: "compress", Value: v, Reason: `the middleware's own label takes "true" (compress=true declares it with the defaults)`}
	}
	c := &compressMiddleware{next: next, minSize: defaultMinResponseBodyBytes, excludes: []mediaRange{{mediaType: "application/grpc"}}}
	types := func(key string) ([]mediaRange, error) {
		v, _ := o.get(key)
		var out []mediaRange
		for _, t := range list(v) {
			mt, params, err := mime.ParseMediaType(t)
			if err != nil {
				return nil, &OptionError{Option: key, Value: t, Reason: "not a media type: " + err.Error()}
			}
			if len(params) == 0 {
				params = nil
			}
			out = append(out, mediaRange{mediaType: mt, params: params})
		}
		return out, nil
	}
	excludes, err := types("excludedcontenttypes")
	if err != nil {
		return nil, err
	}
	if c.includes, err = types("includedcontenttypes"); err != nil {
		return nil, err
	}
	if len(excludes) > 0 && len(c.includes) > 0 {
		v, _ := o.get("includedcontenttypes")
		return nil, &OptionError{Option: "includedcontenttypes", Value: v, Reason: "excludedcontenttypes and includedcontenttypes are mutually exclusive"}
	}
	c.excludes = append(c.excludes, excludes...)
	if n, set, err := parseIntOption(o, "minresponsebodybytes", 0, 1<<30); err != nil {
		return nil, err
	} else if set && n > 0 {
		c.minSize = int(n)
	}
	c.encodings = supportedEncodings
	if v, ok := o.get("encodings"); ok {
		c.encodings = nil
		for _, e := range list(v) {
			if !listHas(supportedEncodings, e) {
				return nil, &OptionError{Option: "encodings", Value: v, Reason: "unsupported encoding " + strconv.Quote(e) + " (gzip, br and zstd are)"}
			}
			if listHas(c.encodings, e) {
				return nil, &OptionError{Option: "encodings", Value: v, Reason: strconv.Quote(e) + " listed twice"}
			}
			c.encodings = append(c.encodings, e)
		}
		if len(c.encodings) == 0 {
			return nil, &OptionError{Option: "encodings", Value: v, Reason: "at least one encoding must be given"}
		}
	}
	if c.defaultEnc, _ = o.get("defaultencoding"); c.defaultEnc != "" && !listHas(c.encodings, c.defaultEnc) {
		return nil, &OptionError{Option: "defaultencoding", Value: c.defaultEnc, Reason: "not one of encodings " + strings.Join(c.encodings, ",")}
	}
	if err := o.unknown(); err != nil {
		return nil, err
	}
	c.writers.New = func() any { return &compressWriter{c: c} }
	return c, nil
}

func (c *compressMiddleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodHead {
		c.next.ServeHTTP(w, r)
		return
	}
	if ct := r.Header["Content-Type"]; len(ct) > 0 && c.excludedRequest(ct[0]) {
		c.next.ServeHTTP(w, r)
		return
	}
	var enc string
	gzipNamed := false
	if ae, ok := r.Header["Accept-Encoding"]; ok {
		enc, gzipNamed = c.negotiate(ae)
	} else {
		enc = c.defaultEnc
	}
	if enc == "" {
		c.next.ServeHTTP(w, r)
		return
	}
	cw := c.writers.Get().(*compressWriter)
	cw.w, cw.enc = w, enc
	if enc == "gzip" && !gzipNamed {
		cw.state = statePlain // Traefik's gzip handler: Vary, no compression
	}
	c.next.ServeHTTP(cw, r)
	// A panic in next skips this: nothing more is written (an aborted body
	// must not get a valid end) and the writer is left to the collector.
	cw.finish()
	c.release(cw)
}

func (c *compressMiddleware) release(cw *compressWriter) {
	buf := cw.buf[:0]
	*cw = compressWriter{c: c, buf: buf}
	c.writers.Put(cw)
}

// excludedRequest: Traefik does not compress the answer to a request whose
// own media type is excluded (a gRPC call, an event stream request).
func (c *compressMiddleware) excludedRequest(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(mt)
	for _, e := range c.excludes {
		if strings.EqualFold(e.mediaType, mt) {
			return true
		}
	}
	return false
}

// negotiate picks the encoding for Accept-Encoding values ae, or "" for
// none; gzipNamed reports whether ae names gzip with a q above 0.
func (c *compressMiddleware) negotiate(ae []string) (enc string, gzipNamed bool) {
	if len(ae) == 1 && ae[0] == "" {
		return "", false // RFC 9110 §12.5.3: an empty value asks for no coding
	}
	identity := len(c.encodings)
	bestPrio, bestQ, found := 0, 0.0, false
	var refused uint8 // bit i: encodings[i] given q=0
	for _, line := range ae {
		for line != "" {
			var item string
			item, line, _ = strings.Cut(line, ",")
			name, params, hasParams := strings.Cut(item, ";")
			name = strings.TrimSpace(name)
			prio := -2
			switch {
			case name == "*":
				prio = -1
			case strings.EqualFold(name, "identity"):
				prio = identity
			default:
				for i, e := range c.encodings {
					if strings.EqualFold(name, e) {
						prio = i
						break
					}
				}
			}
			if prio == -2 {
				continue
			}
			q := 1.0
			if hasParams {
				q = qValue(params)
				if q <= 0 {
					if prio >= 0 && prio < identity {
						refused |= 1 << prio
					}
					continue
				}
			}
			if strings.EqualFold(name, "gzip") {
				gzipNamed = true
			}
			if !found || q > bestQ || q == bestQ && prio < bestPrio {
				bestPrio, bestQ, found = prio, q, true
			}
		}
	}
	switch {
	case !found, bestPrio == identity:
		return "", gzipNamed
	case bestPrio >= 0:
		return c.encodings[bestPrio], gzipNamed
	}
	// "*": the default encoding, or the first one; baton skips one the client
	// refused by name (Traefik would send it anyway).
	pick := 0
	if c.defaultEnc != "" {
		for i, e := range c.encodings {
			if e == c.defaultEnc {
				pick = i
			}
		}
	}
	for i := 0; i < len(c.encodings); i++ {
		j := (pick + i) % len(c.encodings)
		if refused&(1<<j) == 0 {
			return c.encodings[j], gzipNamed
		}
	}
	return "", gzipNamed
}

// qValue reads the weight in "q=0.5" parameters (Traefik: a parameter
// other than q weighs 1; a q that does not parse weighs 0).
func qValue(params string) float64 {
	p := strings.TrimSpace(params)
	if len(p) < 1 || (p[0] != 'q' && p[0] != 'Q') {
		return 1
	}
	rest := strings.TrimSpace(p[1:])
	if rest == "" || rest[0] != '=' {
		return 1
	}
	q, err := strconv.ParseFloat(strings.TrimSpace(rest[1:]), 64)
	if err != nil {
		return 0
	}
	return q
}

// compressible reports whether the response's Content-Type may be
// compressed: parsable, not excluded, and included when includes are set.
// An absent type is never excluded, and with includes never included.
func (c *compressMiddleware) compressible(ct string) bool {
	if ct == "" {
		return len(c.includes) == 0
	}
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(mt)
	if !validMediaType(mt) {
		return false
	}
	var params map[string]string
	parsed := false
	matches := func(m mediaRange) bool {
		if !strings.EqualFold(m.mediaType, mt) {
			return false
		}
		if m.params == nil {
			return true
		}
		if !parsed {
			parsed = true
			var err error
			if _, params, err = mime.ParseMediaType(ct); err != nil {
				params = nil
			}
		}
		if len(params) != len(m.params) {
			return false
		}
		for k, v := range m.params {
			if params[k] != v {
				return false
			}
		}
		return true
	}
	if len(c.includes) > 0 {
		found := false
		for _, m := range c.includes {
			if matches(m) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	for _, m := range c.excludes {
		if matches(m) {
			return false
		}
	}
	return true
}

// validMediaType: type "/" subtype, both tokens.
func validMediaType(mt string) bool {
	t, sub, ok := strings.Cut(mt, "/")
	return ok && validFieldName(t) && validFieldName(sub)
}

// compressor is what the three encoders share.
type compressor interface {
	io.Writer
	Flush() error
	Close() error
	Reset(io.Writer)
}

var compressors = map[string]*sync.Pool{
	"gzip": {New: func() any {
		w, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression)
		return w
	}},
	"br": {New: func() any { return brotli.NewWriterLevel(nil, brotli.DefaultCompression) }},
	"zstd": {New: func() any {
		w, _ := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		return w
	}},
}

var contentEncodings = map[string][]string{
	"gzip": []string{"gzip"}[:1:1],
	"br":   []string{"br"}[:1:1],
	"zstd": []string{"zstd"}[:1:1],
}

const (
	stateUndecided = iota
	statePlain
	stateCompressing
)

// compressWriter decides, on the first bytes, whether the response is
// compressed, then passes it through or through the compressor.
type compressWriter struct {
	c        *compressMiddleware
	w        http.ResponseWriter
	enc      string
	state    int
	code     int
	checked  bool // the headers allow compression; waiting for minSize bytes
	seenData bool
	hijacked bool
	buf      []byte
	comp     compressor
}

func (cw *compressWriter) Header() http.Header { return cw.w.Header() }

func (cw *compressWriter) WriteHeader(code int) {
	if code >= 100 && code <= 199 {
		cw.w.WriteHeader(code)
		return
	}
	if cw.code != 0 {
		return
	}
	cw.code = code
	if code == http.StatusNoContent || code == http.StatusNotModified {
		cw.state = statePlain // no body to compress
	}
	if cw.state == statePlain {
		cw.sendPlainHeader()
	}
}

func (cw *compressWriter) Write(p []byte) (int, error) {
	if cw.code == 0 {
		cw.WriteHeader(http.StatusOK)
	}
	if len(p) > 0 {
		cw.seenData = true
	}
	switch cw.state {
	case statePlain:
		cw.sendPlainHeader()
		return cw.w.Write(p)
	case stateCompressing:
		return cw.comp.Write(p)
	}
	if !cw.checked {
		switch cw.decideByHeaders() {
		case statePlain:
			cw.startPlain()
			return cw.w.Write(p)
		case stateCompressing:
			if err := cw.startCompressing(); err != nil {
				return 0, err
			}
			return cw.comp.Write(p)
		}
	}
	if len(cw.buf)+len(p) < cw.c.minSize {
		cw.buf = append(cw.buf, p...)
		return len(p), nil
	}
	if err := cw.startCompressing(); err != nil {
		return 0, err
	}
	return cw.comp.Write(p)
}

// decideByHeaders looks at the response headers once: plain, compressing
// (a Content-Length of at least minSize), or undecided (length unknown).
func (cw *compressWriter) decideByHeaders() int {
	cw.checked = true
	h := cw.w.Header()
	if len(h["Content-Encoding"]) > 0 && h["Content-Encoding"][0] != "" || len(h["Content-Range"]) > 0 {
		return statePlain
	}
	ct := ""
	if v := h["Content-Type"]; len(v) > 0 {
		ct = v[0]
	}
	if !cw.c.compressible(ct) {
		return statePlain
	}
	if cl := h["Content-Length"]; len(cl) == 1 {
		if n, err := strconv.ParseInt(cl[0], 10, 64); err == nil {
			if n < int64(cw.c.minSize) {
				return statePlain
			}
			return stateCompressing
		}
	}
	return stateUndecided
}

// startPlain settles on passing the response through: the status and what
// was buffered go out.
func (cw *compressWriter) startPlain() {
	cw.state = statePlain
	cw.sendPlainHeader()
}

func (cw *compressWriter) sendPlainHeader() {
	if cw.code < 0 {
		return // sent
	}
	code := cw.code
	if code == 0 {
		code = http.StatusOK
	}
	cw.code = -1
	addVary(cw.w.Header(), "Accept-Encoding")
	cw.w.WriteHeader(code)
	if len(cw.buf) > 0 {
		_, _ = cw.w.Write(cw.buf)
		cw.buf = cw.buf[:0]
	}
}

func (cw *compressWriter) startCompressing() error {
	cw.state = stateCompressing
	h := cw.w.Header()
	delete(h, "Content-Length")
	delete(h, "Accept-Ranges")
	h["Content-Encoding"] = contentEncodings[cw.enc]
	addVary(h, "Accept-Encoding")
	code := cw.code
	if code <= 0 {
		code = http.StatusOK
	}
	cw.code = -1
	cw.w.WriteHeader(code)
	cw.comp = compressors[cw.enc].Get().(compressor)
	cw.comp.Reset(cw.w)
	if len(cw.buf) > 0 {
		_, err := cw.comp.Write(cw.buf)
		cw.buf = cw.buf[:0]
		return err
	}
	return nil
}

// Flush sends what the compressor holds. Before any data it does nothing
// (Traefik's rule: the decision waits for bytes); with data buffered below
// minSize it starts compressing, as Traefik does, unless the response's own
// Content-Length says it is short.
func (cw *compressWriter) Flush() {
	switch cw.state {
	case stateUndecided:
		if !cw.seenData {
			return
		}
		d := stateUndecided
		if !cw.checked {
			d = cw.decideByHeaders()
		}
		if d == statePlain {
			cw.startPlain()
		} else if cw.startCompressing() != nil {
			return
		}
	case statePlain:
		cw.sendPlainHeader()
	}
	if cw.comp != nil {
		_ = cw.comp.Flush()
	}
	if f, ok := cw.w.(http.Flusher); ok {
		f.Flush()
	}
}

// finish ends the response once next has returned.
func (cw *compressWriter) finish() {
	if cw.hijacked {
		return
	}
	switch cw.state {
	case stateUndecided, statePlain:
		// Below minSize (or nothing at all): what was buffered goes out as is.
		cw.state = statePlain
		cw.sendPlainHeader()
	case stateCompressing:
		_ = cw.comp.Close()
		cw.comp.Reset(nil)
		compressors[cw.enc].Put(cw.comp)
		cw.comp = nil
	}
}

func (cw *compressWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(cw.w).Hijack()
	if err == nil {
		cw.hijacked = true
	}
	return c, brw, err
}

func (cw *compressWriter) Unwrap() http.ResponseWriter { return cw.w }
