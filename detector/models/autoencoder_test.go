package models

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// nnNormalRows returns n rows of dim scaled features of "normal traffic":
// five latent factors mixed into every dimension plus independent noise, so
// that dimensions are correlated; values lie mostly in [-3, 3]. The same
// seed gives the same mixing, so calls with different draw seeds sample
// one distribution.
func nnNormalRows(n, dim int, mixSeed, drawSeed uint64) [][]float64 {
	const factors = 5
	mix := rand.New(rand.NewPCG(mixSeed, 11))
	load := make([]float64, dim*factors)
	for i := range load {
		load[i] = mix.NormFloat64() * 0.5
	}
	rng := rand.New(rand.NewPCG(drawSeed, 12))
	f := make([]float64, factors)
	rows := make([][]float64, n)
	for i := range rows {
		for k := range f {
			f[k] = rng.NormFloat64()
		}
		r := make([]float64, dim)
		for j := range r {
			v := 0.3 * rng.NormFloat64()
			for k, fk := range f {
				v += load[j*factors+k] * fk
			}
			r[j] = v
		}
		rows[i] = r
	}
	return rows
}

// nnBits returns the IEEE bits of xs, for exact comparisons.
func nnBits(xs []float64) []uint64 {
	b := make([]uint64, len(xs))
	for i, x := range xs {
		b[i] = math.Float64bits(x)
	}
	return b
}

// nnOddRows are inputs no model may answer with NaN or Inf.
func nnOddRows(dim int) [][]float64 {
	inf := make([]float64, dim)
	nan := make([]float64, dim)
	huge := make([]float64, dim)
	for j := range inf {
		inf[j] = math.Inf(1 - 2*(j%2))
		nan[j] = math.NaN()
		huge[j] = 1e300
	}
	return [][]float64{inf, nan, huge, make([]float64, dim), nil, make([]float64, dim+3)}
}

func aeScores(m Model, rows [][]float64) []float64 {
	s := make([]float64, len(rows))
	for i, r := range rows {
		s[i] = m.Score(r)
	}
	return s
}

func TestAutoencoderDetectsOutliers(t *testing.T) {
	const dim = 45
	train := nnNormalRows(360, dim, 1, 2)
	held := nnNormalRows(1000, dim, 1, 3)
	m := NewAutoencoder(16, 6)
	if err := m.Fit(train, 42); err != nil {
		t.Fatal(err)
	}
	ts := aeScores(m, train)
	p99, tmax := lstmQuantile(ts, 0.99), slices.Max(ts)
	t.Logf("epochs %d, train loss %.4f, train p99 %.4f max %.4f", m.EpochsRun, m.TrainLoss, p99, tmax)

	below := 0
	for _, s := range aeScores(m, held) {
		if s <= tmax {
			below++
		}
	}
	if frac := float64(below) / float64(len(held)); frac < 0.95 {
		t.Errorf("%.3f of held-out normal rows score below the training max, want >= 0.95", frac)
	} else {
		t.Logf("%.3f of held-out normal rows below the training max", frac)
	}

	// Attack-like rows: a few dimensions shifted far out (5 to 50), and
	// rows that keep every value in range but break the correlations.
	rng := rand.New(rand.NewPCG(9, 9))
	var odd [][]float64
	for i, r := range held[:100] {
		x := slices.Clone(r)
		if i%2 == 0 {
			for _, j := range rng.Perm(dim)[:1+rng.IntN(4)] {
				x[j] += 5 + 45*rng.Float64()
			}
		} else {
			// Replace 10 dimensions by independent draws of the same scale.
			for _, j := range rng.Perm(dim)[:10] {
				x[j] = 2.5 * rng.NormFloat64()
			}
		}
		odd = append(odd, x)
	}
	missed := 0
	for i, s := range aeScores(m, odd) {
		if s <= p99 {
			missed++
			t.Logf("outlier %d (kind %d) scored %.4f <= p99 %.4f", i, i%2, s, p99)
		}
	}
	if missed > 0 {
		t.Errorf("%d of %d outlier rows scored at or below the training p99", missed, len(odd))
	}
}

func TestAutoencoderDeterministicAndJSON(t *testing.T) {
	train := nnNormalRows(200, 45, 1, 2)
	a, b := NewAutoencoder(0, 0), NewAutoencoder(0, 0)
	if err := a.Fit(train, 7); err != nil {
		t.Fatal(err)
	}
	if err := b.Fit(train, 7); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(nnBits(a.W1), nnBits(b.W1)) || !reflect.DeepEqual(nnBits(a.B4), nnBits(b.B4)) ||
		a.EpochsRun != b.EpochsRun {
		t.Fatal("two fits with one seed differ")
	}
	c := NewAutoencoder(0, 0)
	if err := c.Fit(train, 8); err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(nnBits(a.W1), nnBits(c.W1)) {
		t.Error("fits with different seeds are identical")
	}

	js, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var d Autoencoder
	if err := json.Unmarshal(js, &d); err != nil {
		t.Fatal(err)
	}
	rows := append(nnNormalRows(50, 45, 1, 5), nnOddRows(45)...)
	if !reflect.DeepEqual(nnBits(aeScores(a, rows)), nnBits(aeScores(&d, rows))) {
		t.Error("scores differ after a JSON round trip")
	}
	js2, _ := json.Marshal(&d)
	if string(js) != string(js2) {
		t.Error("JSON differs after a round trip")
	}
	t.Logf("JSON size %d bytes", len(js))
}

func TestAutoencoderErrorsAndOddInputs(t *testing.T) {
	m := NewAutoencoder(16, 6)
	for name, rows := range map[string][][]float64{
		"nil":    nil,
		"empty":  {},
		"no dim": {{}, {}},
		"ragged": {{1, 2}, {1}},
	} {
		if err := m.Fit(rows, 1); err == nil {
			t.Errorf("Fit(%s) returned no error", name)
		}
	}
	if s := NewAutoencoder(0, 0).Score([]float64{1, 2}); s != 0 {
		t.Errorf("unfitted model scored %v", s)
	}
	// Constant training rows, then rows containing NaN, ±Inf and huge
	// values, for training and scoring.
	for _, v := range []float64{0, 1.5} {
		rows := make([][]float64, 100)
		for i := range rows {
			rows[i] = slices.Repeat([]float64{v}, 45)
		}
		rows = append(rows, nnOddRows(45)[:3]...)
		if err := m.Fit(rows, 1); err != nil {
			t.Fatal(err)
		}
		for i, r := range append(rows, nnOddRows(45)...) {
			if s := m.Score(r); math.IsNaN(s) || math.IsInf(s, 0) || s < 0 {
				t.Fatalf("constant %v: row %d scored %v", v, i, s)
			}
		}
	}
}

func BenchmarkAutoencoderFit360(b *testing.B) {
	rows := nnNormalRows(360, 45, 1, 2)
	b.ReportAllocs()
	for b.Loop() {
		if err := NewAutoencoder(16, 6).Fit(rows, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAutoencoderScore(b *testing.B) {
	rows := nnNormalRows(360, 45, 1, 2)
	m := NewAutoencoder(16, 6)
	if err := m.Fit(rows, 1); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m.Score(rows[i%len(rows)])
		i++
	}
	js, _ := json.Marshal(m)
	b.ReportMetric(float64(len(js)), "json-bytes")
}
