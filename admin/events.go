package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/batonproxy/baton/cutover"
)

// DeployEvent is one step of a deploy as the event stream carries it.
type DeployEvent struct {
	Deploy  string        `json:"deploy"`
	Service string        `json:"service"`
	Step    cutover.Step  `json:"step"` // the record's step after this event
	Ended   bool          `json:"ended"`
	Event   cutover.Event `json:"event"`
	Cause   string        `json:"cause,omitempty"`
	Hint    string        `json:"hint,omitempty"`
	Started time.Time     `json:"started"`
	Image   string        `json:"image,omitempty"`
	Expect  string        `json:"expected,omitempty"`
}

// Events fans deploy events out to the streams watching them. A watcher that
// cannot keep up is cut off rather than slowed or silently skipped: its
// stream ends, the browser reconnects and reads the records again.
type Events struct {
	mu     sync.Mutex
	subs   map[chan DeployEvent]struct{}
	closed bool
}

// Close ends every stream and refuses new ones: a stopping baton must not
// wait for its watchers (http.Server.Shutdown waits for them), and they
// reconnect to whichever process serves next.
func (e *Events) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	for ch := range e.subs {
		delete(e.subs, ch)
		close(ch)
	}
}

// NewEvents returns a hub with no watchers.
func NewEvents() *Events { return &Events{subs: map[chan DeployEvent]struct{}{}} }

// Publish is cutover.Deployer.OnEvent: it never blocks the deploy.
func (e *Events) Publish(ev cutover.Event, rec *cutover.Record) {
	de := DeployEvent{Deploy: rec.ID, Service: rec.Service, Step: rec.Step, Ended: rec.Ended(), Event: ev,
		Cause: rec.Cause, Hint: rec.Hint, Started: rec.Started, Image: rec.Image, Expect: rec.Expected}
	e.mu.Lock()
	defer e.mu.Unlock()
	for ch := range e.subs {
		select {
		case ch <- de:
		default:
			delete(e.subs, ch)
			close(ch)
		}
	}
}

func (e *Events) subscribe() (ch chan DeployEvent, cancel func()) {
	ch = make(chan DeployEvent, 256)
	e.mu.Lock()
	if e.closed {
		close(ch)
	} else {
		e.subs[ch] = struct{}{}
	}
	e.mu.Unlock()
	return ch, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if _, ok := e.subs[ch]; ok {
			delete(e.subs, ch)
			close(ch)
		}
	}
}

// sseHeartbeat keeps idle streams open through proxies and lets a gone
// browser be noticed.
const sseHeartbeat = 15 * time.Second

// HandleEvents adds GET /v1/events: a Server-Sent Events stream (WHATWG HTML
// "server-sent events") of every deploy's steps as they happen. It opens with
// a "hello" event, so a reconnected client knows to read the state again.
func (a *API) HandleEvents(e *Events) {
	a.Handle("GET /v1/events", func(w http.ResponseWriter, r *http.Request) {
		ch, cancel := e.subscribe()
		defer cancel()
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		// retry: how long the browser waits before reconnecting after a restart.
		if _, err := fmt.Fprint(w, "retry: 1000\nevent: hello\ndata: {}\n\n"); err != nil || rc.Flush() != nil {
			return
		}
		beat := time.NewTicker(sseHeartbeat)
		defer beat.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-beat.C:
				if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil || rc.Flush() != nil {
					return
				}
			case ev, ok := <-ch:
				if !ok {
					return // fell behind: the client reconnects and reloads
				}
				data, _ := json.Marshal(ev)
				if _, err := fmt.Fprintf(w, "event: deploy\ndata: %s\n\n", data); err != nil || rc.Flush() != nil {
					return
				}
			}
		}
	})
}

// Events follows GET /v1/events and calls fn with each deploy event until
// ctx ends or the stream does (baton stopped: the error says so).
func (c *Client) Events(ctx context.Context, fn func(DeployEvent)) error {
	resp, err := c.Do(ctx, http.MethodGet, "/v1/events", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var event, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if event == "deploy" {
				var ev DeployEvent
				if err := json.Unmarshal([]byte(data), &ev); err != nil {
					return fmt.Errorf("admin API /v1/events: bad event: %w", err)
				}
				fn(ev)
			}
			event, data = "", ""
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data += strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("admin API /v1/events: %w", err)
	}
	return errors.New("admin API /v1/events: the stream ended (baton stopped or restarted)")
}
