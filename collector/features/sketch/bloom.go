package sketch

// Bloom is a Bloom filter answering "was this hash added before" with no
// false negatives and a tunable false-positive rate. For n items in m bits
// with k probes the rate is about (1 - e^(-kn/m))^k; k = m/n * ln 2 minimises
// it. The zero value is not usable; call NewBloom.
type Bloom struct {
	words []uint64
	mask  uint64 // bit-index mask: the bit count is a power of two
	k     int
	n     int
}

// NewBloom returns an empty filter of bits bits, rounded up to a power of two
// (at least 64), probing k positions per item. It panics if bits or k is
// less than 1.
func NewBloom(bits int, k int) *Bloom {
	if bits < 1 || k < 1 {
		panic("sketch: Bloom needs bits >= 1 and k >= 1")
	}
	m := 64
	for m < bits {
		m <<= 1
	}
	return &Bloom{words: make([]uint64, m/64), mask: uint64(m - 1), k: k}
}

// TestAndAdd reports whether hash was (probably) added before, and adds it.
// The k probe positions come from one hash by double hashing (Kirsch and
// Mitzenmacher): position i is h1 + i*h2, with h2 forced odd so that the
// probes cannot collapse onto one bit in a power-of-two table.
func (b *Bloom) TestAndAdd(hash uint64) (seen bool) {
	step := hash<<32 | hash>>32 | 1
	seen = true
	for range b.k {
		idx := hash & b.mask
		w, bit := idx>>6, uint64(1)<<(idx&63)
		if b.words[w]&bit == 0 {
			seen = false
			b.words[w] |= bit
		}
		hash += step
	}
	if !seen {
		b.n++
	}
	return seen
}

// Len returns the number of TestAndAdd calls that reported an item as new.
// It slightly undercounts the distinct items added, by the false positives.
func (b *Bloom) Len() int {
	return b.n
}

// Reset empties the filter, keeping its memory.
func (b *Bloom) Reset() {
	clear(b.words)
	b.n = 0
}
