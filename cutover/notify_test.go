package cutover

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestNotifierRetriesAndCarriesTheOutcome(t *testing.T) {
	var calls atomic.Int32
	got := make(chan Notification, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusBadGateway) // a flaky webhook
			return
		}
		var n Notification
		json.NewDecoder(r.Body).Decode(&n)
		got <- n
	}))
	defer srv.Close()
	n := &Notifier{URLs: []string{srv.URL}, Backoff: 10 * time.Millisecond}
	rec := &Record{ID: "d1", Service: "web", Step: StepReverted, Expected: "bbbbbbb", Actual: "aaaaaaa", Cause: CauseVerify, Hint: "purge the cache",
		Events: []Event{{Step: StepPending}, {Step: StepReverted}}}
	start := time.Now()
	n.Notify(rec)
	if time.Since(start) > 50*time.Millisecond {
		t.Fatal("Notify blocked the deploy")
	}
	select {
	case msg := <-got:
		if msg.Status != "reverted" || msg.Cause != CauseVerify || msg.Expected != "bbbbbbb" || msg.Actual != "aaaaaaa" || len(msg.Timeline) != 2 ||
			!strings.Contains(msg.Text, "web") || !strings.Contains(msg.Text, "purge the cache") {
			t.Fatalf("notification %+v", msg)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("webhook never got the notification")
	}
	n.Wait()
}

func TestNotifierGivesUpWithoutBlocking(t *testing.T) {
	n := &Notifier{URLs: []string{"http://127.0.0.1:1/hook"}, Retries: 2, Backoff: time.Millisecond}
	n.Notify(&Record{ID: "d2", Service: "web", Step: StepDone, Verified: "verified"})
	n.Wait()
}
