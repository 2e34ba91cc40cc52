package models

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// rfData returns labelled rows: normal traffic (class 0, from
// nnNormalRows) and three attack classes, each normal rows shifted in its
// own dimensions (class 1: dims 0-2 by +6; class 2: dims 10-11 by +8;
// class 3: dims 20-24 by -4 and dim 30 by +5).
func rfData(normal, perAttack int, drawSeed uint64) ([][]float64, []int) {
	const dim = 45
	rows := nnNormalRows(normal+3*perAttack, dim, 1, drawSeed)
	labels := make([]int, len(rows))
	for i := normal; i < len(rows); i++ {
		c := 1 + (i-normal)/perAttack
		labels[i] = c
		r := rows[i]
		switch c {
		case 1:
			r[0] += 6
			r[1] += 6
			r[2] += 6
		case 2:
			r[10] += 8
			r[11] += 8
		case 3:
			for j := 20; j < 25; j++ {
				r[j] -= 4
			}
			r[30] += 5
		}
	}
	return rows, labels
}

func rfArgmax(p []float64) int {
	best := 0
	for c, v := range p {
		if v > p[best] {
			best = c
		}
	}
	return best
}

// rfCheckProbs fails unless p has classes finite entries in [0, 1]
// summing to 1.
func rfCheckProbs(t *testing.T, p []float64, classes int) {
	t.Helper()
	if len(p) != classes {
		t.Fatalf("got %d probabilities, want %d", len(p), classes)
	}
	s := 0.0
	for _, v := range p {
		if !(v >= 0 && v <= 1) {
			t.Fatalf("probability %v outside [0, 1]: %v", v, p)
		}
		s += v
	}
	if math.Abs(s-1) > 1e-9 {
		t.Fatalf("probabilities sum to %v: %v", s, p)
	}
}

// rfAccuracy returns the held-out accuracy, checking every distribution.
func rfAccuracy(t *testing.T, f *RandomForest, rows [][]float64, labels []int) float64 {
	t.Helper()
	ok := 0
	var p []float64
	for i, r := range rows {
		p = f.Predict(r, p[:0])
		rfCheckProbs(t, p, f.Classes)
		if rfArgmax(p) == labels[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(rows))
}

func TestRandomForestSeparable(t *testing.T) {
	train, tl := rfData(300, 40, 2)
	test, sl := rfData(600, 100, 3)
	f := NewRandomForest(0, 0, 0)
	if err := f.Fit(train, tl, 4, 1); err != nil {
		t.Fatal(err)
	}
	acc := rfAccuracy(t, f, test, sl)
	t.Logf("held-out accuracy %.4f, %d nodes", acc, len(f.Feature))
	if acc < 0.95 {
		t.Errorf("held-out accuracy %.4f < 0.95", acc)
	}
	// Predict appends to dst.
	p := f.Predict(test[0], []float64{7})
	if len(p) != 5 || p[0] != 7 {
		t.Errorf("Predict did not append: %v", p)
	}
}

func TestRandomForestLabelNoise(t *testing.T) {
	train, tl := rfData(300, 40, 2)
	test, sl := rfData(600, 100, 3)
	rng := rand.New(rand.NewPCG(5, 5))
	flipped := 0
	for i := range tl {
		if rng.Float64() < 0.15 {
			tl[i] = (tl[i] + 1 + rng.IntN(3)) % 4
			flipped++
		}
	}
	f := NewRandomForest(0, 0, 0)
	if err := f.Fit(train, tl, 4, 1); err != nil {
		t.Fatal(err)
	}
	acc := rfAccuracy(t, f, test, sl)
	t.Logf("%d of %d labels flipped: held-out accuracy %.4f, %d nodes", flipped, len(tl), acc, len(f.Feature))
	if acc < 0.9 {
		t.Errorf("held-out accuracy %.4f < 0.9 with label noise", acc)
	}
}

func TestRandomForestDeterministicAndJSON(t *testing.T) {
	train, tl := rfData(300, 20, 2)
	a, b, c := NewRandomForest(30, 0, 0), NewRandomForest(30, 0, 0), NewRandomForest(30, 0, 0)
	for _, x := range []struct {
		f    *RandomForest
		seed uint64
	}{{a, 1}, {b, 1}, {c, 2}} {
		if err := x.f.Fit(train, tl, 4, x.seed); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two fits with one seed differ")
	}
	if reflect.DeepEqual(a, c) {
		t.Error("fits with different seeds are identical")
	}
	js, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var d RandomForest
	if err := json.Unmarshal(js, &d); err != nil {
		t.Fatal(err)
	}
	test, _ := rfData(100, 20, 3)
	test = append(test, nnOddRows(45)...)
	var pa, pd []float64
	for _, r := range test {
		pa = a.Predict(r, pa)
		pd = d.Predict(r, pd)
	}
	if !reflect.DeepEqual(nnBits(pa), nnBits(pd)) {
		t.Error("predictions differ after a JSON round trip")
	}
	js2, _ := json.Marshal(&d)
	if string(js) != string(js2) {
		t.Error("JSON differs after a round trip")
	}
	t.Logf("30 trees: JSON size %d bytes", len(js))
}

func TestRandomForestErrors(t *testing.T) {
	f := NewRandomForest(5, 0, 0)
	rows := [][]float64{{1, 2}, {3, 4}}
	for name, c := range map[string]struct {
		rows    [][]float64
		labels  []int
		classes int
	}{
		"no rows":        {nil, nil, 2},
		"empty rows":     {[][]float64{{}, {}}, []int{0, 1}, 2},
		"ragged":         {[][]float64{{1, 2}, {1}}, []int{0, 1}, 2},
		"label count":    {rows, []int{0}, 2},
		"label too big":  {rows, []int{0, 2}, 2},
		"negative label": {rows, []int{0, -1}, 2},
		"no classes":     {rows, []int{0, 0}, 0},
	} {
		if err := f.Fit(c.rows, c.labels, c.classes, 1); err == nil {
			t.Errorf("Fit(%s) returned no error", name)
		}
	}
	if p := NewRandomForest(0, 0, 0).Predict([]float64{1}, nil); len(p) != 0 {
		t.Errorf("unfitted forest predicted %v", p)
	}
}

func TestRandomForestDegenerate(t *testing.T) {
	const dim = 45
	// One class present out of three: every prediction is certain.
	rows := nnNormalRows(50, dim, 1, 2)
	labels := make([]int, len(rows))
	f := NewRandomForest(10, 0, 0)
	if err := f.Fit(rows, labels, 3, 1); err != nil {
		t.Fatal(err)
	}
	if p := f.Predict(rows[0], nil); !reflect.DeepEqual(p, []float64{1, 0, 0}) {
		t.Errorf("single class: got %v", p)
	}
	if len(f.Feature) != 10 {
		t.Errorf("single class: %d nodes for 10 trees, want 10 leaves", len(f.Feature))
	}

	// A class with one example is missing from most bootstrap samples.
	labels[7] = 2
	if err := f.Fit(rows, labels, 3, 1); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		rfCheckProbs(t, f.Predict(r, nil), 3)
	}

	// Constant features: only feature 37 varies, and it separates the
	// classes; the split search must find it behind the constant ones.
	cons := make([][]float64, 80)
	cl := make([]int, len(cons))
	for i := range cons {
		r := slices.Repeat([]float64{1.5}, dim)
		cl[i] = i % 2
		r[37] = float64(cl[i]*10) + float64(i%7)*0.1
		cons[i] = r
	}
	if err := f.Fit(cons, cl, 2, 1); err != nil {
		t.Fatal(err)
	}
	for i, r := range cons {
		if p := f.Predict(r, nil); rfArgmax(p) != cl[i] || p[cl[i]] != 1 {
			t.Fatalf("constant features: row %d predicted %v, want class %d", i, p, cl[i])
		}
	}

	// All features constant: no split, each tree a leaf of the bootstrap's
	// class frequencies; odd inputs never produce NaN.
	for i := range cons {
		cons[i][37] = 1.5
	}
	if err := f.Fit(cons, cl, 2, 1); err != nil {
		t.Fatal(err)
	}
	if len(f.Feature) != 10 {
		t.Errorf("all constant: %d nodes for 10 trees", len(f.Feature))
	}
	for _, r := range append(cons[:1], nnOddRows(dim)...) {
		p := f.Predict(r, nil)
		rfCheckProbs(t, p, 2)
		if math.Abs(p[0]-0.5) > 0.2 {
			t.Errorf("all constant: got %v, want about even", p)
		}
	}
}

// rfBenchData is 360 labelled rows of 45 features: 300 normal, 20 of each
// attack class.
func rfBenchData() ([][]float64, []int) { return rfData(300, 20, 2) }

func BenchmarkRandomForestFit360(b *testing.B) {
	rows, labels := rfBenchData()
	b.ReportAllocs()
	for b.Loop() {
		if err := NewRandomForest(0, 0, 0).Fit(rows, labels, 4, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRandomForestFit5000Noisy is the worst case for size: 5000 rows
// with 15% of labels flipped make deep trees.
func BenchmarkRandomForestFit5000Noisy(b *testing.B) {
	rows, labels := rfData(4400, 200, 2)
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range labels {
		if rng.Float64() < 0.15 {
			labels[i] = (labels[i] + 1 + rng.IntN(3)) % 4
		}
	}
	b.ReportAllocs()
	var f *RandomForest
	for b.Loop() {
		f = NewRandomForest(0, 0, 0)
		if err := f.Fit(rows, labels, 4, 1); err != nil {
			b.Fatal(err)
		}
	}
	js, _ := json.Marshal(f)
	b.ReportMetric(float64(len(f.Feature)), "nodes")
	b.ReportMetric(float64(len(f.Feature)*16+len(f.Prob)*8), "model-bytes")
	b.ReportMetric(float64(len(js)), "json-bytes")
}

func BenchmarkRandomForestPredict(b *testing.B) {
	rows, labels := rfBenchData()
	f := NewRandomForest(0, 0, 0)
	if err := f.Fit(rows, labels, 4, 1); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var p []float64
	i := 0
	for b.Loop() {
		p = f.Predict(rows[i%len(rows)], p[:0])
		i++
	}
	js, _ := json.Marshal(f)
	b.ReportMetric(float64(len(js)), "json-bytes")
	b.ReportMetric(float64(len(f.Feature)), "nodes")
}
