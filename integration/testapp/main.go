// Command testapp is the stand-in web app of baton's integration tests. It is
// an honest app: it handles SIGTERM gracefully (stops accepting, finishes
// in-flight requests, then exits 0) unless told not to.
//
// Environment:
//
//	RELEASE              release SHA: GET /version answers {"sha": RELEASE}; every response carries X-Release
//	PORT                 listen port (default 8080)
//	READY_DELAY          /healthz answers 503 until this long after start (default 0)
//	READY_FLAP           once ready, alternate ready/unready with this period
//	CRASH_ON_START       exit 1 at once
//	CRASH_AFTER_STARTS   with STARTS_FILE: every start appends a line there; once
//	                     more than N starts are counted, exit 1 at start (a release
//	                     that works on its first replica and crashes on the next)
//	EXIT_AFTER           exit 2 after this long
//	IGNORE_SIGTERM       do nothing on SIGTERM (the orchestrator must SIGKILL)
//	VERSION_CACHE_MAXAGE /version sends Cache-Control: public, max-age=N
//	VERSION_STATUS       /version answers with this status (e.g. 502)
//	VERSION_DELAY        /version answers after this long (a slow verify probe)
//	SSE_INTERVAL         period of /sse ticks (default 100ms)
//	WORKER=1             run jobs of JOB_DURATION back to back; POST /drain stops taking new
//	                     ones; GET /drained is 200 once none runs; GET /jobs counts them;
//	                     JOBS_FILE, if set, gets a line per job started/finished
//
// Paths: / (200, the release), /healthz, /version, /slow?ms=N, /ws (WebSocket
// echo), /sse, /status/{code}.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

func main() {
	if os.Getenv("CRASH_ON_START") != "" {
		log.Print("crashing on start as told")
		os.Exit(1)
	}
	crashAfterStarts()
	release := os.Getenv("RELEASE")
	port := envOr("PORT", "8080")
	start := time.Now()
	readyDelay := envDuration("READY_DELAY", 0)
	flap := envDuration("READY_FLAP", 0)
	if d := envDuration("EXIT_AFTER", 0); d > 0 {
		time.AfterFunc(d, func() { log.Print("exiting as told"); os.Exit(2) })
	}
	w := newWorker()
	if os.Getenv("WORKER") == "1" {
		go w.run(envDuration("JOB_DURATION", time.Second))
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) { fmt.Fprintf(rw, "hello from %s\n", release) })
	mux.HandleFunc("/healthz", func(rw http.ResponseWriter, r *http.Request) {
		since := time.Since(start)
		ready := since >= readyDelay
		if ready && flap > 0 && int((since-readyDelay)/flap)%2 == 1 {
			ready = false
		}
		if !ready {
			http.Error(rw, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(rw, "ok")
	})
	versionDelay := envDuration("VERSION_DELAY", 0)
	mux.HandleFunc("/version", func(rw http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(versionDelay):
		case <-r.Context().Done():
			return
		}
		if s := os.Getenv("VERSION_STATUS"); s != "" {
			code, _ := strconv.Atoi(s)
			http.Error(rw, "version broken as told", code)
			return
		}
		if m := os.Getenv("VERSION_CACHE_MAXAGE"); m != "" {
			rw.Header().Set("Cache-Control", "public, max-age="+m)
		}
		rw.Header().Set("Content-Type", "application/json")
		json.NewEncoder(rw).Encode(map[string]string{"sha": release})
	})
	mux.HandleFunc("/slow", func(rw http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			fmt.Fprintf(rw, "slept %dms on %s\n", ms, release)
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/status/{code}", func(rw http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		rw.WriteHeader(code)
	})
	mux.HandleFunc("/sse", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/event-stream")
		fl := rw.(http.Flusher)
		tick := time.NewTicker(envDuration("SSE_INTERVAL", 100*time.Millisecond))
		defer tick.Stop()
		for i := 1; ; i++ {
			fmt.Fprintf(rw, "data: tick %d %s\n\n", i, release)
			fl.Flush()
			select {
			case <-tick.C:
			case <-r.Context().Done():
				return
			}
		}
	})
	upgrader := websocket.Upgrader{}
	mux.HandleFunc("/ws", func(rw http.ResponseWriter, r *http.Request) {
		c, err := upgrader.Upgrade(rw, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, msg); err != nil {
				return
			}
		}
	})
	w.routes(mux)

	srv := &http.Server{Addr: ":" + port, Handler: withRelease(release, mux), ReadHeaderTimeout: 5 * time.Second}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		for sig := range sigs {
			if os.Getenv("IGNORE_SIGTERM") != "" {
				log.Printf("ignoring %v as told", sig)
				continue
			}
			log.Printf("%v: finishing in-flight work", sig)
			w.stop()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			srv.Shutdown(ctx)
			cancel()
			w.wait()
			os.Exit(0)
		}
	}()
	log.Printf("release %s listening on :%s", release, port)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
	select {} // Shutdown returned ListenAndServe; the signal goroutine exits the process
}

func withRelease(release string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("X-Release", release)
		h.ServeHTTP(rw, r)
	})
}

// worker runs jobs back to back until drained.
type worker struct {
	started, finished atomic.Int64
	draining          atomic.Bool
	busy              sync.WaitGroup
	mu                sync.Mutex
	fileMu            sync.Mutex
	file              *os.File
}

func newWorker() *worker {
	w := &worker{}
	if p := os.Getenv("JOBS_FILE"); p != "" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err == nil {
			w.file = f
		}
	}
	return w
}

func (w *worker) run(d time.Duration) {
	for {
		// Taking a job and draining are decided under one lock, so a job is
		// never started after the drain began.
		w.mu.Lock()
		if w.draining.Load() {
			w.mu.Unlock()
			return
		}
		w.busy.Add(1)
		w.mu.Unlock()
		n := w.started.Add(1)
		w.log("started", n)
		time.Sleep(d)
		w.finished.Add(1)
		w.log("finished", n)
		w.busy.Done()
	}
}

func (w *worker) log(what string, n int64) {
	if w.file == nil {
		return
	}
	w.fileMu.Lock()
	fmt.Fprintf(w.file, "%s %d %s\n", what, n, os.Getenv("RELEASE"))
	w.file.Sync()
	w.fileMu.Unlock()
}

func (w *worker) stop() {
	w.mu.Lock()
	w.draining.Store(true)
	w.mu.Unlock()
}
func (w *worker) wait() { w.busy.Wait() }

func (w *worker) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /drain", func(rw http.ResponseWriter, r *http.Request) { w.stop(); fmt.Fprintln(rw, "draining") })
	mux.HandleFunc("GET /drained", func(rw http.ResponseWriter, r *http.Request) {
		if !w.draining.Load() || w.started.Load() != w.finished.Load() {
			http.Error(rw, "busy", http.StatusAccepted)
			return
		}
		fmt.Fprintln(rw, "drained")
	})
	mux.HandleFunc("GET /jobs", func(rw http.ResponseWriter, r *http.Request) {
		json.NewEncoder(rw).Encode(map[string]int64{"started": w.started.Load(), "finished": w.finished.Load()})
	})
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func envDuration(k string, def time.Duration) time.Duration {
	v := os.Getenv(k)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		log.Fatalf("%s=%q: %v", k, v, err)
	}
	return d
}

func crashAfterStarts() {
	n, err := strconv.Atoi(os.Getenv("CRASH_AFTER_STARTS"))
	path := os.Getenv("STARTS_FILE")
	if err != nil || path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_RDWR, 0o644)
	if err != nil {
		log.Fatalf("STARTS_FILE: %v", err)
	}
	fmt.Fprintln(f, "start")
	f.Close()
	data, _ := os.ReadFile(path)
	if starts := strings.Count(string(data), "start"); starts > n {
		log.Printf("start %d > %d: crashing as told", starts, n)
		os.Exit(1)
	}
}
