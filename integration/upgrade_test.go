package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batonproxy/baton/admin"
	"github.com/batonproxy/baton/cutover"
	"github.com/batonproxy/baton/integration/harness"
	"github.com/gorilla/websocket"
)

// Two builds of baton that differ only in their version, as two releases do.
func upgradeBuilds(t *testing.T) (v1, v2 string) {
	t.Helper()
	return harness.BuildBaton(t, "upgrade-v1"), harness.BuildBaton(t, "upgrade-v2")
}

// upgradableBaton starts v1 of baton from its own copy of the binary (the
// upgrade replaces that file) in front of service "web" on web.test.
func upgradableBaton(t *testing.T, img string, extraLabels map[string]string, extraYAML string) (*harness.Baton, string, harness.Container) {
	t.Helper()
	v1, _ := upgradeBuilds(t)
	bin := filepath.Join(t.TempDir(), "bin", "baton")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	harness.Replace(t, v1, bin)
	net := harness.Network(t)
	b := harness.StartBatonFrom(t, bin, extraYAML)
	l := labels(map[string]string{"baton.service": "web", "baton.host": "web.test", "baton.drain.timeout": "5s", "baton.stop.grace": "5s", "baton.verify.timeout": "3s"})
	for k, v := range extraLabels {
		l[k] = v
	}
	c := harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Labels: l, Restart: "on-failure"})
	harness.WaitHTTP(t, b.URL+"/", "web.test", 20*time.Second)
	return b, bin, c
}

func statusOf(t *testing.T, b *harness.Baton) admin.Status {
	t.Helper()
	out, code := b.CLI("status", "--json")
	if code != 0 {
		t.Fatalf("baton status: exit %d: %s", code, out)
	}
	var st admin.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("baton status --json: %v\n%s", err, out)
	}
	if st.Baton == nil {
		t.Fatalf("baton status names no process: %s", out)
	}
	return st
}

// openWebSocket dials /ws through baton and reports how the connection ends.
func openWebSocket(t *testing.T, b *harness.Baton) (*websocket.Conn, <-chan error) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(strings.Replace(b.URL, "http://", "ws://", 1)+"/ws", http.Header{"Host": {"web.test"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	if err := ws.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := ws.ReadMessage(); err != nil || string(msg) != "hello" {
		t.Fatalf("WebSocket echo: %q, %v", msg, err)
	}
	ended := make(chan error, 1)
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				ended <- err
				return
			}
		}
	}()
	return ws, ended
}

// download is a streaming response in flight through baton: headers at once,
// the body 2 s later.
type download struct {
	status int
	body   string
	err    error
}

func startDownload(t *testing.T, b *harness.Baton) <-chan download {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.URL+"/slow?ms=2000&flush=1", nil)
	req.Host = "web.test"
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan download, 1)
	go func() {
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		out <- download{status: resp.StatusCode, body: string(body), err: err}
	}()
	return out
}

func TestUpgradeUnderLoadDropsNothing(t *testing.T) {
	_, v2 := upgradeBuilds(t)
	b, bin, _ := upgradableBaton(t, release(t, "aaaaaaa"), nil, "upgrade:\n  drain_timeout: 3s\n")
	before := statusOf(t, b)
	if before.Baton.Version != "upgrade-v1" {
		t.Fatalf("baton status answers version %q before the upgrade", before.Baton.Version)
	}
	oldPID := before.Baton.PID

	load := (&harness.Load{URL: b.URL + "/", Host: "web.test", Rate: 200}).Start()
	var wsEnded []<-chan error
	for i := 0; i < 3; i++ {
		_, ended := openWebSocket(t, b)
		wsEnded = append(wsEnded, ended)
	}
	dl := startDownload(t, b)
	time.Sleep(time.Second) // a second of load through v1

	harness.Replace(t, v2, bin)
	upgradeAt := time.Now()
	out, code := b.Upgrade()
	if code != 0 {
		t.Fatalf("baton upgrade: exit %d: %s", code, out)
	}
	t.Logf("baton upgrade: %s", out)
	// The admin socket moved with the upgrade: the answer is the new binary's.
	after := statusOf(t, b)
	if after.Baton.Version != "upgrade-v2" || after.Baton.PID == oldPID || after.Baton.PID != b.PID() {
		t.Fatalf("after the upgrade baton status answers %s pid %d (old pid %d, new %d)", after.Baton.Version, after.Baton.PID, oldPID, b.PID())
	}

	// The download started on v1 finishes whole on v1.
	d := <-dl
	if d.err != nil || d.status != 200 || !strings.Contains(d.body, "slept 2000ms on aaaaaaa") {
		t.Fatalf("streaming download across the upgrade: %d %q %v", d.status, d.body, d.err)
	}
	// The WebSockets open on v1 are not handed over (they live in v1's
	// memory): they get the going-away close at the drain bound, and a
	// client reconnecting reaches v2.
	for i, ended := range wsEnded {
		select {
		case err := <-ended:
			if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
				t.Fatalf("WebSocket %d ended with %v, want close 1001", i, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("WebSocket %d was never closed by the old process", i)
		}
	}
	if since := time.Since(upgradeAt); since < 2*time.Second {
		t.Fatalf("WebSockets closed %s after the upgrade, before the 3s drain bound", since)
	}
	harness.Eventually(t, 20*time.Second, "the old process to exit", func() bool { return harness.Exited(oldPID) })
	openWebSocket(t, b)     // served by v2
	time.Sleep(time.Second) // a second of load through v2 alone
	rep := load.Stop()
	t.Logf("open-loop load across the upgrade: %s", rep)
	if rep.Non2xx != 0 || rep.ConnErrors != 0 {
		t.Fatalf("requests failed across the upgrade: %s", rep)
	}
	if rep.Requests < 400 {
		t.Fatalf("only %d requests were sent: the load did not run through the upgrade", rep.Requests)
	}
	if !strings.Contains(b.Logs(), "handed over: drained; exiting") {
		t.Fatalf("the old process did not say it drained and exited:\n%s", b.Logs())
	}
}

func TestUpgradeDuringDeployGoesOnInTheNewProcess(t *testing.T) {
	_, v2 := upgradeBuilds(t)
	img1, img2 := release(t, "aaaaaaa"), release(t, "bbbbbbb", "READY_DELAY=3s")
	b, bin, old := upgradableBaton(t, img1, nil, "upgrade:\n  drain_timeout: 2s\n")
	load := (&harness.Load{URL: b.URL + "/", Host: "web.test", Rate: 100}).Start()
	type result struct {
		out  string
		code int
	}
	deployed := make(chan result, 1)
	go func() {
		out, code := b.CLI("deploy", "web", "--image", img2)
		deployed <- result{out, code}
	}()
	rec := waitStep(t, b, cutover.StepGating)

	harness.Replace(t, v2, bin)
	out, code := b.Upgrade()
	if code != 0 {
		t.Fatalf("baton upgrade during a deploy: exit %d: %s", code, out)
	}
	if !strings.Contains(out, rec.ID) {
		t.Fatalf("baton upgrade does not name the deploy it handed over (%s): %s", rec.ID, out)
	}
	var d result
	select {
	case d = <-deployed:
	case <-time.After(90 * time.Second):
		t.Fatal("baton deploy never ended")
	}
	t.Logf("baton deploy across the upgrade:\n%s", d.out)
	if d.code != 0 {
		t.Fatalf("the deploy handed over did not complete: exit %d:\n%s", d.code, d.out)
	}
	final := waitRecordEnded(t, b, rec.ID)
	if final.Step != cutover.StepDone || final.Verified != cutover.Verified {
		t.Fatalf("deploy ended %s (%s), verified %q", final.Step, final.Cause, final.Verified)
	}
	var handed, taken bool
	for _, ev := range final.Events {
		handed = handed || strings.Contains(ev.Detail, "handed over to the next process")
		taken = taken || strings.Contains(ev.Detail, "taken over by baton pid")
	}
	if !handed || !taken {
		t.Fatalf("the record does not show the hand-over (handed %v, taken %v): %+v", handed, taken, final.Events)
	}
	if st := statusOf(t, b); st.Baton.Version != "upgrade-v2" {
		t.Fatalf("baton status answers %s", st.Baton.Version)
	}
	if _, rel := getRelease(t, b.URL+"/", "web.test"); rel != "bbbbbbb" {
		t.Fatalf("front door serves %q after the deploy", rel)
	}
	harness.Eventually(t, 30*time.Second, "the old container retired", func() bool { return !harness.Exists(t, old.ID) })
	rep := load.Stop()
	t.Logf("load across the upgrade and the deploy: %s", rep)
	if rep.Non2xx != 0 || rep.ConnErrors != 0 {
		t.Fatalf("requests failed: %s", rep)
	}
}

// waitRecordEnded waits for deploy id's own record to end (another record may
// be newer: an adoption the provider's events start).
func waitRecordEnded(t *testing.T, b *harness.Baton, id string) *cutover.Record {
	t.Helper()
	var rec cutover.Record
	harness.Eventually(t, 60*time.Second, "deploy "+id+" to end", func() bool {
		data, err := os.ReadFile(filepath.Join(b.StateDir, "deploys", "web", id+".json"))
		return err == nil && json.Unmarshal(data, &rec) == nil && rec.Ended()
	})
	return &rec
}

func TestUpgradeToABinaryThatCannotStartKeepsServing(t *testing.T) {
	_, v2 := upgradeBuilds(t)
	b, bin, _ := upgradableBaton(t, release(t, "aaaaaaa"), nil, "")
	oldPID := b.PID()
	load := (&harness.Load{URL: b.URL + "/", Host: "web.test", Rate: 100}).Start()

	broken := filepath.Join(t.TempDir(), "broken")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\necho 'baton: this build is broken' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	harness.Replace(t, broken, bin)
	out, code := b.Upgrade()
	if code == 0 {
		t.Fatalf("baton upgrade to a binary that exits 1 succeeded: %s", out)
	}
	for _, want := range []string{"exited with status 1", "baton: this build is broken", "keeps serving"} {
		if !strings.Contains(out, want) {
			t.Fatalf("baton upgrade's failure does not say %q:\n%s", want, out)
		}
	}
	t.Logf("baton upgrade (exit %d): %s", code, out)
	st := statusOf(t, b)
	if st.Baton.PID != oldPID || st.Baton.Version != "upgrade-v1" || st.Baton.Upgrading {
		t.Fatalf("after the failed upgrade status answers pid %d %s (upgrading %v), want the old pid %d", st.Baton.PID, st.Baton.Version, st.Baton.Upgrading, oldPID)
	}
	time.Sleep(500 * time.Millisecond)
	// The old process is not wedged: the next upgrade, to a good build, works.
	harness.Replace(t, v2, bin)
	if out, code := b.Upgrade(); code != 0 {
		t.Fatalf("upgrade after a failed one: exit %d: %s", code, out)
	}
	if st := statusOf(t, b); st.Baton.Version != "upgrade-v2" {
		t.Fatalf("status answers %s after the second upgrade", st.Baton.Version)
	}
	// SIGUSR2 to serve does the same as `baton upgrade`.
	prev := b.PID()
	if now := b.UpgradeBySignal(); now == prev {
		t.Fatal("SIGUSR2 did not replace the process")
	}
	rep := load.Stop()
	t.Logf("load across the failed and the good upgrade: %s", rep)
	if rep.Non2xx != 0 || rep.ConnErrors != 0 {
		t.Fatalf("requests failed: %s", rep)
	}
}
