package cache

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// discardWriter is a ResponseWriter whose header map is reused, so the
// benchmark counts the cache's allocations and not the server's.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(int)             {}
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

func benchCache(b *testing.B) (*Cache, *http.Request) {
	c := New(64<<20, nil)
	r := httptest.NewRequest(http.MethodGet, "http://app.example.com/api/items?page=1", nil)
	r.Header.Set("Accept-Encoding", "gzip")
	_, st, _ := c.Lookup("web", r)
	rec := c.Record(httptest.NewRecorder(), r, st)
	h := rec.Header()
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", "1024")
	h.Set("Etag", `"abc123"`)
	h.Set("Vary", "Accept-Encoding")
	rec.WriteHeader(200)
	_, _ = rec.Write([]byte(strings.Repeat("x", 1024)))
	if !rec.End(true) {
		b.Fatal("not stored")
	}
	return c, r
}

// BenchmarkHit is the hot path of a hit: Lookup and Respond.
func BenchmarkHit(b *testing.B) {
	c, r := benchCache(b)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		e, _, _ := c.Lookup("web", r)
		if e == nil {
			b.Fatal("miss")
		}
		e.Respond(w, r)
	}
}

// BenchmarkHitParallel is every core hitting one hot key: the worst case for
// the shard lock.
func BenchmarkHitParallel(b *testing.B) {
	c, r := benchCache(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			clear(w.h)
			e, _, _ := c.Lookup("web", r)
			if e == nil {
				b.Fatal("miss")
			}
			e.Respond(w, r)
		}
	})
}

// BenchmarkLoopback compares one GET over loopback straight to the backend,
// through a caching front that misses every time, and through one that hits.
func BenchmarkLoopback(b *testing.B) {
	body := strings.Repeat("x", 1024)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("cache") == "1" {
			w.Header().Set("Cache-Control", "max-age=3600")
		}
		_, _ = io.WriteString(w, body)
	}))
	defer backend.Close()
	upstream := &http.Transport{MaxIdleConnsPerHost: 64}
	defer upstream.CloseIdleConnections()
	c := New(64<<20, nil)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = c.Serve(w, r, "web", func(w http.ResponseWriter) bool { return forward(upstream, backend.URL, w, r) })
	}))
	defer front.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for _, bc := range []struct{ name, url string }{
		{"direct", backend.URL + "/p"},
		{"uncached", front.URL + "/p"},
		{"cached", front.URL + "/p?cache=1"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Get(bc.url)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
