package models

// Small dense-layer math shared by the autoencoder and the forecasters:
// input clipping, weight initialisation, affine layers and their gradients,
// and the Adam optimiser. Everything runs sequentially in a fixed order, so
// results are bit-for-bit reproducible given the seed.

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// nnClipAbs bounds every input value: scaled features of normal traffic
// sit in [-3, 3] and attacks reach tens, so nothing meaningful is lost,
// while one absurd value cannot drive a model to Inf or NaN.
const nnClipAbs = 50.0

// nnMaxWidth bounds the layer widths of a loaded network (16 by default),
// so that a damaged model file cannot make scoring slow.
const nnMaxWidth = 256

// nnClip limits x to [-nnClipAbs, nnClipAbs] and maps NaN to 0.
func nnClip(x float64) float64 {
	switch {
	case x != x:
		return 0
	case x > nnClipAbs:
		return nnClipAbs
	case x < -nnClipAbs:
		return -nnClipAbs
	}
	return x
}

// nnLoad copies row into dst clipped; a short row is padded with zeros and
// extra values are ignored, so a row of the wrong length never panics.
func nnLoad(dst, row []float64) {
	for i := range dst {
		v := 0.0
		if i < len(row) {
			v = nnClip(row[i])
		}
		dst[i] = v
	}
}

// nnRows validates a training set (non-empty, rows of one non-zero length)
// and returns its clipped copy and the dimension.
func nnRows(rows [][]float64) ([][]float64, int, error) {
	if len(rows) == 0 {
		return nil, 0, errors.New("models: no training rows")
	}
	dim := len(rows[0])
	if dim == 0 {
		return nil, 0, errors.New("models: training rows are empty")
	}
	flat := make([]float64, len(rows)*dim)
	out := make([][]float64, len(rows))
	for i, r := range rows {
		if len(r) != dim {
			return nil, 0, fmt.Errorf("models: row %d has %d values, want %d", i, len(r), dim)
		}
		o := flat[i*dim : (i+1)*dim : (i+1)*dim]
		nnLoad(o, r)
		out[i] = o
	}
	return out, dim, nil
}

// nnRand returns the generator of one model: PCG seeded by the caller's
// seed and a per-model stream constant.
func nnRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream))
}

// nnXavier fills w (an out×in matrix) with Glorot-uniform values.
func nnXavier(w []float64, in, out int, rng *rand.Rand) {
	a := math.Sqrt(6 / float64(in+out))
	for i := range w {
		w[i] = (2*rng.Float64() - 1) * a
	}
}

// nnAffine computes y = W·x + b for W stored row-major as len(y)×len(x).
// With AVX, four rows at a time share each load of x and keep four
// sums running at once (nnDotLanes4); the sums are nnDot's, to the bit.
func nnAffine(y, w, b, x []float64) {
	in := len(x)
	o := 0
	if nnSIMD && in >= 4 {
		var lanes [16]float64
		n4 := in / 4
		for ; o+4 <= len(y); o += 4 {
			rows := w[o*in : (o+4)*in : (o+4)*in]
			nnDotLanes4(&rows[0], in, &x[0], n4, &lanes)
			for r := range 4 {
				l := lanes[4*r : 4*r+4 : 4*r+4]
				y[o+r] = b[o+r] + nnDotFinish(l[0], l[1], l[2], l[3], rows[r*in:(r+1)*in], x, 4*n4)
			}
		}
	}
	for ; o < len(y); o++ {
		y[o] = b[o] + nnDot(w[o*in:(o+1)*in:(o+1)*in], x)
	}
}

// nnDot is the dot product of a and b (as long as a), summed in four
// interleaved parts: one running sum waits on each addition before the
// next, four keep the floating-point adder busy (LSTM training 1.5x
// faster, measured alternating builds). Each step takes its four as an
// array: two bounds checks a step instead of eight (training 5-8% faster,
// the same sums in the same order).
//
// Every product is rounded before it is added (the float64 conversions):
// compilers for arm64, ppc64 and riscv64 would fuse the two into one
// multiply-add, rounded once, and the models would differ from amd64's.
func nnDot(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		x, y := (*[4]float64)(a[i:i+4]), (*[4]float64)(b[i:i+4])
		s0 += float64(x[0] * y[0])
		s1 += float64(x[1] * y[1])
		s2 += float64(x[2] * y[2])
		s3 += float64(x[3] * y[3])
	}
	return nnDotFinish(s0, s1, s2, s3, a, b, i)
}

// nnDotFinish adds the elements of a·b from i on to the first of the four
// running sums and returns their total.
func nnDotFinish(s0, s1, s2, s3 float64, a, b []float64, i int) float64 {
	for ; i < len(a); i++ {
		s0 += float64(a[i] * b[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// nnAffineBack accumulates the gradients of y = W·x + b given dy: dW += dy
// ⊗ x and db += dy; when dx is non-nil it is overwritten with Wᵀ·dy.
func nnAffineBack(dx, dw, db, w, x, dy []float64) {
	in := len(x)
	for o, g := range dy {
		db[o] += g
	}
	nnAxpyRows(dw, in, x, 0, dy, in)
	if dx != nil {
		clear(dx)
		nnAxpyRows(dx, 0, w, in, dy, in)
	}
}

// nnAxpyRows adds a[r]·(src row r) to dst row r for every r with a[r] ≠ 0,
// over n elements, the rows dstStride and srcStride elements apart (0:
// the same row every time, so that dst gathers Σ a[r]·src_r in order of
// r). Each element gets the updates nnAxpy would give it row by row; with
// AVX all rows go in one call, where the gradient loops of training made
// one call per row of 16 to 84 elements.
func nnAxpyRows(dst []float64, dstStride int, src []float64, srcStride int, a []float64, n int) {
	rows := len(a)
	if rows == 0 || n == 0 {
		return
	}
	_, _ = dst[(rows-1)*dstStride+n-1], src[(rows-1)*srcStride+n-1] // bounds, before any write
	i := 0
	if nnSIMD && n >= 4 {
		i = n &^ 3
		nnAxpyRowsAVX(&dst[0], dstStride, &src[0], srcStride, &a[0], rows, i)
	}
	if i == n {
		return
	}
	for r, g := range a {
		if g == 0 {
			continue
		}
		d, s := dst[r*dstStride+i:r*dstStride+n], src[r*srcStride+i:r*srcStride+n]
		nnAxpy(d, s, g)
	}
}

// nnAxpy adds a*x to y, element by element (len(y) >= len(x)): the
// gradient loops of training, most of its time. Four elements a step (with
// AVX, eight), each updated by the one multiply and the one add the plain
// loop does, so the results are the same to the bit; the steps are
// independent, where a loop of one element a step waits on its bounds
// check and index.
func nnAxpy(y, x []float64, a float64) {
	y = y[:len(x)]
	i := 0
	if nnSIMD && len(x) >= 4 && a != 0 { // the kernel skips a row of a 0
		i = len(x) &^ 3
		nnAxpyRowsAVX(&y[0], 0, &x[0], 0, &a, 1, i)
	}
	for ; i+4 <= len(x); i += 4 {
		xs, ys := x[i:i+4:i+4], y[i:i+4:i+4]
		ys[0] += float64(a * xs[0])
		ys[1] += float64(a * xs[1])
		ys[2] += float64(a * xs[2])
		ys[3] += float64(a * xs[3])
	}
	for ; i < len(x); i++ {
		y[i] += float64(a * x[i])
	}
}

// nnSplit carves consecutive slices of the given lengths out of one
// backing array, so that the optimiser sees every parameter as one vector.
func nnSplit(buf []float64, sizes ...int) [][]float64 {
	out := make([][]float64, len(sizes))
	off := 0
	for i, n := range sizes {
		out[i] = buf[off : off+n : off+n]
		off += n
	}
	return out
}

// nnAdam is the Adam optimiser over one flat parameter vector. Its moments
// live only during Fit; a fitted model keeps just the weights.
type nnAdam struct {
	lr, b1, b2, eps float64
	maxNorm         float64 // clip the gradient to this L2 norm (0: off)
	t               int
	m, v            []float64
}

func nnNewAdam(n int, lr, maxNorm float64) *nnAdam {
	return &nnAdam{lr: lr, b1: 0.9, b2: 0.999, eps: 1e-8, maxNorm: maxNorm,
		m: make([]float64, n), v: make([]float64, n)}
}

// step applies one update of p with gradient g (which it may rescale).
// A non-finite gradient skips the step, so a model cannot be poisoned.
func (a *nnAdam) step(p, g []float64) {
	ss := 0.0
	for _, x := range g {
		ss += x * x
	}
	if math.IsNaN(ss) || math.IsInf(ss, 0) {
		return
	}
	scale := 1.0
	if a.maxNorm > 0 {
		if n := math.Sqrt(ss); n > a.maxNorm {
			scale = a.maxNorm / n
		}
	}
	a.t++
	c1 := 1 - math.Pow(a.b1, float64(a.t))
	c2 := 1 - math.Pow(a.b2, float64(a.t))
	lr := a.lr * math.Sqrt(c2) / c1
	for i, gi := range g {
		gi *= scale
		m := a.b1*a.m[i] + (1-a.b1)*gi
		v := a.b2*a.v[i] + (1-a.b2)*gi*gi
		a.m[i], a.v[i] = m, v
		p[i] -= lr * m / (math.Sqrt(v) + a.eps)
	}
}

// nnSigmoid is the logistic function, safe for any finite input.
func nnSigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// nnMSE returns the mean squared difference of a and b (equal lengths),
// or 0 for empty inputs; the result is finite for finite inputs.
func nnMSE(a, b []float64) float64 {
	if len(a) == 0 {
		return 0
	}
	s := 0.0
	for i, x := range a {
		d := x - b[i]
		s += d * d
	}
	return s / float64(len(a))
}

// nnFinite replaces a non-finite score by the largest float64, so a
// caller never sees NaN (which would poison calibration) or Inf.
func nnFinite(x float64) float64 {
	if x != x || x > math.MaxFloat64 {
		return math.MaxFloat64
	}
	return x
}

// nnPlateau tracks an epoch loss for early stopping: stop reports true
// once the loss has not improved by a relative tol for patience epochs.
type nnPlateau struct {
	best     float64
	since    int
	patience int
	tol      float64
}

func nnNewPlateau(patience int, tol float64) *nnPlateau {
	return &nnPlateau{best: math.Inf(1), patience: patience, tol: tol}
}

func (p *nnPlateau) stop(loss float64) bool {
	if loss < p.best*(1-p.tol) || math.IsInf(p.best, 1) {
		p.best, p.since = loss, 0
		return false
	}
	p.since++
	return p.since >= p.patience
}
