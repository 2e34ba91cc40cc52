package detector

import (
	"bytes"
	"encoding/json"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// smallSet trains, with Train, a model set of every member and the
// supervised forest on 16 benign windows and 8 labelled attack windows.
var smallSet = sync.OnceValues(func() (*ModelSet, error) {
	g := newGen(11)
	benign := vectors(g.benignN(16))
	var labeled []Labeled
	for i, v := range benign[:8] {
		labeled = append(labeled, Labeled{Features: v, Class: "normal"})
		w := g.benign()
		tc := attackCases[i%3+2] // syn, udp and icmp floods
		tc.inject(w)
		labeled = append(labeled, Labeled{Features: w.Features, Class: tc.want})
	}
	return Train(DefaultConfig().Train, benign, labeled)
})

// setMap returns the JSON of a set as maps, numbers kept exact.
func setMap(t testing.TB, set *ModelSet) map[string]any {
	t.Helper()
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return jsonMap(t, b)
}

func jsonMap(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// filePayload returns a model file holding payload under a valid header
// and checksum.
func filePayload(t testing.TB, payload []byte) []byte {
	t.Helper()
	b, err := NewModelFile(window10s, time.Unix(1_700_000_000, 0)).encodePayload(payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// modelOf returns the stored state of a member of a set map.
func modelOf(s map[string]any, name string) map[string]any {
	for _, m := range s["members"].([]any) {
		if m := m.(map[string]any); m["name"] == name {
			return m["model"].(map[string]any)
		}
	}
	if name == MemberForest {
		return s["forest"].(map[string]any)
	}
	panic("no member " + name)
}

func calibratorOf(s map[string]any, name string) map[string]any {
	for _, m := range s["members"].([]any) {
		if m := m.(map[string]any); m["name"] == name {
			return m["calibrator"].(map[string]any)
		}
	}
	panic("no member " + name)
}

func list(v any) []any { return v.([]any) }

// ifSplit returns the n-th split node (0 the first) of the isolation
// forest, in tree order, and its index in its tree.
func ifSplit(s map[string]any, n int) (map[string]any, int) {
	for _, tree := range list(modelOf(s, MemberIForest)["nodes"]) {
		for i, nd := range list(tree) {
			if _, ok := nd.(map[string]any)["l"]; ok && i > 0 {
				if n == 0 {
					return nd.(map[string]any), i
				}
				n--
			}
		}
	}
	panic("no split node")
}

// rfSplit returns the index of the second split node of the forest (the
// first below a root).
func rfSplit(s map[string]any) int {
	f := modelOf(s, MemberForest)
	roots := map[int]bool{}
	for _, r := range list(f["roots"]) {
		n, _ := r.(json.Number).Int64()
		roots[int(n)] = true
	}
	for i, feat := range list(f["feature"]) {
		if feat.(json.Number) != "-1" && !roots[i] {
			return i
		}
	}
	panic("no split below a root")
}

// corruption damages one field of one part of a set, as a hand edit or a
// bug in another version could; part is what the load error must name and
// want what it must say.
type corruption struct {
	name, part, want string
	edit             func(s map[string]any)
}

var corruptions = []corruption{
	{"short centroid", "member kmeans", "centroid 0 has 10 values", func(s map[string]any) {
		c := list(modelOf(s, MemberKMeans)["centroids"])
		c[0] = list(c[0])[:10]
	}},
	{"kmeans dim 1000", "member kmeans", "dim 1000", func(s map[string]any) { modelOf(s, MemberKMeans)["dim"] = 1000 }},
	{"iforest child out of range", "member iforest", "children 100000", func(s map[string]any) {
		nd, _ := ifSplit(s, 0)
		nd["l"] = 100000
	}},
	{"iforest negative child", "member iforest", "children -3", func(s map[string]any) {
		nd, _ := ifSplit(s, 0)
		nd["l"] = -3
	}},
	{"iforest cyclic tree", "member iforest", "cyclic", func(s map[string]any) {
		nd, i := ifSplit(s, 0)
		nd["l"] = i // to itself
	}},
	{"iforest feature out of range", "member iforest", "feature 1000 out of range", func(s map[string]any) {
		nd, _ := ifSplit(s, 1)
		nd["f"] = 1000
	}},
	{"iforest dim 1000", "member iforest", "dim 1000", func(s map[string]any) { modelOf(s, MemberIForest)["dim"] = 1000 }},
	{"iforest constant feature out of range", "member iforest", "constant feature", func(s map[string]any) {
		m := modelOf(s, MemberIForest)
		m["const_dims"] = []any{int(features.NumFeatures)}
		m["const_vals"] = []any{0}
	}},
	{"iforest psi huge", "member iforest", "psi", func(s map[string]any) { modelOf(s, MemberIForest)["psi"] = 1 << 30 }},
	{"iforest too many trees", "member iforest", "trees", func(s map[string]any) { modelOf(s, MemberIForest)["trees"] = 7 }},
	{"hst depth 1000", "member hst", "depth 1000", func(s map[string]any) { modelOf(s, MemberHST)["depth"] = 1000 }},
	{"hst depth of other arrays", "member hst", "split features", func(s map[string]any) { modelOf(s, MemberHST)["depth"] = 9 }},
	{"hst feature out of range", "member hst", "feature 1000 out of range", func(s map[string]any) {
		tr := list(modelOf(s, MemberHST)["hs_trees"])[1].(map[string]any)
		list(tr["f"])[5] = 1000
	}},
	{"hst short work space", "member hst", "tree 0: lo has 67 values", func(s map[string]any) {
		tr := list(modelOf(s, MemberHST)["hs_trees"])[0].(map[string]any)
		tr["lo"] = list(tr["lo"])[1:]
	}},
	{"hst dim 1000", "member hst", "dim 1000", func(s map[string]any) { modelOf(s, MemberHST)["dim"] = 1000 }},
	{"hst negative mass", "member hst", "mass -1", func(s map[string]any) {
		tr := list(modelOf(s, MemberHST)["hs_trees"])[0].(map[string]any)
		list(tr["r"])[2] = -1
	}},
	{"hst window 0", "member hst", "window 0", func(s map[string]any) { modelOf(s, MemberHST)["window"] = 0 }},
	{"autoencoder dim 1000", "member autoencoder", "dim 1000", func(s map[string]any) { modelOf(s, MemberAutoencoder)["dim"] = 1000 }},
	{"autoencoder short weights", "member autoencoder", "w4 has", func(s map[string]any) {
		m := modelOf(s, MemberAutoencoder)
		m["w4"] = list(m["w4"])[1:]
	}},
	{"autoencoder weight beyond float64", "member autoencoder", "w1", func(s map[string]any) {
		list(modelOf(s, MemberAutoencoder)["w1"])[0] = json.Number("1e999")
	}},
	{"lstm dim 1000", "member lstm", "dim 1000", func(s map[string]any) { modelOf(s, MemberLSTM)["dim"] = 1000 }},
	{"lstm lookback huge", "member lstm", "lookback 1000000", func(s map[string]any) { modelOf(s, MemberLSTM)["lookback"] = 1_000_000 }},
	{"lstm hidden width of other weights", "member lstm", "wg has", func(s map[string]any) { modelOf(s, MemberLSTM)["hidden"] = 17 }},
	{"lstm history out of range", "member lstm", "history", func(s map[string]any) {
		m := modelOf(s, MemberLSTM)
		m["history"] = make([]any, int(features.NumFeatures)*6)
		m["history_len"], m["history_next"] = 3, 7
	}},
	{"forest child out of range", "member forest", "children 99999", func(s map[string]any) {
		list(modelOf(s, MemberForest)["child"])[0] = 99999
	}},
	{"forest cyclic tree", "member forest", "cyclic", func(s map[string]any) {
		f := modelOf(s, MemberForest)
		i := rfSplit(s)
		list(f["child"])[i] = i - 1
	}},
	{"forest feature out of range", "member forest", "feature 1000 out of range", func(s map[string]any) {
		list(modelOf(s, MemberForest)["feature"])[0] = 1000
	}},
	{"forest depth", "member forest", "max_depth is 1", func(s map[string]any) { modelOf(s, MemberForest)["max_depth"] = 1 }},
	{"forest dim 1000", "member forest", "dim 1000", func(s map[string]any) { modelOf(s, MemberForest)["dim"] = 1000 }},
	{"forest probability", "member forest", "leaf probability 1 is 2", func(s map[string]any) { list(modelOf(s, MemberForest)["prob"])[1] = 2 }},
	{"forest classes", "member forest", "4 classes, the model set names 3", func(s map[string]any) { s["classes"] = list(s["classes"])[:3] }},
	{"forest unknown class", "member forest", `class "ssh_flood"`, func(s map[string]any) { list(s["classes"])[1] = "ssh_flood" }},
	{"calibration short", "member hst: calibration", "100 quantiles", func(s map[string]any) {
		c := calibratorOf(s, MemberHST)
		c["quantiles"] = list(c["quantiles"])[1:]
	}},
	{"calibration tail", "member kmeans: calibration", "tail -1", func(s map[string]any) { calibratorOf(s, MemberKMeans)["tail"] = -1 }},
	{"calibration of no scores", "member lstm: calibration", "fitted on 0 scores", func(s map[string]any) { calibratorOf(s, MemberLSTM)["n"] = 0 }},
	{"scaler short", "scaler", "median has 67 values", func(s map[string]any) {
		sc := s["scaler"].(map[string]any)
		sc["median"] = list(sc["median"])[1:]
	}},
	{"scaler zero spread", "scaler", "scale of packets_per_second is 0", func(s map[string]any) {
		list(s["scaler"].(map[string]any)["scale"])[0] = 0
	}},
	{"scaler beyond traffic", "scaler", "beyond any traffic", func(s map[string]any) {
		list(s["scaler"].(map[string]any)["median"])[1] = 1e300
	}},
	{"threshold", "threshold", "threshold 2", func(s map[string]any) { s["threshold"] = 2 }},
	{"member twice", "member hst", "stored twice", func(s map[string]any) {
		ms := list(s["members"])
		s["members"] = append(ms, ms[2])
	}},
	{"unknown member", "svm", "unknown model", func(s map[string]any) { list(s["members"])[1].(map[string]any)["name"] = "svm" }},
	{"no members", "no members", "", func(s map[string]any) { s["members"] = []any{} }},
	{"presence host counted briefly", "presence", "present in 9 of 10 windows, not a regular host", func(s map[string]any) {
		s["presence"] = presenceOf(HostPresence{Addr: lanAddr(1), Windows: 10, Present: 9})
	}},
	{"presence silences past the windows", "presence", "silences", func(s map[string]any) {
		s["presence"] = presenceOf(HostPresence{Addr: lanAddr(1), Windows: 40, Present: 30, Silent: [presenceRuns]uint32{20}})
	}},
	{"presence silences growing", "presence", "silences", func(s map[string]any) {
		s["presence"] = presenceOf(HostPresence{Addr: lanAddr(1), Windows: 40, Present: 30, Silent: [presenceRuns]uint32{2, 3}})
	}},
	{"presence host twice", "presence", "stored twice", func(s map[string]any) {
		h := HostPresence{Addr: lanAddr(1), Windows: 40, Present: 30, Silent: [presenceRuns]uint32{10, 5}}
		s["presence"] = presenceOf(h, h)
	}},
	{"presence too many hosts", "presence", "1025 hosts", func(s map[string]any) {
		hs := make([]HostPresence, maxRegulars+1)
		for i := range hs {
			hs[i] = HostPresence{Addr: [16]byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(i >> 8), byte(i)}, Windows: 40, Present: 40}
		}
		s["presence"] = presenceOf(hs...)
	}},
}

// presenceOf returns a presence baseline as JSON maps.
func presenceOf(hs ...HostPresence) any {
	b, err := json.Marshal(&Presence{Hosts: hs})
	if err != nil {
		panic(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		panic(err)
	}
	return v
}

// TestModelFileDamagedMembers loads files whose checksum is right but
// one part of a set is damaged: each must fail to load, naming the
// interface, the part and the problem, and the file must not load with
// the part left out.
func TestModelFileDamagedMembers(t *testing.T) {
	set, err := smallSet()
	if err != nil {
		t.Fatal(err)
	}
	// The forest must have split (the cases above edit split nodes) and
	// every member must have trained.
	if set.Forest == nil || len(set.Members()) != len(AllMembers) || len(set.Classes) != 4 {
		t.Fatalf("trained members %v, skipped %v, classes %v", set.Members(), set.Skipped, set.Classes)
	}
	intact, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range corruptions {
		t.Run(tc.name, func(t *testing.T) {
			s := jsonMap(t, intact)
			tc.edit(s)
			payload, err := json.Marshal(map[string]any{"eth1": s})
			if err != nil {
				t.Fatal(err)
			}
			mf, err := ReadModelFile(bytes.NewReader(filePayload(t, payload)), window10s)
			if err == nil {
				t.Fatalf("loaded; member eth1 %v", mf.Sets["eth1"].Members())
			}
			msg := err.Error()
			if !errors.Is(err, ErrCorruptModel) || !strings.Contains(msg, `interface "eth1"`) || !strings.Contains(msg, tc.part) ||
				!strings.Contains(msg, tc.want) || !strings.Contains(msg, "netanomaly_exporter train") {
				t.Errorf("got %v\nwant ErrCorruptModel naming interface \"eth1\", %q, %q and the train command", err, tc.part, tc.want)
			}
		})
	}
	t.Run("among intact sets", func(t *testing.T) {
		s := jsonMap(t, intact)
		modelOf(s, MemberHST)["depth"] = 1000
		payload, _ := json.Marshal(map[string]any{DefaultSet: json.RawMessage(intact), "eth1": s, "eth2": json.RawMessage(intact)})
		_, err := ReadModelFile(bytes.NewReader(filePayload(t, payload)), window10s)
		if !errors.Is(err, ErrCorruptModel) || !strings.Contains(err.Error(), `model set of interface "eth1": member hst: depth 1000`) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("default set", func(t *testing.T) {
		s := setMap(t, set)
		modelOf(s, MemberKMeans)["dim"] = 1000
		payload, _ := json.Marshal(map[string]any{DefaultSet: s})
		_, err := ReadModelFile(bytes.NewReader(filePayload(t, payload)), window10s)
		if !errors.Is(err, ErrCorruptModel) || !strings.Contains(err.Error(), "default model set: member kmeans: dim 1000") {
			t.Errorf("got %v", err)
		}
	})
	// JSON cannot hold NaN: a NaN weight makes the payload no JSON.
	t.Run("NaN weight", func(t *testing.T) {
		s := setMap(t, set)
		list(modelOf(s, MemberAutoencoder)["w2"])[0] = json.Number("424242.4242")
		payload, _ := json.Marshal(map[string]any{DefaultSet: s})
		payload = bytes.Replace(payload, []byte("424242.4242"), []byte("NaN"), 1)
		_, err := ReadModelFile(bytes.NewReader(filePayload(t, payload)), window10s)
		if !errors.Is(err, ErrCorruptModel) || !strings.Contains(err.Error(), "invalid character 'N'") {
			t.Errorf("got %v", err)
		}
	})
}

// TestModelFileReencoded checks that the edits above start from a file
// that loads: the set decoded to maps and encoded again, under a new
// checksum, loads and judges like the trained set.
func TestModelFileReencoded(t *testing.T) {
	set, err := smallSet()
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(map[string]any{"eth1": setMap(t, set)})
	if err != nil {
		t.Fatal(err)
	}
	mf, err := ReadModelFile(bytes.NewReader(filePayload(t, payload)), window10s)
	if err != nil {
		t.Fatal(err)
	}
	c, err := set.Clone()
	if err != nil {
		t.Fatal(err)
	}
	ws := script(21, 60)
	want := verdictsJSON(t, New(testConfig(), "eth0", c), ws)
	if got := verdictsJSON(t, New(testConfig(), "eth0", mf.Sets["eth1"]), ws); got != want {
		t.Error("the re-encoded set judges differently")
	}
	if !strings.Contains(want, `"Anomalous":true`) || !strings.Contains(want, `"forest"`) {
		t.Error("script has no anomalous window or the forest did not score")
	}
}

func TestSplitPayload(t *testing.T) {
	type kv struct{ iface, raw string }
	for _, tc := range []struct {
		name, payload string
		want          []kv
		err           string
	}{
		{"one set", `{"eth0":{"a":[1,2,{"b":"}"}]}}`, []kv{{"eth0", `{"a":[1,2,{"b":"}"}]}`}}, ""},
		{"order kept, spaces", " {\n\"b\" : {} ,\t\"\" :[ ] , \"a\":null }\n", []kv{{"b", "{}"}, {"", "[ ]"}, {"a", "null"}}, ""},
		{"escaped key and strings", `{"e\"t\u0068":"x\\","f":"\"{["}`, []kv{{`e"th`, `"x\\"`}, {"f", `"\"{["`}}, ""},
		{"numbers", `{"a":-1.5e3,"b":0}`, []kv{{"a", "-1.5e3"}, {"b", "0"}}, ""},
		{"nested keys are not sets", `{"a":{"b":{"c":1}},"d":[{"e":2}]}`, []kv{{"a", `{"b":{"c":1}}`}, {"d", `[{"e":2}]`}}, ""},
		{"set twice", `{"a":{},"b":{},"a":{}}`, nil, `model set of interface "a" stored twice`},
		{"same key escaped", `{"a":{},"\u0061":{}}`, nil, "stored twice"},
		{"empty", `{}`, nil, "no model sets"},
		{"array", `[{}]`, nil, "not a JSON object"},
		{"number", `5`, nil, "not a JSON object"},
		{"string", `"x"`, nil, "no model sets"},
		{"syntax", `{"a":{}`, nil, "payload: unexpected end of JSON input"},
		{"trailing", `{"a":{}} x`, nil, "payload: invalid character 'x'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sets, _, err := splitPayload([]byte(tc.payload))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("got %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []kv
			for _, s := range sets {
				got = append(got, kv{s.iface, string(s.raw)})
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("set %d: got %q, want %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// TestDecodeCostOfTrainedSet checks that the decoding budget leaves room
// for many interfaces' sets of the default size, trained on an hour.
func TestDecodeCostOfTrainedSet(t *testing.T) {
	b, err := json.Marshal(map[string]*ModelSet{"eth0": trainSet(t, 1)})
	if err != nil {
		t.Fatal(err)
	}
	_, cost, err := splitPayload(b)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("a set of %d KiB of JSON is estimated at %d KiB decoded: %d sets fit", len(b)>>10, cost>>10, maxDecodeCost/cost)
	if cost > maxDecodeCost/32 {
		t.Errorf("a set is estimated at %d KiB: fewer than 32 interfaces fit", cost>>10)
	}
}

// TestModelFileDecodeBudget loads payloads of small values that would
// decode to far more memory than they take: they must fail before
// decoding, without allocating more than a few times their size.
func TestModelFileDecodeBudget(t *testing.T) {
	for _, tc := range []struct {
		name, head, elem, tail string
		n                      int // elements
		decoded                int // bytes each decodes to
	}{
		// 4 Mi members of a set in 12 MiB: 80 bytes each.
		{"objects", `{"":{"members":[`, `{},`, `{}]}}`, 4 << 20, 80},
		// 32 Mi values of a centroid in 64 MiB: 8 bytes each, and
		// more while the slice grows.
		{"numbers", `{"":{"members":[{"name":"kmeans","model":{"centroids":[[`, `0,`, `0]]}}]}}`, 32 << 20, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() {
				t.Skip("builds a 64 MiB payload")
			}
			payload := slices.Concat([]byte(tc.head), bytes.Repeat([]byte(tc.elem), tc.n), []byte(tc.tail))
			file := filePayload(t, payload)
			payload = nil //nolint:ineffassign // dropped so that the GC below can free it
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := ReadModelFile(bytes.NewReader(file), window10s)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrCorruptModel) || !strings.Contains(err.Error(), "MiB a model file may take") {
				t.Fatalf("got %v", err)
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			size := uint64(len(tc.head) + len(tc.elem)*tc.n + len(tc.tail))
			t.Logf("payload %d MiB (would decode to %d MiB): allocated %d MiB", size>>20, (tc.n*tc.decoded)>>20, alloc>>20)
			if alloc > 4*size {
				t.Errorf("allocated %d MiB for a %d MiB payload", alloc>>20, size>>20)
			}
		})
	}
}
