package models

import (
	"fmt"
	"math"
	"math/rand/v2"
)

const (
	kmDefaultK        = 8
	kmDefaultRestarts = 3
	kmMaxIter         = 100
	// kmMaxK bounds a loaded model: scoring measures every centroid.
	kmMaxK   = 1024
	kmStream = 0x6b6d65616e732b2b // "kmeans++"
)

// KMeans clusters the training rows into at most K clusters (k-means++
// seeding, then Lloyd iterations until no row changes cluster or 100
// iterations, Restarts times, keeping the clustering of least inertia) and
// scores a row by its Euclidean distance to the nearest centroid. K is
// capped to the number of distinct training rows: the seeding stops early
// when every row already coincides with a centroid.
type KMeans struct {
	K        int `json:"k"`        // clusters wanted; 0 means 8
	Restarts int `json:"restarts"` // seedings tried; 0 means 3

	Dim       int         `json:"dim"`       // features per row, set by Fit
	Centroids [][]float64 `json:"centroids"` // at most K
	Inertia   float64     `json:"inertia"`   // sum of squared distances of the training rows
}

// NewKMeans returns an unfitted k-means model; k <= 0 selects 8.
func NewKMeans(k int) *KMeans {
	if k <= 0 {
		k = kmDefaultK
	}
	return &KMeans{K: k, Restarts: kmDefaultRestarts}
}

// Name implements Model.
func (m *KMeans) Name() string { return "kmeans" }

// Fit implements Model.
func (m *KMeans) Fit(rows [][]float64, seed uint64) error {
	dim, err := ifCheckRows("kmeans", rows)
	if err != nil {
		return err
	}
	k, restarts := m.K, m.Restarts
	if k <= 0 {
		k = kmDefaultK
	}
	if restarts <= 0 {
		restarts = kmDefaultRestarts
	}
	rng := rand.New(rand.NewPCG(seed, kmStream))
	km := kmRun{
		rows:   rows,
		dim:    dim,
		d2:     make([]float64, len(rows)),
		assign: make([]int32, len(rows)),
		count:  make([]int, min(k, len(rows))),
	}
	var best [][]float64
	bestInertia := math.Inf(1)
	for range restarts {
		cents := km.seed(rng, min(k, len(rows)))
		inertia := km.lloyd(cents)
		if inertia < bestInertia {
			best, bestInertia = cents, inertia
		}
	}
	m.K, m.Restarts = k, restarts
	m.Dim, m.Centroids, m.Inertia = dim, best, bestInertia
	return nil
}

// Validate implements Model.
func (m *KMeans) Validate(dim int) error {
	if err := checkDim(m.Dim, dim); err != nil {
		return err
	}
	if err := checkRange("k", m.K, 1, kmMaxK); err != nil {
		return err
	}
	if err := checkRange("centroids", len(m.Centroids), 1, m.K); err != nil {
		return err
	}
	for i, c := range m.Centroids {
		if err := checkVector(fmt.Sprintf("centroid %d", i), c, dim); err != nil {
			return err
		}
	}
	if !(m.Inertia >= 0 && finite(m.Inertia)) {
		return fmt.Errorf("inertia %v", m.Inertia)
	}
	return nil
}

// kmRun holds the scratch space of one Fit.
type kmRun struct {
	rows   [][]float64
	dim    int
	d2     []float64 // squared distance of each row to its nearest centroid
	assign []int32
	count  []int
}

// seed picks up to k centroids by k-means++: the first uniformly, each
// next one with probability proportional to the squared distance to the
// nearest centroid so far. It stops early when all rows coincide with
// centroids (fewer than k distinct rows).
func (km *kmRun) seed(rng *rand.Rand, k int) [][]float64 {
	cents := make([][]float64, 0, k)
	c := append([]float64(nil), km.rows[rng.IntN(len(km.rows))]...)
	cents = append(cents, c)
	var total float64
	for i, r := range km.rows {
		km.d2[i] = kmDist2(r, c)
		total += km.d2[i]
	}
	for len(cents) < k && total > 0 {
		target := rng.Float64() * total
		pick := -1
		var acc float64
		for i, d := range km.d2 {
			if d == 0 {
				continue
			}
			pick = i // the last row of positive weight, against rounding
			acc += d
			if acc > target {
				break
			}
		}
		c = append([]float64(nil), km.rows[pick]...)
		cents = append(cents, c)
		total = 0
		for i, r := range km.rows {
			km.d2[i] = min(km.d2[i], kmDist2(r, c))
			total += km.d2[i]
		}
	}
	return cents
}

// lloyd refines cents in place and returns the final inertia.
func (km *kmRun) lloyd(cents [][]float64) float64 {
	count := km.count[:len(cents)]
	var inertia float64
	for it := 0; it <= kmMaxIter; it++ {
		changed := false
		inertia = 0
		for i, r := range km.rows {
			j, d := kmNearest(cents, r)
			if it == 0 || km.assign[i] != int32(j) {
				km.assign[i] = int32(j)
				changed = true
			}
			inertia += d
		}
		if !changed || it == kmMaxIter {
			break
		}
		// Update step; an emptied cluster keeps its centroid.
		clear(count)
		for i := range km.rows {
			j := km.assign[i]
			if count[j] == 0 {
				clear(cents[j])
			}
			count[j]++
			for f, v := range km.rows[i] {
				cents[j][f] += v
			}
		}
		for j, c := range cents {
			if n := count[j]; n > 0 {
				for f := range c {
					c[f] /= float64(n)
				}
			}
		}
	}
	return inertia
}

// kmNearest returns the index of the centroid nearest to row (the first
// one on ties) and the squared distance to it.
func kmNearest(cents [][]float64, row []float64) (int, float64) {
	best, bestD := 0, math.Inf(1)
	for j, c := range cents {
		if d := kmDist2(row, c); d < bestD {
			best, bestD = j, d
		}
	}
	return best, bestD
}

func kmDist2(a, b []float64) float64 {
	b = b[:len(a)]
	var s float64
	for i, v := range a {
		d := v - b[i]
		s += d * d
	}
	return s
}

// Score implements Model: the Euclidean distance from row to the nearest
// centroid (0 for an unfitted model). row must have Dim features.
func (m *KMeans) Score(row []float64) float64 {
	if len(m.Centroids) == 0 {
		return 0
	}
	_, d := kmNearest(m.Centroids, row[:m.Dim])
	return math.Sqrt(d)
}
