package detector

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

const window10s = 10 * time.Second

// savedModel writes a model file with a default set and one for eth1 and
// returns its path and bytes.
func savedModel(t *testing.T) (string, []byte) {
	t.Helper()
	mf := NewModelFile(window10s, time.Unix(1_700_000_000, 0))
	a, err := trainSet(t, 1).Clone()
	if err != nil {
		t.Fatal(err)
	}
	b, err := trainSet(t, 2).Clone()
	if err != nil {
		t.Fatal(err)
	}
	mf.Sets[DefaultSet], mf.Sets["eth1"] = a, b
	path := filepath.Join(t.TempDir(), "models.bin")
	if err := mf.Save(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, data
}

// script is a fixed mix of benign and attack windows.
func script(seed uint64, n int) []*features.Window {
	g := newGen(seed)
	out := make([]*features.Window, n)
	for i := range out {
		out[i] = g.benign()
		if i%7 == 3 {
			attackCases[(i/7)%len(attackCases)].inject(out[i])
		}
	}
	return out
}

func verdictsJSON(t *testing.T, d *Detector, ws []*features.Window) string {
	t.Helper()
	var b bytes.Buffer
	for _, w := range ws {
		j, err := json.Marshal(d.Observe(w))
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestModelFileRoundTrip(t *testing.T) {
	path, _ := savedModel(t)
	mf, err := LoadModelFile(path, window10s)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(mf.Schema, features.Names()) || mf.WindowSeconds != 10 || !mf.Created.Equal(time.Unix(1_700_000_000, 0)) {
		t.Errorf("header: schema %d names, window %g, created %v", len(mf.Schema), mf.WindowSeconds, mf.Created)
	}
	if len(mf.Sets) != 2 || mf.Set("eth1") != mf.Sets["eth1"] || mf.Set("eth7") != mf.Sets[DefaultSet] || mf.Sets[DefaultSet] == nil {
		t.Fatalf("sets %v", mf.Sets)
	}
	for name, seed := range map[string]uint64{DefaultSet: 1, "eth1": 2} {
		orig, loaded := trainSet(t, seed), mf.Sets[name]
		if loaded.Threshold != orig.Threshold || loaded.Windows != orig.Windows || !slices.Equal(loaded.Members(), orig.Members()) {
			t.Errorf("set %q: threshold %g windows %d members %v, saved %g %d %v", name, loaded.Threshold, loaded.Windows, loaded.Members(), orig.Threshold, orig.Windows, orig.Members())
		}
		c, err := orig.Clone()
		if err != nil {
			t.Fatal(err)
		}
		ws := script(20, 120)
		want := verdictsJSON(t, New(testConfig(), "eth0", c), ws)
		got := verdictsJSON(t, New(testConfig(), "eth0", loaded), ws)
		if got != want {
			t.Errorf("set %q: loaded models judge differently", name)
		}
		if !strings.Contains(want, `"Anomalous":true`) || !strings.Contains(want, `"Anomalous":false`) {
			t.Error("script has no anomalous or no normal windows")
		}
	}
	// Saving again replaces the file atomically and leaves no temporary
	// file behind.
	if err := mf.Save(path); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d files after saving twice", len(entries))
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}
}

func TestModelFileDamage(t *testing.T) {
	path, data := savedModel(t)
	hdrEnd := bytes.IndexByte(data[bytes.IndexByte(data, '\n')+1:], '\n') + bytes.IndexByte(data, '\n') + 2
	load := func(b []byte, window time.Duration) error {
		p := filepath.Join(t.TempDir(), "m")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		mf, err := LoadModelFile(p, window)
		if err == nil && mf == nil {
			t.Error("nil file without error")
		}
		return err
	}
	if err := load(data, window10s); err != nil {
		t.Fatal(err)
	}

	t.Run("flipped payload byte", func(t *testing.T) {
		for _, at := range []int{hdrEnd, hdrEnd + 1, (hdrEnd + len(data)) / 2, len(data) - 1} {
			b := slices.Clone(data)
			b[at] ^= 0x20
			if err := load(b, window10s); !errors.Is(err, ErrCorruptModel) {
				t.Errorf("byte %d flipped: %v, want ErrCorruptModel", at, err)
			}
		}
	})
	t.Run("truncated", func(t *testing.T) {
		cuts := []int{}
		for n := 0; n < hdrEnd+64; n++ {
			cuts = append(cuts, n)
		}
		cuts = append(cuts, (hdrEnd+len(data))/2, len(data)-1)
		for _, n := range cuts {
			if err := load(data[:n], window10s); !errors.Is(err, ErrCorruptModel) {
				t.Fatalf("cut to %d of %d bytes: %v, want ErrCorruptModel", n, len(data), err)
			}
		}
	})
	t.Run("window length", func(t *testing.T) {
		err := load(data, 5*time.Second)
		if !errors.Is(err, ErrModelMismatch) || !strings.Contains(err.Error(), "10s") || !strings.Contains(err.Error(), "5s") {
			t.Errorf("got %v, want ErrModelMismatch naming 10s and 5s", err)
		}
	})
	t.Run("schema", func(t *testing.T) {
		for _, edit := range []func([]string) []string{
			func(s []string) []string { return s[:len(s)-1] },
			func(s []string) []string { return append(s, "new_feature") },
			func(s []string) []string { s[3], s[4] = s[4], s[3]; return s },
		} {
			var h map[string]any
			first := bytes.IndexByte(data, '\n') + 1
			if err := json.Unmarshal(data[first:hdrEnd], &h); err != nil {
				t.Fatal(err)
			}
			var schema []string
			for _, s := range h["schema"].([]any) {
				schema = append(schema, s.(string))
			}
			schema = edit(schema)
			h["schema"] = schema
			hb, _ := json.Marshal(h)
			b := slices.Concat(data[:first], hb, []byte("\n"), data[hdrEnd:])
			err := load(b, window10s)
			if !errors.Is(err, ErrModelMismatch) {
				t.Errorf("schema of %d features: %v, want ErrModelMismatch", len(schema), err)
			}
		}
		err := func() error {
			b := bytes.Replace(slices.Clone(data), []byte(`"packets_per_second"`), []byte(`"packets_per_minute"`), 1)
			return load(b, window10s)
		}()
		if !errors.Is(err, ErrModelMismatch) {
			t.Errorf("renamed feature: %v", err)
		}
	})
	t.Run("other version", func(t *testing.T) {
		b := bytes.Replace(slices.Clone(data), []byte("netanomaly-model 1\n"), []byte("netanomaly-model 2\n"), 1)
		if err := load(b, window10s); !errors.Is(err, ErrModelMismatch) {
			t.Errorf("version 2: %v, want ErrModelMismatch", err)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		for _, b := range [][]byte{
			nil,
			[]byte("hello world\n"),
			[]byte("\x1f\x8b\x08\x00 gzip only"),
			bytes.Repeat([]byte{0xff}, 4096),
			[]byte("netanomaly-model 1\nnot json\n"),
			[]byte("netanomaly-model 1"),
		} {
			if err := load(b, window10s); !errors.Is(err, ErrCorruptModel) {
				t.Errorf("%q: %v, want ErrCorruptModel", b, err)
			}
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, err := LoadModelFile(filepath.Join(t.TempDir(), "none"), window10s)
		if !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrCorruptModel) {
			t.Errorf("missing file: %v", err)
		}
	})
	t.Run("set aside", func(t *testing.T) {
		now := time.Date(2024, 3, 1, 12, 30, 45, 0, time.FixedZone("x", 3600))
		aside, err := SetAside(path, now)
		if err != nil {
			t.Fatal(err)
		}
		if aside != path+".bad-20240301T113045Z" {
			t.Errorf("set aside as %s", aside)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("original still there: %v", err)
		}
		if b, err := os.ReadFile(aside); err != nil || !bytes.Equal(b, data) {
			t.Errorf("set-aside file: %v", err)
		}
		if _, err := SetAside(path, now); err == nil {
			t.Error("setting aside a missing file succeeded")
		}
	})
}

// TestModelFileOldFeatureNames: a model file written before the feature
// names said their unit (testdata/model-old-feature-names.bin, the
// baseline of tinySet, written by that version) loads, judges as the
// same models under the new names, and is saved with the new names.
func TestModelFileOldFeatureNames(t *testing.T) {
	path := filepath.Join("testdata", "model-old-feature-names.bin")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`"tcp_syn_packets",`)) || bytes.Contains(data, []byte("_per_window")) {
		t.Fatal("the test file does not have the old names")
	}
	mf, err := LoadModelFile(path, window10s)
	if err != nil {
		t.Fatalf("a model file with the old feature names: %v", err)
	}
	if !slices.Equal(mf.Schema, features.Names()) {
		t.Errorf("schema %v, want the current names", mf.Schema)
	}
	set := mf.Set("eth0")
	if set == nil {
		t.Fatal("no default set")
	}
	d := New(testConfig(), "eth0", set)
	for _, w := range script(20, 30) {
		v := d.Observe(w)
		for _, x := range v.Explanations {
			if _, renamed, ok := features.Lookup(x.Feature); !ok || renamed {
				t.Fatalf("explanation names feature %q", x.Feature)
			}
		}
	}
	saved := filepath.Join(t.TempDir(), "m")
	if err := mf.Save(saved); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"tcp_syn_packets_per_window",`)) {
		t.Error("saved again without the new names")
	}
	if _, err := LoadModelFile(saved, window10s); err != nil {
		t.Error(err)
	}

	// Old names out of their place are another schema.
	h := bytes.Replace(data, []byte(`"tcp_syn_packets","tcp_synack_packets"`), []byte(`"tcp_synack_packets","tcp_syn_packets"`), 1)
	if bytes.Equal(h, data) {
		t.Fatal("no tcp_syn_packets before tcp_synack_packets")
	}
	if _, err := ReadModelFile(bytes.NewReader(h), window10s); !errors.Is(err, ErrModelMismatch) {
		t.Errorf("old names swapped: %v, want ErrModelMismatch", err)
	}
}

// A damaged set inside an intact file (right checksum) is still corrupt.
func TestModelFileBadSet(t *testing.T) {
	for name, edit := range map[string]func(map[string]any){
		"no members":     func(s map[string]any) { s["members"] = []any{} },
		"unknown member": func(s map[string]any) { s["members"].([]any)[0].(map[string]any)["name"] = "svm" },
		"no scaler":      func(s map[string]any) { delete(s, "scaler") },
		"short scaler":   func(s map[string]any) { sc := s["scaler"].(map[string]any); sc["median"] = sc["median"].([]any)[1:] },
		"bad calibration": func(s map[string]any) {
			s["members"].([]any)[0].(map[string]any)["calibrator"].(map[string]any)["tail"] = 0
		},
	} {
		b, err := json.Marshal(trainSet(t, 1))
		if err != nil {
			t.Fatal(err)
		}
		var s map[string]any
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		edit(s)
		b, _ = json.Marshal(s)
		var set ModelSet
		if err := json.Unmarshal(b, &set); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
}

func TestCloneIsIndependent(t *testing.T) {
	orig, err := trainSet(t, 1).Clone()
	if err != nil {
		t.Fatal(err)
	}
	c, err := orig.Clone()
	if err != nil {
		t.Fatal(err)
	}
	if c == orig || c.Scaler == orig.Scaler || &c.members[0] == &orig.members[0] {
		t.Fatal("clone shares memory with the original")
	}
	rows := vectors(newGen(30).benignN(50))
	probe := func(set *ModelSet) []float64 {
		var out []float64
		for i := range rows {
			out = append(out, memberScoresAll(set, set.Scaler.Transform(&rows[i], nil))...)
		}
		return out
	}
	before := probe(c)
	if !slices.Equal(before, probe(orig)) {
		t.Fatal("clone scores differently from the original")
	}
	stateBefore := memberState(t, c)
	// The original goes on learning (online members) and forecasting.
	d := New(testConfig(), "eth0", orig)
	g := newGen(31)
	for range 200 {
		d.Observe(g.benign())
	}
	if slices.Equal(before, probe(orig)) {
		t.Fatal("the original did not change: the test shows nothing")
	}
	if !slices.Equal(before, probe(c)) || memberState(t, c) != stateBefore {
		t.Error("learning on the original changed the clone")
	}
}

func memberScoresAll(set *ModelSet, row []float64) []float64 {
	var out []float64
	for _, m := range set.members {
		out = append(out, m.model.Score(row))
	}
	return out
}
