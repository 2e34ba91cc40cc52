package models

import (
	"errors"
	"fmt"
	"math"
)

// The autoregressive forecaster the LSTM member was measured against
// (TestARForecasterSynthetic, BenchmarkForecasterComparison): only the
// tests use it.

// ARForecaster is the cheap baseline forecaster: an independent linear
// autoregression of order Order per dimension, x̂ⱼ(t) = cⱼ₀ + Σₖ cⱼₖ·xⱼ(t−k),
// fitted by ridge-regularised least squares on the training rows (in time
// order; Fit ignores the seed, the solution is exact). Score, Observe,
// Reset and Winsorize behave as for LSTMForecaster, with a history of
// Order rows and the same fallback to the mean training row.
type ARForecaster struct {
	Order int `json:"order"`
	// Ridge is the L2 penalty on the lag coefficients, per sample.
	Ridge     float64 `json:"ridge"`
	Winsorize bool    `json:"winsorize"`

	Dim  int       `json:"dim"`
	Coef []float64 `json:"coef"` // Dim × (Order+1): intercept, lag 1 … lag Order
	Mean []float64 `json:"mean"` // mean training row
	Lo   []float64 `json:"lo"`   // per-dimension training minimum
	Hi   []float64 `json:"hi"`   // per-dimension training maximum

	lstmRing
}

// NewARForecaster returns an untrained AR(order) forecaster (order 6 when
// zero or negative).
func NewARForecaster(order int) *ARForecaster {
	if order <= 0 {
		order = 6
	}
	return &ARForecaster{Order: order, Ridge: 1e-3, Winsorize: true}
}

// Name implements Model.
func (a *ARForecaster) Name() string { return "ar" }

// Fit implements Model. The rows must be in time order; at least Order+2
// are needed.
func (a *ARForecaster) Fit(rows [][]float64, _ uint64) error {
	data, dim, err := nnRows(rows)
	if err != nil {
		return err
	}
	P := a.Order
	if P <= 0 {
		return errors.New("models: ar needs a positive order")
	}
	if len(data) < P+2 {
		return fmt.Errorf("models: ar needs at least %d rows, got %d", P+2, len(data))
	}
	a.Dim = dim
	a.Mean = lstmMean(data, dim)
	a.lstmRing = lstmRing{}
	a.Coef = make([]float64, dim*(P+1))
	a.Lo, a.Hi = lstmRange(data)
	n := len(data) - P
	K := P + 1
	A := make([]float64, K*K)
	b := make([]float64, K)
	z := make([]float64, K)
	ridge := max(a.Ridge, 0)*float64(n) + 1e-9*float64(n)
	for j := 0; j < dim; j++ {
		clear(A)
		clear(b)
		// Centre on the mean so the normal equations are well conditioned.
		mu := a.Mean[j]
		for t := P; t < len(data); t++ {
			z[0] = 1
			for k := 1; k <= P; k++ {
				z[k] = data[t-k][j] - mu
			}
			y := data[t][j] - mu
			for r := 0; r < K; r++ {
				b[r] += z[r] * y
				for c := 0; c <= r; c++ {
					A[r*K+c] += z[r] * z[c]
				}
			}
		}
		for k := 1; k < K; k++ {
			A[k*K+k] += ridge
		}
		coef := a.Coef[j*K : (j+1)*K]
		if !lstmCholeskySolve(A, b, coef, K) {
			clear(coef)
		}
		// Undo the centring: x̂ = mu + c0 + Σ ck (x − mu).
		s := 0.0
		for k := 1; k < K; k++ {
			s += coef[k]
		}
		coef[0] += mu * (1 - s)
	}
	return nil
}

// lstmCholeskySolve solves A·x = b for symmetric positive definite A (its
// lower triangle, K×K row-major, is overwritten), reporting false if A is
// not numerically positive definite.
func lstmCholeskySolve(A, b, x []float64, K int) bool {
	for i := 0; i < K; i++ {
		for j := 0; j <= i; j++ {
			s := A[i*K+j]
			for k := 0; k < j; k++ {
				s -= A[i*K+k] * A[j*K+k]
			}
			if i == j {
				if !(s > 0) {
					return false
				}
				A[i*K+i] = math.Sqrt(s)
			} else {
				A[i*K+j] = s / A[j*K+j]
			}
		}
	}
	for i := 0; i < K; i++ {
		s := b[i]
		for k := 0; k < i; k++ {
			s -= A[i*K+k] * x[k]
		}
		x[i] = s / A[i*K+i]
	}
	for i := K - 1; i >= 0; i-- {
		s := x[i]
		for k := i + 1; k < K; k++ {
			s -= A[k*K+i] * x[k]
		}
		x[i] = s / A[i*K+i]
	}
	for _, v := range x[:K] {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// Validate implements Model.
func (a *ARForecaster) Validate(dim int) error {
	if err := checkDim(a.Dim, dim); err != nil {
		return err
	}
	if err := checkRange("order", a.Order, 1, lstmMaxLookback); err != nil {
		return err
	}
	if err := checkVector("coef", a.Coef, a.Dim*(a.Order+1)); err != nil {
		return err
	}
	if err := lstmCheckRange(a.Dim, a.Mean, a.Lo, a.Hi); err != nil {
		return err
	}
	return a.lstmRing.validate(a.Dim, a.Order)
}

func (a *ARForecaster) fitted() bool {
	return a.Dim > 0 && a.Order > 0 && len(a.Coef) == a.Dim*(a.Order+1) && len(a.Mean) == a.Dim &&
		len(a.Lo) == a.Dim && len(a.Hi) == a.Dim
}

// Forecast appends the model's forecast of the next row to dst: the
// autoregression's when the history is full, else the mean training row
// (nothing for an unfitted model).
func (a *ARForecaster) Forecast(dst []float64) []float64 {
	if !a.fitted() {
		return dst
	}
	if !a.full(a.Dim, a.Order) {
		return append(dst, a.Mean...)
	}
	D, P, K := a.Dim, a.Order, a.Order+1
	n := len(dst)
	dst = append(dst, make([]float64, D)...)
	f := dst[n:]
	for j := 0; j < D; j++ {
		f[j] = a.Coef[j*K]
	}
	// Lag k is the k-th newest row of the ring.
	for k := 1; k <= P; k++ {
		i := ((a.HistoryNext-k)%P + P) % P
		x := a.History[i*D : (i+1)*D]
		for j, v := range x {
			f[j] += a.Coef[j*K+k] * v
		}
	}
	return dst
}

// Score implements Model: the mean squared error between the clipped row
// and the forecast. An unfitted model scores 0.
func (a *ARForecaster) Score(row []float64) float64 {
	if !a.fitted() {
		return 0
	}
	x := make([]float64, 2*a.Dim)
	nnLoad(x[:a.Dim], row)
	f := a.Forecast(x[a.Dim:a.Dim])
	return nnFinite(nnMSE(f, x[:a.Dim]))
}

// Observe implements Sequential.
func (a *ARForecaster) Observe(row []float64) {
	a.push(row, a.Dim, a.Order, a.Winsorize, a.Lo, a.Hi)
}

// Reset implements Sequential.
func (a *ARForecaster) Reset() { a.reset() }

var (
	_ Sequential = (*LSTMForecaster)(nil)
	_ Sequential = (*ARForecaster)(nil)
)
