package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/batonproxy/baton/proxy/internal/h1"
	"go.uber.org/zap"
)

// relayUpgrade hands a 101 Switching Protocols response to the client and then
// copies bytes both ways until either side closes. The relay is registered with
// the target's tracker so a drain can end it with a WebSocket 1001 close frame.
func (h *Handler) relayUpgrade(w http.ResponseWriter, r *http.Request, resp *http.Response, route *Route, t *Target) int {
	backend, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		resp.Body.Close()
		writeError(w, http.StatusBadGateway, "upstream switched protocols without a connection")
		return http.StatusBadGateway
	}
	defer backend.Close()
	client, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 clients cannot be hijacked; they never ask for an Upgrade that works.
		writeError(w, http.StatusBadGateway, "cannot switch protocols on this connection")
		return http.StatusBadGateway
	}
	defer client.Close()
	_ = client.SetDeadline(time.Time{})

	upgrade := resp.Header.Get("Upgrade")
	h1.RemoveHopHeaders(resp.Header)
	resp.Header["Connection"] = connectionUpgrade
	resp.Header["Upgrade"] = []string{upgrade}
	if _, err := io.WriteString(brw, "HTTP/1.1 101 Switching Protocols\r\n"); err != nil {
		return StatusClientClosed
	}
	if err := resp.Header.Write(brw); err != nil {
		return StatusClientClosed
	}
	if _, err := io.WriteString(brw, "\r\n"); err != nil {
		return StatusClientClosed
	}
	if err := brw.Flush(); err != nil {
		return StatusClientClosed
	}

	rel := &relay{
		client:    client,
		clientIn:  brw.Reader,
		backend:   backend,
		websocket: strings.EqualFold(upgrade, "websocket"),
		done:      make(chan struct{}),
	}
	release := t.tracker.Upgraded(rel)
	defer release()
	rel.run()
	h.logger.Debug("upgraded connection ended", zap.String("service", route.Service), zap.String("target", t.Addr))
	return http.StatusSwitchingProtocols
}

// relay copies an upgraded connection both ways.
type relay struct {
	client    net.Conn
	clientIn  *bufio.Reader // may hold bytes the client sent right after its request
	backend   io.ReadWriteCloser
	websocket bool

	// writeMu serialises writes to each side between the copy loops and
	// EndGracefully, so a close frame never lands inside a relayed write.
	clientMu, backendMu sync.Mutex
	ending              sync.Once
	done                chan struct{}
}

func (rl *relay) run() {
	errc := make(chan error, 2)
	go func() { errc <- rl.pump(lockedWriter{&rl.backendMu, rl.backend}, rl.clientIn) }()
	go func() { errc <- rl.pump(lockedWriter{&rl.clientMu, rl.client}, rl.backend) }()
	<-errc
	// One side ended: close both so the other copy loop ends too.
	rl.client.Close()
	rl.backend.Close()
	<-errc
	close(rl.done)
}

func (rl *relay) pump(dst io.Writer, src io.Reader) error {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	_, err := io.CopyBuffer(dst, src, *bp)
	return err
}

// EndGracefully sends a WebSocket close frame with status 1001 (going away) to
// both peers, then closes the connection. Other protocols are closed.
func (rl *relay) EndGracefully() {
	rl.ending.Do(func() {
		if rl.websocket {
			rl.clientMu.Lock()
			_ = rl.client.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = rl.client.Write(closeFrameGoingAway(false))
			rl.clientMu.Unlock()
			rl.backendMu.Lock()
			_, _ = rl.backend.Write(closeFrameGoingAway(true))
			rl.backendMu.Unlock()
		}
		rl.client.Close()
		rl.backend.Close()
	})
	<-rl.done
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// closeFrameGoingAway is a WebSocket close frame with status 1001. Frames a
// client sends must be masked (RFC 6455 §5.3); the zero mask keeps the payload as is.
func closeFrameGoingAway(masked bool) []byte {
	if masked {
		return []byte{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE9}
	}
	return []byte{0x88, 0x02, 0x03, 0xE9}
}
