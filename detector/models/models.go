// Package models holds the members of the detector's ensemble. Each works
// on rows of scaled features (the detector's scaler turns a window's
// feature vector into one row) and returns a raw anomaly score, higher
// meaning more anomalous; the detector calibrates raw scores to [0,1]
// against each model's own training scores, so members need not agree on a
// scale. Every model is deterministic given its seed, and its state is a
// plain struct with exported fields so that encoding/json round-trips it
// exactly (the model file stores it).
package models

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
}
