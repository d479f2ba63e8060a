package proxy

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// A held request for a rule route gets the rule route of the next table.
func TestHoldWaitsForRuleRoute(t *testing.T) {
	tg := backend(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "new") })
	src := "Host(`app.test`) && Header(`X-Beta`, `1`)"
	router, url := newProxy(t, HandlerOptions{}, &Route{Service: "app", Host: "app.test"},
		&Route{Service: "beta", Rule: mustRule(t, src), Hold: 5 * time.Second})
	go func() {
		time.Sleep(200 * time.Millisecond)
		table, _ := NewTable([]*Route{{Service: "app", Host: "app.test"}, {Service: "beta", Rule: mustRule(t, src), Hold: 5 * time.Second, Targets: []*Target{tg}}})
		router.Store(table)
	}()
	req, _ := http.NewRequest("GET", url+"/", nil)
	req.Host = "app.test"
	req.Header.Set("X-Beta", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "new" {
		t.Fatalf("held request: %d %q, want 200 new", resp.StatusCode, body)
	}
}
