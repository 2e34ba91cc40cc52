package models

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestKMeans(t *testing.T) {
	ifTestSuite(t,
		func() Model { return NewKMeans(0) },
		func() Model { return new(KMeans) })
}

func TestNewKMeansDefaults(t *testing.T) {
	tests := []struct{ k, want int }{{0, 8}, {-2, 8}, {3, 3}, {50, 50}}
	for _, tc := range tests {
		m := NewKMeans(tc.k)
		if m.K != tc.want || m.Restarts != 3 || m.Name() != "kmeans" {
			t.Errorf("NewKMeans(%d) = k %d, %d restarts, %q; want k %d, 3 restarts, kmeans", tc.k, m.K, m.Restarts, m.Name(), tc.want)
		}
	}
}

// TestKMeansRecoversClusters fits well separated blobs with the right k:
// every true centre gets a centroid, and centroids are the means of their
// rows (Lloyd ran to convergence).
func TestKMeansRecoversClusters(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	const k, dim, per = 4, 10, 90
	centres := make([][]float64, k)
	var rows [][]float64
	for c := range centres {
		centres[c] = make([]float64, dim)
		centres[c][c] = 12 // 12 apart on distinct axes
		for range per {
			r := slices.Clone(centres[c])
			for j := range r {
				r[j] += rng.NormFloat64()
			}
			rows = append(rows, r)
		}
	}
	for _, seed := range []uint64{1, 2, 3, 4, 5} {
		m := NewKMeans(k)
		if err := m.Fit(rows, seed); err != nil {
			t.Fatal(err)
		}
		if len(m.Centroids) != k {
			t.Fatalf("seed %d: %d centroids", seed, len(m.Centroids))
		}
		for c, want := range centres {
			if _, d2 := kmNearest(m.Centroids, want); math.Sqrt(d2) > 0.5 {
				t.Errorf("seed %d: centre %d is %.2f from the nearest centroid", seed, c, math.Sqrt(d2))
			}
		}
		sums := make([][]float64, k)
		counts := make([]int, k)
		var inertia float64
		for _, r := range rows {
			j, d := kmNearest(m.Centroids, r)
			inertia += d
			if sums[j] == nil {
				sums[j] = make([]float64, dim)
			}
			counts[j]++
			for f, v := range r {
				sums[j][f] += v
			}
		}
		for j, c := range m.Centroids {
			for f := range c {
				if math.Abs(sums[j][f]/float64(counts[j])-c[f]) > 1e-9 {
					t.Fatalf("seed %d: centroid %d is not the mean of its rows", seed, j)
				}
			}
		}
		if math.Abs(inertia-m.Inertia) > 1e-9*inertia {
			t.Errorf("seed %d: inertia %v, recomputed %v", seed, m.Inertia, inertia)
		}
	}
}

// TestKMeansFewDistinctRows: k is capped to the distinct rows, which then
// score exactly 0, and nothing is NaN.
func TestKMeansFewDistinctRows(t *testing.T) {
	a, b, c := []float64{1, 2, 3}, []float64{-1, 0, 5}, []float64{4, 4, 4}
	tests := []struct {
		name string
		rows [][]float64
		k    int
		want int  // centroids
		zero bool // every training row on a centroid
	}{
		{"1 row, k 8", [][]float64{a}, 8, 1, true},
		{"2 rows, k 8", [][]float64{a, b}, 8, 2, true},
		{"3 distinct of 60, k 8", slices.Repeat([][]float64{a, b, c, a}, 15), 8, 3, true},
		{"identical rows, k 8", slices.Repeat([][]float64{c}, 20), 8, 1, true},
		{"3 distinct of 60, k 2", slices.Repeat([][]float64{a, b, c, a}, 15), 2, 2, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewKMeans(tc.k)
			if err := m.Fit(tc.rows, 1); err != nil {
				t.Fatal(err)
			}
			if len(m.Centroids) != tc.want {
				t.Errorf("%d centroids, want %d", len(m.Centroids), tc.want)
			}
			for _, r := range tc.rows {
				s := m.Score(r)
				if math.IsNaN(s) || s < 0 || tc.zero && s != 0 {
					t.Errorf("row %v scores %v", r, s)
				}
			}
			if s := m.Score([]float64{100, 100, 100}); math.IsNaN(s) || !(s > 100) {
				t.Errorf("far row scores %v", s)
			}
		})
	}
}

// TestKMeansRestarts: the kept clustering is the best of its restarts, so
// never worse than the first restart alone (same random stream).
func TestKMeansRestarts(t *testing.T) {
	rows := ifTestNewBlobs().rows(ifTestTrain, 1)
	for seed := range uint64(5) {
		one := NewKMeans(8)
		one.Restarts = 1
		three := NewKMeans(8)
		if err := one.Fit(rows, seed); err != nil {
			t.Fatal(err)
		}
		if err := three.Fit(rows, seed); err != nil {
			t.Fatal(err)
		}
		if three.Inertia > one.Inertia {
			t.Errorf("seed %d: 3 restarts inertia %v, 1 restart %v", seed, three.Inertia, one.Inertia)
		}
	}
}

func TestKMeansSize(t *testing.T) {
	ifTestSize(t, func() Model { return NewKMeans(0) })
}

func BenchmarkKMeansFit(b *testing.B) {
	ifTestBenchFit(b, func() Model { return NewKMeans(0) })
}

func BenchmarkKMeansScore(b *testing.B) {
	ifTestBenchScore(b, func() Model { return NewKMeans(0) })
}
