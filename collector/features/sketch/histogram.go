package sketch

import (
	"fmt"
	"math"
	"slices"
)

// Histogram accumulates weights per bucket to compute the Shannon entropy of
// a key distribution in fixed memory.
//
// Keys added with Add are hashed into buckets, so distinct keys can share a
// bucket: with n equally weighted keys and n <= buckets the entropy reads
// low by about (n-1)/buckets bits, and with many more keys than buckets it
// saturates near log2(buckets) whatever the true entropy. Size buckets well
// above the distinct keys that must be told apart. Keys that are already
// small integers, such as ports with 65536 buckets, should use AddIndex,
// which is exact.
type Histogram struct {
	counts []uint64
	mask   uint32
	total  uint64
	// touched lists the non-empty buckets while they fit in its fixed
	// capacity, so that sparse windows reset and summarise cheaply.
	touched  []uint32
	overflow bool // touched is incomplete; scan all buckets
}

// NewHistogram returns an empty histogram with buckets rounded up to a power
// of two. It panics unless 1 <= buckets <= 2^31.
func NewHistogram(buckets int) *Histogram {
	if buckets < 1 || buckets > 1<<31 {
		panic(fmt.Sprintf("sketch: Histogram buckets %d out of range [1, 2^31]", buckets))
	}
	n := 1
	for n < buckets {
		n <<= 1
	}
	// Past n/16 touched buckets, clearing the whole array sequentially is
	// about as fast as clearing the listed ones at random.
	return &Histogram{
		counts:  make([]uint64, n),
		mask:    uint32(n - 1),
		touched: make([]uint32, 0, n/16),
	}
}

// Add adds weight to the bucket picked by the low bits of a well-mixed hash.
func (h *Histogram) Add(hash uint64, weight uint64) {
	h.AddIndex(uint32(hash), weight)
}

// AddIndex adds weight to bucket i modulo the bucket count.
func (h *Histogram) AddIndex(i uint32, weight uint64) {
	if weight == 0 {
		return // an empty listed bucket would make Entropy take log2(0)
	}
	i &= h.mask
	if h.counts[i] == 0 && !h.overflow {
		if len(h.touched) < cap(h.touched) {
			h.touched = append(h.touched, i)
		} else {
			h.overflow = true
		}
	}
	h.counts[i] += weight
	h.total += weight
}

// TouchIndex reads bucket i, as AddIndex(i, ...) will, and returns it:
// touching a batch's buckets before adding to them lets their cache misses
// overlap.
func (h *Histogram) TouchIndex(i uint32) uint64 {
	return h.counts[i&h.mask]
}

// Entropy returns the Shannon entropy in bits of the weight distribution
// over buckets, or 0 if nothing was added. Buckets are summed in index order
// whichever way they are found, so the result does not depend on the order
// in which the weights arrived.
func (h *Histogram) Entropy() float64 {
	if h.total == 0 {
		return 0
	}
	t := float64(h.total)
	var e float64
	term := func(c uint64) {
		p := float64(c) / t
		e -= p * math.Log2(p)
	}
	if h.overflow {
		for _, c := range h.counts {
			if c != 0 {
				term(c)
			}
		}
		return e
	}
	slices.Sort(h.touched)
	for _, i := range h.touched {
		term(h.counts[i])
	}
	return e
}

// Reset empties the histogram, clearing only the touched buckets when few
// were.
func (h *Histogram) Reset() {
	if h.overflow {
		clear(h.counts)
	} else {
		for _, i := range h.touched {
			h.counts[i] = 0
		}
	}
	h.touched = h.touched[:0]
	h.overflow = false
	h.total = 0
}
