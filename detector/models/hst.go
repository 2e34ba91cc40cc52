package models

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Half-space trees defaults, scaled down from the paper's (25 trees of
// depth 15, window 250) to one row every 10 s: a 64-row window is about
// 11 minutes, so the reference masses follow the traffic within 11 to 21
// minutes of a change. Depth 10 keeps a tree at 2047 masses (about half a
// MiB for 25 trees, against 13 MiB at depth 15); many paths still end at
// the leaves, since splits beyond the data do not divide the mass.
const (
	hstDefaultTrees  = 25
	hstDefaultDepth  = 10
	hstDefaultWindow = 64
	// hstMaxDepth bounds Depth: a tree holds 2^(Depth+1)-1 masses.
	hstMaxDepth = 20
	// hstMaxTrees and hstMaxWindow bound a loaded model (Fit takes any
	// number): scoring walks every tree.
	hstMaxTrees  = 1024
	hstMaxWindow = 1 << 24
	// hstSizeLimit is the paper's sizeLimit as a fraction of the
	// reference rows: scoring stops at the first node whose reference
	// mass is below it, since smaller masses are mostly noise.
	hstSizeLimit = 0.1
	// hstMinRange is the width given to a feature whose training range is
	// narrower (features constant in training), in the scaler's robust
	// z-score units: the work space then reaches 3 to 7.5 beyond the
	// constant, so that a feature's first few events (0 to 1 is z 2.8)
	// stay inside most trees' work spaces and an attack's burst does not.
	hstMinRange = 3.0
	hstStream   = 0x6873742d6d617373 // "hst-mass"
)

// HSTTree is one half-space tree: a complete binary tree of depth Depth in
// heap order (node i has children 2i+1 and 2i+2, the root is 0), over its
// own random work space [Lo, Hi]. Internal node i halves the current range
// of feature Feature[i]: a row goes left when its value is below the
// midpoint. The split values are not stored, they follow from Lo, Hi and
// the features on the way down. Ref and Latest hold every node's mass
// (rows that passed through it) in the reference and the latest window;
// RefOut and LatestOut count the rows that lay outside the work space.
type HSTTree struct {
	Lo        []float64 `json:"lo"`
	Hi        []float64 `json:"hi"`
	Feature   []int32   `json:"f"` // 2^Depth-1 internal nodes
	Ref       []int32   `json:"r"` // 2^(Depth+1)-1 nodes
	Latest    []int32   `json:"l"` // 2^(Depth+1)-1 nodes
	RefOut    int32     `json:"ref_out"`
	LatestOut int32     `json:"latest_out"`
}

// HalfSpaceTrees is the streaming detector of Tan, Ting and Liu (2011).
// Each tree's work space is, per feature, a random point s of the
// training range [lo,hi] widened to s ± 2·max(s-lo, hi-s) as in the paper
// (ranges narrower than 3 are first widened to 3), and its nodes split on
// random features at the midpoint of their range. Fit fills the reference
// masses with the training rows. Learn adds rows to the latest masses and,
// every Window rows, makes them the reference (and starts a new latest
// window), so the model follows slow drifts in normal traffic.
//
// Score walks each tree down to the first node whose reference mass r is
// below 0.1 of the reference rows, or to a leaf, and takes the paper's
// mass r·2^k (k the node's depth), with r rescaled to a reference of
// Window rows so that scores keep their scale when the reference changes
// from the training rows to a window. With M the mean over trees, the
// score is log2(Window·2^Depth + 1) - log2(M + 1): bits of surprise, 0 for
// the densest possible row and log2(Window·2^Depth+1) (16 bits with the
// defaults) for a row in empty half-spaces of every tree.
//
// Unless Textbook is set, a tree also notices rows outside its work space.
// A path splits on at most Depth features (10 of 45 with the defaults),
// often fewer before its mass runs out, so the paper's trees barely see a
// row that is ordinary in most features and far off in a few, which is
// what attacks look like. Such a
// row is outside the work space of most trees (every training row is
// inside all of them), and a tree counts its mass at each node as at most
// the number of reference rows that were outside the work space too: none
// after Fit, so the row meets an empty half-space at the root; once a
// window of drifted rows has become the reference, as many as there were.
type HalfSpaceTrees struct {
	NumTrees int  `json:"trees"`              // 0 means 25
	Depth    int  `json:"depth"`              // 0 means 10, at most 20
	Window   int  `json:"window"`             // rows per mass window; 0 means 64
	Textbook bool `json:"textbook,omitempty"` // ignore the work space bounds

	Dim     int       `json:"dim"`      // features per row, set by Fit
	RefRows int       `json:"ref_rows"` // rows counted in the reference masses
	Count   int       `json:"count"`    // rows counted in the latest masses
	Trees   []HSTTree `json:"hs_trees"`
}

// NewHalfSpaceTrees returns unfitted half-space trees. Non-positive
// arguments select the defaults: 25 trees of depth 10, window 64 rows.
// Depth is capped at 20.
func NewHalfSpaceTrees(trees, depth, window int) *HalfSpaceTrees {
	m := &HalfSpaceTrees{NumTrees: trees, Depth: depth, Window: window}
	m.NumTrees, m.Depth, m.Window = m.params()
	return m
}

func (m *HalfSpaceTrees) params() (trees, depth, window int) {
	trees, depth, window = m.NumTrees, m.Depth, m.Window
	if trees <= 0 {
		trees = hstDefaultTrees
	}
	if depth <= 0 {
		depth = hstDefaultDepth
	}
	depth = min(depth, hstMaxDepth)
	if window <= 0 {
		window = hstDefaultWindow
	}
	return trees, depth, window
}

// Name implements Model.
func (m *HalfSpaceTrees) Name() string { return "hst" }

// Fit implements Model: it builds new trees over the training rows' range
// and makes the training rows the reference masses.
func (m *HalfSpaceTrees) Fit(rows [][]float64, seed uint64) error {
	dim, err := ifCheckRows("hst", rows)
	if err != nil {
		return err
	}
	trees, depth, window := m.params()
	lo := make([]float64, dim)
	hi := make([]float64, dim)
	copy(lo, rows[0])
	copy(hi, rows[0])
	for _, r := range rows[1:] {
		for j, v := range r {
			lo[j] = min(lo[j], v)
			hi[j] = max(hi[j], v)
		}
	}
	for j := range lo {
		if hi[j]-lo[j] < hstMinRange {
			mid := lo[j] + (hi[j]-lo[j])/2
			lo[j], hi[j] = mid-hstMinRange/2, mid+hstMinRange/2
		}
	}
	rng := rand.New(rand.NewPCG(seed, hstStream))
	internal := 1<<depth - 1
	nodes := 2*internal + 1
	forest := make([]HSTTree, trees)
	for t := range forest {
		tr := &forest[t]
		tr.Lo = make([]float64, dim)
		tr.Hi = make([]float64, dim)
		for j := range dim {
			s := lo[j] + rng.Float64()*(hi[j]-lo[j])
			r := 2 * max(s-lo[j], hi[j]-s)
			tr.Lo[j], tr.Hi[j] = s-r, s+r
		}
		tr.Feature = make([]int32, internal)
		for i := range tr.Feature {
			tr.Feature[i] = int32(rng.IntN(dim))
		}
		tr.Ref = make([]int32, nodes)
		tr.Latest = make([]int32, nodes)
		for _, row := range rows {
			tr.add(tr.Ref, row, depth)
			if tr.outside(row) {
				tr.RefOut++
			}
		}
	}
	m.NumTrees, m.Depth, m.Window = trees, depth, window
	m.Dim, m.RefRows, m.Count, m.Trees = dim, len(rows), 0, forest
	return nil
}

// Validate implements Model. The depth matters beyond sizes: a walk down
// a tree keeps one range per level in arrays of hstMaxDepth.
func (m *HalfSpaceTrees) Validate(dim int) error {
	if err := checkDim(m.Dim, dim); err != nil {
		return err
	}
	if err := checkRange("depth", m.Depth, 1, hstMaxDepth); err != nil {
		return err
	}
	if err := checkRange("trees", len(m.Trees), 1, hstMaxTrees); err != nil {
		return err
	}
	if m.NumTrees != len(m.Trees) {
		return fmt.Errorf("trees %d, but %d stored", m.NumTrees, len(m.Trees))
	}
	if err := checkRange("window", m.Window, 1, hstMaxWindow); err != nil {
		return err
	}
	if err := checkRange("ref_rows", m.RefRows, 1, math.MaxInt32); err != nil {
		return err
	}
	if err := checkRange("count", m.Count, 0, m.Window-1); err != nil {
		return err
	}
	internal := 1<<m.Depth - 1
	nodes := 2*internal + 1
	for t := range m.Trees {
		tr := &m.Trees[t]
		if err := checkVector(fmt.Sprintf("tree %d: lo", t), tr.Lo, dim); err != nil {
			return err
		}
		if err := checkVector(fmt.Sprintf("tree %d: hi", t), tr.Hi, dim); err != nil {
			return err
		}
		for j := range tr.Lo {
			if !(tr.Lo[j] <= tr.Hi[j]) {
				return fmt.Errorf("tree %d: work space of feature %d is [%v, %v]", t, j, tr.Lo[j], tr.Hi[j])
			}
		}
		if len(tr.Feature) != internal {
			return fmt.Errorf("tree %d: %d split features, depth %d needs %d", t, len(tr.Feature), m.Depth, internal)
		}
		for i, f := range tr.Feature {
			if f < 0 || int(f) >= dim {
				return fmt.Errorf("tree %d node %d: feature %d out of range [0, %d)", t, i, f, dim)
			}
		}
		if len(tr.Ref) != nodes || len(tr.Latest) != nodes {
			return fmt.Errorf("tree %d: %d reference and %d latest masses, depth %d needs %d", t, len(tr.Ref), len(tr.Latest), m.Depth, nodes)
		}
		if err := hstValidMasses(t, "reference", tr.Ref, tr.RefOut, m.RefRows); err != nil {
			return err
		}
		if err := hstValidMasses(t, "latest", tr.Latest, tr.LatestOut, m.Count); err != nil {
			return err
		}
	}
	return nil
}

// hstValidMasses reports a mass outside [0, rows].
func hstValidMasses(t int, what string, mass []int32, out int32, rows int) error {
	if out < 0 || int(out) > rows {
		return fmt.Errorf("tree %d: %d %s rows outside the work space, of %d", t, out, what, rows)
	}
	for i, r := range mass {
		if r < 0 || int(r) > rows {
			return fmt.Errorf("tree %d node %d: %s mass %d, of %d rows", t, i, what, r, rows)
		}
	}
	return nil
}

// hstPath tracks, on the way down a tree, the current range of each
// feature split so far (at most one entry per level).
type hstPath struct {
	n      int
	f      [hstMaxDepth]int32
	lo, hi [hstMaxDepth]float64
}

// next returns the child of internal node i that row goes to.
func (p *hstPath) next(tr *HSTTree, i int, row []float64) int {
	f := tr.Feature[i]
	k := 0
	for k < p.n && p.f[k] != f {
		k++
	}
	if k == p.n {
		p.f[k], p.lo[k], p.hi[k] = f, tr.Lo[f], tr.Hi[f]
		p.n++
	}
	mid := p.lo[k] + (p.hi[k]-p.lo[k])/2
	if row[f] < mid {
		p.hi[k] = mid
		return 2*i + 1
	}
	p.lo[k] = mid
	return 2*i + 2
}

// add counts row in mass of every node on its path.
func (tr *HSTTree) add(mass []int32, row []float64, depth int) {
	var p hstPath
	i := 0
	for k := 0; ; k++ {
		mass[i]++
		if k == depth {
			return
		}
		i = p.next(tr, i, row)
	}
}

// outside reports whether row lies outside the tree's work space.
func (tr *HSTTree) outside(row []float64) bool {
	hi := tr.Hi[:len(tr.Lo)]
	for j, lo := range tr.Lo {
		if v := row[j]; v < lo || v > hi[j] {
			return true
		}
	}
	return false
}

// Score implements Model (see HalfSpaceTrees for the scale). row must have
// Dim features.
func (m *HalfSpaceTrees) Score(row []float64) float64 {
	if len(m.Trees) == 0 || m.RefRows <= 0 {
		return 0
	}
	row = row[:m.Dim]
	limit := hstSizeLimit * float64(m.RefRows)
	var sum float64
	for t := range m.Trees {
		tr := &m.Trees[t]
		limitMass := int32(math.MaxInt32)
		if !m.Textbook && tr.outside(row) {
			limitMass = tr.RefOut
		}
		var p hstPath
		i := 0
		for k := 0; ; k++ {
			r := float64(min(tr.Ref[i], limitMass))
			if k == m.Depth || r < limit {
				sum += math.Ldexp(r, k)
				break
			}
			i = p.next(tr, i, row)
		}
	}
	mass := sum / float64(len(m.Trees)) * float64(m.Window) / float64(m.RefRows)
	return math.Log2(math.Ldexp(float64(m.Window), m.Depth)+1) - math.Log2(mass+1)
}

// Learn implements Online: it counts row in the latest masses and, once
// they hold Window rows, makes them the reference masses and starts an
// empty latest window. Rows learned before Fit are ignored.
func (m *HalfSpaceTrees) Learn(row []float64) {
	if len(m.Trees) == 0 {
		return
	}
	row = row[:m.Dim]
	for t := range m.Trees {
		tr := &m.Trees[t]
		tr.add(tr.Latest, row, m.Depth)
		if tr.outside(row) {
			tr.LatestOut++
		}
	}
	m.Count++
	if m.Count < m.Window {
		return
	}
	for t := range m.Trees {
		tr := &m.Trees[t]
		copy(tr.Ref, tr.Latest)
		clear(tr.Latest)
		tr.RefOut, tr.LatestOut = tr.LatestOut, 0
	}
	m.RefRows, m.Count = m.Count, 0
}
