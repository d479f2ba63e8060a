package cutover

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/batonproxy/baton/upstream"
	"go.uber.org/zap"
)

// Engine is what a deploy needs of Docker; upstream adapts the real client.
type Engine interface {
	// Snapshot returns a container's full configuration, to clone or restore it.
	Snapshot(ctx context.Context, id string) (json.RawMessage, error)
	// Create creates and starts a container from a snapshot with another image;
	// labels are set on top of the snapshot's. The instance has its address.
	Create(ctx context.Context, snapshot json.RawMessage, image string, labels map[string]string) (upstream.Instance, error)
	// Remove force-removes a container.
	Remove(ctx context.Context, id string) error
	// ImageLabels returns a local image's labels; upstream.ErrImageMissing if it is not here.
	ImageLabels(ctx context.Context, image string) (map[string]string, error)
}

// Drainer waits for a target's in-flight work, bounded.
type Drainer interface {
	Drain(ctx context.Context, targetID string, bound time.Duration) (finished, cancelled int)
}

// Retirer stops an old container: pre-stop hook, stop signal, grace, SIGKILL, remove.
type Retirer interface {
	Retire(ctx context.Context, in upstream.Instance) (killed bool, err error)
}

// Verifier probes the live service through baton's own front door and returns
// the fingerprint it saw; a mismatch is a *VerifyError naming its cause.
type Verifier interface {
	Verify(ctx context.Context, service string, spec upstream.Spec, expected string, replicas int) (actual string, err error)
}

// Progress is reported while gating, for the CLI's spinner.
type Progress struct {
	Container string
	Held      time.Duration // readiness held so far (since the last failure, not since the first probe)
	Need      time.Duration // min_healthy
	// Serving: nothing else can serve and readiness holds now, so the
	// container may be routed before Need has held (GateOptions.Alone).
	Serving bool
}

// Sentinel errors a deploy fails with before anything changed.
var (
	ErrNoLive         = errors.New("service has no live container to deploy from")
	ErrBusy           = errors.New("a deploy of this service is already running")
	ErrNoPrevious     = errors.New("no previous release to roll back to")
	ErrUnknownService = errors.New("no such service")
)

// Request asks for a deploy.
type Request struct {
	Service  string `json:"service"`
	Image    string `json:"image"`
	Expect   string `json:"expect,omitempty"`
	Rollback bool   `json:"rollback,omitempty"`

	snapshot json.RawMessage // set by Rollback
}

// Deployer runs deploys: the state machine of the design, one per service at a time.
type Deployer struct {
	Controller *Controller
	Engine     Engine
	Gater      Gater
	Drainer    Drainer
	Retirer    Retirer
	Verifier   Verifier // nil: deploys end "unverified"
	Store      *Store
	// Purge drops a service's cached responses; called at the switch and at a
	// revert, so neither release's answers outlive the move.
	Purge  func(service string)
	Logger *zap.Logger
	// OnFinish is called with every finished record (metrics, notifications).
	OnFinish func(*Record)
	// OnEvent sees every step of every deploy (those the CLI started, adopted
	// containers, resumed deploys) after it is saved: the dashboard's stream.
	// It must not block; the record is the running deploy's, read it at once.
	OnEvent func(Event, *Record)
	// HandedOffAfter, when set, holds back deploys a previous baton process
	// handed over until it is closed: that process has finished draining,
	// so retiring an old container cannot cut a request it still carries.
	HandedOffAfter <-chan struct{}
	// EngineWait bounds the wait for a Docker engine that stopped answering
	// mid-deploy; 0 is DefaultEngineWait.
	EngineWait time.Duration

	mu         sync.Mutex
	runs       map[*run]struct{}
	handingOff bool
}

// emitter sends timeline events to whoever watches the deploy.
type emitter = func(Event, *Record)

// Deploy runs one deploy to its end and returns its record. The error is nil
// only when the record reached done.
func (d *Deployer) Deploy(ctx context.Context, req Request, emit emitter) (*Record, error) {
	if emit == nil {
		emit = func(Event, *Record) {}
	}
	logger := d.logger()
	rec := &Record{ID: newDeployID(), Service: req.Service, Image: req.Image, Expected: req.Expect, Rollback: req.Rollback, Started: time.Now().UTC()}
	release, ok := d.Controller.Claim(req.Service)
	if !ok {
		return nil, fmt.Errorf("deploy %s: %w", req.Service, ErrBusy)
	}
	defer release()
	r := &run{d: d, rec: rec, emit: emit, logger: logger.With(zap.String("service", req.Service), zap.String("deploy", rec.ID))}
	if !d.track(r) {
		return nil, fmt.Errorf("deploy %s: %w", req.Service, ErrUpgrading)
	}
	defer d.untrack(r)
	// A deploy that cannot be recorded does not start: nothing has changed yet.
	if err := d.checkState(); err != nil {
		return nil, fmt.Errorf("deploy %s: %w", req.Service, err)
	}
	if err := r.step(StepPending, "deploy of "+req.Image+" requested", ""); err != nil {
		return nil, fmt.Errorf("deploy %s: %w: %w", req.Service, ErrStateUnwritable, err)
	}
	err := r.failUnrecorded(ctx, r.deploy(ctx, req))
	if d.OnFinish != nil && !errors.Is(err, ErrHandedOff) {
		d.OnFinish(rec)
	}
	return rec, err
}

func (d *Deployer) checkState() error {
	if d.Store == nil {
		return nil
	}
	return d.Store.Check()
}

func (d *Deployer) logger() *zap.Logger {
	if d.Logger == nil {
		return zap.NewNop()
	}
	return d.Logger.Named("deploy")
}

func newDeployID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// Rollback deploys the release that the service's last finished deploy
// replaced, from its kept snapshot and image: no pull, through the same gate,
// switch and verify as any deploy.
func (d *Deployer) Rollback(ctx context.Context, service string, emit emitter) (*Record, error) {
	if d.Store == nil {
		return nil, fmt.Errorf("rollback %s: %w", service, ErrNoPrevious)
	}
	recs, err := d.Store.List(service)
	if err != nil {
		return nil, fmt.Errorf("rollback %s: %w", service, err)
	}
	for _, rec := range recs {
		if rec.Step == StepDone && rec.OldImage != "" {
			req := Request{Service: service, Image: rec.OldImage, Expect: rec.OldVersion, Rollback: true, snapshot: rec.OldSnapshot}
			return d.Deploy(ctx, req, emit)
		}
	}
	return nil, fmt.Errorf("rollback %s: %w", service, ErrNoPrevious)
}

// Adopt runs the hand-over for containers that appeared on their own with
// another version of a serving service (upstream events, via the controller).
func (d *Deployer) Adopt(ctx context.Context, service string, fresh []upstream.Instance) (*Record, error) {
	release, ok := d.Controller.Claim(service)
	if !ok {
		return nil, fmt.Errorf("adopt %s: %w", service, ErrBusy)
	}
	defer release()
	rec := &Record{ID: newDeployID(), Service: service, Started: time.Now().UTC()}
	r := &run{d: d, rec: rec, emit: func(Event, *Record) {}, logger: d.logger().With(zap.String("service", service), zap.String("deploy", rec.ID))}
	if !d.track(r) {
		return nil, fmt.Errorf("adopt %s: %w", service, ErrUpgrading)
	}
	defer d.untrack(r)
	if err := d.checkState(); err != nil {
		return nil, fmt.Errorf("adopt %s: %w", service, err)
	}
	if err := r.step(StepPending, "containers of another version appeared", ""); err != nil {
		return nil, fmt.Errorf("adopt %s: %w: %w", service, ErrStateUnwritable, err)
	}
	err := r.failUnrecorded(ctx, r.adopt(ctx, service, fresh))
	if d.OnFinish != nil && !errors.Is(err, ErrHandedOff) {
		d.OnFinish(rec)
	}
	return rec, err
}
