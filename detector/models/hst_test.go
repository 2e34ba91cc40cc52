package models

import (
	"encoding/json"
	"math"
	"slices"
	"testing"
)

func TestHalfSpaceTrees(t *testing.T) {
	ifTestSuite(t,
		func() Model { return NewHalfSpaceTrees(0, 0, 0) },
		func() Model { return new(HalfSpaceTrees) })
}

func TestNewHalfSpaceTreesDefaults(t *testing.T) {
	tests := []struct {
		trees, depth, window             int
		wantTrees, wantDepth, wantWindow int
	}{
		{0, 0, 0, 25, 10, 64},
		{-3, -1, -1, 25, 10, 64},
		{10, 6, 32, 10, 6, 32},
		{1, 99, 1, 1, 20, 1},
	}
	for _, tc := range tests {
		m := NewHalfSpaceTrees(tc.trees, tc.depth, tc.window)
		if m.NumTrees != tc.wantTrees || m.Depth != tc.wantDepth || m.Window != tc.wantWindow || m.Name() != "hst" {
			t.Errorf("NewHalfSpaceTrees(%d, %d, %d) = %d, %d, %d, %q; want %d, %d, %d, hst",
				tc.trees, tc.depth, tc.window, m.NumTrees, m.Depth, m.Window, m.Name(),
				tc.wantTrees, tc.wantDepth, tc.wantWindow)
		}
	}
}

// hstCheckMasses checks that every tree's masses are consistent: the root
// holds all the rows of a window and each node the sum of its children.
func hstCheckMasses(t *testing.T, m *HalfSpaceTrees) {
	t.Helper()
	if err := m.Validate(m.Dim); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	internal := 1<<m.Depth - 1
	for ti, tr := range m.Trees {
		if len(tr.Feature) != internal || len(tr.Ref) != 2*internal+1 || len(tr.Latest) != 2*internal+1 ||
			len(tr.Lo) != m.Dim || len(tr.Hi) != m.Dim {
			t.Fatalf("tree %d: bad sizes", ti)
		}
		if int(tr.Ref[0]) != m.RefRows || int(tr.Latest[0]) != m.Count ||
			tr.RefOut < 0 || int(tr.RefOut) > m.RefRows || tr.LatestOut < 0 || int(tr.LatestOut) > m.Count {
			t.Fatalf("tree %d: root masses %d, %d (out %d, %d), want %d, %d",
				ti, tr.Ref[0], tr.Latest[0], tr.RefOut, tr.LatestOut, m.RefRows, m.Count)
		}
		for i := range internal {
			if tr.Ref[i] != tr.Ref[2*i+1]+tr.Ref[2*i+2] || tr.Latest[i] != tr.Latest[2*i+1]+tr.Latest[2*i+2] {
				t.Fatalf("tree %d node %d: mass not the sum of its children", ti, i)
			}
		}
		for j := range tr.Lo {
			if !(tr.Lo[j] < tr.Hi[j]) {
				t.Fatalf("tree %d: empty work space in feature %d", ti, j)
			}
		}
	}
}

// TestHalfSpaceTreesWindows checks the paper's window mechanics: Learn
// leaves scores alone until the latest window is full, then makes it the
// reference.
func TestHalfSpaceTreesWindows(t *testing.T) {
	data := ifTestNewTraffic()
	m := NewHalfSpaceTrees(10, 8, 16)
	if err := m.Fit(data.rows(200, 1), 1); err != nil {
		t.Fatal(err)
	}
	hstCheckMasses(t, m)
	if m.RefRows != 200 || m.Count != 0 {
		t.Fatalf("after Fit: %d reference rows, %d latest, want 200, 0", m.RefRows, m.Count)
	}
	probe := data.rows(100, 2)
	before := ifTestScores(m, probe)
	learn := data.rows(40, 3)
	for _, r := range learn[:15] {
		m.Learn(r)
	}
	hstCheckMasses(t, m)
	if !ifTestSameBits(before, ifTestScores(m, probe)) || m.Count != 15 {
		t.Errorf("scores changed before the window was full (count %d)", m.Count)
	}
	m.Learn(learn[15])
	hstCheckMasses(t, m)
	if m.RefRows != 16 || m.Count != 0 {
		t.Errorf("after a window: %d reference rows, %d latest, want 16, 0", m.RefRows, m.Count)
	}
	if ifTestSameBits(before, ifTestScores(m, probe)) {
		t.Error("scores unchanged after the window became the reference")
	}
	for _, r := range learn[16:] {
		m.Learn(r)
	}
	hstCheckMasses(t, m)
	if m.RefRows != 16 || m.Count != 8 {
		t.Errorf("after 40 rows: %d reference rows, %d latest, want 16, 8", m.RefRows, m.Count)
	}
	var unfitted HalfSpaceTrees
	unfitted.Learn(learn[0]) // must not panic
	if s := unfitted.Score(learn[0]); s != 0 {
		t.Errorf("unfitted model scores %v", s)
	}
}

// TestHalfSpaceTreesAdapts learns a few windows of shifted traffic: rows
// like it stop looking anomalous.
func TestHalfSpaceTreesAdapts(t *testing.T) {
	shift := func(rows [][]float64, dims []int, by float64) [][]float64 {
		for _, r := range rows {
			for _, j := range dims {
				r[j] += by
			}
		}
		return rows
	}
	tests := []struct {
		name string
		dims []int
		by   float64
	}{
		{"inside the work space: +4 in 10 features", []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 4},
		{"outside the work space: +15 in 3 features", []int{3, 17, 40}, 15},
		{"one feature +12 (in traffic, a constant one)", []int{38}, 12},
	}
	for _, ds := range ifTestDataSets() {
		for _, tc := range tests {
			t.Run(ds.name+"/"+tc.name, func(t *testing.T) {
				m := NewHalfSpaceTrees(0, 0, 0)
				train := ds.data.rows(ifTestTrain, 1)
				if err := m.Fit(train, 1); err != nil {
					t.Fatal(err)
				}
				ts := ifTestScores(m, train)
				p50, p75, p90 := ifTestQuantile(ts, 0.5), ifTestQuantile(ts, 0.75), ifTestQuantile(ts, 0.9)
				probe := shift(ds.data.rows(300, 3), tc.dims, tc.by)
				before := ifTestQuantile(ifTestScores(m, probe), 0.5)
				for _, r := range shift(ds.data.rows(2*m.Window, 4), tc.dims, tc.by) {
					m.Learn(r)
				}
				after := ifTestQuantile(ifTestScores(m, probe), 0.5)
				t.Logf("median score of shifted rows %.3f before, %.3f after 2 windows; training median %.3f, p90 %.3f",
					before, after, p50, p90)
				if !(before > p90) {
					t.Errorf("shift not noticed: median %.3f, training p90 %.3f", before, p90)
				}
				if !(after < p75) {
					t.Errorf("not adapted: median %.3f after 2 windows, training p75 %.3f", after, p75)
				}
			})
		}
	}
}

// TestHalfSpaceTreesOnlineJSON round-trips a model in the middle of a
// window and keeps learning with both copies.
func TestHalfSpaceTreesOnlineJSON(t *testing.T) {
	data := ifTestNewBlobs()
	m := NewHalfSpaceTrees(0, 0, 0)
	if err := m.Fit(data.rows(ifTestTrain, 1), 5); err != nil {
		t.Fatal(err)
	}
	learn := data.rows(300, 6)
	for _, r := range learn[:100] {
		m.Learn(r)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back HalfSpaceTrees
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for _, r := range learn[100:] {
		m.Learn(r)
		back.Learn(r)
	}
	probe := data.rows(200, 7)
	if !ifTestSameBits(ifTestScores(m, probe), ifTestScores(&back, probe)) {
		t.Error("scores differ after a JSON round trip and more learning")
	}
}

// TestHalfSpaceTreesExtension compares the work-space bound with the
// paper's score: equal for rows inside every work space, never lower, and
// saturated for a row far outside the training range in one feature.
func TestHalfSpaceTreesExtension(t *testing.T) {
	data := ifTestNewTraffic()
	train := data.rows(ifTestTrain, 1)
	ext := NewHalfSpaceTrees(0, 0, 0)
	if err := ext.Fit(train, 2); err != nil {
		t.Fatal(err)
	}
	book := *ext
	book.Textbook = true
	for i, r := range train {
		if a, b := ext.Score(r), book.Score(r); math.Float64bits(a) != math.Float64bits(b) {
			t.Fatalf("training row %d: extension %v, textbook %v", i, a, b)
		}
	}
	probe := data.rows(300, 2)
	for _, a := range data.anomalies() {
		probe = append(probe, a.row)
	}
	for i, r := range probe {
		if a, b := ext.Score(r), book.Score(r); a < b {
			t.Errorf("probe %d: extension %v below textbook %v", i, a, b)
		}
	}
	far := slices.Clone(probe[0])
	far[7] = 40
	top := math.Log2(math.Ldexp(float64(ext.Window), ext.Depth) + 1)
	if s := ext.Score(far); s != top {
		t.Errorf("row far outside in one feature scores %v, want the maximum %v", s, top)
	}
	t.Logf("textbook score of that row %.3f, training max %.3f", book.Score(far), slices.Max(ifTestScores(&book, train)))
}

func TestHalfSpaceTreesSize(t *testing.T) {
	ifTestSize(t, func() Model { return NewHalfSpaceTrees(0, 0, 0) })
}

func BenchmarkHalfSpaceTreesFit(b *testing.B) {
	ifTestBenchFit(b, func() Model { return NewHalfSpaceTrees(0, 0, 0) })
}

func BenchmarkHalfSpaceTreesScore(b *testing.B) {
	ifTestBenchScore(b, func() Model { return NewHalfSpaceTrees(0, 0, 0) })
}

func BenchmarkHalfSpaceTreesLearn(b *testing.B) {
	data := ifTestNewBlobs()
	m := NewHalfSpaceTrees(0, 0, 0)
	if err := m.Fit(data.rows(ifTestTrain, 1), 1); err != nil {
		b.Fatal(err)
	}
	rows := data.rows(256, 2)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.Learn(rows[i%len(rows)])
	}
}
