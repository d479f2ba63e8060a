package cutover

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// ErrStateUnwritable refuses a deploy the state dir cannot record: a deploy
// that cannot be recorded does not start (design: the record is written
// before each step takes effect).
var ErrStateUnwritable = errors.New("the state dir cannot be written")

// CauseStateWrite is the cause of a deploy reverted because a record of one
// of its steps could not be written.
const CauseStateWrite = "state_write_failed"

// probeSize is what Check writes: more than a deploy's largest record (its
// events and the old container's full inspect snapshot, a few tens of KiB),
// so a disk that takes the probe takes the deploy's records too.
const probeSize = 256 << 10

// stateHealth counts the state dir's failed writes and keeps the last one's
// error until a write succeeds again.
type stateHealth struct {
	errors  atomic.Uint64
	last    atomic.Pointer[stateProblem]
	checked atomic.Pointer[time.Time] // the last Check
}

type stateProblem struct {
	err error
	at  time.Time
}

func (h *stateHealth) note(err error) error {
	if err == nil {
		h.last.Store(nil)
		return nil
	}
	h.errors.Add(1)
	h.last.Store(&stateProblem{err: err, at: time.Now().UTC()})
	return err
}

// WriteErrors counts the state dir's failed writes (records and probes).
func (s *Store) WriteErrors() uint64 { return s.health.errors.Load() }

// Problem is the state dir's last write error while writes fail, else "".
func (s *Store) Problem() string {
	p := s.health.last.Load()
	if p == nil {
		return ""
	}
	return fmt.Sprintf("state dir %s: writes fail since %s: %v", filepath.Dir(s.dir), p.at.Format(time.RFC3339), p.err)
}

// Check writes, fsyncs and removes a probe the size of a large record in the
// records' directory: a full or read-only file system refuses it.
func (s *Store) Check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := writeFileAtomic(filepath.Join(s.dir, ".probe"), make([]byte, probeSize))
	if err == nil {
		err = os.Remove(filepath.Join(s.dir, ".probe"))
	}
	if err != nil {
		err = fmt.Errorf("%w: %s: %v", ErrStateUnwritable, filepath.Dir(s.dir), err)
	}
	now := time.Now()
	s.health.checked.Store(&now)
	return s.health.note(err)
}

// CheckedProblem is Problem after a Check unless one ran within maxAge: what
// `baton status` shows, so a disk that filled while no deploy ran is named
// too, without a probe write per status poll.
func (s *Store) CheckedProblem(maxAge time.Duration) string {
	if at := s.health.checked.Load(); at == nil || time.Since(*at) > maxAge {
		_ = s.Check()
	}
	return s.Problem()
}
