package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/cutover"
	"github.com/batonproxy/baton/proxy"
)

type fixedStatus Status

func (f fixedStatus) Status() Status { return Status(f) }

// sseReader reads "event:"/"data:" blocks of a text/event-stream.
type sseReader struct{ sc *bufio.Scanner }

func (s sseReader) next(t *testing.T) (event, data string) {
	t.Helper()
	for s.sc.Scan() {
		line := s.sc.Text()
		switch {
		case line == "" && event != "":
			return event, data
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
	t.Fatalf("stream ended: %v", s.sc.Err())
	return "", ""
}

func TestEventsStreamDeploySteps(t *testing.T) {
	api := NewAPI(fixedStatus{}, nil)
	ev := NewEvents()
	api.HandleEvents(ev)
	srv := httptest.NewServer(api)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/v1/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	rd := sseReader{bufio.NewScanner(resp.Body)}
	if e, _ := rd.next(t); e != "hello" {
		t.Fatalf("first event %q, want hello", e)
	}
	rec := &cutover.Record{ID: "d1", Service: "web", Step: cutover.StepReverted, Cause: "served_from_cache", Hint: "purge", Finished: time.Now()}
	ev.Publish(cutover.Event{Step: cutover.StepReverted, Detail: "the old release serves again"}, rec)
	e, data := rd.next(t)
	var got DeployEvent
	if e != "deploy" || json.Unmarshal([]byte(data), &got) != nil {
		t.Fatalf("event %q data %q", e, data)
	}
	if got.Deploy != "d1" || got.Service != "web" || !got.Ended || got.Cause != "served_from_cache" || got.Hint != "purge" || got.Event.Detail == "" {
		t.Fatalf("event %+v", got)
	}
}

// A watcher that falls behind is cut off (its stream ends and the browser
// reloads), never handed a timeline with holes, and never blocks the deploy.
func TestEventsCutOffASlowWatcher(t *testing.T) {
	ev := NewEvents()
	ch, cancel := ev.subscribe()
	defer cancel()
	rec := &cutover.Record{ID: "d1", Service: "web", Step: cutover.StepGating}
	for i := 0; i < cap(ch)+10; i++ {
		ev.Publish(cutover.Event{Step: cutover.StepGating}, rec)
	}
	n := 0
	for range ch {
		n++
	}
	if n != cap(ch) {
		t.Fatalf("got %d events then the end, want %d", n, cap(ch))
	}
}

type fixedRates struct{ step time.Duration }

func (f *fixedRates) Summary(step time.Duration) proxy.RateSummary {
	f.step = step
	return proxy.RateSummary{StepSeconds: int(step / time.Second), Services: map[string][]proxy.RatePoint{"web": {{RPS: 3}}}}
}

func TestRatesSummaryStep(t *testing.T) {
	api := NewAPI(fixedStatus{}, nil)
	src := &fixedRates{}
	api.HandleRates(src)
	for _, c := range []struct {
		query string
		code  int
		step  time.Duration
	}{{"", 200, 10 * time.Second}, {"?step=5s", 200, 5 * time.Second}, {"?step=1ms", 400, 0}, {"?step=1h", 400, 0}, {"?step=x", 400, 0}} {
		src.step = 0
		w := httptest.NewRecorder()
		api.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/metrics/summary"+c.query, nil))
		if w.Code != c.code || src.step != c.step {
			t.Errorf("%q: %d step %v, want %d %v: %s", c.query, w.Code, src.step, c.code, c.step, w.Body)
		}
	}
}

// A stopping baton ends its streams at once (Shutdown would wait for them).
func TestEventsCloseEndsStreams(t *testing.T) {
	ev := NewEvents()
	ch, cancel := ev.subscribe()
	defer cancel()
	ev.Close()
	if _, ok := <-ch; ok {
		t.Fatal("a stream outlived Close")
	}
	late, cancelLate := ev.subscribe()
	defer cancelLate()
	if _, ok := <-late; ok {
		t.Fatal("a stream opened after Close")
	}
}

// The CLI reads the same stream the dashboard does.
func TestClientFollowsEvents(t *testing.T) {
	api := NewAPI(fixedStatus{}, nil)
	ev := NewEvents()
	api.HandleEvents(ev)
	srv := httptest.NewServer(api)
	defer srv.Close()
	c := NewClient(strings.TrimPrefix(srv.URL, "http://"), "")
	got := make(chan DeployEvent, 1)
	errc := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { errc <- c.Events(ctx, func(e DeployEvent) { got <- e }) }()
	rec := &cutover.Record{ID: "d9", Service: "web", Step: cutover.StepGating}
	// Publish until the client has subscribed and seen one (no sleep: the
	// hub drops nothing for a subscriber, it only has none yet).
	for {
		ev.Publish(cutover.Event{Step: cutover.StepGating, Detail: "waiting"}, rec)
		select {
		case e := <-got:
			if e.Deploy != "d9" || e.Event.Detail != "waiting" {
				t.Fatalf("event %+v", e)
			}
			ev.Close()
			if err := <-errc; err == nil || !strings.Contains(err.Error(), "stream ended") {
				t.Fatalf("a closed stream must be an error naming it: %v", err)
			}
			return
		case err := <-errc:
			t.Fatalf("client ended: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
