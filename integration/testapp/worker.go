package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"sync"
	"time"
)

// worker runs jobs back to back until drained, as a queue consumer does.
type worker struct {
	release string
	file    *os.File // JOBS_FILE, or nil

	mu       sync.Mutex
	idle     *sync.Cond // signalled when a job finishes
	started  int64
	finished int64
	draining bool
}

func newWorker(release, jobsFile string) *worker {
	w := &worker{release: release}
	w.idle = sync.NewCond(&w.mu)
	if jobsFile != "" {
		f, err := os.OpenFile(jobsFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			log.Fatalf("JOBS_FILE: %v", err)
		}
		w.file = f
	}
	return w
}

func (w *worker) run(job time.Duration) {
	for {
		// Taking a job and draining are decided under one lock, so no job
		// starts after the drain began and /drained never misses one.
		w.mu.Lock()
		if w.draining {
			w.mu.Unlock()
			return
		}
		w.started++
		n := w.started
		w.mu.Unlock()
		w.record("started", n)
		time.Sleep(job) // the work itself
		w.record("finished", n)
		w.mu.Lock()
		w.finished++
		w.idle.Broadcast()
		w.mu.Unlock()
	}
}

// record appends a job event to JOBS_FILE, synced, so a test reads it after
// the container is gone.
func (w *worker) record(what string, n int64) {
	if w.file == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	fmt.Fprintf(w.file, "%s %d %s\n", what, n, w.release)
	w.file.Sync()
}

func (w *worker) stop() {
	w.mu.Lock()
	w.draining = true
	w.mu.Unlock()
}

// wait returns once no job runs.
func (w *worker) wait() {
	w.mu.Lock()
	for w.started != w.finished {
		w.idle.Wait()
	}
	w.mu.Unlock()
}

func (w *worker) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /drain", func(rw http.ResponseWriter, r *http.Request) {
		w.stop()
		fmt.Fprintln(rw, "draining")
	})
	mux.HandleFunc("GET /drained", func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		drained := w.draining && w.started == w.finished
		w.mu.Unlock()
		if !drained {
			http.Error(rw, "busy", http.StatusAccepted)
			return
		}
		fmt.Fprintln(rw, "drained")
	})
	mux.HandleFunc("GET /jobs", func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		counts := map[string]int64{"started": w.started, "finished": w.finished}
		w.mu.Unlock()
		rw.Header().Set("Content-Type", "application/json")
		json.NewEncoder(rw).Encode(counts)
	})
}
