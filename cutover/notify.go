package cutover

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Notification is the JSON body posted to each webhook when a deploy ends.
// Text makes a Slack incoming webhook show it as is.
type Notification struct {
	Service  string  `json:"service"`
	DeployID string  `json:"deploy_id"`
	Status   string  `json:"status"` // verified, unverified, failed, reverted
	Expected string  `json:"expected,omitempty"`
	Actual   string  `json:"actual,omitempty"`
	Cause    string  `json:"cause,omitempty"`
	Hint     string  `json:"hint,omitempty"`
	Timeline []Event `json:"timeline"`
	Text     string  `json:"text"`
}

// Notifier posts deploy outcomes to webhooks. A webhook that fails is retried
// with backoff in the background; it never blocks or fails a deploy.
type Notifier struct {
	URLs    []string
	Client  *http.Client
	Logger  *zap.Logger
	Retries int           // default 5
	Backoff time.Duration // first pause, doubled each try; default 1s

	wg sync.WaitGroup
}

// NotificationOf turns a finished record into its notification.
func NotificationOf(rec *Record) Notification {
	status := string(rec.Step)
	if rec.Step == StepDone {
		status = rec.Verified
	}
	n := Notification{Service: rec.Service, DeployID: rec.ID, Status: status, Expected: rec.Expected, Actual: rec.Actual,
		Cause: rec.Cause, Hint: rec.Hint, Timeline: rec.Events}
	switch rec.Step {
	case StepDone:
		n.Text = fmt.Sprintf("baton: %s %s is live (%s), deploy %s", rec.Service, orNone(rec.Expected), status, rec.ID)
	default:
		n.Text = fmt.Sprintf("baton: deploy %s of %s %s: %s (expected %s, got %s). %s", rec.ID, rec.Service, status, rec.Cause, orNone(rec.Expected), orNone(rec.Actual), rec.Hint)
	}
	return n
}

// Notify sends rec's outcome to every webhook, in the background.
func (n *Notifier) Notify(rec *Record) {
	if len(n.URLs) == 0 {
		return
	}
	body, err := json.Marshal(NotificationOf(rec))
	if err != nil {
		return
	}
	for _, url := range n.URLs {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.post(url, body)
		}()
	}
}

// Wait blocks until every pending notification was delivered or given up.
func (n *Notifier) Wait() { n.wg.Wait() }

func (n *Notifier) post(url string, body []byte) {
	client := n.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	logger := n.Logger
	if logger == nil {
		logger = zap.NewNop()
	}
	tries, pause := n.Retries, n.Backoff
	if tries <= 0 {
		tries = 5
	}
	if pause <= 0 {
		pause = time.Second
	}
	var last error
	for i := 0; i < tries; i++ {
		if i > 0 {
			time.Sleep(pause)
			pause *= 2
		}
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			last = err
			break
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
	}
	logger.Warn("webhook not delivered", zap.String("url", url), zap.Error(last))
}
