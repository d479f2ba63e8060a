package cutover

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Step is a state of the deploy state machine (design: pending -> starting ->
// gating -> switching -> verifying -> retiring -> done, or failed -> reverting
// -> reverted from any step before done).
type Step string

const (
	StepPending   Step = "pending"
	StepStarting  Step = "starting"
	StepGating    Step = "gating"
	StepSwitching Step = "switching"
	StepVerifying Step = "verifying"
	StepRetiring  Step = "retiring"
	StepDone      Step = "done"
	StepFailed    Step = "failed"
	StepReverting Step = "reverting"
	StepReverted  Step = "reverted"
)

// Terminal reports whether no step follows s. A failed deploy is terminal
// only when nothing is reverted; see Record.Ended.
func (s Step) Terminal() bool { return s == StepDone || s == StepReverted }

// Ended reports whether the deploy reached its last step.
func (r *Record) Ended() bool {
	return r.Step.Terminal() || r.Step == StepFailed && !r.Finished.IsZero()
}

// Event is one line of a deploy's timeline.
type Event struct {
	At     time.Time `json:"at"`
	Step   Step      `json:"step"`
	Detail string    `json:"detail,omitempty"`
	Cause  string    `json:"cause,omitempty"` // named cause on failure (crash_loop, deadline, ...)
}

// Record is everything known about one deploy. It is written to disk before
// each transition takes effect, so a restarted baton knows where it stopped.
type Record struct {
	ID       string `json:"id"`
	Service  string `json:"service"`
	Image    string `json:"image"`
	Expected string `json:"expected,omitempty"` // release fingerprint to verify
	Actual   string `json:"actual,omitempty"`
	Rollback bool   `json:"rollback,omitempty"`
	Strategy string `json:"strategy"`

	OldVersion string `json:"old_version,omitempty"`
	OldImage   string `json:"old_image,omitempty"`
	// OldSnapshot is the full config of the container replaced, kept so a
	// rollback restores env, mounts and networks too, not just the image.
	OldSnapshot   json.RawMessage `json:"old_snapshot,omitempty"`
	OldContainers []string        `json:"old_containers,omitempty"`
	NewContainers []string        `json:"new_containers,omitempty"`
	// Switched is true once traffic moved to the new containers.
	Switched bool `json:"switched"`
	// HandedOff is set when the baton process running the deploy was
	// replaced by an upgrade before the deploy ended: the step the next
	// process goes on with. It clears when that process takes the deploy.
	HandedOff Step `json:"handed_off,omitempty"`

	Step     Step   `json:"step"`
	Cause    string `json:"cause,omitempty"`
	Hint     string `json:"hint,omitempty"`
	Verified string `json:"verified,omitempty"` // verified, unverified
	// VerifiedVia and VerifiedAt say how and when the front-door probe saw
	// the new fingerprint (the URL, and SNI over HTTPS); empty otherwise.
	VerifiedVia string    `json:"verified_via,omitempty"`
	VerifiedAt  time.Time `json:"verified_at,omitempty"`
	Events      []Event   `json:"events"`

	Drained   int `json:"drained_requests"`
	Cancelled int `json:"cancelled_requests"`
	Killed    int `json:"sigkills"`

	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitempty"`
}

// Store persists records under dir/deploys/<service>/<id>.json with an atomic
// write (temp file, fsync, rename, fsync of the directory): a crash leaves the
// old record or the new one, never a torn file.
type Store struct {
	dir    string
	mu     sync.Mutex
	health stateHealth
}

// NewStore uses dir (the state dir) and creates it if needed.
func NewStore(dir string) (*Store, error) {
	d := filepath.Join(dir, "deploys")
	if err := os.MkdirAll(d, 0o700); err != nil {
		return nil, fmt.Errorf("state dir %s: %w", d, err)
	}
	return &Store{dir: d}, nil
}

// Save writes rec durably.
func (s *Store) Save(rec *Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Join(s.dir, safeName(rec.Service))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return s.health.note(fmt.Errorf("deploy record %s: %w", rec.ID, err))
	}
	return s.health.note(writeFileAtomic(filepath.Join(dir, rec.ID+".json"), data))
}

// Load reads one record.
func (s *Store) Load(service, id string) (*Record, error) {
	data, err := os.ReadFile(filepath.Join(s.dir, safeName(service), safeName(id)+".json"))
	if err != nil {
		return nil, fmt.Errorf("deploy %s of %s: %w", id, service, err)
	}
	var rec Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("deploy record %s: %w", id, err)
	}
	return &rec, nil
}

// List returns a service's records, newest first. An empty service lists all.
func (s *Store) List(service string) ([]*Record, error) {
	pattern := filepath.Join(s.dir, "*", "*.json")
	if service != "" {
		pattern = filepath.Join(s.dir, safeName(service), "*.json")
	}
	files, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	var out []*Record
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var rec Record
		if json.Unmarshal(data, &rec) == nil {
			out = append(out, &rec)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.After(out[j].Started) })
	return out, nil
}

// Unfinished returns the records whose deploy had not reached a terminal step.
func (s *Store) Unfinished() ([]*Record, error) {
	all, err := s.List("")
	if err != nil {
		return nil, err
	}
	var out []*Record
	for _, r := range all {
		if !r.Ended() {
			out = append(out, r)
		}
	}
	return out, nil
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r == ':' {
			return '_'
		}
		return r
	}, strings.TrimLeft(s, "."))
}

func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
