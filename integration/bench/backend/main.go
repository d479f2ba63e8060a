// Command backend is the benchmark's upstream: it answers every request with
// the same 1 KiB body, as cheaply as net/http allows. With -delay and
// -concurrency it is an application of fixed capacity (a worker pool):
// at most that many requests are worked on at once, each for delay; the
// others wait their turn, as they would for a thread.
package main

import (
	"flag"
	"log"
	"net/http"
	"strconv"
	"strings"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9001", "listen address")
	delay := flag.Duration("delay", 0, "time each request takes (0 = none)")
	concurrency := flag.Int("concurrency", 0, "requests worked on at once (0 = no limit)")
	flag.Parse()
	body := []byte(strings.Repeat("b", 1024))
	length := strconv.Itoa(len(body))
	var pool chan struct{}
	if *concurrency > 0 {
		pool = make(chan struct{}, *concurrency)
	}
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if pool != nil {
			pool <- struct{}{}
			defer func() { <-pool }()
		}
		if *delay > 0 {
			time.Sleep(*delay)
		}
		h := w.Header()
		h["Content-Type"] = []string{"text/plain"}
		h["Content-Length"] = []string{length}
		w.Write(body)
	})))
}
