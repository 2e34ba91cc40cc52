package models

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
)

// Isolation forest defaults: the values of Liu, Ting and Zhou (2008).
const (
	ifDefaultTrees  = 100
	ifDefaultSample = 256
	// ifStream is the second PCG word, so that the forest's random
	// sequence differs from other members' given the same seed.
	ifStream = 0x69666f7265737431 // "iforest1"
	// ifEuler is the Euler–Mascheroni constant of the harmonic number
	// approximation H(i) ≈ ln(i) + γ.
	ifEuler = 0.5772156649015329
	// ifMaxTrees and ifMaxSample bound a loaded forest, so that a damaged
	// model file cannot make scoring slow: scoring walks every tree, at
	// most ceil(log2(Psi)) levels deep.
	ifMaxTrees  = 4096
	ifMaxSample = 1 << 16
)

// IFNode is one node of an isolation tree. A tree is a flat slice of nodes
// with the root at index 0; since the root is nobody's child, Left == 0
// marks a leaf (external node). The children of an internal node are
// adjacent: Left and Left+1. An internal node sends a row left when
// row[Feature] < Split, right otherwise; Lo and Hi are the least and
// greatest values of Feature among the node's training rows (the split was
// drawn uniformly between them). Count is, in a leaf, the number of
// subsampled training rows that reached it and, in an internal node, the
// number of features that were not constant among its rows (those the
// split feature was drawn from).
type IFNode struct {
	Split   float64 `json:"s,omitempty"`
	Lo      float64 `json:"a,omitempty"`
	Hi      float64 `json:"b,omitempty"`
	Feature int32   `json:"f,omitempty"`
	Left    int32   `json:"l,omitempty"`
	Count   int32   `json:"n,omitempty"`
}

// IsolationForest is the isolation forest of Liu, Ting and Zhou (2008).
// Each tree isolates a random subsample of Psi training rows with random
// axis-parallel splits (a random feature among those not constant in the
// node, a split uniform in its range) up to depth ceil(log2(Psi)). The
// score of a row x is the paper's 2^(-E[h(x)]/c(Psi)), in (0,1]: about 0.5
// and below for ordinary rows, towards 1 for rows that are isolated
// quickly. h(x) is the depth of the leaf x reaches plus c(Count), the
// expected path length of the unbuilt subtree below a leaf of Count rows.
//
// Unless Textbook is set, h(x) also counts what a tree grown on a sample
// containing x would have done, which the paper's h(x) cannot see for
// values outside the training range: a row at 20 where training rows
// reached 3 follows the same path as a row at 3. At an internal node whose
// split feature f has range [Lo,Hi] among the node's rows, a split drawn
// uniformly over the range widened to x[f] would have isolated x at once
// with probability (x[f]-Hi)/(x[f]-Lo) when x[f] > Hi (symmetrically below
// Lo); likewise, a feature constant in all training rows on which x
// differs would have been a split candidate too, isolating x at once with
// probability u/(Count+u), u the number of such features (features
// constant only within a node are not tracked). Otherwise the split is
// distributed exactly as the stored one, so the walk continues, and
// E[h(x)] is the expectation over these chances along the path. For a row
// within the range of every node on its path (training rows in a tree's
// subsample always are) this is the paper's h(x); rows far outside the
// training range in a few features, as attacks are, get shorter paths.
type IsolationForest struct {
	NumTrees int  `json:"trees"`              // trees to grow; 0 means 100
	Sample   int  `json:"sample"`             // subsample size wanted; 0 means 256
	Textbook bool `json:"textbook,omitempty"` // score with the paper's h(x) only

	Dim       int        `json:"dim"`        // features per row, set by Fit
	Psi       int        `json:"psi"`        // subsample size used: min(Sample, rows)
	ConstDims []int32    `json:"const_dims"` // features constant in all training rows
	ConstVals []float64  `json:"const_vals"` // their values
	Trees     [][]IFNode `json:"nodes"`      // one flat node array per tree
}

// NewIsolationForest returns an unfitted forest of trees trees, each grown
// on sample rows (all rows when fewer). Non-positive arguments select the
// defaults, 100 trees of 256 rows.
func NewIsolationForest(trees, sample int) *IsolationForest {
	if trees <= 0 {
		trees = ifDefaultTrees
	}
	if sample <= 0 {
		sample = ifDefaultSample
	}
	return &IsolationForest{NumTrees: trees, Sample: sample}
}

// Name implements Model.
func (m *IsolationForest) Name() string { return "iforest" }

// Fit implements Model. It grows every tree afresh.
func (m *IsolationForest) Fit(rows [][]float64, seed uint64) error {
	dim, err := ifCheckRows("iforest", rows)
	if err != nil {
		return err
	}
	trees, sample := m.NumTrees, m.Sample
	if trees <= 0 {
		trees = ifDefaultTrees
	}
	if sample <= 0 {
		sample = ifDefaultSample
	}
	n := len(rows)
	psi := min(sample, n)
	b := ifBuilder{
		rows:     rows,
		rng:      rand.New(rand.NewPCG(seed, ifStream)),
		maxDepth: bits.Len(uint(psi - 1)), // ceil(log2(psi)); 0 for psi 1
		lo:       make([]float64, dim),
		hi:       make([]float64, dim),
		cand:     make([]int32, 0, dim),
	}
	constDims, constVals := []int32{}, []float64{}
	for j := range dim {
		v := rows[0][j]
		constant := true
		for _, r := range rows[1:] {
			if r[j] != v {
				constant = false
				break
			}
		}
		if constant {
			constDims = append(constDims, int32(j))
			constVals = append(constVals, v)
		}
	}
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	forest := make([][]IFNode, trees)
	b.nodes = make([]IFNode, 0, 2*psi-1) // scratch: a tree has at most 2psi-1 nodes
	for t := range forest {
		// Partial Fisher–Yates: idx[:psi] becomes a uniform sample
		// without replacement (idx stays a permutation of all rows).
		for i := range psi {
			j := i + b.rng.IntN(n-i)
			idx[i], idx[j] = idx[j], idx[i]
		}
		b.nodes = b.nodes[:1]
		b.grow(0, idx[:psi], 0)
		forest[t] = slices.Clone(b.nodes)
	}
	m.NumTrees, m.Sample = trees, sample
	m.Dim, m.Psi, m.Trees = dim, psi, forest
	m.ConstDims, m.ConstVals = constDims, constVals
	return nil
}

// Validate implements Model. Besides sizes and ranges it checks that every
// child comes after its parent (Fit allocates children after their
// parent, so a walk from the root moves forward and ends) and that no
// internal node lies at or below depth ceil(log2(Psi)), where Fit stops.
func (m *IsolationForest) Validate(dim int) error {
	if err := checkDim(m.Dim, dim); err != nil {
		return err
	}
	if err := checkRange("trees", len(m.Trees), 1, ifMaxTrees); err != nil {
		return err
	}
	if m.NumTrees != len(m.Trees) {
		return fmt.Errorf("trees %d, but %d stored", m.NumTrees, len(m.Trees))
	}
	if err := checkRange("psi", m.Psi, 1, ifMaxSample); err != nil {
		return err
	}
	if len(m.ConstVals) != len(m.ConstDims) {
		return fmt.Errorf("%d constant features with %d values", len(m.ConstDims), len(m.ConstVals))
	}
	if err := checkFinite("const_vals", m.ConstVals); err != nil {
		return err
	}
	prev := int32(-1)
	for k, j := range m.ConstDims {
		if j <= prev || int(j) >= dim {
			return fmt.Errorf("constant feature %d: index %d out of range (%d, %d)", k, j, prev, dim)
		}
		prev = j
	}
	maxNodes, maxDepth := 2*m.Psi-1, bits.Len(uint(m.Psi-1))
	depth := make([]int, maxNodes)
	for t, nodes := range m.Trees {
		if err := checkRange(fmt.Sprintf("tree %d: nodes", t), len(nodes), 1, maxNodes); err != nil {
			return err
		}
		d := depth[:len(nodes)]
		clear(d)
		for i := range nodes {
			nd := &nodes[i]
			if nd.Left == 0 { // leaf
				if nd.Count < 0 || int(nd.Count) > m.Psi {
					return fmt.Errorf("tree %d node %d: leaf of %d rows, want 0 to psi %d", t, i, nd.Count, m.Psi)
				}
				continue
			}
			switch {
			case d[i] >= maxDepth:
				return fmt.Errorf("tree %d node %d: splits at depth %d, trees of psi %d end at %d", t, i, d[i], m.Psi, maxDepth)
			case nd.Left <= int32(i) || int(nd.Left) >= len(nodes)-1:
				return fmt.Errorf("tree %d node %d: children %d and %d, want both after the node and below %d (cyclic or out of range)", t, i, nd.Left, int(nd.Left)+1, len(nodes))
			case nd.Feature < 0 || int(nd.Feature) >= dim:
				return fmt.Errorf("tree %d node %d: feature %d out of range [0, %d)", t, i, nd.Feature, dim)
			case nd.Count < 1 || int(nd.Count) > dim:
				return fmt.Errorf("tree %d node %d: %d candidate features, want 1 to %d", t, i, nd.Count, dim)
			case !(finite(nd.Split) && finite(nd.Lo) && finite(nd.Hi) && nd.Lo <= nd.Hi):
				return fmt.Errorf("tree %d node %d: split %v over range [%v, %v]", t, i, nd.Split, nd.Lo, nd.Hi)
			}
			d[nd.Left] = max(d[nd.Left], d[i]+1)
			d[nd.Left+1] = max(d[nd.Left+1], d[i]+1)
		}
	}
	return nil
}

// ifBuilder grows one isolation tree at a time.
type ifBuilder struct {
	rows     [][]float64
	rng      *rand.Rand
	maxDepth int
	lo, hi   []float64
	cand     []int32
	nodes    []IFNode
}

// grow makes node at (already allocated) the root of the subtree isolating
// the rows sub, which it reorders.
func (b *ifBuilder) grow(at int32, sub []int32, depth int) {
	if depth >= b.maxDepth || len(sub) <= 1 {
		b.nodes[at] = IFNode{Count: int32(len(sub))}
		return
	}
	first := b.rows[sub[0]]
	copy(b.lo, first)
	copy(b.hi, first)
	for _, r := range sub[1:] {
		for j, v := range b.rows[r] {
			if v < b.lo[j] {
				b.lo[j] = v
			} else if v > b.hi[j] {
				b.hi[j] = v
			}
		}
	}
	b.cand = b.cand[:0]
	for j := range b.lo {
		if b.hi[j] > b.lo[j] {
			b.cand = append(b.cand, int32(j))
		}
	}
	if len(b.cand) == 0 { // identical rows cannot be isolated
		b.nodes[at] = IFNode{Count: int32(len(sub))}
		return
	}
	f := b.cand[b.rng.IntN(len(b.cand))]
	lo, hi := b.lo[f], b.hi[f]
	split := lo + b.rng.Float64()*(hi-lo)
	if split <= lo {
		// Only when the draw is 0 or rounds down: splitting at the
		// maximum still leaves rows on both sides.
		split = hi
	}
	// Partition: rows below split first; both sides are non-empty.
	i, j := 0, len(sub)
	for i < j {
		if b.rows[sub[i]][f] < split {
			i++
		} else {
			j--
			sub[i], sub[j] = sub[j], sub[i]
		}
	}
	left := int32(len(b.nodes))
	b.nodes[at] = IFNode{Split: split, Lo: lo, Hi: hi, Feature: f, Left: left, Count: int32(len(b.cand))}
	b.nodes = append(b.nodes, IFNode{}, IFNode{})
	b.grow(left, sub[:i], depth+1)
	b.grow(left+1, sub[i:], depth+1)
}

// Score implements Model: 2^(-E[h(x)]/c(Psi)), in (0,1] (see
// IsolationForest for E[h(x)]). An unfitted forest, or one fitted on a
// single row, cannot tell rows apart and scores 0.5. row must have Dim
// features.
func (m *IsolationForest) Score(row []float64) float64 {
	norm := ifAvgPathLen(m.Psi)
	if len(m.Trees) == 0 || norm == 0 {
		return 0.5
	}
	row = row[:m.Dim]
	extra := 0 // constant features on which row differs
	if !m.Textbook {
		for k, j := range m.ConstDims {
			if row[j] != m.ConstVals[k] {
				extra++
			}
		}
	}
	var sum float64
	for _, nodes := range m.Trees {
		if m.Textbook {
			sum += ifPathLen(nodes, row)
		} else {
			sum += ifExpectedPathLen(nodes, row, extra)
		}
	}
	return math.Exp2(-sum / float64(len(m.Trees)) / norm)
}

// ifPathLen is the paper's h(x) in one tree.
func ifPathLen(nodes []IFNode, row []float64) float64 {
	i, depth := int32(0), 0
	for {
		nd := &nodes[i]
		if nd.Left == 0 {
			return float64(depth) + ifAvgPathLen(int(nd.Count))
		}
		i = nd.Left
		if row[nd.Feature] >= nd.Split {
			i++
		}
		depth++
	}
}

// ifExpectedPathLen is E[h(x)] in one tree as if x had been in its
// sample; extra is the number of features constant in training on which x
// differs.
func ifExpectedPathLen(nodes []IFNode, row []float64, extra int) float64 {
	var eh float64
	reach := 1.0 // probability that x is not isolated above this node
	i, depth := int32(0), 0
	for {
		nd := &nodes[i]
		if nd.Left == 0 {
			return eh + reach*(float64(depth)+ifAvgPathLen(int(nd.Count)))
		}
		isolate := 1.0 // probability x is not isolated here
		if extra > 0 {
			isolate = float64(nd.Count) / float64(int(nd.Count)+extra)
		}
		x := row[nd.Feature]
		if x > nd.Hi {
			isolate *= (nd.Hi - nd.Lo) / (x - nd.Lo)
		} else if x < nd.Lo {
			isolate *= (nd.Hi - nd.Lo) / (nd.Hi - x)
		}
		depth++
		eh += reach * (1 - isolate) * float64(depth)
		reach *= isolate
		i = nd.Left
		if x >= nd.Split {
			i++
		}
	}
}

// ifAvgPathLen is c(n), the average path length of an unsuccessful search
// in a binary search tree of n keys, which is the expected depth at which
// a random tree isolates a point among n: 2H(n-1) - 2(n-1)/n, with
// c(1) = 0 and c(2) = 1.
func ifAvgPathLen(n int) float64 {
	switch {
	case n <= 1:
		return 0
	case n == 2:
		return 1
	}
	x := float64(n - 1)
	return 2*(math.Log(x)+ifEuler) - 2*x/float64(n)
}

// ifMaxAbs bounds training values: rows are scaled (the scaler clips at
// ±50), and far larger values would overflow ranges and distances to ±Inf,
// which JSON cannot store.
const ifMaxAbs = 1e100

// ifCheckRows validates training rows for the isolation forest, the
// half-space trees and k-means: at least one row, all of the same
// non-zero length, all values finite and within ±1e100 (NaN and ±Inf
// cannot be split on and cannot be stored in JSON). It returns the row
// length.
func ifCheckRows(model string, rows [][]float64) (int, error) {
	if len(rows) == 0 {
		return 0, errors.New(model + ": no training rows")
	}
	dim := len(rows[0])
	if dim == 0 {
		return 0, errors.New(model + ": training rows have no features")
	}
	for i, r := range rows {
		if len(r) != dim {
			return 0, fmt.Errorf("%s: training row %d has %d features, row 0 has %d", model, i, len(r), dim)
		}
		for j, v := range r {
			if !(math.Abs(v) <= ifMaxAbs) { // also NaN
				return 0, fmt.Errorf("%s: training row %d feature %d is %v", model, i, j, v)
			}
		}
	}
	return dim, nil
}
