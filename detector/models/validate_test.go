package models

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
)

// vtModels returns small untrained members, by name.
func vtModels() map[string]func() Model {
	return map[string]func() Model{
		"iforest": func() Model { return NewIsolationForest(10, 32) },
		"hst":     func() Model { return NewHalfSpaceTrees(5, 4, 16) },
		"kmeans":  func() Model { return NewKMeans(3) },
		"autoencoder": func() Model {
			a := NewAutoencoder(4, 2)
			a.Epochs = 3
			return a
		},
		"lstm": func() Model {
			m := NewLSTMForecaster(3, 3)
			m.Epochs = 2
			return m
		},
		"lstm highway": func() Model {
			m := NewLSTMForecaster(3, 3)
			m.Epochs, m.Highway = 2, true
			return m
		},
		"ar": func() Model { return NewARForecaster(3) },
	}
}

// TestValidateFitted checks that every fitted model passes Validate: on
// ordinary and degenerate rows, after learning and observing rows, and
// after a JSON round trip.
func TestValidateFitted(t *testing.T) {
	blobs := ifTestNewBlobs().rows(200, 1)
	zeros := make([][]float64, 20)
	for i := range zeros {
		zeros[i] = make([]float64, ifTestDim)
	}
	sets := map[string][][]float64{
		"blobs":          blobs,
		"identical rows": slices.Repeat([][]float64{blobs[0]}, 20),
		"all zeros":      zeros,
		"one row":        blobs[:1],
		"huge values":    {append(make([]float64, ifTestDim-1), 1e100), append(make([]float64, ifTestDim-1), -1e100), make([]float64, ifTestDim), make([]float64, ifTestDim), make([]float64, ifTestDim)},
	}
	for name, newModel := range vtModels() {
		for data, rows := range sets {
			t.Run(name+" on "+data, func(t *testing.T) {
				m := newModel()
				if err := m.Fit(rows, 1); err != nil {
					if len(rows) > 1 {
						t.Fatal(err)
					}
					return // forecasters need more rows
				}
				if err := m.Validate(ifTestDim); err != nil {
					t.Fatalf("fitted: %v", err)
				}
				for _, r := range ifTestNewBlobs().rows(40, 2) {
					m.Score(r)
					if o, ok := m.(Online); ok {
						o.Learn(r)
					}
					if s, ok := m.(Sequential); ok {
						s.Observe(r)
					}
				}
				if err := m.Validate(ifTestDim); err != nil {
					t.Fatalf("after learning and observing: %v", err)
				}
				b, err := json.Marshal(m)
				if err != nil {
					t.Fatal(err)
				}
				back := newModel()
				if err := json.Unmarshal(b, back); err != nil {
					t.Fatal(err)
				}
				if err := back.Validate(ifTestDim); err != nil {
					t.Fatalf("after a JSON round trip: %v", err)
				}
				if err := back.Validate(ifTestDim + 1); err == nil || !strings.Contains(err.Error(), "dim 45") {
					t.Errorf("validated against another schema: %v", err)
				}
			})
		}
	}
	t.Run("forest", func(t *testing.T) {
		labels := make([]int, len(blobs))
		for i := range labels {
			labels[i] = i % 3
		}
		f := NewRandomForest(5, 6, 1)
		if err := f.Fit(blobs, labels, 3, 1); err != nil {
			t.Fatal(err)
		}
		if err := f.Validate(ifTestDim, 3); err != nil {
			t.Fatal(err)
		}
		g := NewRandomForest(3, 3, 1)
		if err := g.Fit(blobs[:10], make([]int, 10), 2, 1); err != nil { // one class seen: leaves only
			t.Fatal(err)
		}
		if err := g.Validate(ifTestDim, 2); err != nil {
			t.Fatal(err)
		}
	})
}

// TestValidateRejects damages fitted models, one field at a time, in ways
// a JSON file cannot (NaN) and can (indexes, sizes, cycles).
func TestValidateRejects(t *testing.T) {
	rows := ifTestNewBlobs().rows(200, 1)
	fit := func(m Model) Model {
		if err := m.Fit(rows, 1); err != nil {
			t.Fatal(err)
		}
		return m
	}
	nan := math.NaN()
	for _, tc := range []struct {
		name, model, want string
		damage            func(Model)
	}{
		{"iforest NaN split", "iforest", "split NaN", func(m Model) { ifInternal(m.(*IsolationForest), 0).Split = nan }},
		{"iforest inverted range", "iforest", "over range [2, 1]", func(m Model) { n := ifInternal(m.(*IsolationForest), 0); n.Lo, n.Hi = 2, 1 }},
		{"iforest child out of range", "iforest", "children 5000", func(m Model) { ifInternal(m.(*IsolationForest), 0).Left = 5000 }},
		{"iforest self loop", "iforest", "cyclic", func(m Model) {
			f := m.(*IsolationForest)
			for i := range f.Trees[0] {
				if nd := &f.Trees[0][i]; nd.Left != 0 && i > 0 {
					nd.Left = int32(i)
					return
				}
			}
		}},
		{"iforest too deep", "iforest", "splits at depth 5", func(m Model) {
			// A chain of splits, each with a leaf on its left: forward,
			// but deeper than a tree of psi 32 grows.
			f := m.(*IsolationForest)
			chain := make([]IFNode, 2*f.Psi-1)
			for i := 0; i+2 < len(chain); i += 2 {
				chain[i] = IFNode{Feature: 1, Split: 0, Lo: -1, Hi: 1, Left: int32(i + 1), Count: 3}
				chain[i+1] = IFNode{Count: 1}
			}
			f.Trees[0] = chain
		}},
		{"iforest too many nodes", "iforest", "nodes 64, want 1 to 63", func(m Model) {
			f := m.(*IsolationForest)
			f.Trees[0] = make([]IFNode, 64)
		}},
		{"iforest empty tree", "iforest", "nodes 0", func(m Model) { m.(*IsolationForest).Trees[1] = nil }},
		{"iforest NaN constant", "iforest", "const_vals[0] is NaN", func(m Model) {
			f := m.(*IsolationForest)
			f.ConstDims, f.ConstVals = []int32{3}, []float64{nan}
		}},
		{"iforest constant features out of order", "iforest", "constant feature 1", func(m Model) {
			f := m.(*IsolationForest)
			f.ConstDims, f.ConstVals = []int32{3, 3}, []float64{0, 0}
		}},
		{"iforest leaf of more rows than psi", "iforest", "leaf of 33 rows", func(m Model) {
			f := m.(*IsolationForest)
			for i := range f.Trees[0] {
				if f.Trees[0][i].Left == 0 {
					f.Trees[0][i].Count = 33
					return
				}
			}
		}},
		{"hst depth 21", "hst", "depth 21", func(m Model) { m.(*HalfSpaceTrees).Depth = 21 }},
		{"hst NaN work space", "hst", "tree 1: hi[4] is NaN", func(m Model) { m.(*HalfSpaceTrees).Trees[1].Hi[4] = nan }},
		{"hst inverted work space", "hst", "work space of feature 2", func(m Model) {
			tr := &m.(*HalfSpaceTrees).Trees[0]
			tr.Lo[2], tr.Hi[2] = tr.Hi[2], tr.Lo[2]
		}},
		{"hst negative feature", "hst", "feature -1 out of range", func(m Model) { m.(*HalfSpaceTrees).Trees[0].Feature[2] = -1 }},
		{"hst short masses", "hst", "masses, depth 4 needs 31", func(m Model) {
			tr := &m.(*HalfSpaceTrees).Trees[0]
			tr.Latest = tr.Latest[:30]
		}},
		{"hst mass over the rows", "hst", "reference mass 201, of 200 rows", func(m Model) { m.(*HalfSpaceTrees).Trees[0].Ref[0] = 201 }},
		{"hst count at the window", "hst", "count 16", func(m Model) { m.(*HalfSpaceTrees).Count = 16 }},
		{"hst no reference", "hst", "ref_rows 0", func(m Model) { m.(*HalfSpaceTrees).RefRows = 0 }},
		{"kmeans NaN centroid", "kmeans", "centroid 1[7] is NaN", func(m Model) { m.(*KMeans).Centroids[1][7] = nan }},
		{"kmeans more centroids than k", "kmeans", "centroids 4, want 1 to 3", func(m Model) {
			k := m.(*KMeans)
			k.Centroids = append(k.Centroids, k.Centroids[0])
		}},
		{"kmeans no centroid", "kmeans", "centroids 0", func(m Model) { m.(*KMeans).Centroids = nil }},
		{"kmeans k huge", "kmeans", "k 5000", func(m Model) { m.(*KMeans).K = 5000 }},
		{"autoencoder NaN weight", "autoencoder", "w3[2] is NaN", func(m Model) { m.(*Autoencoder).W3[2] = nan }},
		{"autoencoder Inf bias", "autoencoder", "b4[0] is -Inf", func(m Model) { m.(*Autoencoder).B4[0] = math.Inf(-1) }},
		{"autoencoder wide", "autoencoder", "hidden 257", func(m Model) { m.(*Autoencoder).Hidden = 257 }},
		{"autoencoder code of other weights", "autoencoder", "w2 has 8 values, want 12", func(m Model) { m.(*Autoencoder).Code = 3 }},
		{"lstm NaN weight", "lstm", "wy[1] is NaN", func(m Model) { m.(*LSTMForecaster).Wy[1] = nan }},
		{"lstm short mean", "lstm", "mean has 44 values", func(m Model) { l := m.(*LSTMForecaster); l.Mean = l.Mean[1:] }},
		{"lstm inverted range", "lstm", "training range of feature 0", func(m Model) { l := m.(*LSTMForecaster); l.Lo[0], l.Hi[0] = 1, -1 }},
		{"lstm short skip", "lstm", "skip has 1 values", func(m Model) { m.(*LSTMForecaster).Skip = []float64{0} }},
		{"lstm history beyond clipping", "lstm", "history[3] is 51", func(m Model) {
			l := m.(*LSTMForecaster)
			l.History, l.HistoryLen, l.HistoryNext = make([]float64, 3*ifTestDim), 3, 0
			l.History[3] = 51
		}},
		{"lstm history of other length", "lstm", "history has 10 values", func(m Model) { m.(*LSTMForecaster).History = make([]float64, 10) }},
		{"lstm history next", "lstm", "history of 1 rows, next 2", func(m Model) {
			l := m.(*LSTMForecaster)
			l.History, l.HistoryLen, l.HistoryNext = make([]float64, 3*ifTestDim), 1, 2
		}},
		{"ar NaN coefficient", "ar", "coef[5] is NaN", func(m Model) { m.(*ARForecaster).Coef[5] = nan }},
		{"ar order huge", "ar", "order 65", func(m Model) { m.(*ARForecaster).Order = 65 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := fit(vtModels()[tc.model]())
			if err := m.Validate(ifTestDim); err != nil {
				t.Fatalf("before the damage: %v", err)
			}
			tc.damage(m)
			if err := m.Validate(ifTestDim); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestValidateRejectsForest(t *testing.T) {
	rows := ifTestNewBlobs().rows(200, 1)
	labels := make([]int, len(rows))
	for i := range labels {
		labels[i] = i % 3
	}
	for _, tc := range []struct {
		name, want string
		classes    int
		damage     func(*RandomForest)
	}{
		{"other classes", "3 classes, the model set names 4", 4, func(*RandomForest) {}},
		{"NaN threshold", "threshold NaN", 3, func(f *RandomForest) { f.Threshold[f.Roots[1]] = math.NaN() }},
		{"NaN probability", "is NaN", 3, func(f *RandomForest) { f.Prob[4] = math.NaN() }},
		{"self loop", "cyclic", 3, func(f *RandomForest) { f.Child[f.Roots[1]] = f.Roots[1] }},
		{"back to the root", "cyclic", 3, func(f *RandomForest) { f.Child[rfSplitBelowRoot(f)] = 0 }},
		{"feature below -1", "feature -2", 3, func(f *RandomForest) { f.Feature[f.Roots[0]] = -2 }},
		{"leaf past the probabilities", "leaf probabilities at", 3, func(f *RandomForest) {
			for i, j := range f.Feature {
				if j == -1 {
					f.Child[i] = int32(len(f.Prob) - 1)
					return
				}
			}
		}},
		{"roots out of order", "tree 1: root 0", 3, func(f *RandomForest) { f.Roots[1] = 0 }},
		{"depth", "max_depth is 2", 3, func(f *RandomForest) { f.MaxDepth = 2 }},
		{"ragged arrays", "thresholds", 3, func(f *RandomForest) { f.Threshold = f.Threshold[1:] }},
		{"trees", "trees 6, but 5 stored", 3, func(f *RandomForest) { f.Trees = 6 }},
		{"probabilities not in classes", "for 3 classes", 3, func(f *RandomForest) { f.Prob = f.Prob[1:] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := NewRandomForest(5, 8, 1)
			if err := f.Fit(rows, labels, 3, 1); err != nil {
				t.Fatal(err)
			}
			tc.damage(f)
			if err := f.Validate(ifTestDim, tc.classes); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// ifInternal returns the n-th internal node of tree 0.
func ifInternal(f *IsolationForest, n int) *IFNode {
	for i := range f.Trees[0] {
		if f.Trees[0][i].Left != 0 {
			if n == 0 {
				return &f.Trees[0][i]
			}
			n--
		}
	}
	panic("no internal node")
}

// rfSplitBelowRoot returns a split node that is not a root.
func rfSplitBelowRoot(f *RandomForest) int {
	for i, j := range f.Feature {
		if j >= 0 && !slices.Contains(f.Roots, int32(i)) {
			return i
		}
	}
	panic("no split below a root")
}
