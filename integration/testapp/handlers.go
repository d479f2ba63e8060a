package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// webApp serves the paths of an ordinary web app, shaped by the environment.
type webApp struct {
	release      string
	start        time.Time
	readyDelay   time.Duration
	flap         time.Duration
	versionDelay time.Duration
	sseInterval  time.Duration
	upgrader     websocket.Upgrader
}

func (a *webApp) routes(mux *http.ServeMux) {
	mux.HandleFunc("/{$}", a.index)
	mux.HandleFunc("/healthz", a.healthz)
	mux.HandleFunc("/version", a.version)
	mux.HandleFunc("/slow", a.slow)
	mux.HandleFunc("/status/{code}", a.status)
	mux.HandleFunc("/sse", a.sse)
	mux.HandleFunc("/ws", a.echo)
}

func (a *webApp) index(rw http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(rw, "hello from %s\n", a.release)
}

func (a *webApp) ready() bool {
	since := time.Since(a.start)
	if since < a.readyDelay {
		return false
	}
	return a.flap <= 0 || int((since-a.readyDelay)/a.flap)%2 == 0
}

func (a *webApp) healthz(rw http.ResponseWriter, r *http.Request) {
	if !a.ready() {
		http.Error(rw, "not ready", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(rw, "ok")
}

func (a *webApp) version(rw http.ResponseWriter, r *http.Request) {
	select {
	case <-time.After(a.versionDelay):
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
	release := a.release
	if cached := os.Getenv("VERSION_APP_CACHE"); cached != "" {
		release = cached
		rw.Header().Set("Cache-Status", "app; hit")
	}
	rw.Header().Set("Content-Type", "application/json")
	json.NewEncoder(rw).Encode(map[string]string{"sha": release})
}

// slow answers after ms milliseconds. With flush=1 it sends its headers at
// once, as a download does, so a client knows the request is in flight.
func (a *webApp) slow(rw http.ResponseWriter, r *http.Request) {
	ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
	if r.URL.Query().Get("flush") == "1" {
		rw.WriteHeader(http.StatusOK)
		rw.(http.Flusher).Flush()
	}
	select {
	case <-time.After(time.Duration(ms) * time.Millisecond):
		fmt.Fprintf(rw, "slept %dms on %s\n", ms, a.release)
	case <-r.Context().Done():
	}
}

func (a *webApp) status(rw http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(r.PathValue("code"))
	if err != nil || code < 200 || code > 599 {
		http.Error(rw, "status must be 200-599", http.StatusBadRequest)
		return
	}
	rw.WriteHeader(code)
	fmt.Fprintf(rw, "status %d as asked\n", code)
}

// sse sends one event per interval, each flushed on its own.
func (a *webApp) sse(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Content-Type", "text/event-stream")
	rw.Header().Set("Cache-Control", "no-cache")
	fl := rw.(http.Flusher)
	tick := time.NewTicker(a.sseInterval)
	defer tick.Stop()
	for i := 1; ; i++ {
		fmt.Fprintf(rw, "data: tick %d %s\n\n", i, a.release)
		fl.Flush()
		select {
		case <-tick.C:
		case <-r.Context().Done():
			return
		}
	}
}

// echo sends every WebSocket message back.
func (a *webApp) echo(rw http.ResponseWriter, r *http.Request) {
	c, err := a.upgrader.Upgrade(rw, r, nil)
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
}
