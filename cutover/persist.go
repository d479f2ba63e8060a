package cutover

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/zap"
)

// Persist makes the switchboard write the Docker services' routes to path
// after every publish, and loads what a previous baton wrote there now: a
// restarted baton serves the last committed table at once, before the Docker
// provider has listed anything. The provider's first view then replaces it.
func (s *Switchboard) Persist(path string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.persistPath = path
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("routes %s: %w", path, err)
	}
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("routes %s: %w", path, err)
	}
	var saved []ServiceRoutes
	if err := json.Unmarshal(data, &saved); err != nil {
		s.logger.Warn("saved routes unreadable; starting empty", zap.String("file", path), zap.Error(err))
		return nil
	}
	for i := range saved {
		sr := saved[i]
		s.seq++
		s.order[sr.Name] = s.seq
		s.services[sr.Name] = &sr
		s.noteTargetsLocked(sr.Name)
	}
	s.publishLocked()
	s.logger.Info("serving the last committed routes until Docker answers", zap.Int("services", len(saved)))
	return nil
}

// Names lists the Docker services the switchboard holds.
func (s *Switchboard) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.services))
	for n := range s.services {
		out = append(out, n)
	}
	return out
}

func (s *Switchboard) saveLocked() {
	if s.persistPath == "" {
		return
	}
	s.saves++
	list := make([]ServiceRoutes, 0, len(s.services))
	for _, sr := range s.services {
		list = append(list, *sr)
	}
	data, err := json.Marshal(list)
	if err == nil {
		err = writeFileAtomic(s.persistPath, data)
	}
	if err != nil {
		s.saveErrors.Add(1)
		s.logger.Warn("routes not saved", zap.String("file", s.persistPath), zap.Error(err))
	}
}

// SaveErrors counts the route tables not written to the state dir (a full
// or read-only disk): a restart would then serve an older table first.
func (s *Switchboard) SaveErrors() uint64 { return s.saveErrors.Load() }
