package detector

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/detector/models"
)

// FuzzReadModelFile reads arbitrary bytes as a model file, and decodes
// them as the payload of one (the model sets by interface, which a real
// file's checksum keeps mutations from reaching). Both must fail with
// ErrCorruptModel (or ErrModelMismatch), or give sets that judge windows
// without panicking, with every score in [0,1], and that still pass
// validation after learning from them (a Clone decodes them again).
// splitPayload must agree with encoding/json on every payload it takes.
//
// Seeds: testdata/fuzz/FuzzReadModelFile (see testdata/README.md).
func FuzzReadModelFile(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSplit(t, data)
		mf, err := ReadModelFile(bytes.NewReader(data), window10s)
		if err == nil {
			for iface, set := range mf.Sets {
				judge(t, iface, set)
			}
		} else if !errors.Is(err, ErrCorruptModel) && !errors.Is(err, ErrModelMismatch) {
			t.Fatalf("error %v is neither ErrCorruptModel nor ErrModelMismatch", err)
		}
		sets, err := decodeSets(data)
		if err != nil {
			if !errors.Is(err, ErrCorruptModel) {
				t.Fatalf("error %v is not ErrCorruptModel", err)
			}
			return
		}
		if len(sets) == 0 {
			t.Fatal("a payload without sets decoded")
		}
		for iface, set := range sets {
			judge(t, iface, set)
		}
	})
}

// checkSplit checks splitPayload against encoding/json.
func checkSplit(t *testing.T, payload []byte) {
	sets, _, err := splitPayload(payload)
	if err != nil {
		return
	}
	var want map[string]json.RawMessage
	if err := json.Unmarshal(payload, &want); err != nil {
		t.Fatalf("splitPayload took a payload encoding/json refuses: %v", err)
	}
	if len(sets) != len(want) {
		t.Fatalf("splitPayload found %d sets, encoding/json %d", len(sets), len(want))
	}
	for _, s := range sets {
		if w, ok := want[s.iface]; !ok || !bytes.Equal(w, s.raw) {
			t.Fatalf("set %q: splitPayload %q, encoding/json %q", s.iface, s.raw, w)
		}
	}
}

// judge runs a loaded set over a few windows: contiguous benign ones (a
// forecaster's history fills, the half-space trees learn), a flood, a
// partial window and one after a gap.
func judge(t *testing.T, iface string, set *ModelSet) {
	d := New(testConfig(), iface, set)
	g := newGen(5)
	for i := range 6 {
		if i == 5 {
			g.next += 60 * sec
		}
		w := g.benign()
		switch i {
		case 3:
			synFlood(w, victim)
		case 4:
			w.Partial = true
		}
		v := d.Observe(w)
		if !(v.Score >= 0 && v.Score <= 1) || v.Threshold != set.Threshold {
			t.Fatalf("window %d: score %v threshold %v", i, v.Score, v.Threshold)
		}
		for _, m := range v.Models {
			if !(m.Score >= 0 && m.Score <= 1) {
				t.Fatalf("window %d: %s scores %v", i, m.Model, m.Score)
			}
		}
	}
	if _, err := set.Clone(); err != nil {
		t.Fatalf("after judging windows the set does not load again: %v", err)
	}
}

// tinySet is a model set of the baseline and the named members (forest
// for the supervised forest), at the smallest sizes, fitted as Train fits
// them, on 12 benign windows (and 6 labelled flood windows): a seed small
// enough to mutate and to minimise.
func tinySet(t testing.TB, names ...string) *ModelSet {
	t.Helper()
	g := newGen(12)
	normal := vectors(g.benignN(12))
	sc, err := FitScaler(normal)
	if err != nil {
		t.Fatal(err)
	}
	rows := make([][]float64, len(normal))
	for i := range normal {
		rows[i] = sc.Transform(&normal[i], nil)
	}
	ae := models.NewAutoencoder(1, 1)
	ae.Epochs = 2
	lstm := models.NewLSTMForecaster(1, 2)
	lstm.Epochs = 2
	tiny := map[string]models.Model{MemberIForest: models.NewIsolationForest(3, 8), MemberHST: models.NewHalfSpaceTrees(2, 3, 8),
		MemberAutoencoder: ae, MemberKMeans: models.NewKMeans(2), MemberLSTM: lstm}
	ms := []models.Model{&Baseline{}}
	for _, n := range names {
		if m := tiny[n]; m != nil {
			ms = append(ms, m)
		}
	}
	set := &ModelSet{Scaler: sc, Windows: len(rows)}
	ensemble := make([]float64, len(rows))
	for i, m := range ms {
		if err := m.Fit(rows, uint64(i)); err != nil {
			t.Fatal(err)
		}
		mem := member{name: m.Name(), model: m, cal: FitCalibrator(trainingScores(m, rows))}
		for j, r := range trainingScores(m, rows) {
			ensemble[j] += mem.cal.Score(r) / float64(len(ms))
		}
		set.members = append(set.members, mem)
	}
	set.Threshold = ensembleThreshold(ensemble, 0.001)
	if slices.Contains(names, MemberForest) {
		set.Classes = []string{"normal", ICMPFlood, SynFlood, UDPFlood}
		floods := map[int]int{1: 4, 2: 2, 3: 3} // class to attackCases
		var frows [][]float64
		var y []int
		for i := range 6 {
			w := g.benign()
			frows, y = append(frows, sc.Transform(&w.Features, nil)), append(y, 0)
			w = g.benign()
			class := 1 + i%3
			attackCases[floods[class]].inject(w)
			frows, y = append(frows, sc.Transform(&w.Features, nil)), append(y, class)
		}
		set.Forest = models.NewRandomForest(3, 4, 1)
		if err := set.Forest.Fit(frows, y, len(set.Classes), 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := set.validate(); err != nil {
		t.Fatal(err)
	}
	return set
}

// roundNumbers rounds every fraction in a JSON tree to 3 significant
// digits, which shortens a seed threefold and keeps it valid (rounding
// keeps order, zero and signs).
func roundNumbers(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = roundNumbers(x)
		}
	case []any:
		for i, x := range v {
			v[i] = roundNumbers(x)
		}
	case json.Number:
		if strings.ContainsAny(string(v), ".eE") {
			f, err := v.Float64()
			if err == nil {
				return json.Number(strconv.FormatFloat(f, 'g', 3, 64))
			}
		}
	}
	return v
}

var genModelSeeds = flag.Bool("detector.genseeds", false, "rewrite testdata/fuzz/FuzzReadModelFile/seed-* from tinySet")

// seedCorruptions are the corruptions of TestModelFileDamagedMembers
// whose damaged payloads are seeds too, each of a tinySet of the member
// it damages.
var seedCorruptions = []string{
	"short centroid", "kmeans dim 1000", "iforest child out of range", "iforest cyclic tree",
	"iforest feature out of range", "hst depth 1000", "hst short work space", "hst feature out of range",
	"lstm lookback huge", "lstm history out of range", "forest child out of range", "forest cyclic tree",
	"calibration short", "scaler zero spread", "presence silences growing",
}

// tinyPayload returns the payload of a file holding tinySet(names) as
// the default set, rounded, after edit.
func tinyPayload(t *testing.T, edit func(map[string]any), names ...string) []byte {
	s := setMap(t, tinySet(t, names...))
	roundNumbers(s)
	if edit != nil {
		edit(s)
	}
	b, err := json.Marshal(map[string]any{DefaultSet: s})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGenerateModelFuzzSeeds writes the seeds of FuzzReadModelFile when
// run with -detector.genseeds: the payloads of a tinySet of every member
// (seed-valid), of each member alone with the baseline
// (seed-valid-<member>), the baseline with a presence baseline
// (seed-valid-presence), the file of the baseline alone (seed-file), and
// the payload of each member damaged by seedCorruptions
// (seed-<corruption>).
func TestGenerateModelFuzzSeeds(t *testing.T) {
	if !*genModelSeeds {
		t.Skip("run with -detector.genseeds to rewrite the model file fuzz seeds")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzReadModelFile")
	old, _ := filepath.Glob(filepath.Join(dir, "seed-*"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte, valid bool) {
		t.Helper()
		_, err := ReadModelFile(bytes.NewReader(filePayload(t, data)), window10s)
		if valid && err != nil || !valid && !errors.Is(err, ErrCorruptModel) {
			t.Fatalf("%s: %v", name, err)
		}
		b := fmt.Appendf(nil, "go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(data)))
		if err := os.WriteFile(filepath.Join(dir, "seed-"+name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	all := append(slices.Clone(AllMembers), MemberForest)
	write("valid", tinyPayload(t, nil, all...), true)
	for _, m := range all[1:] {
		write("valid-"+m, tinyPayload(t, nil, m), true)
	}
	write("valid-presence", tinyPayload(t, func(s map[string]any) {
		s["presence"] = presenceOf(HostPresence{Addr: lanAddr(1), Windows: 40, Present: 36, Silent: [presenceRuns]uint32{4, 1}},
			HostPresence{Addr: ip("fd00::2"), Windows: 30, Present: 30})
	}), true)
	mf := NewModelFile(window10s, time.Unix(1_700_000_000, 0))
	mf.Sets[DefaultSet] = tinySet(t)
	file, err := mf.encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ReadModelFile(bytes.NewReader(file), window10s); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "seed-file"), fmt.Appendf(nil, "go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(file))), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range seedCorruptions {
		i := slices.IndexFunc(corruptions, func(c corruption) bool { return c.name == name })
		if i < 0 {
			t.Fatalf("no corruption %q", name)
		}
		part := strings.Fields(corruptions[i].part) // "member kmeans" or "scaler"
		var names []string
		if part[0] == "member" {
			names = []string{strings.TrimSuffix(part[1], ":")}
		}
		write(strings.ReplaceAll(name, " ", "-"), tinyPayload(t, corruptions[i].edit, names...), false)
	}
}

// TestTinySetJudges checks the seed's set before fuzzing starts from it.
func TestTinySetJudges(t *testing.T) {
	set := tinySet(t, append(slices.Clone(AllMembers), MemberForest)...)
	if len(set.members) != len(AllMembers) || math.IsNaN(set.Threshold) {
		t.Fatalf("members %v threshold %v", set.Members(), set.Threshold)
	}
	judge(t, "eth0", set)
}

// BenchmarkReadModelFile reads a file of two sets of the default sizes.
func BenchmarkReadModelFile(b *testing.B) {
	mf := NewModelFile(window10s, time.Unix(1_700_000_000, 0))
	mf.Sets[DefaultSet], mf.Sets["eth1"] = trainSet(b, 1), trainSet(b, 2)
	data, err := mf.encode()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadModelFile(bytes.NewReader(data), window10s); err != nil {
			b.Fatal(err)
		}
	}
}
