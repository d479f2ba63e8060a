package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/batonproxy/baton/cutover"
	"github.com/batonproxy/baton/proxy/autotls"
)

// The fakes of what the API consumes: each records what it was asked.

type fakeDeployer struct {
	mu   sync.Mutex
	reqs []string
	rec  *cutover.Record
	err  error
}

func (f *fakeDeployer) run(what string, emit func(cutover.Event, *cutover.Record)) (*cutover.Record, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, what)
	f.mu.Unlock()
	emit(cutover.Event{Step: cutover.StepDone, Detail: "step of " + what}, f.rec)
	return f.rec, f.err
}

func (f *fakeDeployer) Deploy(_ context.Context, req cutover.Request, emit func(cutover.Event, *cutover.Record)) (*cutover.Record, error) {
	return f.run(fmt.Sprintf("deploy %s %s expect=%s", req.Service, req.Image, req.Expect), emit)
}

func (f *fakeDeployer) Rollback(_ context.Context, service string, emit func(cutover.Event, *cutover.Record)) (*cutover.Record, error) {
	return f.run("rollback "+service, emit)
}

func (f *fakeDeployer) asked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

type fakePurger struct{ got []string }

func (f *fakePurger) Purge(service, prefix string) int {
	f.got = append(f.got, service+" "+prefix)
	return 3
}

type fakeCerts struct {
	pem []byte
	err error
}

func (f fakeCerts) Certificates() []autotls.Certificate {
	return []autotls.Certificate{{Host: "app.test", Ready: true}}
}
func (f fakeCerts) RootPEM() ([]byte, error) { return f.pem, f.err }

type fakeUpgrader struct{ err error }

func (f fakeUpgrader) Upgrade(context.Context) (UpgradeResult, error) {
	return UpgradeResult{OldPID: 1, NewPID: 2}, f.err
}

// api serves a as serve does (the token around it) on a unix socket in the
// test's directory and returns a client of it.
func api(t *testing.T, a *API) *Client {
	t.Helper()
	return NewClient(serveSocket(t, a, "tok"), "")
}

// wantRefused asserts that the client got status code with a body naming want.
func wantRefused(t *testing.T, err error, code int, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d %s", code, http.StatusText(code))) || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want %d naming %q", err, code, want)
	}
}

func TestServicesAndOneServiceByName(t *testing.T) {
	c := api(t, NewAPI(fixedStatus{Services: []ServiceStatus{{Name: "web", LiveVersion: "v2"}, {Name: "api"}}}, nil))
	var all Status
	if err := c.GetJSON(context.Background(), "/v1/services", &all); err != nil || len(all.Services) != 2 {
		t.Fatalf("services %+v %v", all, err)
	}
	var one ServiceStatus
	if err := c.GetJSON(context.Background(), "/v1/services/web", &one); err != nil || one.Name != "web" || one.LiveVersion != "v2" {
		t.Fatalf("service web: %+v %v", one, err)
	}
	wantRefused(t, c.GetJSON(context.Background(), "/v1/services/nope", &one), http.StatusNotFound, "no service named nope")
}

// stream posts body to path and returns the NDJSON lines of the answer.
func stream(t *testing.T, c *Client, path string, body any) []StreamLine {
	t.Helper()
	resp, err := c.Do(context.Background(), http.MethodPost, path, body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Fatalf("content type %q", ct)
	}
	var lines []StreamLine
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var l StreamLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Bytes(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

// A deploy answers a stream: its events, then one result whose cause is the
// deploy's named cause, handed_off for a deploy the next process goes on
// with, or could_not_start for any other error.
func TestDeployStreamsEventsThenAResultWithItsCause(t *testing.T) {
	store, err := cutover.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		err        error
		cause, msg string
		hint       string
	}{
		{name: "verified"},
		{name: "named cause", err: &cutover.DeployError{Cause: "crash_loop", Hint: "see the container's logs", Err: errors.New("4 restarts")},
			cause: "crash_loop", hint: "see the container's logs", msg: "crash_loop: 4 restarts"},
		{name: "handed off", err: fmt.Errorf("web: %w", cutover.ErrHandedOff), cause: cutover.CauseHandedOff, msg: "handed over"},
		{name: "anything else", err: errors.New("docker: no such image"), cause: cutover.CauseCouldNotStart, msg: "no such image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &cutover.Record{ID: "d1", Service: "web", OldSnapshot: json.RawMessage(`{"large":true}`)}
			d := &fakeDeployer{rec: rec, err: tc.err}
			a := NewAPI(fixedStatus{}, nil)
			a.HandleDeploys(d, store)
			c := api(t, a)
			lines := stream(t, c, "/v1/services/web/deploy", DeployRequest{Image: "shop:2", Expect: "2f1c"})
			if got := d.asked(); len(got) != 1 || got[0] != "deploy web shop:2 expect=2f1c" {
				t.Fatalf("deployer asked %v", got)
			}
			if len(lines) != 2 || lines[0].Type != "event" || lines[0].Event.Detail != "step of deploy web shop:2 expect=2f1c" || lines[1].Type != "result" {
				t.Fatalf("lines %+v, want one event then the result", lines)
			}
			res := lines[1]
			if res.Cause != tc.cause || res.Hint != tc.hint || !strings.Contains(res.Error, tc.msg) || (tc.err == nil) != (res.Error == "") {
				t.Fatalf("result %+v, want cause %q hint %q error naming %q", res, tc.cause, tc.hint, tc.msg)
			}
			if res.Record == nil || res.Record.ID != "d1" || res.Record.OldSnapshot != nil {
				t.Fatalf("result record %+v, want d1 without its snapshot", res.Record)
			}
		})
	}
}

func TestDeployAndRollbackRefuseBadRequests(t *testing.T) {
	store, err := cutover.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d := &fakeDeployer{rec: &cutover.Record{ID: "r1"}}
	a := NewAPI(fixedStatus{}, nil)
	a.HandleDeploys(d, store)
	c := api(t, a)
	for _, body := range []any{nil, map[string]string{"expect": "x"}, "not an object"} {
		_, err := c.Do(context.Background(), http.MethodPost, "/v1/services/web/deploy", body)
		wantRefused(t, err, http.StatusBadRequest, `body must be {"image"`)
	}
	_, err = c.Do(context.Background(), http.MethodPost, "/v1/services/web%20x/rollback", nil)
	wantRefused(t, err, http.StatusBadRequest, "bad service name")
	if got := d.asked(); len(got) != 0 {
		t.Fatalf("deployer asked %v for refused requests", got)
	}
	if lines := stream(t, c, "/v1/services/web/rollback", nil); len(lines) != 2 || lines[1].Record.ID != "r1" || lines[1].Error != "" {
		t.Fatalf("rollback lines %+v", lines)
	}
	if got := d.asked(); len(got) != 1 || got[0] != "rollback web" {
		t.Fatalf("deployer asked %v", got)
	}
}

func TestDeployRecordsByIDAndByService(t *testing.T) {
	store, err := cutover.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*cutover.Record{{ID: "a1", Service: "web", OldSnapshot: json.RawMessage(`{}`)}, {ID: "b1", Service: "api"}} {
		if err := store.Save(r); err != nil {
			t.Fatal(err)
		}
	}
	a := NewAPI(fixedStatus{}, nil)
	a.HandleDeploys(&fakeDeployer{}, store)
	c := api(t, a)
	var rec cutover.Record
	if err := c.GetJSON(context.Background(), "/v1/deploys/b1", &rec); err != nil || rec.ID != "b1" || rec.Service != "api" {
		t.Fatalf("deploy b1: %+v %v", rec, err)
	}
	wantRefused(t, c.GetJSON(context.Background(), "/v1/deploys/zz", &rec), http.StatusNotFound, "no deploy zz")
	var recs []*cutover.Record
	if err := c.GetJSON(context.Background(), "/v1/services/web/deploys", &recs); err != nil || len(recs) != 1 || recs[0].ID != "a1" || recs[0].OldSnapshot != nil {
		t.Fatalf("web's deploys %+v %v, want a1 without its snapshot", recs, err)
	}
}

func TestPurge(t *testing.T) {
	p := &fakePurger{}
	a := NewAPI(fixedStatus{}, nil)
	a.HandlePurge(p)
	c := api(t, a)
	_, err := c.Do(context.Background(), http.MethodPost, "/v1/cache/purge", PurgeRequest{Path: "/x"})
	wantRefused(t, err, http.StatusBadRequest, `body must be {"service"`)
	resp, err := c.Do(context.Background(), http.MethodPost, "/v1/cache/purge", PurgeRequest{Service: "web", Path: "/img"})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), `"removed": 3`) || len(p.got) != 1 || p.got[0] != "web /img" {
		t.Fatalf("answer %s, purger asked %v", b, p.got)
	}
}

func TestTLSRoutesMapTheirErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		certs Certificates
		code  int
		want  string
	}{
		{"tls off", nil, http.StatusNotFound, "TLS is off"},
		{"an ACME CA", fakeCerts{err: fmt.Errorf("root: %w", autotls.ErrNoInternalCA)}, http.StatusNotFound, "root: "},
		{"storage broken", fakeCerts{err: errors.New("read root.pem: permission denied")}, http.StatusInternalServerError, "permission denied"},
		{"internal CA", fakeCerts{pem: []byte("-----BEGIN CERTIFICATE-----\n")}, http.StatusOK, "BEGIN CERTIFICATE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAPI(fixedStatus{}, nil)
			a.HandleTLS(tc.certs)
			c := api(t, a)
			var certs []autotls.Certificate
			if err := c.GetJSON(context.Background(), "/v1/tls", &certs); err != nil || (tc.certs == nil) != (len(certs) == 0) {
				t.Fatalf("certificates %+v %v", certs, err)
			}
			resp, err := c.Do(context.Background(), http.MethodGet, "/v1/tls/root", nil)
			if tc.code != http.StatusOK {
				wantRefused(t, err, tc.code, tc.want)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.Header.Get("Content-Type") != "application/x-pem-file" || !strings.Contains(string(b), tc.want) {
				t.Fatalf("root: %s %q", resp.Header.Get("Content-Type"), b)
			}
		})
	}
}

// A refusal before anything started is 409; a failed upgrade is 500 with
// the reason.
func TestUpgradeMapsRefusalsAndFailures(t *testing.T) {
	errRolling := errors.New("a rolling deploy runs")
	for _, tc := range []struct {
		name string
		err  error
		code int
	}{
		{"busy", fmt.Errorf("upgrade: %w", ErrUpgradeBusy), http.StatusConflict},
		{"refused by serve", errRolling, http.StatusConflict},
		{"new process failed", errors.New("new process exited 2: bad config"), http.StatusInternalServerError},
		{"upgraded", nil, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAPI(fixedStatus{}, nil)
			a.HandleUpgrade(fakeUpgrader{err: tc.err}, func(err error) bool { return errors.Is(err, errRolling) })
			c := api(t, a)
			var res UpgradeResult
			err := c.GetJSON(context.Background(), "/v1/upgrade", &res) // GET is no route: 405
			wantRefused(t, err, http.StatusMethodNotAllowed, "")
			resp, err := c.Do(context.Background(), http.MethodPost, "/v1/upgrade", nil)
			if tc.code != http.StatusOK {
				wantRefused(t, err, tc.code, tc.err.Error())
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || res.OldPID != 1 || res.NewPID != 2 {
				t.Fatalf("result %+v %v", res, err)
			}
		})
	}
}
