package models

import (
	"errors"
	"fmt"
	"math"
)

// Autoencoder is a small multilayer perceptron trained to reproduce its
// input through a narrow code layer: dim → Hidden (tanh) → Code (linear) →
// Hidden (tanh) → dim (linear). It learns the correlations of normal rows;
// a row that breaks them, or that leaves the range seen in training, is
// reconstructed poorly. The raw score is the row's reconstruction mean
// squared error.
//
// Training is mini-batch Adam on the mean squared error for up to Epochs
// epochs, stopping early when the epoch loss plateaus, and never more than
// aeMaxPasses row passes in all (so large training sets get fewer epochs).
// The weights are Glorot-uniform initialised from the seed and the rows are
// shuffled from it, so Fit is deterministic.
type Autoencoder struct {
	Hidden       int     `json:"hidden"`
	Code         int     `json:"code"`
	Epochs       int     `json:"epochs"`
	Batch        int     `json:"batch"`
	LearningRate float64 `json:"learning_rate"`
	// WeightDecay is an L2 penalty on the weights (not the biases).
	WeightDecay float64 `json:"weight_decay"`

	// Fitted state. Matrices are row-major out×in.
	Dim       int       `json:"dim"`
	EpochsRun int       `json:"epochs_run"`
	TrainLoss float64   `json:"train_loss"`
	W1        []float64 `json:"w1"` // Hidden × Dim
	B1        []float64 `json:"b1"`
	W2        []float64 `json:"w2"` // Code × Hidden
	B2        []float64 `json:"b2"`
	W3        []float64 `json:"w3"` // Hidden × Code
	B3        []float64 `json:"b3"`
	W4        []float64 `json:"w4"` // Dim × Hidden
	B4        []float64 `json:"b4"`
}

// aeMaxPasses bounds the training work (rows × epochs): 100 epochs of up
// to 2000 rows fit under it, 5000 rows get 40 epochs.
const aeMaxPasses = 200_000

const aeStream = 0x61652d6e65746e6e // "ae-netnn"

// NewAutoencoder returns an untrained autoencoder with the given hidden and
// code widths (16 and 6 when zero or negative).
func NewAutoencoder(hidden, code int) *Autoencoder {
	if hidden <= 0 {
		hidden = 16
	}
	if code <= 0 {
		code = 6
	}
	return &Autoencoder{Hidden: hidden, Code: code, Epochs: 100, Batch: 32,
		LearningRate: 3e-3, WeightDecay: 1e-4}
}

// Name implements Model.
func (a *Autoencoder) Name() string { return "autoencoder" }

// aeAct holds one row's activations.
type aeAct struct {
	x, h1, z, h2, y []float64
}

func (a *Autoencoder) newAct() *aeAct {
	p := nnSplit(make([]float64, 2*a.Dim+2*a.Hidden+a.Code), a.Dim, a.Hidden, a.Code, a.Hidden, a.Dim)
	return &aeAct{x: p[0], h1: p[1], z: p[2], h2: p[3], y: p[4]}
}

// forward fills s.h1..s.y from s.x.
func (a *Autoencoder) forward(s *aeAct) {
	nnAffine(s.h1, a.W1, a.B1, s.x)
	for i, v := range s.h1 {
		s.h1[i] = math.Tanh(v)
	}
	nnAffine(s.z, a.W2, a.B2, s.h1)
	nnAffine(s.h2, a.W3, a.B3, s.z)
	for i, v := range s.h2 {
		s.h2[i] = math.Tanh(v)
	}
	nnAffine(s.y, a.W4, a.B4, s.h2)
}

// Fit implements Model.
func (a *Autoencoder) Fit(rows [][]float64, seed uint64) error {
	data, dim, err := nnRows(rows)
	if err != nil {
		return err
	}
	if a.Hidden <= 0 || a.Code <= 0 {
		return errors.New("models: autoencoder needs positive hidden and code widths")
	}
	epochs, batch, lr := a.Epochs, a.Batch, a.LearningRate
	if epochs <= 0 {
		epochs = 100
	}
	if batch <= 0 {
		batch = 32
	}
	if lr <= 0 {
		lr = 3e-3
	}
	if m := (aeMaxPasses + len(data) - 1) / len(data); epochs > m {
		epochs = m
	}
	H, C := a.Hidden, a.Code
	a.Dim = dim
	sizes := []int{H * dim, H, C * H, C, H * C, H, dim * H, dim}
	total := 0
	for _, n := range sizes {
		total += n
	}
	params := make([]float64, total)
	grads := make([]float64, total)
	p := nnSplit(params, sizes...)
	g := nnSplit(grads, sizes...)
	a.W1, a.B1, a.W2, a.B2, a.W3, a.B3, a.W4, a.B4 = p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]
	gW1, gB1, gW2, gB2, gW3, gB3, gW4, gB4 := g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]

	rng := nnRand(seed, aeStream)
	nnXavier(a.W1, dim, H, rng)
	nnXavier(a.W2, H, C, rng)
	nnXavier(a.W3, C, H, rng)
	nnXavier(a.W4, H, dim, rng)
	// Start the output at the mean row, so early epochs learn structure
	// rather than the offset.
	for _, r := range data {
		for j, v := range r {
			a.B4[j] += v
		}
	}
	for j := range a.B4 {
		a.B4[j] /= float64(len(data))
	}

	opt := nnNewAdam(total, lr, 5)
	plateau := nnNewPlateau(20, 1e-3)
	order := make([]int, len(data))
	for i := range order {
		order[i] = i
	}
	s := a.newAct()
	dy := make([]float64, dim)
	dh2 := make([]float64, H)
	dz := make([]float64, C)
	dh1 := make([]float64, H)
	weights := [][]float64{a.W1, a.W2, a.W3, a.W4}
	wgrads := [][]float64{gW1, gW2, gW3, gW4}
	a.EpochsRun = 0
	for ep := 0; ep < epochs; ep++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		loss := 0.0
		for b0 := 0; b0 < len(order); b0 += batch {
			b1 := min(b0+batch, len(order))
			clear(grads)
			k := 2 / float64(dim*(b1-b0))
			for _, ri := range order[b0:b1] {
				copy(s.x, data[ri])
				a.forward(s)
				for j, yv := range s.y {
					d := yv - s.x[j]
					loss += d * d
					dy[j] = k * d
				}
				nnAffineBack(dh2, gW4, gB4, a.W4, s.h2, dy)
				for i, h := range s.h2 {
					dh2[i] *= 1 - h*h
				}
				nnAffineBack(dz, gW3, gB3, a.W3, s.z, dh2)
				nnAffineBack(dh1, gW2, gB2, a.W2, s.h1, dz)
				for i, h := range s.h1 {
					dh1[i] *= 1 - h*h
				}
				nnAffineBack(nil, gW1, gB1, a.W1, s.x, dh1)
			}
			if a.WeightDecay > 0 {
				for li, w := range weights {
					gw := wgrads[li]
					for i, v := range w {
						gw[i] += a.WeightDecay * v
					}
				}
			}
			opt.step(params, grads)
		}
		a.EpochsRun = ep + 1
		a.TrainLoss = nnFinite(loss / float64(len(data)*dim))
		if plateau.stop(a.TrainLoss) {
			break
		}
	}
	return nil
}

// Score implements Model: the reconstruction mean squared error of the
// clipped row. An unfitted model scores 0.
func (a *Autoencoder) Score(row []float64) float64 {
	if !a.fitted() {
		return 0
	}
	s := a.newAct()
	nnLoad(s.x, row)
	a.forward(s)
	return nnFinite(nnMSE(s.y, s.x))
}

// fitted reports whether the weights are present and consistently sized
// (a hand-edited or truncated model file scores 0 rather than panicking).
func (a *Autoencoder) fitted() bool {
	D, H, C := a.Dim, a.Hidden, a.Code
	return D > 0 && H > 0 && C > 0 &&
		len(a.W1) == H*D && len(a.B1) == H && len(a.W2) == C*H && len(a.B2) == C &&
		len(a.W3) == H*C && len(a.B3) == H && len(a.W4) == D*H && len(a.B4) == D
}

// Validate implements Model.
func (a *Autoencoder) Validate(dim int) error {
	if err := checkDim(a.Dim, dim); err != nil {
		return err
	}
	if err := checkRange("hidden", a.Hidden, 1, nnMaxWidth); err != nil {
		return err
	}
	if err := checkRange("code", a.Code, 1, nnMaxWidth); err != nil {
		return err
	}
	D, H, C := a.Dim, a.Hidden, a.Code
	for _, l := range []struct {
		name string
		v    []float64
		n    int
	}{{"w1", a.W1, H * D}, {"b1", a.B1, H}, {"w2", a.W2, C * H}, {"b2", a.B2, C},
		{"w3", a.W3, H * C}, {"b3", a.B3, H}, {"w4", a.W4, D * H}, {"b4", a.B4, D}} {
		if err := checkVector(l.name, l.v, l.n); err != nil {
			return err
		}
	}
	if !finite(a.TrainLoss) {
		return fmt.Errorf("train_loss %v", a.TrainLoss)
	}
	return nil
}

var _ Model = (*Autoencoder)(nil)
