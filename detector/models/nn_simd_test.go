package models

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The AVX kernels must give the scalar code's results to the bit: trained
// models, and so verdicts, are reproducible across machines with and
// without them.
func TestNNKernelsMatchScalar(t *testing.T) {
	if !nnSIMD {
		t.Skip("no AVX here: the scalar code is the only path")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	value := func() float64 {
		switch rng.IntN(40) {
		case 0:
			return 0
		case 1:
			return math.Copysign(0, -1)
		case 2:
			return 5e-324 // subnormal
		case 3:
			return math.Inf(1)
		case 4:
			return -1e300
		}
		return rng.NormFloat64() * math.Pow(10, float64(rng.IntN(12)-6))
	}
	fill := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = value()
		}
		return v
	}
	same := func(a, b float64) bool {
		return math.Float64bits(a) == math.Float64bits(b) || math.IsNaN(a) && math.IsNaN(b)
	}
	defer func(on bool) { nnSIMD = on }(nnSIMD)
	for trial := range 2000 {
		in, out := rng.IntN(90), rng.IntN(70)
		w, x, b := fill(in*out), fill(in), fill(out)
		nnSIMD = false
		want := make([]float64, out)
		nnAffine(want, w, b, x)
		nnSIMD = true
		got := make([]float64, out)
		nnAffine(got, w, b, x)
		for o := range want {
			if !same(got[o], want[o]) {
				t.Fatalf("trial %d: nnAffine %d×%d row %d: AVX %v, scalar %v", trial, out, in, o, got[o], want[o])
			}
		}

		// y carries a little slack past x, as a gradient row does.
		y0, a := fill(in+rng.IntN(3)), value()
		want, got = append([]float64(nil), y0...), append([]float64(nil), y0...)
		nnSIMD = false
		nnAxpy(want, x, a)
		nnSIMD = true
		nnAxpy(got, x, a)
		for i := range want {
			if !same(got[i], want[i]) {
				t.Fatalf("trial %d: nnAxpy n=%d element %d: AVX %v, scalar %v", trial, in, i, got[i], want[i])
			}
		}
	}
}
