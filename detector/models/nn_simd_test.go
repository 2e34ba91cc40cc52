package models

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The AVX kernels must give the scalar code's results to the bit: trained
// models, and so verdicts, are the same on amd64 machines with and without
// them (and the scalar code rounds every product, as they do).
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

		// Rows of gradients: dst rows apart and one src row (dW += a ⊗ x),
		// and one dst row gathering src rows (dx = Wᵀ·a); some of a is 0,
		// which adds nothing, or NaN, which is not 0.
		rows := rng.IntN(9)
		coef := make([]float64, rows)
		for r := range coef {
			switch rng.IntN(6) {
			case 0:
				coef[r] = 0
			case 1:
				coef[r] = math.NaN()
			default:
				coef[r] = value()
			}
		}
		for _, layout := range [][2]int{{in + 1, 0}, {0, in + 2}} {
			ds, ss := layout[0], layout[1]
			dst := fill(max(rows-1, 0)*ds + in)
			src := fill(max(rows-1, 0)*ss + in)
			want, got := append([]float64(nil), dst...), append([]float64(nil), dst...)
			nnSIMD = false
			nnAxpyRows(want, ds, src, ss, coef, in)
			nnSIMD = true
			nnAxpyRows(got, ds, src, ss, coef, in)
			for i := range want {
				if !same(got[i], want[i]) {
					t.Fatalf("trial %d: nnAxpyRows %d rows of %d, strides %d and %d, element %d: AVX %v, scalar %v", trial, rows, in, ds, ss, i, got[i], want[i])
				}
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
