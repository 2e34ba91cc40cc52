package models

import (
	"encoding/json"
	"math"
	"math/bits"
	"slices"
	"testing"
)

func TestIsolationForest(t *testing.T) {
	ifTestSuite(t,
		func() Model { return NewIsolationForest(0, 0) },
		func() Model { return new(IsolationForest) },
		// A tree splits on a feature constant in training only as
		// one candidate among the ~35 that vary, so a novelty in 2
		// such features moves the score only a little.
		"traffic/constant2at12")
}

func TestNewIsolationForestDefaults(t *testing.T) {
	tests := []struct {
		trees, sample         int
		wantTrees, wantSample int
	}{
		{0, 0, 100, 256},
		{-1, -5, 100, 256},
		{10, 64, 10, 64},
	}
	for _, tc := range tests {
		m := NewIsolationForest(tc.trees, tc.sample)
		if m.NumTrees != tc.wantTrees || m.Sample != tc.wantSample || m.Name() != "iforest" {
			t.Errorf("NewIsolationForest(%d, %d) = %d trees of %d rows, name %q, want %d of %d, iforest",
				tc.trees, tc.sample, m.NumTrees, m.Sample, m.Name(), tc.wantTrees, tc.wantSample)
		}
	}
}

func TestIsolationForestAvgPathLen(t *testing.T) {
	tests := []struct {
		n    int
		want float64
	}{
		{0, 0},
		{1, 0},
		{2, 1},
		{3, 2*(math.Log(2)+ifEuler) - 4.0/3},
		{256, 10.244770920119917}, // 2H(255) - 2·255/256 with H(i) ≈ ln i + γ
	}
	for _, tc := range tests {
		if got := ifAvgPathLen(tc.n); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("c(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
}

// TestIsolationForestStructure checks every tree: subsample size, depth
// limit, leaf counts, split bounds and adjacency of children.
func TestIsolationForestStructure(t *testing.T) {
	data := ifTestNewTraffic()
	tests := []struct {
		rows, trees, sample int
		wantPsi             int
	}{
		{360, 100, 256, 256},
		{100, 20, 256, 100},
		{5, 10, 256, 5},
		{1000, 30, 64, 64},
		{1, 3, 256, 1},
	}
	for _, tc := range tests {
		rows := data.rows(tc.rows, 1)
		m := NewIsolationForest(tc.trees, tc.sample)
		if err := m.Fit(rows, 9); err != nil {
			t.Fatal(err)
		}
		if m.Psi != tc.wantPsi || len(m.Trees) != tc.trees || m.Dim != ifTestDim {
			t.Fatalf("%d rows: psi %d, %d trees, dim %d; want %d, %d, %d", tc.rows, m.Psi, len(m.Trees), m.Dim, tc.wantPsi, tc.trees, ifTestDim)
		}
		if want := []int32{35, 36, 37, 38, 39, 40, 41, 42, 43, 44}; tc.rows > 1 && !slices.Equal(m.ConstDims, want) {
			t.Errorf("%d rows: constant features %v, want %v", tc.rows, m.ConstDims, want)
		}
		maxDepth := bits.Len(uint(tc.wantPsi - 1))
		for ti, nodes := range m.Trees {
			leafRows, maxSeen := 0, 0
			var walk func(i int32, depth int)
			walk = func(i int32, depth int) {
				nd := nodes[i]
				if nd.Left == 0 {
					if nd.Count < 1 {
						t.Errorf("tree %d: empty leaf %d", ti, i)
					}
					leafRows += int(nd.Count)
					maxSeen = max(maxSeen, depth)
					return
				}
				if !(nd.Lo < nd.Split && nd.Split <= nd.Hi) || nd.Feature < 0 || int(nd.Feature) >= ifTestDim ||
					nd.Count < 1 || nd.Left <= i || int(nd.Left)+1 >= len(nodes) {
					t.Errorf("tree %d: bad internal node %d: %+v", ti, i, nd)
					return
				}
				walk(nd.Left, depth+1)
				walk(nd.Left+1, depth+1)
			}
			walk(0, 0)
			if leafRows != tc.wantPsi || maxSeen > maxDepth {
				t.Errorf("%d rows, tree %d: leaves hold %d rows, depth %d; want %d rows, depth <= %d",
					tc.rows, ti, leafRows, maxSeen, tc.wantPsi, maxDepth)
			}
		}
	}
}

// TestIsolationForestExtension checks the out-of-range extension against
// the paper's score: equal on rows inside every node's range, never lower,
// and higher for rows outside the training range or lighting up a
// feature constant in training.
func TestIsolationForestExtension(t *testing.T) {
	data := ifTestNewTraffic()
	train := data.rows(200, 1)
	ext := NewIsolationForest(50, 256) // psi = 200: every tree holds every row
	if err := ext.Fit(train, 3); err != nil {
		t.Fatal(err)
	}
	book := *ext
	book.Textbook = true
	for i, r := range train {
		if a, b := ext.Score(r), book.Score(r); math.Float64bits(a) != math.Float64bits(b) {
			t.Fatalf("training row %d: extension %v, textbook %v", i, a, b)
		}
	}
	probe := slices.Concat(data.rows(300, 2), func() (r [][]float64) {
		for _, a := range data.anomalies() {
			r = append(r, a.row)
		}
		return r
	}())
	for i, r := range probe {
		if a, b := ext.Score(r), book.Score(r); a < b {
			t.Errorf("probe %d: extension %v below textbook %v", i, a, b)
		}
	}
	tests := []struct {
		name string
		edit func(r []float64)
	}{
		{"one feature far above its range", func(r []float64) { r[4] = 25 }},
		{"one feature far below its range", func(r []float64) { r[12] = -25 }},
		{"one constant feature lit", func(r []float64) { r[40] = 3 }},
	}
	base := data.rows(1, 77)[0]
	for _, tc := range tests {
		r := slices.Clone(base)
		tc.edit(r)
		if a, b := ext.Score(r), book.Score(r); !(a > b) || !(a > ext.Score(base)) {
			t.Errorf("%s: extension %v, textbook %v, unedited row %v", tc.name, a, b, ext.Score(base))
		}
	}
}

// TestIsolationForestTextbook runs the paper's score on the blobs: it
// ranks the broad anomalies first but not the shift in 3 features of 45,
// which motivated the extension.
func TestIsolationForestTextbook(t *testing.T) {
	data := ifTestNewBlobs()
	train := data.rows(ifTestTrain, 1)
	m := NewIsolationForest(0, 0)
	m.Textbook = true
	if err := m.Fit(train, 42); err != nil {
		t.Fatal(err)
	}
	top := slices.Max(ifTestScores(m, train))
	for _, a := range data.anomalies() {
		s := m.Score(a.row)
		t.Logf("textbook %s: %.4g, training max %.4g", a.name, s, top)
		if a.name != "shift3by20" && !(s > top) {
			t.Errorf("textbook %s: %v, not above the training max %v", a.name, s, top)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back IsolationForest
	if err := json.Unmarshal(b, &back); err != nil || !back.Textbook {
		t.Errorf("Textbook lost in JSON: %v", err)
	}
}

func TestIsolationForestSize(t *testing.T) {
	ifTestSize(t, func() Model { return NewIsolationForest(0, 0) })
}

func BenchmarkIsolationForestFit(b *testing.B) {
	ifTestBenchFit(b, func() Model { return NewIsolationForest(0, 0) })
}

func BenchmarkIsolationForestScore(b *testing.B) {
	ifTestBenchScore(b, func() Model { return NewIsolationForest(0, 0) })
}
