package middleware

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// textBody is n bytes of compressible text.
func textBody(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		b.WriteString("line " + strconv.Itoa(i) + ": the quick brown fox jumps over the lazy dog\n")
	}
	return b.Bytes()[:n]
}

// decodeBody undoes enc ("" for none).
func decodeBody(t *testing.T, enc string, body []byte) []byte {
	t.Helper()
	var r io.Reader
	switch enc {
	case "":
		return body
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = zr
	case "br":
		r = brotli.NewReader(bytes.NewReader(body))
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("zstd: %v", err)
		}
		defer zr.Close()
		r = zr
	default:
		t.Fatalf("unknown encoding %q", enc)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decoding %s: %v", enc, err)
	}
	return out
}

// writeAnswer is a next handler that sets header, then writes body in chunks of
// chunk bytes (all at once when 0) with status.
func writeAnswer(status int, header map[string]string, body []byte, chunk int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		if chunk == 0 {
			chunk = len(body) + 1
		}
		for len(body) > 0 {
			n := min(chunk, len(body))
			_, _ = w.Write(body[:n])
			body = body[n:]
		}
	}
}

func compressRequest(method string, ae ...string) *http.Request {
	req := httptest.NewRequest(method, "/", nil)
	for _, v := range ae {
		req.Header.Add("Accept-Encoding", v)
	}
	return req
}

func TestCompressNegotiation(t *testing.T) {
	for _, tc := range []struct {
		ae        []string // nil: no Accept-Encoding field
		encodings string
		def       string
		want      string
	}{
		{ae: nil, want: ""},
		{ae: nil, def: "br", want: "br"},
		{ae: nil, def: "gzip", want: ""}, // Traefik's gzip handler wants gzip named
		{ae: []string{""}, want: ""},
		{ae: []string{""}, encodings: "br", def: "br", want: ""}, // an empty field refuses every coding
		{ae: []string{"notreal"}, want: ""},
		{ae: []string{"gzip"}, want: "gzip"},
		{ae: []string{"GZip"}, want: "gzip"},
		{ae: []string{"br"}, want: "br"},
		{ae: []string{"zstd"}, want: "zstd"},
		{ae: []string{"gzip, br"}, want: "gzip"}, // equal q: the order of encodings (gzip,br,zstd)
		{ae: []string{"br, zstd, gzip"}, want: "gzip"},
		{ae: []string{"br;q=1.0, zstd;q=1.0, gzip;q=1.0"}, def: "br", want: "gzip"},
		{ae: []string{"br;q=0.8, gzip;q=0.6"}, want: "br"},
		{ae: []string{"gzip;q=0.8, br;q=1.0, zstd;q=0.7"}, want: "br"},
		{ae: []string{"zstd;q=0.9, br;q=0.8, gzip;q=0.6"}, want: "zstd"},
		{ae: []string{"br;q=0.8, gzip;q=1.0, *;q=0.1"}, want: "gzip"},
		{ae: []string{"br ; q = 0.8, gzip ; q=0.5"}, want: "br"},
		{ae: []string{"br;q=0.8, identity;q=1.0"}, want: ""},
		{ae: []string{"br;q=0.8, identity;q=0.8"}, want: "br"},
		{ae: []string{"compress, gzip"}, want: "gzip"},
		{ae: []string{"compress;q=1.0, gzip, identity;q=0"}, want: "gzip"},
		{ae: []string{"compress;q=1.0, identity;q=0"}, want: ""},
		{ae: []string{"compress;q=1.0, *;q=0"}, want: ""},
		{ae: []string{"gzip, *;q=0"}, want: "gzip"},
		{ae: []string{"br;q=0, gzip;q=0, zstd;q=0"}, def: "br", want: ""},
		{ae: []string{"*"}, want: ""},                          // "*" means gzip, which Traefik's gzip handler then skips
		{ae: []string{"*"}, def: "br", want: "br"},             // the default encoding
		{ae: []string{"*, gzip;q=0"}, def: "gzip", want: "br"}, // a refused default is skipped (Traefik would send it)
		{ae: []string{"zstd, gzip, br"}, encodings: "br,gzip", want: "br"},
		{ae: []string{"br;q=0.8, gzip;q=1.0, *;q=0.1"}, encodings: "zstd,br", want: "br"},
		{ae: []string{"gzip, br;q=0.9"}, encodings: "gzip,br", want: "gzip"},
		{ae: []string{"gzip;q=0.5", "br"}, want: "br"}, // several fields
		{ae: []string{"gzip;level=1"}, want: "gzip"},   // a parameter other than q weighs 1
		{ae: []string{"gzip;q=x, br;q=0.1"}, want: "br"},
	} {
		opts := map[string]string{"minresponsebodybytes": "1"}
		if tc.encodings != "" {
			opts["encodings"] = tc.encodings
		}
		if tc.def != "" {
			opts["defaultencoding"] = tc.def
		}
		h := buildKind(t, "compress", opts, writeAnswer(200, nil, textBody(100), 0))
		rec := serveRecorded(h, compressRequest(http.MethodGet, tc.ae...))
		if got := rec.Header().Get("Content-Encoding"); got != tc.want {
			t.Errorf("Accept-Encoding %q encodings %q default %q: Content-Encoding %q, want %q", tc.ae, tc.encodings, tc.def, got, tc.want)
		}
		if got := decodeBody(t, rec.Header().Get("Content-Encoding"), rec.Body.Bytes()); !bytes.Equal(got, textBody(100)) {
			t.Errorf("Accept-Encoding %q: body does not decode to what next wrote", tc.ae)
		}
	}
}

func TestCompressEachEncoding(t *testing.T) {
	body := textBody(16 << 10)
	for _, enc := range []string{"gzip", "br", "zstd"} {
		for _, chunk := range []int{0, 100, 4096} {
			h := buildKind(t, "compress", nil, writeAnswer(201, map[string]string{
				"Content-Type": "text/plain; charset=utf-8", "Content-Length": strconv.Itoa(len(body)), "Accept-Ranges": "bytes", "ETag": `"v1"`,
			}, body, chunk))
			rec := serveRecorded(h, compressRequest(http.MethodGet, enc))
			hd := rec.Header()
			if rec.Code != 201 || hd.Get("Content-Encoding") != enc || hd.Get("Vary") != "Accept-Encoding" {
				t.Errorf("%s chunk %d: status %d Content-Encoding %q Vary %q", enc, chunk, rec.Code, hd.Get("Content-Encoding"), hd.Get("Vary"))
			}
			if _, ok := hd["Content-Length"]; ok {
				t.Errorf("%s: Content-Length %q kept on a compressed body", enc, hd.Get("Content-Length"))
			}
			if _, ok := hd["Accept-Ranges"]; ok {
				t.Errorf("%s: Accept-Ranges kept on a compressed body", enc)
			}
			if hd.Get("ETag") != `"v1"` || hd.Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Errorf("%s: ETag %q Content-Type %q changed", enc, hd.Get("ETag"), hd.Get("Content-Type"))
			}
			if rec.Body.Len() >= len(body)/2 {
				t.Errorf("%s: %d bytes for %d of text", enc, rec.Body.Len(), len(body))
			}
			if got := decodeBody(t, enc, rec.Body.Bytes()); !bytes.Equal(got, body) {
				t.Errorf("%s chunk %d: decoded body differs (%d bytes)", enc, chunk, len(got))
			}
		}
	}
}

func TestCompressMinResponseBodyBytes(t *testing.T) {
	for _, tc := range []struct {
		min         string
		size        int
		withLength  bool
		wantEncoded bool
	}{
		{"", 1023, false, false},
		{"", 1024, false, true},
		{"", 1023, true, false},
		{"", 1024, true, true},
		{"0", 1023, false, false}, // 0 is the default, as in Traefik
		{"100", 100, false, true},
		{"100", 99, false, false},
		{"100001", 100000, false, false},
	} {
		opts := map[string]string{}
		if tc.min != "" {
			opts["minresponsebodybytes"] = tc.min
		}
		hdr := map[string]string{}
		if tc.withLength {
			hdr["Content-Length"] = strconv.Itoa(tc.size)
		}
		body := textBody(tc.size)
		h := buildKind(t, "compress", opts, writeAnswer(200, hdr, body, 10))
		rec := serveRecorded(h, compressRequest(http.MethodGet, "gzip"))
		enc := rec.Header().Get("Content-Encoding")
		if (enc == "gzip") != tc.wantEncoded {
			t.Errorf("min %q size %d length %v: Content-Encoding %q, want encoded %v", tc.min, tc.size, tc.withLength, enc, tc.wantEncoded)
		}
		if got := decodeBody(t, enc, rec.Body.Bytes()); !bytes.Equal(got, body) {
			t.Errorf("min %q size %d: body differs", tc.min, tc.size)
		}
		if !tc.wantEncoded && tc.withLength && rec.Header().Get("Content-Length") != strconv.Itoa(tc.size) {
			t.Errorf("min %q size %d: Content-Length %q on a plain answer", tc.min, tc.size, rec.Header().Get("Content-Length"))
		}
		if rec.Header().Get("Vary") != "Accept-Encoding" {
			t.Errorf("min %q size %d: Vary %q, want Accept-Encoding compressed or not", tc.min, tc.size, rec.Header().Get("Vary"))
		}
	}
}

func TestCompressNotCompressed(t *testing.T) {
	body := textBody(4096)
	for _, tc := range []struct {
		desc     string
		opts     map[string]string
		method   string
		reqCT    string
		status   int
		header   map[string]string
		wantVary string
	}{
		{desc: "already encoded", header: map[string]string{"Content-Encoding": "gzip"}, wantVary: "Accept-Encoding"},
		{desc: "a range", status: 206, header: map[string]string{"Content-Range": "bytes 0-4095/10000"}, wantVary: "Accept-Encoding"},
		{desc: "excluded response type", opts: map[string]string{"excludedcontenttypes": "text/event-stream"}, header: map[string]string{"Content-Type": "text/event-stream"}, wantVary: "Accept-Encoding"},
		{desc: "excluded response type with parameters", opts: map[string]string{"excludedcontenttypes": "text/html"}, header: map[string]string{"Content-Type": "TEXT/HTML; charset=utf-8"}, wantVary: "Accept-Encoding"},
		{desc: "not included", opts: map[string]string{"includedcontenttypes": "text/plain"}, header: map[string]string{"Content-Type": "text/html"}, wantVary: "Accept-Encoding"},
		{desc: "included with other parameters", opts: map[string]string{"includedcontenttypes": "text/plain; charset=utf-8"}, header: map[string]string{"Content-Type": "text/plain; charset=latin1"}, wantVary: "Accept-Encoding"},
		{desc: "included with more parameters", opts: map[string]string{"includedcontenttypes": "text/plain; charset=utf-8"}, header: map[string]string{"Content-Type": "text/plain; charset=utf-8; format=flowed"}, wantVary: "Accept-Encoding"},
		{desc: "no type with includes", opts: map[string]string{"includedcontenttypes": "text/plain"}, wantVary: "Accept-Encoding"},
		{desc: "unparsable type", header: map[string]string{"Content-Type": "text"}, wantVary: "Accept-Encoding"},
		{desc: "grpc response", header: map[string]string{"Content-Type": "application/grpc"}, wantVary: "Accept-Encoding"},
		{desc: "grpc request", reqCT: "application/grpc"},
		{desc: "excluded request type", opts: map[string]string{"excludedcontenttypes": "text/event-stream"}, reqCT: "text/event-stream; charset=utf-8"},
		{desc: "HEAD", method: http.MethodHead},
		{desc: "204", status: 204, wantVary: "Accept-Encoding"},
		{desc: "304", status: 304, wantVary: "Accept-Encoding"},
	} {
		method := tc.method
		if method == "" {
			method = http.MethodGet
		}
		status := tc.status
		if status == 0 {
			status = 200
		}
		b := body
		if status == 204 || status == 304 {
			b = nil
		}
		h := buildKind(t, "compress", tc.opts, writeAnswer(status, tc.header, b, 512))
		req := compressRequest(method, "gzip, br, zstd")
		if tc.reqCT != "" {
			req.Header.Set("Content-Type", tc.reqCT)
		}
		rec := serveRecorded(h, req)
		if ce := rec.Header().Get("Content-Encoding"); ce != "" && (tc.header == nil || ce != tc.header["Content-Encoding"]) {
			t.Errorf("%s: Content-Encoding %q, want none added", tc.desc, ce)
		}
		if rec.Code != status || !bytes.Equal(rec.Body.Bytes(), b) {
			t.Errorf("%s: status %d, %d body bytes; want %d and the body as written", tc.desc, rec.Code, rec.Body.Len(), status)
		}
		if got := rec.Header().Get("Vary"); got != tc.wantVary {
			t.Errorf("%s: Vary %q, want %q", tc.desc, got, tc.wantVary)
		}
	}
}

// Vary gains Accept-Encoding without losing what the upstream's said
// (baton's relay replaces the header map's Vary with the upstream's after
// the middleware ran, so it is added when the status goes out).
func TestCompressVaryKeepsTheUpstreams(t *testing.T) {
	for _, up := range []string{"Origin", "accept-encoding", "*"} {
		h := buildKind(t, "compress", nil, writeAnswer(200, map[string]string{"Vary": up}, textBody(2000), 0))
		rec := serveRecorded(h, compressRequest(http.MethodGet, "br"))
		want := up + ",Accept-Encoding"
		if up != "Origin" {
			want = up
		}
		if got := rec.Header().Get("Vary"); got != want {
			t.Errorf("upstream Vary %q: Vary %q, want %q", up, got, want)
		}
	}
}

// Informational answers pass through; the final one is compressed.
func TestCompressInformational(t *testing.T) {
	h := buildKind(t, "compress", nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusEarlyHints)
		_, _ = w.Write(textBody(2000))
	}))
	rw := &statusRecorder{header: http.Header{}}
	h.ServeHTTP(rw, compressRequest(http.MethodGet, "gzip"))
	if len(rw.codes) != 2 || rw.codes[0] != 103 || rw.codes[1] != 200 {
		t.Fatalf("statuses %v, want [103 200]", rw.codes)
	}
	if rw.headersAt[0].Get("Content-Encoding") != "" || rw.headersAt[1].Get("Content-Encoding") != "gzip" {
		t.Errorf("Content-Encoding on 103 %q, on 200 %q", rw.headersAt[0].Get("Content-Encoding"), rw.headersAt[1].Get("Content-Encoding"))
	}
}

// An event stream still streams: each event flushed by next reaches the
// client, decodable, while the response is still open.
func TestCompressFlushStreams(t *testing.T) {
	for _, enc := range []string{"gzip", "br", "zstd"} {
		t.Run(enc, func(t *testing.T) {
			release := make(chan struct{})
			h := buildKind(t, "compress", nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				w.WriteHeader(200)
				w.(http.Flusher).Flush() // before any data: nothing happens yet
				for i := 0; i < 3; i++ {
					_, _ = io.WriteString(w, "data: event "+strconv.Itoa(i)+"\n\n")
					w.(http.Flusher).Flush()
				}
				<-release
			}))
			srv := httptest.NewServer(h)
			defer srv.Close()
			defer close(release)
			req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
			req.Header.Set("Accept-Encoding", enc)
			resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.Header.Get("Content-Encoding") != enc {
				t.Fatalf("Content-Encoding %q, want %s", resp.Header.Get("Content-Encoding"), enc)
			}
			var r io.Reader
			switch enc {
			case "gzip":
				if r, err = gzip.NewReader(resp.Body); err != nil {
					t.Fatal(err)
				}
			case "br":
				r = brotli.NewReader(resp.Body)
			case "zstd":
				zr, err := zstd.NewReader(resp.Body, zstd.WithDecoderConcurrency(1))
				if err != nil {
					t.Fatal(err)
				}
				defer zr.Close()
				r = zr
			}
			got := make(chan string, 1)
			go func() {
				br := bufio.NewReader(r)
				var lines []string
				for len(lines) < 6 {
					l, err := br.ReadString('\n')
					if err != nil {
						break
					}
					lines = append(lines, l)
				}
				got <- strings.Join(lines, "")
			}()
			select {
			case s := <-got:
				if want := "data: event 0\n\ndata: event 1\n\ndata: event 2\n\n"; s != want {
					t.Errorf("streamed %q, want %q", s, want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the flushed events did not reach the client while the response was open")
			}
		})
	}
}

// A Flush with data below minSize starts compressing, as Traefik does,
// unless the response's Content-Length says it is short.
func TestCompressFlushDecides(t *testing.T) {
	for _, tc := range []struct {
		length string
		want   string
	}{{"", "br"}, {"5", ""}} {
		h := buildKind(t, "compress", nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tc.length != "" {
				w.Header().Set("Content-Length", tc.length)
			}
			_, _ = w.Write([]byte("hello"))
			w.(http.Flusher).Flush()
		}))
		rw := &statusRecorder{header: http.Header{}}
		h.ServeHTTP(rw, compressRequest(http.MethodGet, "br"))
		if len(rw.codes) != 1 || rw.headersAt[0].Get("Content-Encoding") != tc.want || rw.flushes != 1 {
			t.Errorf("Content-Length %q: statuses %v, Content-Encoding %q, flushes %d; want one status, %q, one flush", tc.length, rw.codes, rw.header.Get("Content-Encoding"), rw.flushes, tc.want)
		}
		if got := decodeBody(t, tc.want, []byte(rw.body.String())); string(got) != "hello" {
			t.Errorf("Content-Length %q: body %q", tc.length, got)
		}
	}
	// A Flush before any data sends nothing (Traefik's rule).
	h := buildKind(t, "compress", nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		if rw := w.(*compressWriter).w.(*statusRecorder); len(rw.codes) != 0 || rw.flushes != 0 {
			t.Errorf("a Flush before any data wrote %v and flushed %d times", rw.codes, rw.flushes)
		}
	}))
	h.ServeHTTP(&statusRecorder{header: http.Header{}}, compressRequest(http.MethodGet, "br"))
}

// A panic in next (baton aborts a response whose upstream body failed)
// must not end the compressed stream as if it were complete.
func TestCompressAbortedBodyHasNoEnd(t *testing.T) {
	h := buildKind(t, "compress", nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(textBody(4096))
		panic(http.ErrAbortHandler)
	}))
	rec := httptest.NewRecorder()
	func() {
		defer func() { _ = recover() }()
		h.ServeHTTP(rec, compressRequest(http.MethodGet, "gzip"))
	}()
	zr, err := gzip.NewReader(bytes.NewReader(rec.Body.Bytes()))
	if err == nil {
		_, err = io.ReadAll(zr)
	}
	if err == nil {
		t.Errorf("an aborted body decoded as a complete gzip stream")
	}
}

func TestCompressHijack(t *testing.T) {
	h := buildKind(t, "compress", nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		c.Close()
	}))
	rw := &statusRecorder{header: http.Header{}}
	h.ServeHTTP(rw, compressRequest(http.MethodGet, "gzip"))
	if !rw.hijacked || len(rw.codes) != 0 || rw.body.Len() != 0 {
		t.Errorf("hijacked %v, statuses %v, %d body bytes; want hijacked and nothing written", rw.hijacked, rw.codes, rw.body.Len())
	}
}

func TestCompressOptionErrors(t *testing.T) {
	for _, tc := range []struct {
		opts   map[string]string
		option string
	}{
		{map[string]string{"excludedcontenttypes": "text/html", "includedcontenttypes": "text/plain"}, "includedcontenttypes"},
		{map[string]string{"excludedcontenttypes": "text/html; ="}, "excludedcontenttypes"},
		{map[string]string{"minresponsebodybytes": "-1"}, "minresponsebodybytes"},
		{map[string]string{"minresponsebodybytes": "1k"}, "minresponsebodybytes"},
		{map[string]string{"encodings": "gzip,deflate"}, "encodings"},
		{map[string]string{"encodings": "GZIP"}, "encodings"},
		{map[string]string{"encodings": ""}, "encodings"},
		{map[string]string{"encodings": "br,br"}, "encodings"},
		{map[string]string{"encodings": "gzip", "defaultencoding": "br"}, "defaultencoding"},
		{map[string]string{"defaultencoding": "deflate"}, "defaultencoding"},
		{map[string]string{"level": "9"}, "level"},
	} {
		err := buildKindErr("compress", tc.opts)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != tc.option {
			t.Errorf("compress %v: error %v, want one naming %s", tc.opts, err, tc.option)
		}
	}
	for _, opts := range []map[string]string{nil, {"": "true"}, {"": "TRUE"}} {
		if err := buildKindErr("compress", opts); err != nil {
			t.Errorf("compress %v (the compress=true label): %v", opts, err)
		}
	}
	var oe *OptionError
	if err := buildKindErr("compress", map[string]string{"": "false"}); !errors.As(err, &oe) || oe.Option != "compress" {
		t.Errorf("compress=false: error %v, want one naming compress", err)
	}
}

// countingWriter counts the body bytes written, for the benchmark.
type countingWriter struct {
	h http.Header
	n int
}

func (w *countingWriter) Header() http.Header         { return w.h }
func (w *countingWriter) WriteHeader(int)             {}
func (w *countingWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
func (w *countingWriter) Flush()                      {}

// BenchmarkCompress: a 16 KiB text answer, written in 4 KiB reads as
// baton's relay copies a body, through each encoding.
func BenchmarkCompress(b *testing.B) {
	body := textBody(16 << 10)
	ct, cl := []string{"text/html; charset=utf-8"}, []string{strconv.Itoa(len(body))}
	for _, enc := range []string{"gzip", "br", "zstd"} {
		b.Run(enc, func(b *testing.B) {
			h := buildKind(b, "compress", nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Content-Type"], w.Header()["Content-Length"] = ct, cl
				w.WriteHeader(200)
				for p := body; len(p) > 0; p = p[min(4096, len(p)):] {
					_, _ = w.Write(p[:min(4096, len(p))])
				}
			}))
			req := compressRequest(http.MethodGet, "gzip, deflate, br, zstd")
			req.Header.Set("Accept-Encoding", enc)
			w := &countingWriter{h: http.Header{}}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.n = 0
				h.ServeHTTP(w, req)
			}
			b.ReportMetric(float64(w.n), "out-bytes")
		})
	}
}

// When the status goes out: at once for a body-less status, at the first
// write when Content-Length already says the body is long enough; a second
// WriteHeader is ignored.
func TestCompressHeaderTiming(t *testing.T) {
	for _, tc := range []struct {
		desc   string
		status int
		length string
		write  string
		want   string // Content-Encoding at the time the status went out
	}{
		{"304", 304, "", "", ""},
		{"204", 204, "", "", ""},
		{"long by Content-Length", 200, "2000", "short", "gzip"},
		{"short by Content-Length", 200, "10", "short", ""},
	} {
		h := buildKind(t, "compress", nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tc.length != "" {
				w.Header().Set("Content-Length", tc.length)
			}
			w.WriteHeader(tc.status)
			if tc.write != "" {
				_, _ = io.WriteString(w, tc.write)
			}
			rw := w.(*compressWriter).w.(*statusRecorder)
			if len(rw.codes) != 1 || rw.codes[0] != tc.status || rw.headersAt[0].Get("Content-Encoding") != tc.want {
				t.Errorf("%s: statuses %v, Content-Encoding %q before next returned; want [%d] and %q", tc.desc, rw.codes, rw.header.Get("Content-Encoding"), tc.status, tc.want)
			}
		}))
		h.ServeHTTP(&statusRecorder{header: http.Header{}}, compressRequest(http.MethodGet, "gzip"))
	}
	h := buildKind(t, "compress", nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(201)
		w.WriteHeader(500)
		_, _ = w.Write(textBody(2000))
	}))
	if rec := serveRecorded(h, compressRequest(http.MethodGet, "gzip")); rec.Code != 201 {
		t.Errorf("status %d after WriteHeader(201), WriteHeader(500); want 201", rec.Code)
	}
}
