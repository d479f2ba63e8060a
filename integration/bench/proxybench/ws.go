package main

import (
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// holdWS opens n WebSockets through port to the backend's /ws echo, each
// echoing one message, and returns them open.
func holdWS(port, n int) ([]*websocket.Conn, int) {
	out := make([]*websocket.Conn, n)
	d := websocket.Dialer{
		HandshakeTimeout: 30 * time.Second,
		ReadBufferSize:   512,
		WriteBufferSize:  512,
		NetDial: func(string, string) (net.Conn, error) {
			return net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second)
		},
	}
	var answered, next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < dialers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				c, _, err := d.Dial("ws://bench.test/ws", http.Header{})
				if err != nil {
					continue
				}
				out[i] = c
				_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
				if c.WriteMessage(websocket.TextMessage, []byte("ping")) != nil {
					continue
				}
				if _, msg, err := c.ReadMessage(); err == nil && string(msg) == "ping" {
					answered.Add(1)
				}
				_ = c.SetReadDeadline(time.Time{})
			}
		}()
	}
	wg.Wait()
	return out, int(answered.Load())
}

// wsRow: n relayed WebSockets, each echoed once, held idle; baton then nginx.
func wsRow(procs *[]*exec.Cmd, bin, dir string, backend, n, nofile int, gomaxprocs, gogc string) []costRow {
	d := rowDir(dir, "ws")
	fmt.Printf("ws: %d relayed WebSockets to the backend's echo, one message each, held idle (RSS delta / N, after %s idle)\n", n, settle)
	bt := startBaton(procs, bin, d, backend, gomaxprocs, gogc)
	nt := startNginxScale(procs, d, "nginx", backend, nofile, "", "")
	waitPort(bt.port)
	waitPort(nt.port)
	var out []costRow
	for _, t := range []*target{bt, nt} {
		out = append(out, measureHeld(t.name, t.cmd.Process.Pid, n, func() (int, func()) {
			conns, ok := holdWS(t.port, n)
			return ok, func() {
				for _, c := range conns {
					if c != nil {
						c.Close()
					}
				}
			}
		}))
		stopTarget(t)
	}
	return out
}
