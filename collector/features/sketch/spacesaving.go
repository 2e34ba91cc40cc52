package sketch

import (
	"bytes"
	"cmp"
	"slices"
)

// Entry is one key tracked by SpaceSaving. The key's true weight lies in
// [Count-Err, Count].
type Entry struct {
	Key   [16]byte
	Count uint64
	Err   uint64
}

// SpaceSaving finds heavy hitters over 16-byte keys with the SpaceSaving
// algorithm (Metwally, Agrawal and El Abbadi, 2005) in memory fixed at k
// entries. Any key whose weight exceeds Total()/k is guaranteed to be
// tracked, and a tracked key's Count overestimates its weight by at most
// Err <= Total()/k.
//
// A min-heap by count finds the entry to evict and an open-addressing index
// keyed by the caller's hash finds a key's entry, so Add is O(log k) and
// never allocates. The reported entries depend only on the keys, weights and
// their order, not on the hash values, which only affect speed: keys whose
// hashes collide (an attacker knowing the fixed seeds can make them) slow
// Add down to O(k) at worst.
type SpaceSaving struct {
	keys    [][16]byte // len is the number of tracked keys, cap is k
	errs    []uint64
	hashes  []uint32   // low hash bits of each entry's key, to find it in index
	heap    []heapNode // min-heap by count; it owns the counts
	heapPos []int32    // position of each entry in heap
	// index is a linear-probing table of uint32(hash)<<32 | entry+1, with 0
	// for empty, so probing and backward shifts never leave the table.
	index []uint64
	mask  uint32 // len(index) - 1
	total uint64

	// filter, if set, is a two-row count-min sketch that admits a new key
	// only when its estimated weight beats the lightest tracked entry.
	filter     []uint32
	filterMask uint64
}

// heapNode keeps the count next to the heap order so that sifting does not
// chase pointers into the entries.
type heapNode struct {
	count uint64
	e     int32
}

// NewSpaceSaving returns an empty tracker for the k heaviest keys. It panics
// unless 1 <= k <= 2^30.
func NewSpaceSaving(k int) *SpaceSaving {
	if k < 1 || k > 1<<30 {
		panic("sketch: SpaceSaving needs 1 <= k <= 2^30")
	}
	// A load of at most one half keeps probe runs short and guarantees an
	// empty slot, which ends every probe loop.
	size := 2
	for size < 2*k {
		size <<= 1
	}
	return &SpaceSaving{
		keys:    make([][16]byte, 0, k),
		errs:    make([]uint64, k),
		hashes:  make([]uint32, k),
		heap:    make([]heapNode, 0, k),
		heapPos: make([]int32, k),
		index:   make([]uint64, size),
		mask:    uint32(size - 1),
	}
}

// NewFilteredSpaceSaving is NewSpaceSaving with an admission filter: a
// count-min sketch of two rows of width counters (a power of two) in front
// of the summary. A key not tracked yet replaces the lightest entry only
// when its estimated weight exceeds that entry's count. Under a flood of
// keys seen once each, plain SpaceSaving evicts on every Add; the filter
// turns that into two counter increments and keeps the summary for keys
// that recur. Counts of admitted keys start at the estimate (an upper
// bound) with Err such that Count-Err is the weight added since admission,
// a lower bound.
func NewFilteredSpaceSaving(k, width int) *SpaceSaving {
	s := NewSpaceSaving(k)
	w := 2
	for w < width {
		w <<= 1
	}
	s.filter = make([]uint32, 2*w)
	s.filterMask = uint64(w - 1)
	return s
}

// estimate adds weight to the filter with conservative update (only the
// smallest counters grow) and returns the key's estimated weight.
func (s *SpaceSaving) estimate(hash uint64, weight uint64) uint64 {
	w := uint32(min(weight, 1<<31))
	i0 := (hash >> 32) & s.filterMask
	i1 := uint64(len(s.filter)/2) + (Mix64(hash)>>32)&s.filterMask
	c0, c1 := s.filter[i0], s.filter[i1]
	est := min(c0, c1)
	if est > ^uint32(0)-w {
		return uint64(est)
	}
	est += w
	s.filter[i0] = max(c0, est)
	s.filter[i1] = max(c1, est)
	return uint64(est)
}

// Add adds weight to key; hash must be a well-mixed hash of key (HashAddr).
// A zero weight is ignored so that it cannot evict a tracked key.
func (s *SpaceSaving) Add(key [16]byte, hash uint64, weight uint64) {
	if weight == 0 {
		return
	}
	s.total += weight
	var est uint64
	if s.filter != nil {
		est = s.estimate(hash, weight)
	}
	if s.filter != nil && len(s.keys) == cap(s.keys) && est <= s.heap[0].count && est < 1<<31-1 {
		// Most keys of a busy link are light: not tracked, and not
		// admitted below. A tracked key's estimate is at least its count
		// (they were equal at admission, and every Add since raised the
		// estimate by at least the weight it added to the count), so with
		// this Add's weight it exceeds the lightest count, unless its
		// counters saturated, which takes an estimate of 2^31 or more. A
		// key that estimates no more than the lightest count is thus not
		// tracked: the index need not be probed to find that out.
		return
	}
	h := uint32(hash)
	i := h & s.mask
	for ; s.index[i] != 0; i = (i + 1) & s.mask {
		slot := s.index[i]
		e := int32(slot) - 1
		if uint32(slot>>32) == h && s.keys[e] == key {
			p := s.heapPos[e]
			s.heap[p].count += weight
			s.down(int(p))
			return
		}
	}
	count, errw := weight, uint64(0)
	if s.filter != nil {
		count, errw = est, est-weight
	}
	if len(s.keys) < cap(s.keys) {
		e := int32(len(s.keys))
		s.keys = append(s.keys, key)
		s.errs[e] = errw
		s.hashes[e] = h
		s.index[i] = uint64(h)<<32 | uint64(e+1)
		s.heapPos[e] = int32(len(s.heap))
		s.heap = append(s.heap, heapNode{count: count, e: e})
		s.up(len(s.heap) - 1)
		return
	}
	root := &s.heap[0]
	if s.filter != nil && est <= root.count {
		return // not heavy enough to displace the lightest entry
	}
	e := root.e
	s.unindex(e)
	s.keys[e] = key
	s.hashes[e] = h
	if s.filter != nil {
		root.count, s.errs[e] = count, errw
	} else {
		// The newcomer takes over the lightest entry and inherits its count
		// as possible overestimate, which keeps Count an upper bound.
		s.errs[e] = root.count
		root.count += weight
	}
	// Probe again: the removal may have shifted entries into slot i.
	i = h & s.mask
	for s.index[i] != 0 {
		i = (i + 1) & s.mask
	}
	s.index[i] = uint64(h)<<32 | uint64(e+1)
	s.down(0)
}

// Top appends the tracked entries to dst sorted by Count descending, ties by
// Key ascending so that the output is deterministic, and returns the
// extended slice. Pass dst[:0] to reuse a buffer.
func (s *SpaceSaving) Top(dst []Entry) []Entry {
	start := len(dst)
	for _, n := range s.heap {
		dst = append(dst, Entry{Key: s.keys[n.e], Count: n.count, Err: s.errs[n.e]})
	}
	slices.SortFunc(dst[start:], func(a, b Entry) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return bytes.Compare(a.Key[:], b.Key[:])
	})
	return dst
}

// Total returns the sum of all weights added since the last Reset.
func (s *SpaceSaving) Total() uint64 {
	return s.total
}

// Reset forgets all keys, keeping the memory.
func (s *SpaceSaving) Reset() {
	s.keys = s.keys[:0]
	s.heap = s.heap[:0]
	clear(s.index)
	clear(s.filter)
	s.total = 0
}

// unindex removes entry e from the index by backward-shift deletion: later
// members of the probe run move back into the hole, so no tombstones are
// left to lengthen future probes.
func (s *SpaceSaving) unindex(e int32) {
	mask := s.mask
	i := s.hashes[e] & mask
	for uint32(s.index[i]) != uint32(e+1) {
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; s.index[j] != 0; j = (j + 1) & mask {
		home := uint32(s.index[j]>>32) & mask
		// The entry at j may fill the hole at i only if i lies on its probe
		// path, that is between its home slot and j.
		if (j-home)&mask >= (j-i)&mask {
			s.index[i] = s.index[j]
			i = j
		}
	}
	s.index[i] = 0
}

// up and down move the node at i through a hole instead of swapping, which
// halves the writes on this hot path.
func (s *SpaceSaving) up(i int) {
	h := s.heap
	n := h[i]
	for i > 0 {
		p := (i - 1) / 2
		if n.count >= h[p].count {
			break
		}
		s.place(i, h[p])
		i = p
	}
	s.place(i, n)
}

func (s *SpaceSaving) down(i int) {
	h := s.heap
	n := h[i]
	for {
		c := 2*i + 1
		if c >= len(h) {
			break
		}
		if c+1 < len(h) && h[c+1].count < h[c].count {
			c++
		}
		if h[c].count >= n.count {
			break
		}
		s.place(i, h[c])
		i = c
	}
	s.place(i, n)
}

func (s *SpaceSaving) place(i int, n heapNode) {
	s.heap[i] = n
	s.heapPos[n.e] = int32(i)
}
