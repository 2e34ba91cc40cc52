package detector

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestCalibratorShape(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 1000
	raw := make([]float64, n)
	for i := range raw {
		raw[i] = r.ExpFloat64() // skewed like an anomaly score
	}
	c := FitCalibrator(raw)
	sorted := slices.Clone(raw)
	slices.Sort(sorted)
	mx, med := sorted[n-1], (sorted[n/2-1]+sorted[n/2])/2

	if c.N != n || len(c.Quantiles) != calibrationPoints || c.Tail <= 0 {
		t.Fatalf("calibrator N %d, %d quantiles, tail %g", c.N, len(c.Quantiles), c.Tail)
	}
	// Monotone non-decreasing over and beyond the training range, and
	// within [0, 1].
	prev := -1.0
	for x := -1.0; x < mx+30*c.Tail; x += mx / 5000 {
		s := c.Score(x)
		if s < prev {
			t.Fatalf("Score(%g) = %g < Score of a smaller raw score %g", x, s, prev)
		}
		if s < 0 || s > 1 || math.IsNaN(s) {
			t.Fatalf("Score(%g) = %g, outside [0,1]", x, s)
		}
		prev = s
	}
	for _, x := range raw { // exactly at the training points too
		if s := c.Score(x); s < 0 || s > 1 {
			t.Fatalf("Score(%g) = %g", x, s)
		}
	}
	if s := c.Score(med); math.Abs(s-0.5) > 0.01 {
		t.Errorf("Score(training median) = %g, want about 0.5", s)
	}
	top := 1 - 1/float64(n+1)
	if s := c.Score(mx); math.Abs(s-top) > 1e-12 {
		t.Errorf("Score(training max) = %.15g, want 1-1/(n+1) = %.15g", s, top)
	}
	if s := c.Score(sorted[0]); s != 0 {
		t.Errorf("Score(training min) = %g, want 0", s)
	}
	if s := c.Score(-100); s != 0 {
		t.Errorf("Score(below min) = %g, want 0", s)
	}
	// Beyond the maximum: rising towards 1, never reaching it at any
	// plausible distance.
	s1, s2, s3 := c.Score(mx+c.Tail), c.Score(mx+5*c.Tail), c.Score(mx+20*c.Tail)
	if !(top < s1 && s1 < s2 && s2 < s3 && s3 < 1) {
		t.Errorf("beyond max: %g, %g, %g (top %g), want strictly rising below 1", s1, s2, s3, top)
	}
	if s := c.Score(mx + c.Tail*math.Ln2); math.Abs((1-s)-(1-top)/2) > 1e-12 {
		t.Errorf("one tail half-life beyond max: 1-score %g, want %g", 1-s, (1-top)/2)
	}
	if s := c.Score(math.Inf(1)); s != 1 {
		t.Errorf("Score(+Inf) = %g, want 1", s)
	}
	if s := c.Score(math.NaN()); s != 0 {
		t.Errorf("Score(NaN) = %g, want 0", s)
	}
}

func TestCalibratorSmallAndTied(t *testing.T) {
	for _, raw := range [][]float64{
		{1, 2},
		{5, 1, 3},
		{0, 0, 0, 0, 0, 0, 0, 1, 2, 3}, // a member scoring many windows zero
		{1, 2, 3, 3, 3, 3, 3, 3, 3, 3}, // ties at the top
	} {
		c := FitCalibrator(raw)
		mx := slices.Max(raw)
		top := 1 - 1/float64(len(raw)+1)
		prev := -1.0
		for x := -1.0; x <= mx+20*c.Tail; x += 0.01 {
			s := c.Score(x)
			if s < prev || s < 0 || s >= 1 || math.IsNaN(s) {
				t.Fatalf("%v: Score(%g) = %g after %g", raw, x, s, prev)
			}
			prev = s
		}
		if s := c.Score(mx); len(raw) > 1 && math.Abs(s-top) > 1e-12 {
			t.Errorf("%v: Score(max) = %g, want %g", raw, s, top)
		}
	}
}

func TestCalibratorConstantScores(t *testing.T) {
	for _, v := range []float64{0, 2.5, -1, 1e6, 3} {
		raw := make([]float64, 360)
		if v == 3 {
			raw = raw[:1] // a single training score is constant too
		}
		for i := range raw {
			raw[i] = v
		}
		c := FitCalibrator(raw)
		if c.Tail <= 0 || math.IsNaN(c.Tail) || math.IsInf(c.Tail, 0) {
			t.Fatalf("constant %g: tail %g", v, c.Tail)
		}
		prev := -1.0
		for _, x := range []float64{v - 1, v, v + 1e-12*math.Max(1, math.Abs(v)), v + 1, v + 1e9} {
			s := c.Score(x)
			if math.IsNaN(s) || s < 0 || s > 1 || s < prev {
				t.Errorf("constant %g: Score(%g) = %g (previous %g)", v, x, s, prev)
			}
			prev = s
		}
	}
	// No training scores at all, or an empty calibrator: no NaN either.
	for _, c := range []Calibrator{FitCalibrator(nil), {}} {
		for _, x := range []float64{-1, 0, 1, math.NaN()} {
			if s := c.Score(x); math.IsNaN(s) || s < 0 || s > 1 {
				t.Errorf("%+v: Score(%g) = %g", c, x, s)
			}
		}
	}
}

func TestEnsembleThreshold(t *testing.T) {
	// Members that agree: the average's 0.999 quantile is the top.
	n := 360
	top := 1 - 1/float64(n+1)
	agree := make([]float64, n)
	for i := range agree {
		agree[i] = float64(i+1) / float64(n+1)
	}
	if th := ensembleThreshold(agree, 0.001); th < top || th >= 1 {
		t.Errorf("threshold %g, want in [%g, 1)", th, top)
	}
	// Members that disagree on which windows are extreme: the average
	// never gets near 1, yet the threshold must still ask a window to be
	// beyond what the members saw in training.
	disagree := make([]float64, n)
	for i := range disagree {
		disagree[i] = 0.5 + 0.45*float64(i)/float64(n-1) // max 0.95
	}
	if th, want := ensembleThreshold(disagree, 0.001), top+(1-top)/2; math.Abs(th-want) > 1e-12 {
		t.Errorf("threshold of disagreeing members %g, want %g", th, want)
	}
	// A contaminated training set: the quantile rule still applies above
	// the floor.
	if th := ensembleThreshold([]float64{0.999, 0.9995, 0.9999, 0.99995}, 0.5); th <= 1-1/5.0 || th >= 1 {
		t.Errorf("threshold %g", th)
	}
}
