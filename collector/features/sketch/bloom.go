package sketch

// Bloom is a Bloom filter answering "was this hash added before" with no
// false negatives and a tunable false-positive rate. For n items in m bits
// with k probes the rate is about (1 - e^(-kn/m))^k; k = m/n * ln 2 minimises
// it. The zero value is not usable; call NewBloom.
type Bloom struct {
	words []uint64
	k     int
	n     int
}

// bloomBlockWords is the block size in 64-bit words: one 64-byte cache line.
const bloomBlockWords = 8

// NewBloom returns an empty filter of bits bits, rounded up to a power of two
// (at least one 512-bit block), probing k positions per item. It panics if bits or k is
// less than 1.
func NewBloom(bits int, k int) *Bloom {
	if bits < 1 || k < 1 {
		panic("sketch: Bloom needs bits >= 1 and k >= 1")
	}
	m := bloomBlockWords * 64
	for m < bits {
		m <<= 1
	}
	return &Bloom{words: make([]uint64, m/64), k: k}
}

// TestAndAdd reports whether hash was (probably) added before, and adds it.
// The filter is blocked (Putze, Sanders and Singler): the high bits of the
// hash pick one 512-bit block, a cache line, and all k probes fall inside
// it, so a lookup costs one cache miss instead of k. The price is a false
// positive rate somewhat above the classic formula, as blocks fill unevenly.
func (b *Bloom) TestAndAdd(hash uint64) (seen bool) {
	seen = b.probe(hash, true)
	if !seen {
		b.n++
	}
	return seen
}

// Test reports whether hash was (probably) added before, without adding it.
func (b *Bloom) Test(hash uint64) bool {
	return b.probe(hash, false)
}

// Touch reads the cache line that hash's probes fall in and returns a word
// of it. Callers that touch many hashes before testing them let the cache
// misses overlap; the result is only there so the read is not optimised
// away.
func (b *Bloom) Touch(hash uint64) uint64 {
	return b.words[b.block(hash)]
}

// block returns the index of the first word of hash's block.
func (b *Bloom) block(hash uint64) uint64 {
	blocks := uint64(len(b.words) / bloomBlockWords)
	blk := ((hash >> 32) * blocks) >> 32
	return blk * bloomBlockWords
}

// probe reports whether all k bits of hash are set, setting them if add.
func (b *Bloom) probe(hash uint64, add bool) (seen bool) {
	blk := b.block(hash)
	words := b.words[blk : blk+bloomBlockWords]
	// Probe positions come from a second, independent-looking hash so they
	// do not depend on the bits that chose the block.
	h := (hash ^ hash>>29) * 0xbf58476d1ce4e5b9
	seen = true
	for i := range b.k {
		if i > 0 && i%7 == 0 {
			h = Mix64(h) // 7 probes use up 63 bits: draw fresh ones
		}
		pos := h >> 55 // top 9 bits: a bit in the block
		w, bit := pos>>6, uint64(1)<<(pos&63)
		if words[w]&bit == 0 {
			seen = false
			if !add {
				return false
			}
			words[w] |= bit
		}
		h = h<<9 | h>>55
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
