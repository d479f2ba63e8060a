package cutover

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/batonproxy/baton/upstream"
)

// flakyEngine refuses its first failures removals, as an engine does while
// its socket is gone.
type flakyEngine struct {
	*fakeEngine
	mu       sync.Mutex
	failures int
}

func (e *flakyEngine) Remove(ctx context.Context, id string) error {
	e.mu.Lock()
	fail := e.failures != 0
	if e.failures > 0 {
		e.failures--
	}
	e.mu.Unlock()
	if fail {
		e.record("refused remove " + id)
		return errors.New("Cannot connect to the Docker daemon at unix:///var/run/docker.sock")
	}
	return e.fakeEngine.Remove(ctx, id)
}

func details(rec *Record) string {
	var out []string
	for _, ev := range rec.Events {
		out = append(out, string(ev.Step)+" "+ev.Cause+": "+ev.Detail)
	}
	return strings.Join(out, "\n")
}

// Regression: a revert while the engine did not answer logged the failed
// removal and ended "reverted" with the new container left running.
func TestRevertWaitsForTheEngineToRemoveTheNewContainer(t *testing.T) {
	d, e, router := newDeployer(t, &VerifyError{Cause: VerifyCacheHit, hint: "purge"})
	flaky := &flakyEngine{fakeEngine: e, failures: 2}
	d.Engine = flaky
	rec, err := d.Deploy(context.Background(), Request{Service: "web", Image: "img:v2"}, nil)
	if err == nil || rec.Step != StepReverted {
		t.Fatalf("step %s, err %v", rec.Step, err)
	}
	if got := strings.Join(e.calls, ","); got != "create img:v2,refused remove new1,refused remove new1,remove new1" {
		t.Fatalf("engine calls %s", got)
	}
	all := details(rec)
	if !strings.Contains(all, "reverting engine_unavailable: remove new container") || !strings.Contains(all, "done once the docker engine answered again") {
		t.Fatalf("the record does not say it waited for the engine:\n%s", all)
	}
	waitAddrs(t, router, "web.test", "10.0.0.1:80")
}

func TestEngineWaitIsBoundedAndTheRecordSaysWhatWasLeft(t *testing.T) {
	d, e, _ := newDeployer(t, &VerifyError{Cause: VerifyCacheHit, hint: "purge"})
	d.Engine = &flakyEngine{fakeEngine: e, failures: -1} // never answers
	d.EngineWait = 300 * time.Millisecond
	rec, _ := d.Deploy(context.Background(), Request{Service: "web", Image: "img:v2"}, nil)
	if rec.Step != StepReverted {
		t.Fatalf("step %s", rec.Step)
	}
	if all := details(rec); !strings.Contains(all, "not done, the docker engine did not answer within 300ms") {
		t.Fatalf("the record does not say what was left undone:\n%s", all)
	}
}

type failingRetirer struct{ e *fakeEngine }

func (r failingRetirer) Retire(_ context.Context, in upstream.Instance) (bool, error) {
	r.e.record("retire " + in.ID)
	return false, errors.New("retire " + in.ID + ": stop signal SIGTERM: Cannot connect to the Docker daemon")
}

// Regression: a retire the engine cut short ended the deploy done with the
// old container still running, never removed.
func TestRetireCutShortByTheEngineRemovesTheOldContainerOnceItAnswers(t *testing.T) {
	d, e, _ := newDeployer(t, nil)
	d.Engine = &flakyEngine{fakeEngine: e, failures: 1}
	d.Retirer = failingRetirer{e}
	rec, err := d.Deploy(context.Background(), Request{Service: "web", Image: "img:v2"}, nil)
	if err != nil || rec.Step != StepDone {
		t.Fatalf("step %s, err %v", rec.Step, err)
	}
	if got := strings.Join(e.calls, ","); got != "create img:v2,retire old1,refused remove old1,remove old1" {
		t.Fatalf("engine calls %s", got)
	}
	if all := details(rec); !strings.Contains(all, "remove old container") {
		t.Fatalf("the record does not say the retire waited for the engine:\n%s", all)
	}
}
