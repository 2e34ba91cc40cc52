// Package models holds the members of the detector's ensemble. Each works
// on rows of scaled features (the detector's scaler turns a window's
// feature vector into one row) and returns a raw anomaly score, higher
// meaning more anomalous; the detector calibrates raw scores to [0,1]
// against each model's own training scores, so members need not agree on a
// scale. Every model is deterministic given its seed, and its state is a
// plain struct with exported fields so that encoding/json round-trips it
// exactly (the model file stores it). A model decoded from a file is
// checked with Validate before it scores anything.
//
// The models sit below package detector, the fourth stage of the flow
// (capture -> decode -> features -> detector), which alone imports them:
// they see rows of numbers, never features, packets or Prometheus.
package models

import (
	"fmt"
	"math"
)

// Model is an unsupervised member of the ensemble.
type Model interface {
	// Name is the model's label value: short, lowercase, stable.
	Name() string
	// Fit trains on rows of equal length. It may be called again to
	// retrain from scratch.
	Fit(rows [][]float64, seed uint64) error
	// Score returns the raw anomaly score of one row. It must not modify
	// the model (Online and Sequential members update elsewhere).
	Score(row []float64) float64
	// Validate checks a fitted model (as decoded from a model file)
	// against the row length dim and its own invariants: a model that
	// passes scores, learns and observes rows of dim values without
	// panicking, in bounded time and memory. Every fitted model passes.
	Validate(dim int) error
}

// Online is implemented by members that keep learning between retrains.
// The detector calls Learn with rows it judged normal, never with
// anomalous ones, so an attacker cannot teach the model its attack.
type Online interface {
	Model
	Learn(row []float64)
}

// Sequential is implemented by members that score a row in the context of
// the rows before it (forecasters). The detector calls Observe with every
// row after scoring it, in window order; Reset forgets the history (a gap
// in the capture).
type Sequential interface {
	Model
	Observe(row []float64)
	Reset()
}

// Classifier is a supervised member, trained when labelled windows exist.
// Class 0 is normal; the others are attack types numbered by the caller.
type Classifier interface {
	Name() string
	Fit(rows [][]float64, labels []int, classes int, seed uint64) error
	// Predict returns one probability per class, summing to 1, appended
	// to dst.
	Predict(row []float64, dst []float64) []float64
	// Validate is Model.Validate for a classifier of classes classes.
	Validate(dim, classes int) error
}

// checkDim reports a model fitted on rows of another length than dim.
func checkDim(got, dim int) error {
	if got != dim {
		return fmt.Errorf("dim %d, the feature schema has %d", got, dim)
	}
	return nil
}

// checkRange reports a size or count outside [lo, hi].
func checkRange(what string, v, lo, hi int) error {
	if v < lo || v > hi {
		return fmt.Errorf("%s %d, want %d to %d", what, v, lo, hi)
	}
	return nil
}

// checkLen reports a vector whose length is not want.
func checkLen(what string, v []float64, want int) error {
	if len(v) != want {
		return fmt.Errorf("%s has %d values, want %d", what, len(v), want)
	}
	return nil
}

// finite reports whether x is neither NaN nor ±Inf.
func finite(x float64) bool { return math.Abs(x) <= math.MaxFloat64 }

// checkFinite reports the first value of v that is NaN or ±Inf.
func checkFinite(what string, v []float64) error {
	for i, x := range v {
		if !finite(x) {
			return fmt.Errorf("%s[%d] is %v", what, i, x)
		}
	}
	return nil
}

// checkVector is checkLen then checkFinite.
func checkVector(what string, v []float64, want int) error {
	if err := checkLen(what, v, want); err != nil {
		return err
	}
	return checkFinite(what, v)
}
