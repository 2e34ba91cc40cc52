package sketch

import (
	"math"
	"testing"
)

// keySets are hash streams over distinct keys, to check that both the HLL
// estimator and the hashes hold up on structured inputs.
var keySets = []struct {
	name string
	hash func(i uint64) uint64
}{
	{"Mix64(i)", Mix64},
	{"HashAddr(sequential IPv4)", func(i uint64) uint64 {
		return HashAddr(ipv4(byte(10+i>>24), byte(i>>16), byte(i>>8), byte(i)))
	}},
	{"HashAddr(sequential IPv6 /64 hosts)", func(i uint64) uint64 {
		return HashAddr([16]byte{0x20, 0x01, 0x0d, 0xb8, 12: byte(i >> 24), 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)})
	}},
	{"Hash64(big-endian counter)", func(i uint64) uint64 {
		b := [8]byte{byte(i >> 56), byte(i >> 48), byte(i >> 40), byte(i >> 32), byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
		return Hash64(b[:])
	}},
}

// TestHLLSmallCounts checks the linear-counting range. Register collisions
// make it statistical: over 2000 independent key sets at precision 14, n=30
// was within 1 in 99.9% of them and n=100 in 96%, so n=100 gets a tolerance
// of 2 here.
func TestHLLSmallCounts(t *testing.T) {
	tests := []struct {
		precision uint8
		n         uint64
		tolerance uint64
	}{
		{14, 0, 0},
		{14, 1, 0},
		{14, 2, 0},
		{14, 3, 0},
		{14, 10, 0},
		{14, 30, 1},
		{14, 100, 2},
		{16, 1, 0},
		{16, 100, 1},
		{10, 1, 0},
		{10, 3, 0},
		{10, 10, 1},
		{4, 0, 0},
		{4, 1, 0},
		{4, 3, 1},
	}
	for _, tt := range tests {
		for _, ks := range keySets {
			h := NewHLL(tt.precision)
			for i := range tt.n {
				// Repeats must not count.
				h.Add(ks.hash(i))
				h.Add(ks.hash(i))
			}
			got := h.Estimate()
			if diff := max(got, tt.n) - min(got, tt.n); diff > tt.tolerance {
				t.Errorf("p=%d %s n=%d: estimate %d, want within %d", tt.precision, ks.name, tt.n, got, tt.tolerance)
			}
		}
	}
}

func TestHLLAccuracy(t *testing.T) {
	checkpoints := []uint64{1e3, 1e4, 1e5, 1e6, 5e6}
	if testing.Short() {
		checkpoints = checkpoints[:4]
	}
	for _, ks := range keySets {
		h := NewHLL(14)
		var i uint64
		for _, n := range checkpoints {
			for ; i < n; i++ {
				h.Add(ks.hash(i))
			}
			got := h.Estimate()
			rel := (float64(got) - float64(n)) / float64(n)
			t.Logf("p=14 %-36s n=%-8d estimate=%-8d error=%+.3f%%", ks.name, n, got, 100*rel)
			if math.Abs(rel) > 0.02 {
				t.Errorf("p=14 %s n=%d: estimate %d, relative error %.3f%% > 2%%", ks.name, n, got, 100*rel)
			}
		}
	}
}

// TestHLLUnbiased averages many independent streams around the hand-over
// from linear counting (2m) and the range where the classic raw estimate
// overshoots (by about 5.6% at 2m, 2.4% at 2.5m and 1% at 3m when measured
// on these streams), to show the estimate has no bias there. One stream
// cannot show this: its checkpoints share most of their keys.
func TestHLLUnbiased(t *testing.T) {
	const streams = 32
	m := uint64(1 << 14)
	ns := []uint64{m / 2, m, 2 * m, 5 * m / 2, 3 * m, 4 * m, 6 * m}
	sum := make([]float64, len(ns))
	sumSq := make([]float64, len(ns))
	for s := range uint64(streams) {
		h := NewHLL(14)
		var i uint64
		for j, n := range ns {
			for ; i < n; i++ {
				h.Add(Mix64(s<<40 | i))
			}
			rel := (float64(h.Estimate()) - float64(n)) / float64(n)
			sum[j] += rel
			sumSq[j] += rel * rel
		}
	}
	for j, n := range ns {
		mean := sum[j] / streams
		sd := math.Sqrt(sumSq[j]/streams - mean*mean)
		t.Logf("n=%.1fm mean error %+.3f%% sd %.3f%%", float64(n)/float64(m), 100*mean, 100*sd)
		// The mean of 32 streams has a standard error of about 0.15%.
		if math.Abs(mean) > 0.005 {
			t.Errorf("n=%.1fm: mean relative error %+.3f%%, want unbiased", float64(n)/float64(m), 100*mean)
		}
		if sd > 0.0125 {
			t.Errorf("n=%.1fm: standard error %.3f%%, want about 0.81%%", float64(n)/float64(m), 100*sd)
		}
	}
}

func TestHLLMerge(t *testing.T) {
	a, b, all := NewHLL(12), NewHLL(12), NewHLL(12)
	for i := range uint64(50000) {
		if i%3 == 0 {
			a.Add(Mix64(i))
		} else {
			b.Add(Mix64(i))
		}
		all.Add(Mix64(i))
	}
	a.Merge(b)
	if got, want := a.Estimate(), all.Estimate(); got != want {
		t.Errorf("merged estimate %d, want %d as for the union", got, want)
	}
	for i := range a.regs {
		if a.regs[i] != all.regs[i] {
			t.Fatalf("register %d = %d after merge, want %d", i, a.regs[i], all.regs[i])
		}
	}
}

func TestHLLMergePrecisionMismatchPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Merge of different precisions did not panic")
		}
	}()
	NewHLL(12).Merge(NewHLL(14))
}

func TestHLLReset(t *testing.T) {
	h := NewHLL(14)
	for i := range uint64(100000) {
		h.Add(Mix64(i))
	}
	h.Reset()
	if got := h.Estimate(); got != 0 {
		t.Fatalf("estimate after Reset = %d, want 0", got)
	}
	for i := range uint64(10) {
		h.Add(Mix64(i))
	}
	if got := h.Estimate(); got != 10 {
		t.Errorf("estimate after Reset and 10 adds = %d, want 10", got)
	}
}

func TestNewHLLPrecisionRange(t *testing.T) {
	for p := range uint8(20) {
		ok := p >= 4 && p <= 16
		func() {
			defer func() {
				if r := recover(); (r == nil) != ok {
					t.Errorf("NewHLL(%d): panic %v, want panic %v", p, r, !ok)
				}
			}()
			if h := NewHLL(p); len(h.regs) != 1<<p {
				t.Errorf("NewHLL(%d) has %d registers", p, len(h.regs))
			}
		}()
	}
}

// TestHLLSaturatedRegister checks the rank of an all-zero remainder, which
// the guard bit caps at 65-p.
func TestHLLSaturatedRegister(t *testing.T) {
	for _, p := range []uint8{4, 14, 16} {
		h := NewHLL(p)
		h.Add(0)
		if got, want := h.regs[0], 65-p; got != want {
			t.Errorf("p=%d: rank of hash 0 = %d, want %d", p, got, want)
		}
		h.Add(1<<(64-p) - 1) // register 0, remainder with its lowest bit set
		if h.Estimate() != 1 {
			t.Errorf("p=%d: estimate %d, want 1", p, h.Estimate())
		}
	}
}

func TestHLLAddAllocs(t *testing.T) {
	h := NewHLL(14)
	var i uint64
	if n := testing.AllocsPerRun(1000, func() { i++; h.Add(Mix64(i)) }); n != 0 {
		t.Errorf("Add allocates %v times, want 0", n)
	}
}
