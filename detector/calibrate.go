package detector

import (
	"fmt"
	"math"
	"slices"
)

// calibrationPoints is how many quantiles of the training scores a
// Calibrator keeps: enough for a smooth CDF, small in the model file.
const calibrationPoints = 101

// Calibrator maps a member's raw scores to [0,1] against the member's own
// training scores, so that every member speaks the same language and a
// threshold means the same on every network. Inside the training range the
// score is the empirical CDF (a typical training window scores about 0.5);
// beyond the largest training score it keeps rising towards 1 with an
// exponential tail whose length is the spread of the upper training
// scores, so that a score far past anything seen in training is nearly 1.
type Calibrator struct {
	Quantiles []float64 `json:"quantiles"` // raw scores at probabilities 0, 0.01, ..., 1
	Tail      float64   `json:"tail"`      // raw-score length of the tail beyond the maximum
	N         int       `json:"n"`         // training scores seen
}

// FitCalibrator builds a calibrator from training raw scores.
func FitCalibrator(raw []float64) Calibrator {
	s := slices.Clone(raw)
	slices.Sort(s)
	c := Calibrator{Quantiles: make([]float64, calibrationPoints), N: len(s)}
	for i := range c.Quantiles {
		c.Quantiles[i] = quantile(s, float64(i)/float64(calibrationPoints-1))
	}
	hi, q90, q50 := c.Quantiles[calibrationPoints-1], quantile(s, 0.9), quantile(s, 0.5)
	c.Tail = hi - q90
	if c.Tail <= 0 {
		c.Tail = max(hi-q50, 1e-9*max(math.Abs(hi), 1))
	}
	return c
}

// validate checks a loaded calibrator. The quantiles are not checked for
// order: interpolation can leave neighbours an ulp out of it, and Score
// stays in [0,1] without it.
func (c *Calibrator) validate() error {
	if len(c.Quantiles) != calibrationPoints {
		return fmt.Errorf("%d quantiles, want %d", len(c.Quantiles), calibrationPoints)
	}
	for i, q := range c.Quantiles {
		if math.IsNaN(q) || math.IsInf(q, 0) {
			return fmt.Errorf("quantile %d is %v", i, q)
		}
	}
	if !(c.Tail > 0) || math.IsInf(c.Tail, 0) {
		return fmt.Errorf("tail %v, want a positive length", c.Tail)
	}
	if c.N < 1 {
		return fmt.Errorf("fitted on %d scores", c.N)
	}
	return nil
}

// Score returns the calibrated score of a raw score.
func (c *Calibrator) Score(raw float64) float64 {
	q := c.Quantiles
	if len(q) == 0 || math.IsNaN(raw) {
		return 0
	}
	last := len(q) - 1
	top := 1 - 1/float64(c.N+1) // the calibrated score of the training maximum
	switch {
	case raw <= q[0]:
		return 0
	case raw >= q[last]:
		return 1 - (1-top)*math.Exp(-(raw-q[last])/c.Tail)
	}
	i, _ := slices.BinarySearch(q, raw)
	// raw lies in (q[i-1], q[i]]: interpolate, then map [0,1] onto [0, top].
	lo, hi := q[i-1], q[i]
	f := 1.0
	if hi > lo {
		f = min(max((raw-lo)/(hi-lo), 0), 1) // out of [0,1] only if q is out of order
	}
	return (float64(i-1) + f) / float64(last) * top
}
