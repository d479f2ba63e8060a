package proxy

import (
	"io"
	"net/http"
	"strings"
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
	// Until the relay has them, an early return closes both ends.
	relaying := false
	defer func() {
		if !relaying {
			backend.Close()
		}
	}()
	client, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// HTTP/2 clients cannot be hijacked; they never ask for an Upgrade that works.
		writeError(w, http.StatusBadGateway, "cannot switch protocols on this connection")
		return http.StatusBadGateway
	}
	defer func() {
		if !relaying {
			client.Close()
		}
	}()
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
		client:     client,
		backend:    backend,
		fromClient: newRelaySource(client, brw.Reader),
		toBackend:  newRelaySource(backend, nil),
		websocket:  strings.EqualFold(upgrade, "websocket"),
		logger:     h.logger,
		done:       make(chan struct{}),
	}
	// The relay outlives the handler, on goroutines of its own: the
	// serving goroutine and its grown stack go, and an idle relay costs its
	// two sockets, two small goroutines and no buffer (relay.go). The
	// request is logged and counted as a 101 now; the drain still ends the
	// relay with a 1001 at its bound (tracker.Upgraded).
	relaying = true
	release := t.tracker.Upgraded(rel)
	go func() {
		defer release()
		defer client.Close()
		defer backend.Close()
		rel.run()
		h.logger.Debug("upgraded connection ended", zap.String("service", route.Service), zap.String("target", t.Addr))
	}()
	return http.StatusSwitchingProtocols
}
