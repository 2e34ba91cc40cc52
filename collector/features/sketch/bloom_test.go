package sketch

import (
	"math"
	"testing"
)

// contains reports whether hash is (probably) in b without adding it, so the
// false-positive rate can be measured at a fixed load.
func contains(b *Bloom, hash uint64) bool { return b.probe(hash, false) }

func TestNewBloomRoundsUp(t *testing.T) {
	tests := []struct{ bits, want int }{
		{1, 512}, {64, 512}, {513, 1024}, {1000, 1024}, {1 << 20, 1 << 20}, {1<<20 + 1, 1 << 21},
	}
	for _, tt := range tests {
		if got := len(NewBloom(tt.bits, 3).words) * 64; got != tt.want {
			t.Errorf("NewBloom(%d) has %d bits, want %d", tt.bits, got, tt.want)
		}
	}
}

// TestBloomFalsePositives fills filters to their designed load, n = m ln2 / k
// (where k is optimal), and compares the false-positive rate on keys never
// added with theory, (1 - e^(-kn/m))^k.
func TestBloomFalsePositives(t *testing.T) {
	tests := []struct {
		bits, k int
		keys    int // index into keySets
	}{
		{1 << 16, 4, 0},
		{1 << 20, 7, 0},
		{1 << 20, 7, 1},
		{1 << 20, 7, 2},
		{1 << 22, 10, 0},
		{1 << 18, 1, 0},
	}
	const probes = 1 << 20
	for _, tt := range tests {
		b := NewBloom(tt.bits, tt.k)
		keys := keySets[tt.keys]
		m, k := float64(tt.bits), float64(tt.k)
		n := uint64(m * math.Ln2 / k)
		for i := range n {
			b.TestAndAdd(keys.hash(i))
		}
		fp := 0
		for i := range uint64(probes) {
			if contains(b, keys.hash(1<<28+i)) {
				fp++
			}
		}
		got := float64(fp) / probes
		want := blockedFP(m, k, float64(n))
		t.Logf("m=2^%d k=%d n=%d %s: false positives %.4f%%, blocked theory %.4f%%, classic %.4f%%", int(math.Log2(m)), tt.k, n, keys.name, 100*got, 100*want, 100*math.Pow(1-math.Exp(-k*float64(n)/m), k))
		if got < want/1.25 || got > want*1.25 {
			t.Errorf("m=%d k=%d: false-positive rate %g, want within 25%% of %g", tt.bits, tt.k, got, want)
		}
		if b.Len() > int(n) || b.Len() < int(float64(n)*(1-2*want)) {
			t.Errorf("m=%d k=%d: Len = %d after %d distinct keys", tt.bits, tt.k, b.Len(), n)
		}
	}
}

// blockedFP is the false-positive rate of a blocked Bloom filter: the
// classic rate within one 512-bit block, averaged over the Poisson number
// of items that land in a block.
func blockedFP(m, k, n float64) float64 {
	const block = bloomBlockWords * 64
	lambda := n * block / m
	var fp float64
	p := math.Exp(-lambda) // Poisson(0)
	for j := 0; j < int(lambda*4)+50; j++ {
		fp += p * math.Pow(1-math.Pow(1-1/float64(block), k*float64(j)), k)
		p *= lambda / float64(j+1)
	}
	return fp
}

// TestBloomStreamingFalsePositives checks TestAndAdd as the features use it:
// new keys wrongly reported as seen while the filter fills, against the
// theoretical rate integrated over the growing load.
func TestBloomStreamingFalsePositives(t *testing.T) {
	const bits, k = 1 << 20, 7
	n := uint64(math.Round(bits * math.Ln2 / k))
	b := NewBloom(bits, k)
	var fp int
	var want float64
	for i := range n {
		if b.TestAndAdd(Mix64(i)) {
			fp++
		}
		want += blockedFP(bits, k, float64(i))
	}
	t.Logf("%d new keys: %d reported seen, theory %.1f", n, fp, want)
	if float64(fp) < want/2 || float64(fp) > want*2 {
		t.Errorf("%d keys wrongly reported seen, want within 2x of %.1f", fp, want)
	}
	if got := b.Len(); got != int(n)-fp {
		t.Errorf("Len = %d, want %d", got, int(n)-fp)
	}
}

func TestBloomNoFalseNegatives(t *testing.T) {
	b := NewBloom(1<<12, 3)
	// Overload the filter tenfold: even then every added key is seen.
	for i := range uint64(30000) {
		b.TestAndAdd(Mix64(i))
	}
	for i := range uint64(30000) {
		if !b.Test(Mix64(i)) || !b.TestAndAdd(Mix64(i)) {
			t.Fatalf("key %d not seen after it was added", i)
		}
	}
}

func TestBloomTestDoesNotAdd(t *testing.T) {
	b := NewBloom(1<<12, 3)
	for i := range uint64(100) {
		if b.Test(Mix64(i)) {
			t.Fatalf("key %d seen in an empty filter", i)
		}
	}
	if b.Len() != 0 || b.TestAndAdd(Mix64(7)) {
		t.Fatalf("Test added keys: Len %d", b.Len())
	}
}

func TestBloomReset(t *testing.T) {
	b := NewBloom(1<<10, 4)
	if b.TestAndAdd(42) {
		t.Fatal("empty filter reported a key as seen")
	}
	if !b.TestAndAdd(42) || b.Len() != 1 {
		t.Fatalf("second add: Len = %d, want 1 and seen", b.Len())
	}
	b.Reset()
	if b.Len() != 0 || b.TestAndAdd(42) {
		t.Error("filter not empty after Reset")
	}
}

func TestBloomTestAndAddAllocs(t *testing.T) {
	b := NewBloom(1<<20, 7)
	var i uint64
	if n := testing.AllocsPerRun(1000, func() { i++; b.TestAndAdd(Mix64(i)) }); n != 0 {
		t.Errorf("TestAndAdd allocates %v times, want 0", n)
	}
}
