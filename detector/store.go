package detector

import (
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// ModelStore keeps the latest models of every interface and writes them
// to --model-file after each training and on shutdown.
type ModelStore struct {
	path   string
	window time.Duration
	logger *slog.Logger
	mu     sync.Mutex
	file   *ModelFile
}

// NewModelStore returns a store over the model file at path ("": models
// are kept in memory only) for windows of the given length.
func NewModelStore(path string, window time.Duration, logger *slog.Logger) *ModelStore {
	return &ModelStore{path: path, window: window, logger: logger}
}

// Load reads the model file. A corrupt or mismatched file is set aside and
// the detectors warm up: the exporter still starts.
func (m *ModelStore) Load() (ok bool) {
	m.file = NewModelFile(m.window, time.Now())
	if m.path == "" {
		return true
	}
	removed, err := RemoveStaleTemps(m.path, time.Now())
	if len(removed) > 0 || err != nil {
		m.logger.Info("removed temporary model files an interrupted save left", "files", removed, "err", err)
	}
	mf, err := LoadModelFile(m.path, m.window)
	switch {
	case errors.Is(err, os.ErrNotExist):
		m.logger.Info("no model file yet: warming up", "file", m.path)
		return true
	case err != nil:
		aside, rerr := SetAside(m.path, time.Now())
		m.logger.Error("cannot use the model file; warming up instead", "file", m.path, "err", err, "kept_as", aside, "rename_err", rerr)
		return false
	}
	m.file = mf
	m.logger.Info("models loaded", "file", m.path, "interfaces", len(mf.Sets))
	return true
}

// Set returns the loaded models for an interface (or a host group:
// interface/group), nil to warm up. An interface without models of its
// own starts from the file's default set, a group from the group's
// default (train writes both); a group never starts from an interface's.
func (m *ModelStore) Set(key string) *ModelSet {
	s := m.file.Set(key)
	if iface, group, ok := strings.Cut(key, "/"); ok {
		s = m.file.GroupSet(iface, group)
	}
	if s != nil {
		if c, err := s.Clone(); err == nil {
			return c
		}
	}
	return nil
}

// Save records an interface's new models and writes the file.
func (m *ModelStore) Save(iface string, set *ModelSet) {
	if m.path == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.file.Sets[iface] = set
	if _, ok := m.file.Sets[DefaultSet]; !ok && !strings.Contains(iface, "/") {
		m.file.Sets[DefaultSet] = set // new interfaces start from it
	}
	m.write("interface", iface, "windows", set.Windows)
}

// Checkpoint writes the models trained so far, if any.
func (m *ModelStore) Checkpoint() {
	if m.path == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.file.Sets) > 0 {
		m.write("interfaces", len(m.file.Sets))
	}
}

// write saves the file; m.mu is held.
func (m *ModelStore) write(logArgs ...any) {
	m.file.Created = time.Now()
	if err := m.file.Save(m.path); err != nil {
		m.logger.Error("cannot save the models", "file", m.path, "err", err)
		return
	}
	m.logger.Info("models saved", append([]any{"file", m.path}, logArgs...)...)
}
