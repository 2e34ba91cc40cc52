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

// GroupSet returns the models of a host group's view of an interface:
// its own (interface/group), or the group's default that train writes
// (/group); never an interface's, whose traffic is not the group's.
func (f *ModelFile) GroupSet(iface, group string) *ModelSet {
	if s, ok := f.Sets[iface+"/"+group]; ok {
		return s
	}
	return f.Sets[DefaultSet+"/"+group]
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
	data, err := f.encode()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), modelTempPattern)
	if err != nil {
		return fmt.Errorf("save model file: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // gone once renamed into place
	if _, err := tmp.Write(data); err != nil {
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

// encode returns the bytes of the file.
func (f *ModelFile) encode() ([]byte, error) {
	payload, err := json.Marshal(f.Sets)
	if err != nil {
		return nil, fmt.Errorf("encode models: %w", err)
	}
	return f.encodePayload(payload)
}

// encodePayload returns the bytes of a file with f's header and payload,
// the JSON of the model sets by interface, compressed and checksummed.
func (f *ModelFile) encodePayload(payload []byte) ([]byte, error) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(payload); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
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
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %d\n%s\n", modelMagic, modelVersion, hdr)
	b.Write(gz.Bytes())
	return b.Bytes(), nil
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
	if got, want := currentNames(h.Schema), features.Names(); !slices.Equal(got, want) {
		return nil, fmt.Errorf("%w: %s: retrain with train", ErrModelMismatch, schemaDiff(got, want))
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
	sets, err := decodeSets(payload)
	if err != nil {
		return nil, err
	}
	return &ModelFile{Schema: features.Names(), WindowSeconds: h.WindowSeconds, Created: h.Created, Sets: sets}, nil
}

// schemaDiff says how a model file's feature schema differs from this
// exporter's.
func schemaDiff(got, want []string) string {
	if len(got) != len(want) {
		return fmt.Sprintf("trained on a feature schema of %d features, this exporter has %d", len(got), len(want))
	}
	i := 0
	for got[i] == want[i] {
		i++
	}
	return fmt.Sprintf("trained with feature %d %q, this exporter has %q there", i+1, got[i], want[i])
}

// currentNames returns a model file's feature names with the names
// features had before they said their unit replaced by their names: the
// models hold features by position, so a file of the same features under
// their old names is the same schema.
func currentNames(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n
		if j, renamed, _ := features.Lookup(n); renamed {
			out[i] = features.Schema[j].Name
		}
	}
	return out
}

// decodeSets decodes and validates a payload, the JSON of the model sets
// by interface. Errors wrap ErrCorruptModel and name the set and the part
// of it that is damaged.
func decodeSets(payload []byte) (map[string]*ModelSet, error) {
	raw, _, err := splitPayload(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %v: %s", ErrCorruptModel, err, retrainHint)
	}
	sets := make(map[string]*ModelSet, len(raw))
	for _, rs := range raw {
		// UnmarshalJSON validates every part of the set.
		set := new(ModelSet)
		if err := json.Unmarshal(rs.raw, set); err != nil {
			return nil, fmt.Errorf("%w: %s: %v: %s", ErrCorruptModel, setName(rs.iface), err, retrainHint)
		}
		sets[rs.iface] = set
	}
	return sets, nil
}

// retrainHint ends the error of a model file whose contents are damaged.
const retrainHint = "delete the file (serve sets it aside and warms up) or retrain: netanomaly_exporter train --capture.pcap=BENIGN.pcap --detector.model-file=FILE"

// setName names a model set in errors.
func setName(iface string) string {
	if iface == DefaultSet {
		return "default model set"
	}
	return fmt.Sprintf("model set of interface %q", iface)
}

// maxDecodeCost bounds the memory that decoding a payload may take, as
// estimated by splitPayload. A set of the default sizes (1.3 MiB of JSON)
// is estimated at 5.7 MiB, so 89 interfaces fit; a hostile payload of
// small values ("{}," is three bytes and decodes into a 128-byte
// half-space tree) would otherwise expand its 256 MiB to gigabytes.
const maxDecodeCost = 512 << 20

// Decoding costs, in bytes, that splitPayload charges: an object (the
// largest struct a model file holds in a slice is models.HSTTree, 128
// bytes), an array (a slice header) and an element of an array (a
// float64, a string or slice header, a slice's spare capacity). Strings
// and raw members are copies of the payload, charged as its length.
const (
	costObject  = 128
	costArray   = 24
	costElement = 16
)

// rawSet is one model set of a payload, not yet decoded.
type rawSet struct {
	iface string
	raw   []byte
}

// splitPayload checks that payload is a JSON object of model sets by
// interface, with no interface twice, whose decoding stays under
// maxDecodeCost, and returns each set's JSON in file order and the
// estimated cost. The sets are decoded one by one so that errors can name
// theirs.
func splitPayload(payload []byte) ([]rawSet, int, error) {
	if !json.Valid(payload) {
		err := json.Unmarshal(payload, new(struct{})) // for the syntax error
		return nil, 0, fmt.Errorf("payload: %v", err)
	}
	var (
		sets      []rawSet
		stack     []byte // '{' or '[' of each open container
		expectKey bool   // in an object, the next string is a key
		key       []byte // the current set's key, quoted
		start     int    // where the current set's JSON starts
		cost      = len(payload)
	)
	// endValue notes the end of a value that ends before payload[end].
	endValue := func(end int) error {
		if len(stack) != 1 {
			return nil
		}
		var iface string
		if err := json.Unmarshal(key, &iface); err != nil {
			return err
		}
		for _, s := range sets {
			if s.iface == iface {
				return fmt.Errorf("%s stored twice", setName(iface))
			}
		}
		sets = append(sets, rawSet{iface: iface, raw: payload[start:end]})
		return nil
	}
	for i := 0; i < len(payload); i++ {
		c := payload[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case ':':
			expectKey = false
			continue
		case ',':
			expectKey = stack[len(stack)-1] == '{'
			continue
		case '}', ']':
			stack = stack[:len(stack)-1]
			if err := endValue(i + 1); err != nil {
				return nil, 0, err
			}
			continue
		}
		// A key or the start of a value.
		if c == '"' {
			j := i + 1
			for payload[j] != '"' {
				if payload[j] == '\\' {
					j++
				}
				j++
			}
			if expectKey {
				if len(stack) == 1 {
					key = payload[i : j+1]
				}
				i = j
				continue
			}
			if len(stack) == 1 {
				start = i
			}
			i = j
			if len(stack) > 0 && stack[len(stack)-1] == '[' {
				cost += costElement
			}
			if err := endValue(i + 1); err != nil {
				return nil, 0, err
			}
			continue
		}
		if len(stack) == 0 {
			if c != '{' {
				return nil, 0, errors.New("payload is not a JSON object of model sets")
			}
		} else if stack[len(stack)-1] == '[' {
			cost += costElement
		}
		if len(stack) == 1 {
			start = i
		}
		switch c {
		case '{':
			stack = append(stack, c)
			expectKey = true
			cost += costObject
		case '[':
			stack = append(stack, c)
			cost += costArray
		default: // a number, true, false or null
			j := i + 1
		scalar:
			for ; j < len(payload); j++ {
				switch payload[j] {
				case ',', ']', '}', ' ', '\t', '\n', '\r':
					break scalar
				}
			}
			i = j - 1
			if err := endValue(j); err != nil {
				return nil, 0, err
			}
		}
		if cost > maxDecodeCost {
			return nil, 0, fmt.Errorf("decoding would take more than the %d MiB a model file may take", maxDecodeCost>>20)
		}
	}
	if len(sets) == 0 {
		return nil, 0, errors.New("no model sets")
	}
	return sets, cost, nil
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
