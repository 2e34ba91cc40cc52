package detector

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// Model file errors. Both leave the exporter able to start: it keeps the
// file aside and warms up again.
var (
	ErrCorruptModel  = errors.New("corrupt model file")
	ErrModelMismatch = errors.New("model file does not match this exporter")
)

const (
	modelMagic   = "netanomaly-model"
	modelVersion = 1
	// maxModelBytes bounds what a model file may expand to.
	maxModelBytes = 256 << 20
)

// DefaultSet is the key of the model set used for interfaces without one
// of their own (the set `train` writes).
const DefaultSet = ""

// ModelFile is what a model file holds: model sets by interface, the
// feature schema and the window length they were trained with.
type ModelFile struct {
	Schema        []string
	WindowSeconds float64
	Created       time.Time
	Sets          map[string]*ModelSet
}

type modelHeader struct {
	Version       int       `json:"version"`
	Schema        []string  `json:"schema"`
	WindowSeconds float64   `json:"window_seconds"`
	Created       time.Time `json:"created"`
	PayloadSHA256 string    `json:"payload_sha256"`
	PayloadBytes  int       `json:"payload_bytes"`
	Interfaces    []string  `json:"interfaces"`
}

// Set returns the model set for an interface, or the default set.
func (f *ModelFile) Set(iface string) *ModelSet {
	if s, ok := f.Sets[iface]; ok {
		return s
	}
	return f.Sets[DefaultSet]
}

// Save writes the file atomically: a reader never sees half a file.
func (f *ModelFile) Save(path string) error {
	payload, err := json.Marshal(f.Sets)
	if err != nil {
		return fmt.Errorf("encode models: %w", err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(payload); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	sum := sha256.Sum256(gz.Bytes())
	ifaces := make([]string, 0, len(f.Sets))
	for k := range f.Sets {
		ifaces = append(ifaces, k)
	}
	sort.Strings(ifaces)
	hdr, err := json.Marshal(modelHeader{
		Version: modelVersion, Schema: f.Schema, WindowSeconds: f.WindowSeconds, Created: f.Created.UTC(),
		PayloadSHA256: hex.EncodeToString(sum[:]), PayloadBytes: gz.Len(), Interfaces: ifaces,
	})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".model-*")
	if err != nil {
		return fmt.Errorf("save model file: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	fmt.Fprintf(w, "%s %d\n%s\n", modelMagic, modelVersion, hdr)
	w.Write(gz.Bytes())
	if err := w.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("save model file: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("save model file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save model file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save model file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save model file: %w", err)
	}
	return nil
}

// LoadModelFile reads and checks a model file against this exporter's
// feature schema and window length.
func LoadModelFile(path string, window time.Duration) (*ModelFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadModelFile(f, window)
}

// ReadModelFile reads a model file from r; see LoadModelFile.
func ReadModelFile(r io.Reader, window time.Duration) (*ModelFile, error) {
	br := bufio.NewReader(io.LimitReader(r, maxModelBytes))
	magic, err := br.ReadString('\n')
	if err != nil || magic != fmt.Sprintf("%s %d\n", modelMagic, modelVersion) {
		if err == nil && bytes.HasPrefix([]byte(magic), []byte(modelMagic)) {
			return nil, fmt.Errorf("%w: format %q, this exporter reads version %d: retrain with train", ErrModelMismatch, bytes.TrimSpace([]byte(magic)), modelVersion)
		}
		return nil, fmt.Errorf("%w: not a netanomaly model file", ErrCorruptModel)
	}
	line, err := br.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("%w: header cut short", ErrCorruptModel)
	}
	var h modelHeader
	if err := json.Unmarshal(line, &h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrCorruptModel, err)
	}
	if want := features.Names(); !slices.Equal(h.Schema, want) {
		return nil, fmt.Errorf("%w: trained on a feature schema of %d features, this exporter has %d: retrain with train", ErrModelMismatch, len(h.Schema), len(want))
	}
	if h.WindowSeconds != window.Seconds() {
		return nil, fmt.Errorf("%w: trained with --window.length=%gs, running with %gs: use the same window length or retrain", ErrModelMismatch, h.WindowSeconds, window.Seconds())
	}
	gz, err := io.ReadAll(br)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorruptModel, err)
	}
	sum := sha256.Sum256(gz)
	if len(gz) != h.PayloadBytes || hex.EncodeToString(sum[:]) != h.PayloadSHA256 {
		return nil, fmt.Errorf("%w: checksum mismatch (file damaged or cut short)", ErrCorruptModel)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorruptModel, err)
	}
	payload, err := io.ReadAll(io.LimitReader(zr, maxModelBytes))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorruptModel, err)
	}
	mf := &ModelFile{Schema: h.Schema, WindowSeconds: h.WindowSeconds, Created: h.Created}
	if err := json.Unmarshal(payload, &mf.Sets); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorruptModel, err)
	}
	if len(mf.Sets) == 0 {
		return nil, fmt.Errorf("%w: no model sets", ErrCorruptModel)
	}
	return mf, nil
}

// NewModelFile returns an empty model file for this exporter.
func NewModelFile(window time.Duration, now time.Time) *ModelFile {
	return &ModelFile{Schema: features.Names(), WindowSeconds: window.Seconds(), Created: now, Sets: map[string]*ModelSet{}}
}

// SetAside renames a model file that could not be loaded so that the next
// save does not overwrite the evidence, and returns the new name.
func SetAside(path string, now time.Time) (string, error) {
	aside := fmt.Sprintf("%s.bad-%s", path, now.UTC().Format("20060102T150405Z"))
	return aside, os.Rename(path, aside)
}
