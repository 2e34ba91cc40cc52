package detector

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// minScale floors a feature's spread in log units. Features that never
// move in training (ARP conflicts, fragments) would otherwise turn their
// first non-zero value into an infinite z-score: with the floor, 0 to 1 is
// z 2.8 and 0 to 100 is z 18.
const minScale = 0.25

// zClip bounds scaled values so that one absurd feature cannot dominate a
// distance or overflow a network.
const zClip = 50

// Scaler maps a feature vector to robust z-scores: each feature goes
// through a signed log1p (traffic features are heavy-tailed), then is
// centred on its training median and divided by its training MAD (scaled
// to a standard deviation). The same numbers give each feature's expected
// range for explanations.
type Scaler struct {
	Median []float64 `json:"median"` // in log1p units
	Scale  []float64 `json:"scale"`  // in log1p units, at least minScale
	// Max is each feature's largest value in training, in its own units:
	// the busiest window the rules measure a network's normal by; High
	// its 99th percentile, the busiest usual level.
	Max  []float64 `json:"max"`
	High []float64 `json:"high"`
}

func slog1p(v float64) float64 {
	if v < 0 {
		return -math.Log1p(-v)
	}
	return math.Log1p(v)
}

func sexpm1(v float64) float64 {
	if v < 0 {
		return -math.Expm1(-v)
	}
	return math.Expm1(v)
}

// FitScaler computes medians and spreads from training windows.
func FitScaler(rows []features.Vector) (*Scaler, error) {
	if len(rows) == 0 {
		return nil, errors.New("no training windows")
	}
	n := int(features.NumFeatures)
	s := &Scaler{Median: make([]float64, n), Scale: make([]float64, n), Max: make([]float64, n), High: make([]float64, n)}
	col := make([]float64, len(rows))
	for j := range features.NumFeatures {
		for i := range rows {
			col[i] = rows[i][j]
		}
		slices.Sort(col)
		s.Max[j], s.High[j] = col[len(col)-1], quantile(col, 0.99)
		for i := range rows {
			col[i] = slog1p(rows[i][j])
		}
		med := median(col)
		for i := range col {
			col[i] = math.Abs(col[i] - med)
		}
		s.Median[j] = med
		s.Scale[j] = max(1.4826*median(col), minScale)
	}
	return s, nil
}

// validate checks a loaded scaler: four vectors of finite values, one per
// feature of the schema, the spreads floored as FitScaler floors them.
func (s *Scaler) validate() error {
	dim := int(features.NumFeatures)
	for _, v := range []struct {
		name string
		v    []float64
	}{{"median", s.Median}, {"scale", s.Scale}, {"max", s.Max}, {"high", s.High}} {
		if len(v.v) != dim {
			return fmt.Errorf("%s has %d values, the feature schema has %d", v.name, len(v.v), dim)
		}
		for j, x := range v.v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("%s of %s is %v", v.name, features.Schema[j].Name, x)
			}
		}
	}
	for j, x := range s.Scale {
		if x < minScale {
			return fmt.Errorf("scale of %s is %v, under the floor %v", features.Schema[j].Name, x, minScale)
		}
		// Expected ranges (up to ±4 spreads) must stay finite in the
		// feature's units: e^700 is far beyond any traffic.
		if math.Abs(s.Median[j])+maxExpectedK*x > maxLogValue {
			return fmt.Errorf("median %v and scale %v of %s are beyond any traffic", s.Median[j], x, features.Schema[j].Name)
		}
	}
	return nil
}

// maxExpectedK and maxLogValue bound a loaded scaler (see validate).
const (
	maxExpectedK = 4
	maxLogValue  = 700
)

// Transform writes the scaled row of v into dst (allocated if nil).
func (s *Scaler) Transform(v *features.Vector, dst []float64) []float64 {
	if dst == nil {
		dst = make([]float64, features.NumFeatures)
	}
	for j := range features.NumFeatures {
		dst[j] = s.Z(int(j), v[j])
	}
	return dst
}

// Z is the robust z-score of value v of feature j, clipped.
func (s *Scaler) Z(j int, v float64) float64 {
	z := (slog1p(v) - s.Median[j]) / s.Scale[j]
	return math.Max(-zClip, math.Min(zClip, z))
}

// Expected returns the range of feature j that a z-score within ±k covers,
// in the feature's own units.
func (s *Scaler) Expected(j int, k float64) (lo, hi float64) {
	lo = sexpm1(s.Median[j] - k*s.Scale[j])
	hi = sexpm1(s.Median[j] + k*s.Scale[j])
	return max(lo, 0), hi
}

// Typical returns the training median of feature j in its own units.
func (s *Scaler) Typical(j int) float64 { return sexpm1(s.Median[j]) }

// median returns the median of v, reordering it.
func median(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// quantile returns the q-quantile of sorted v by linear interpolation.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i]*(1-f) + sorted[i+1]*f
}
