package sketch

import (
	"math"
	"testing"
)

func TestHistogramEntropyExact(t *testing.T) {
	tests := []struct {
		name    string
		buckets int
		weights map[uint32]uint64 // bucket -> weight, added via AddIndex
		want    float64
	}{
		{"empty", 16, nil, 0},
		{"single key", 65536, map[uint32]uint64{443: 1000}, 0},
		{"two equal", 65536, map[uint32]uint64{80: 7, 443: 7}, 1},
		{"one to three", 64, map[uint32]uint64{1: 1, 2: 3}, 2 - 0.75*math.Log2(3)},
		{"four equal", 4, map[uint32]uint64{0: 5, 1: 5, 2: 5, 3: 5}, 2},
		{"index wraps", 8, map[uint32]uint64{1: 1, 9: 1}, 0},
	}
	for _, tt := range tests {
		h := NewHistogram(tt.buckets)
		for i, w := range tt.weights {
			h.AddIndex(i, w)
		}
		if got := h.Entropy(); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("%s: Entropy = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestHistogramUniformPorts uses the identity index, as for ports: 2^k
// equally weighted keys give exactly k bits, also past the point where the
// histogram stops listing touched buckets.
func TestHistogramUniformPorts(t *testing.T) {
	h := NewHistogram(65536)
	for k := range 17 {
		h.Reset()
		for port := range uint32(1 << k) {
			h.AddIndex(port*(65536>>k), 3)
		}
		if got := h.Entropy(); math.Abs(got-float64(k)) > 1e-9 {
			t.Errorf("2^%d ports: Entropy = %v, want %d", k, got, k)
		}
	}
}

// TestHistogramUniformHashed adds 2^k hashed keys. Keys that share a bucket
// lower the entropy by about (n-1)/buckets bits on average, so the check is
// against that bias rather than a fixed tolerance.
func TestHistogramUniformHashed(t *testing.T) {
	tests := []struct {
		buckets, k int
	}{
		{1024, 0}, {1024, 3}, {1024, 7},
		{65536, 4}, {65536, 8}, {65536, 10}, {65536, 13},
		{1 << 20, 14},
	}
	for _, tt := range tests {
		for _, ks := range keySets[:2] {
			h := NewHistogram(tt.buckets)
			n := uint64(1) << tt.k
			for i := range n {
				h.Add(ks.hash(i), 1)
			}
			got := h.Entropy()
			bias := float64(n-1) / float64(tt.buckets)
			t.Logf("buckets=%d n=2^%d %s: entropy %.4f, short by %.4f (expected about %.4f)", tt.buckets, tt.k, ks.name, got, float64(tt.k)-got, bias)
			if got > float64(tt.k)+1e-9 || float64(tt.k)-got > 3*bias+0.01 {
				t.Errorf("buckets=%d n=2^%d %s: Entropy = %v, want %d minus about %.4f", tt.buckets, tt.k, ks.name, got, tt.k, bias)
			}
		}
	}
}

func TestHistogramSaturates(t *testing.T) {
	h := NewHistogram(1024)
	for i := range uint64(1_000_000) {
		h.Add(Mix64(i), 1)
	}
	if got := h.Entropy(); got > 10 || got < 9.99 {
		t.Errorf("a million keys in 1024 buckets: Entropy = %v, want just under 10", got)
	}
}

// TestHistogramOrderAndPathIndependent checks that the entropy depends only
// on the weights per bucket, not on their arrival order nor on whether the
// touched list overflowed.
func TestHistogramOrderAndPathIndependent(t *testing.T) {
	const buckets, keys = 4096, 200 // within the touched list capacity of 256
	fwd, rev, full := NewHistogram(buckets), NewHistogram(buckets), NewHistogram(buckets)
	for i := range uint64(keys) {
		fwd.Add(Mix64(i), i+1)
		rev.Add(Mix64(keys-1-i), keys-i)
		full.Add(Mix64(i), i+1)
	}
	if fwd.overflow || rev.overflow {
		t.Fatal("test setup: touched list overflowed")
	}
	full.overflow = true // same counts, summed by the full scan
	a, b, c := fwd.Entropy(), rev.Entropy(), full.Entropy()
	if a != b || a != c {
		t.Errorf("entropy differs: forward %v, reverse %v, full scan %v", a, b, c)
	}
}

func TestHistogramReset(t *testing.T) {
	for _, keys := range []int{10, 5000} { // below and above the touched list capacity
		h := NewHistogram(4096)
		for i := range uint64(keys) {
			h.Add(Mix64(i), 1)
		}
		if wantOverflow := keys > 4096/16; h.overflow != wantOverflow {
			t.Errorf("%d keys: overflow = %v, want %v", keys, h.overflow, wantOverflow)
		}
		h.Reset()
		if h.Entropy() != 0 || h.total != 0 || h.overflow || len(h.touched) != 0 {
			t.Errorf("%d keys: histogram not empty after Reset", keys)
		}
		for i, c := range h.counts {
			if c != 0 {
				t.Fatalf("%d keys: bucket %d = %d after Reset", keys, i, c)
			}
		}
		h.AddIndex(1, 1)
		h.AddIndex(2, 1)
		if got := h.Entropy(); got != 1 {
			t.Errorf("%d keys: Entropy after Reset = %v, want 1", keys, got)
		}
	}
}

func TestHistogramZeroWeightIgnored(t *testing.T) {
	h := NewHistogram(16)
	h.AddIndex(3, 0)
	h.Add(5, 0)
	if h.Entropy() != 0 || len(h.touched) != 0 {
		t.Error("zero weights changed the histogram")
	}
	h.AddIndex(3, 2)
	if got := h.Entropy(); got != 0 {
		t.Errorf("Entropy = %v, want 0", got)
	}
}

func TestNewHistogramRoundsUp(t *testing.T) {
	for _, tt := range []struct{ buckets, want int }{{1, 1}, {3, 4}, {1000, 1024}, {65536, 65536}} {
		if got := len(NewHistogram(tt.buckets).counts); got != tt.want {
			t.Errorf("NewHistogram(%d) has %d buckets, want %d", tt.buckets, got, tt.want)
		}
	}
}

func TestHistogramAddAllocs(t *testing.T) {
	h := NewHistogram(65536)
	var i uint64
	if n := testing.AllocsPerRun(100000, func() {
		i++
		h.Add(Mix64(i), 1)
		h.AddIndex(uint32(i), 1)
	}); n != 0 {
		t.Errorf("Add allocates %v times, want 0", n)
	}
}
