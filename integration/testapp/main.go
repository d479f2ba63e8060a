package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if os.Getenv("CRASH_ON_START") != "" {
		log.Print("crashing on start as told")
		os.Exit(1)
	}
	crashAfterStarts()
	release := os.Getenv("RELEASE")
	if d := envDuration("EXIT_AFTER", 0); d > 0 {
		time.AfterFunc(d, func() { log.Print("exiting as told"); os.Exit(2) })
	}
	mux := http.NewServeMux()
	app := &webApp{
		release:      release,
		start:        time.Now(),
		readyDelay:   envDuration("READY_DELAY", 0),
		flap:         envDuration("READY_FLAP", 0),
		versionDelay: envDuration("VERSION_DELAY", 0),
		sseInterval:  envDuration("SSE_INTERVAL", 100*time.Millisecond),
	}
	app.routes(mux)
	if os.Getenv("ECHO") == "1" {
		app.echoRoutes(mux)
	}
	if session := os.Getenv("AUTH_SESSION"); session != "" {
		authRoutes(mux, session)
	}
	var w *worker
	if os.Getenv("WORKER") == "1" {
		w = newWorker(release, os.Getenv("JOBS_FILE"))
		w.routes(mux)
		go w.run(envDuration("JOB_DURATION", time.Second))
	}

	srv := &http.Server{
		Addr:              ":" + envOr("PORT", "8080"),
		Handler:           tagged("http", withRelease(release, mux)),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       90 * time.Second,
	}
	extra := extraListeners(withRelease(release, mux))
	go shutdownOnSignal(append([]*http.Server{srv}, extra...), w)
	log.Printf("release %s listening on %s", release, srv.Addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	select {} // Shutdown made ListenAndServe return; shutdownOnSignal exits the process
}

// shutdownOnSignal is the graceful stop every well-behaved app has: stop
// taking work, finish what is in flight, exit 0.
func shutdownOnSignal(srvs []*http.Server, w *worker) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	for sig := range sigs {
		if os.Getenv("IGNORE_SIGTERM") != "" {
			log.Printf("ignoring %v as told", sig)
			continue
		}
		log.Printf("%v: finishing in-flight work", sig)
		if w != nil {
			w.stop()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		for _, srv := range srvs {
			if err := srv.Shutdown(ctx); err != nil {
				log.Printf("shutdown: %v", err)
			}
		}
		cancel()
		if w != nil {
			w.wait()
		}
		log.Print("stopped")
		os.Exit(0)
	}
}

func withRelease(release string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("X-Release", release)
		h.ServeHTTP(rw, r)
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
