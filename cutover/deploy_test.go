package cutover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/batonproxy/baton/proxy"
	"github.com/batonproxy/baton/upstream"
)

// fakeEngine creates instances in memory and records what it was asked.
type fakeEngine struct {
	mu      sync.Mutex
	calls   []string
	n       int
	version string
}

func (e *fakeEngine) record(s string) { e.mu.Lock(); e.calls = append(e.calls, s); e.mu.Unlock() }

func (e *fakeEngine) Snapshot(context.Context, string) (json.RawMessage, error) {
	return json.RawMessage(`{}`), nil
}

func (e *fakeEngine) Create(_ context.Context, _ json.RawMessage, image string, _ map[string]string) (upstream.Instance, error) {
	e.mu.Lock()
	e.n++
	id := fmt.Sprintf("new%d", e.n)
	e.mu.Unlock()
	e.record("create " + image)
	in := inst(id, "web", e.version, "10.0.9."+fmt.Sprint(e.n)+":80", 100+e.n)
	in.Spec.Health.Deadline = time.Minute
	in.Spec.Deploy.AutoRevert = true
	return in, nil
}

func (e *fakeEngine) Remove(_ context.Context, id string) error { e.record("remove " + id); return nil }

func (e *fakeEngine) ImageLabels(_ context.Context, image string) (map[string]string, error) {
	if image == "missing" {
		return nil, upstream.ErrImageMissing
	}
	return map[string]string{"org.opencontainers.image.revision": e.version}, nil
}

type passGater struct{}

func (passGater) Gate(context.Context, upstream.Instance, GateOptions) error { return nil }

type recordingRetirer struct{ e *fakeEngine }

func (r recordingRetirer) Retire(_ context.Context, in upstream.Instance) (bool, error) {
	r.e.record("retire " + in.ID)
	return false, nil
}

type fixedVerifier struct{ err error }

func (v fixedVerifier) Verify(context.Context, string, upstream.Spec, string, int) (string, error) {
	return "v2", v.err
}

func newDeployer(t *testing.T, verr error) (*Deployer, *fakeEngine, *proxy.Router) {
	c, router, g := newTestController(t)
	old := inst("old1", "web", "v1", "10.0.0.1:80", 1)
	old.Spec.Deploy.AutoRevert = true
	c.Update([]upstream.Instance{old})
	g.ch("old1") <- nil
	waitAddrs(t, router, "web.test", "10.0.0.1:80")
	e := &fakeEngine{version: "v2"}
	store, err := NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &Deployer{Controller: c, Engine: e, Gater: passGater{}, Retirer: recordingRetirer{e}, Verifier: fixedVerifier{verr}, Store: store}, e, router
}

func steps(rec *Record) string {
	var out []string
	for _, ev := range rec.Events {
		if len(out) == 0 || out[len(out)-1] != string(ev.Step) {
			out = append(out, string(ev.Step))
		}
	}
	return strings.Join(out, ">")
}

func TestDeployRunsTheStateMachineInOrder(t *testing.T) {
	d, e, router := newDeployer(t, nil)
	rec, err := d.Deploy(context.Background(), Request{Service: "web", Image: "img:v2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := steps(rec); got != "pending>starting>gating>switching>verifying>retiring>done" {
		t.Fatalf("steps %s", got)
	}
	if rec.Expected != "v2" || rec.Verified != "verified" || rec.OldVersion != "v1" {
		t.Fatalf("record %+v", rec)
	}
	waitAddrs(t, router, "web.test", "10.0.9.1:80")
	if got := strings.Join(e.calls, ","); got != "create img:v2,retire old1" {
		t.Fatalf("engine calls %s", got)
	}
	// The record on disk is the same, whole.
	saved, err := d.Store.Load("web", rec.ID)
	if err != nil || steps(saved) != steps(rec) {
		t.Fatalf("saved record: %v %v", err, saved)
	}
}

func TestVerifyFailureSwitchesBackAndRemovesTheNew(t *testing.T) {
	d, e, router := newDeployer(t, &VerifyError{Cause: VerifyCacheHit, hint: "purge"})
	rec, err := d.Deploy(context.Background(), Request{Service: "web", Image: "img:v2"}, nil)
	var de *DeployError
	if !errors.As(err, &de) || de.Cause != VerifyCacheHit || de.Hint != "purge" || rec.Cause != VerifyCacheHit {
		t.Fatalf("err %v", err)
	}
	if got := steps(rec); got != "pending>starting>gating>switching>verifying>failed>reverting>reverted" {
		t.Fatalf("steps %s", got)
	}
	waitAddrs(t, router, "web.test", "10.0.0.1:80")
	if got := strings.Join(e.calls, ","); got != "create img:v2,remove new1" {
		t.Fatalf("engine calls %s: the old container must not be retired", got)
	}
	if !rec.Ended() || rec.Switched {
		t.Fatalf("record ended=%v switched=%v", rec.Ended(), rec.Switched)
	}
}

func TestMissingImageChangesNothing(t *testing.T) {
	d, e, _ := newDeployer(t, nil)
	rec, err := d.Deploy(context.Background(), Request{Service: "web", Image: "missing"}, nil)
	var de *DeployError
	if !errors.As(err, &de) || de.Cause != CauseCouldNotStart || !errors.Is(err, upstream.ErrImageMissing) {
		t.Fatalf("err %v", err)
	}
	if len(e.calls) != 0 || rec.Step != StepFailed || !rec.Ended() {
		t.Fatalf("calls %v step %s", e.calls, rec.Step)
	}
	if _, err := d.Deploy(context.Background(), Request{Service: "nope", Image: "img"}, nil); !errors.Is(err, ErrNoLive) {
		t.Fatalf("unknown service: %v", err)
	}
}

// The dashboard learns of every deploy through OnEvent, not only of those a
// client streams: a deploy with no watcher still reports each step, in order.
func TestOnEventSeesEveryStepOfAnUnwatchedDeploy(t *testing.T) {
	d, _, _ := newDeployer(t, nil)
	var mu sync.Mutex
	var seen []string
	d.OnEvent = func(ev Event, rec *Record) {
		mu.Lock()
		defer mu.Unlock()
		if rec.Service != "web" {
			t.Errorf("event of %q", rec.Service)
		}
		if len(seen) == 0 || seen[len(seen)-1] != string(ev.Step) {
			seen = append(seen, string(ev.Step))
		}
	}
	rec, err := d.Deploy(context.Background(), Request{Service: "web", Image: "img:v2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := strings.Join(seen, ">")
	mu.Unlock()
	if got != steps(rec) {
		t.Fatalf("OnEvent saw %s, the record says %s", got, steps(rec))
	}
	if rec.VerifiedAt.IsZero() || rec.VerifiedAt.Before(rec.Started) {
		t.Fatalf("a verified deploy must say when: at %v, started %v", rec.VerifiedAt, rec.Started)
	}
}

func TestSwarmDeployRefusedBeforeAnythingChanges(t *testing.T) {
	// docker.mode swarm: baton routes tasks but does not drive Swarm updates yet.
	d, _, router := newDeployer(t, nil)
	d.Engine = upstream.SwarmEngine{}
	rec, err := d.Deploy(context.Background(), Request{Service: "web", Image: "img:v2"}, nil)
	var de *DeployError
	if !errors.As(err, &de) || de.Cause != CauseCouldNotStart || !errors.Is(err, upstream.ErrSwarmDeploy) {
		t.Fatalf("err %v", err)
	}
	if !strings.Contains(de.Hint, "docker service update --image img:v2 web") {
		t.Fatalf("hint %q does not say how to update a Swarm service", de.Hint)
	}
	if rec.Switched || len(rec.NewContainers) != 0 {
		t.Fatalf("a refused deploy changed something: %+v", rec)
	}
	waitAddrs(t, router, "web.test", "10.0.0.1:80")
}
