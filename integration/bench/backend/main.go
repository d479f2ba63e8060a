// Command backend is the benchmark's upstream: it answers every request with
// the same 1 KiB body, as cheaply as net/http allows, and echoes WebSocket
// messages on /ws (the relayed-WebSocket rows).
package main

import (
	"flag"
	"log"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/websocket"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9001", "listen address")
	flag.Parse()
	body := []byte(strings.Repeat("b", 1024))
	length := strconv.Itoa(len(body))
	// Small buffers: the rows measure the proxy, and the backend holds as
	// many WebSockets as the proxy does.
	up := websocket.Upgrader{ReadBufferSize: 512, WriteBufferSize: 512}
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ws" {
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
		h := w.Header()
		h["Content-Type"] = []string{"text/plain"}
		h["Content-Length"] = []string{length}
		w.Write(body)
	})))
}
