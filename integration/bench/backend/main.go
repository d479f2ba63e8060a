package main

import (
	"flag"
	"log"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
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
	// Small buffers: the rows measure the proxy, and the backend holds as
	// many WebSockets as the proxy does.
	up := websocket.Upgrader{ReadBufferSize: 512, WriteBufferSize: 512}
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ws" {
			echoWebSocket(&up, w, r)
			return
		}
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

// echoWebSocket sends every message back until the peer leaves.
func echoWebSocket(up *websocket.Upgrader, w http.ResponseWriter, r *http.Request) {
	c, err := up.Upgrade(w, r, nil)
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
