package cutover

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/batonproxy/baton/upstream"
)

// breakDir makes path unwritable for anyone, root included: a regular file
// where a directory must be (the records' dir, a service's dir).
func breakDir(t *testing.T, path string) {
	t.Helper()
	if err := os.RemoveAll(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDeployRefusedWhenTheStateDirCannotBeWritten(t *testing.T) {
	d, e, router := newDeployer(t, nil)
	breakDir(t, d.Store.dir)
	rec, err := d.Deploy(context.Background(), Request{Service: "web", Image: "img:v2"}, nil)
	if !errors.Is(err, ErrStateUnwritable) || rec != nil {
		t.Fatalf("deploy on an unwritable state dir: rec %v, err %v", rec, err)
	}
	if len(e.calls) != 0 {
		t.Fatalf("the refused deploy changed something: %v", e.calls)
	}
	waitAddrs(t, router, "web.test", "10.0.0.1:80")
	if d.Store.WriteErrors() == 0 || !strings.Contains(d.Store.Problem(), filepath.Dir(d.Store.dir)) {
		t.Fatalf("write errors %d, problem %q", d.Store.WriteErrors(), d.Store.Problem())
	}
	// Writable again: the problem clears with the next check, deploys run.
	if err := os.Remove(d.Store.dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(d.Store.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if p := d.Store.CheckedProblem(0); p != "" {
		t.Fatalf("problem after the disk came back: %q", p)
	}
	if _, err := d.Deploy(context.Background(), Request{Service: "web", Image: "img:v2"}, nil); err != nil {
		t.Fatalf("deploy once the state dir is writable: %v", err)
	}
}

// breakingGater passes the gate after making the service's records unwritable.
type breakingGater struct {
	t    *testing.T
	path string
}

func (g breakingGater) Gate(context.Context, upstream.Instance, GateOptions) error {
	breakDir(g.t, g.path)
	return nil
}

// Regression: a record that could not be written mid-deploy (the disk filled
// during the gate) returned the error as it was: the new container stayed,
// unrouted and unrecorded past gating, and no revert ran.
func TestUnrecordedStepRevertsTheDeploy(t *testing.T) {
	d, e, router := newDeployer(t, nil)
	d.Gater = breakingGater{t: t, path: filepath.Join(d.Store.dir, "web")}
	rec, err := d.Deploy(context.Background(), Request{Service: "web", Image: "img:v2"}, nil)
	var de *DeployError
	if !errors.As(err, &de) || de.Cause != CauseStateWrite || !strings.Contains(err.Error(), "save record of switching") {
		t.Fatalf("err %v", err)
	}
	if got := steps(rec); got != "pending>starting>gating>failed>reverting>reverted" {
		t.Fatalf("steps %s", got)
	}
	if got := strings.Join(e.calls, ","); got != "create img:v2,remove new1" {
		t.Fatalf("engine calls %s: the new container must go, the old one stay", got)
	}
	waitAddrs(t, router, "web.test", "10.0.0.1:80")
}
