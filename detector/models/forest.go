package models

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// RandomForest is a supervised Classifier: Trees CART trees, each grown on
// a bootstrap sample of the labelled rows by Gini impurity, trying
// ⌈√dim⌉ random features per split (more when those are all constant in
// the node) with thresholds at midpoints between consecutive distinct
// values. A tree stops at depth MaxDepth, at pure nodes, and where no split
// leaves MinLeaf rows on each side. Predict averages the trees' leaf class
// distributions.
//
// The trees are stored as flat node arrays shared by all trees: node i
// splits on Feature[i] (x ≤ Threshold[i] goes to node Child[i], the rest to
// Child[i]+1), or is a leaf when Feature[i] is -1, with its class
// distribution at Prob[Child[i] : Child[i]+Classes]. Roots holds each
// tree's first node.
type RandomForest struct {
	Trees    int `json:"trees"`
	MaxDepth int `json:"max_depth"`
	MinLeaf  int `json:"min_leaf"`

	Dim       int       `json:"dim"`
	Classes   int       `json:"classes"`
	Roots     []int32   `json:"roots"`
	Feature   []int32   `json:"feature"`
	Threshold []float64 `json:"threshold"`
	Child     []int32   `json:"child"`
	Prob      []float64 `json:"prob"`
}

const rfStream = 0x72662d666f726573 // "rf-fores"

// rfMaxTrees, rfMaxDepth and rfMaxClasses bound a loaded forest (100
// trees of depth 12 by default): Predict walks every tree.
const (
	rfMaxTrees   = 4096
	rfMaxDepth   = 64
	rfMaxClasses = 256
)

// NewRandomForest returns an untrained forest (100 trees, depth 12, leaves
// of at least 2 rows for zero or negative arguments).
func NewRandomForest(trees, maxDepth, minLeaf int) *RandomForest {
	if trees <= 0 {
		trees = 100
	}
	if maxDepth <= 0 {
		maxDepth = 12
	}
	if minLeaf <= 0 {
		minLeaf = 2
	}
	return &RandomForest{Trees: trees, MaxDepth: maxDepth, MinLeaf: minLeaf}
}

// Name implements Classifier.
func (f *RandomForest) Name() string { return "forest" }

// rfBuilder holds the training set and scratch space of Fit. Each column
// is sorted once per Fit; each tree then lists its bootstrap sample in
// every column's order (a row drawn k times appears k times) and keeps
// every node's samples in one range [start, end) of all those lists by
// stable partitioning, so split search never sorts.
type rfBuilder struct {
	f      *RandomForest
	n, dim int
	col    [][]float64 // col[j][r]: clipped value of feature j in row r
	labels []int
	sorted [][]int32 // sorted[j]: rows in increasing col[j] order
	lists  [][]int32 // lists[j]: the tree's sample in col[j] order, partitioned by node
	tmp    []int32
	left   []bool // per row: goes left at the node being split
	mult   []int32
	mtry   int
	feats  []int // feature permutation, reshuffled per node
	cl, cr []int // class counts left and right of a candidate
	count  []int // the node's class counts
	stack  []rfTask
	prob   []float64 // leaf distribution
}

type rfTask struct {
	node       int32
	start, end int
	depth      int
}

// Fit implements Classifier. labels[i] must be in [0, classes).
func (f *RandomForest) Fit(rows [][]float64, labels []int, classes int, seed uint64) error {
	data, dim, err := nnRows(rows)
	if err != nil {
		return err
	}
	if len(labels) != len(data) {
		return fmt.Errorf("models: %d labels for %d rows", len(labels), len(data))
	}
	if classes < 1 {
		return errors.New("models: forest needs at least one class")
	}
	for i, l := range labels {
		if l < 0 || l >= classes {
			return fmt.Errorf("models: label %d of row %d outside [0, %d)", l, i, classes)
		}
	}
	if f.Trees <= 0 || f.MaxDepth <= 0 || f.MinLeaf <= 0 {
		return errors.New("models: forest needs positive trees, depth and leaf size")
	}
	n := len(data)
	if n > math.MaxInt32/4 {
		return errors.New("models: too many rows for the forest")
	}
	f.Dim, f.Classes = dim, classes
	f.Roots = make([]int32, 0, f.Trees)
	f.Feature, f.Threshold, f.Child, f.Prob = nil, nil, nil, nil

	b := &rfBuilder{f: f, n: n, dim: dim, labels: labels,
		mtry:  max(1, int(math.Ceil(math.Sqrt(float64(dim))))),
		col:   make([][]float64, dim),
		feats: make([]int, dim), sorted: make([][]int32, dim), lists: make([][]int32, dim),
		tmp: make([]int32, n), left: make([]bool, n), mult: make([]int32, n),
		cl: make([]int, classes), cr: make([]int, classes), count: make([]int, classes),
		prob: make([]float64, classes)}
	colBuf := make([]float64, dim*n)
	sortBuf := make([]int32, dim*n)
	listBuf := make([]int32, dim*n)
	for j := range dim {
		c := colBuf[j*n : (j+1)*n : (j+1)*n]
		for r, row := range data {
			c[r] = row[j]
		}
		o := sortBuf[j*n : (j+1)*n : (j+1)*n]
		for r := range o {
			o[r] = int32(r)
		}
		slices.SortFunc(o, func(a, b int32) int {
			if c[a] < c[b] {
				return -1
			}
			if c[a] > c[b] {
				return 1
			}
			return int(a - b)
		})
		b.col[j], b.sorted[j], b.lists[j] = c, o, listBuf[j*n:(j+1)*n:(j+1)*n]
		b.feats[j] = j
	}
	rng := nnRand(seed, rfStream)
	for range f.Trees {
		clear(b.mult)
		for range n {
			b.mult[rng.IntN(n)]++
		}
		for j, o := range b.sorted {
			l := b.lists[j][:0]
			for _, r := range o {
				for k := b.mult[r]; k > 0; k-- {
					l = append(l, r)
				}
			}
		}
		if len(f.Feature) > math.MaxInt32/2 {
			return errors.New("models: forest too large")
		}
		root := int32(len(f.Feature))
		f.Roots = append(f.Roots, root)
		f.addNode()
		b.stack = append(b.stack[:0], rfTask{node: root, start: 0, end: n})
		for len(b.stack) > 0 {
			t := b.stack[len(b.stack)-1]
			b.stack = b.stack[:len(b.stack)-1]
			b.grow(t, rng.IntN)
		}
	}
	return nil
}

func (f *RandomForest) addNode() {
	f.Feature = append(f.Feature, -1)
	f.Threshold = append(f.Threshold, 0)
	f.Child = append(f.Child, 0)
}

// grow splits node t.node, pushing its children, or makes it a leaf.
func (b *rfBuilder) grow(t rfTask, intn func(int) int) {
	f := b.f
	m := t.end - t.start
	clear(b.count)
	for _, r := range b.lists[0][t.start:t.end] {
		b.count[b.labels[r]]++
	}
	pure := false
	for _, c := range b.count {
		if c == m {
			pure = true
		}
	}
	if pure || t.depth >= f.MaxDepth || m < 2*f.MinLeaf {
		b.leaf(t.node, m)
		return
	}
	feat, thr, ok := b.bestSplit(t.start, t.end, intn)
	if !ok {
		b.leaf(t.node, m)
		return
	}
	// Stable partition of every list: rows going left first, each side
	// keeping its sorted order.
	c := b.col[feat]
	for _, r := range b.lists[feat][t.start:t.end] {
		b.left[r] = c[r] <= thr
	}
	nl := 0
	for _, l := range b.lists {
		seg := l[t.start:t.end]
		tmp := b.tmp[:0]
		k := 0
		for _, r := range seg {
			if b.left[r] {
				seg[k] = r
				k++
			} else {
				tmp = append(tmp, r)
			}
		}
		copy(seg[k:], tmp)
		nl = k
	}
	left := int32(len(f.Feature))
	f.addNode()
	f.addNode()
	f.Feature[t.node] = int32(feat)
	f.Threshold[t.node] = thr
	f.Child[t.node] = left
	// Push right first so the left subtree is built first (depth-first).
	b.stack = append(b.stack,
		rfTask{node: left + 1, start: t.start + nl, end: t.end, depth: t.depth + 1},
		rfTask{node: left, start: t.start, end: t.start + nl, depth: t.depth + 1})
}

// leaf makes node a leaf holding the class distribution in b.count.
func (b *rfBuilder) leaf(node int32, n int) {
	f := b.f
	f.Feature[node] = -1
	f.Child[node] = int32(len(f.Prob))
	for c, k := range b.count {
		b.prob[c] = float64(k) / float64(n)
	}
	f.Prob = append(f.Prob, b.prob...)
}

// bestSplit returns the split of the node's samples (positions start to
// end of the lists) with the lowest weighted Gini impurity among mtry
// random non-constant features (all features are tried, in random order,
// until mtry non-constant ones were seen).
func (b *rfBuilder) bestSplit(start, end int, intn func(int) int) (feat int, thr float64, ok bool) {
	f := b.f
	n := end - start
	bestScore := math.Inf(-1)
	tried := 0
	for k := 0; k < len(b.feats) && tried < b.mtry; k++ {
		// Partial Fisher–Yates: draw the next feature.
		r := k + intn(len(b.feats)-k)
		b.feats[k], b.feats[r] = b.feats[r], b.feats[k]
		j := b.feats[k]
		seg, c := b.lists[j][start:end], b.col[j]
		if c[seg[0]] == c[seg[n-1]] {
			continue // constant here: does not count towards mtry
		}
		tried++
		// Maximise Σ cl²/nl + Σ cr²/nr, which minimises the weighted Gini.
		clear(b.cl)
		copy(b.cr, b.count)
		sqL, sqR := 0, 0
		for _, k := range b.count {
			sqR += k * k
		}
		for i := 0; i < n-1; i++ {
			cls := b.labels[seg[i]]
			sqL += 2*b.cl[cls] + 1
			sqR -= 2*b.cr[cls] - 1
			b.cl[cls]++
			b.cr[cls]--
			nl := i + 1
			v, next := c[seg[i]], c[seg[i+1]]
			if v == next || nl < f.MinLeaf || n-nl < f.MinLeaf {
				continue
			}
			s := float64(sqL)/float64(nl) + float64(sqR)/float64(n-nl)
			if s > bestScore {
				bestScore = s
				feat = j
				thr = v + (next-v)/2
				if !(thr < next) {
					thr = v // adjacent floats: the midpoint rounds up
				}
				ok = true
			}
		}
	}
	return feat, thr, ok
}

// rfUniform fills p with the uniform distribution.
func rfUniform(p []float64) {
	for c := range p {
		p[c] = 1 / float64(len(p))
	}
}

// fitted reports whether the node arrays are present and consistent.
func (f *RandomForest) fitted() bool {
	return f.Dim > 0 && len(f.Roots) > 0 &&
		len(f.Threshold) == len(f.Feature) && len(f.Child) == len(f.Feature)
}

// Predict implements Classifier: the mean of the trees' leaf class
// distributions for the clipped row, appended to dst. Missing trailing
// values of a short row count as 0. A forest without usable trees appends
// the uniform distribution over its Classes (nothing when Classes is 0,
// i.e. never fitted).
func (f *RandomForest) Predict(row []float64, dst []float64) []float64 {
	C := f.Classes
	if C <= 0 {
		return dst
	}
	n := len(dst)
	dst = append(dst, make([]float64, C)...)
	p := dst[n:]
	if !f.fitted() {
		rfUniform(p)
		return dst
	}
	used := 0
	for _, root := range f.Roots {
		i := root
		for steps := 0; ; steps++ {
			if i < 0 || int(i) >= len(f.Feature) || steps > len(f.Feature) {
				i = -1 // corrupt tree: skip it
				break
			}
			j := f.Feature[i]
			if j < 0 {
				break
			}
			x := 0.0
			if int(j) < len(row) {
				x = nnClip(row[j])
			}
			if x <= f.Threshold[i] {
				i = f.Child[i]
			} else {
				i = f.Child[i] + 1
			}
		}
		if i < 0 {
			continue
		}
		o := int(f.Child[i])
		if o < 0 || o+C > len(f.Prob) {
			continue
		}
		for c, v := range f.Prob[o : o+C] {
			p[c] += v
		}
		used++
	}
	s := 0.0
	for _, v := range p {
		s += v
	}
	if used == 0 || !(s > 0) || math.IsInf(s, 0) {
		rfUniform(p)
		return dst
	}
	for c := range p {
		p[c] /= s
	}
	return dst
}

// Validate implements Classifier. Like the isolation forest's, a split
// node's children come after it (Fit allocates them so), which makes
// every walk end; no split lies at or below MaxDepth.
func (f *RandomForest) Validate(dim, classes int) error {
	if err := checkDim(f.Dim, dim); err != nil {
		return err
	}
	if err := checkRange("classes", f.Classes, 1, rfMaxClasses); err != nil {
		return err
	}
	if f.Classes != classes {
		return fmt.Errorf("%d classes, the model set names %d", f.Classes, classes)
	}
	if err := checkRange("trees", len(f.Roots), 1, rfMaxTrees); err != nil {
		return err
	}
	if f.Trees != len(f.Roots) {
		return fmt.Errorf("trees %d, but %d stored", f.Trees, len(f.Roots))
	}
	if err := checkRange("max_depth", f.MaxDepth, 1, rfMaxDepth); err != nil {
		return err
	}
	if f.MinLeaf < 1 {
		return fmt.Errorf("min_leaf %d", f.MinLeaf)
	}
	n := len(f.Feature)
	if n == 0 || len(f.Threshold) != n || len(f.Child) != n {
		return fmt.Errorf("%d split features, %d thresholds and %d children", n, len(f.Threshold), len(f.Child))
	}
	if len(f.Prob)%f.Classes != 0 {
		return fmt.Errorf("%d leaf probabilities for %d classes", len(f.Prob), f.Classes)
	}
	for i, p := range f.Prob {
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("leaf probability %d is %v", i, p)
		}
	}
	prev := int32(-1)
	for t, r := range f.Roots {
		if r <= prev || int(r) >= n {
			return fmt.Errorf("tree %d: root %d out of range (%d, %d)", t, r, prev, n)
		}
		prev = r
	}
	depth := make([]int, n)
	for i, j := range f.Feature {
		c := f.Child[i]
		if j == -1 { // leaf
			if c < 0 || int(c)+f.Classes > len(f.Prob) {
				return fmt.Errorf("node %d: leaf probabilities at %d, of %d", i, c, len(f.Prob))
			}
			continue
		}
		switch {
		case j < 0 || int(j) >= dim:
			return fmt.Errorf("node %d: feature %d out of range [0, %d)", i, j, dim)
		case !finite(f.Threshold[i]):
			return fmt.Errorf("node %d: threshold %v", i, f.Threshold[i])
		case c <= int32(i) || int(c) >= n-1:
			return fmt.Errorf("node %d: children %d and %d, want both after the node and below %d (cyclic or out of range)", i, c, int(c)+1, n)
		case depth[i] >= f.MaxDepth:
			return fmt.Errorf("node %d: splits at depth %d, max_depth is %d", i, depth[i], f.MaxDepth)
		}
		depth[c] = max(depth[c], depth[i]+1)
		depth[c+1] = max(depth[c+1], depth[i]+1)
	}
	return nil
}

var _ Classifier = (*RandomForest)(nil)
