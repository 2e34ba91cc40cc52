package sketch

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

var sink uint64

// benchHashes returns precomputed hashes so that benchmarks time the
// structure rather than the hashing.
func benchHashes(n int) []uint64 {
	h := make([]uint64, n)
	for i := range h {
		h[i] = Mix64(uint64(i))
	}
	return h
}

func BenchmarkHash64(b *testing.B) {
	data := make([]byte, 4096+256)
	for i := range data {
		data[i] = byte(Mix64(uint64(i)))
	}
	for _, size := range []int{16, 64, 256} {
		b.Run(strconv.Itoa(size)+"B", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for i := 0; b.Loop(); i++ {
				off := i & 4095
				sink += Hash64(data[off : off+size])
			}
		})
	}
}

func BenchmarkHashAddr(b *testing.B) {
	addrs := make([][16]byte, 1024)
	for i := range addrs {
		addrs[i] = addr(uint64(i))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sink += HashAddr(addrs[i&1023])
	}
}

func BenchmarkMix64(b *testing.B) {
	b.ReportAllocs()
	for i := uint64(0); b.Loop(); i++ {
		sink += Mix64(i)
	}
}

func BenchmarkHLLAdd(b *testing.B) {
	h := NewHLL(14)
	hashes := benchHashes(1 << 16)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Add(hashes[i&(1<<16-1)])
	}
}

func BenchmarkHLLEstimate(b *testing.B) {
	h := NewHLL(14)
	for _, x := range benchHashes(1 << 20) {
		h.Add(x)
	}
	b.ReportAllocs()
	for b.Loop() {
		sink += h.Estimate()
	}
}

func BenchmarkBloomTestAndAdd(b *testing.B) {
	for _, size := range []struct {
		name string
		bits int
	}{{"1Mbit", 1 << 20}, {"64Mbit", 1 << 26}} {
		b.Run(size.name, func(b *testing.B) {
			f := NewBloom(size.bits, 7)
			hashes := benchHashes(1 << 20)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if f.TestAndAdd(hashes[i&(1<<20-1)]) {
					sink++
				}
			}
		})
	}
}

func BenchmarkSpaceSavingAdd(b *testing.B) {
	const k, n = 1000, 1 << 20
	zipf := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.1, 1, 1<<20)
	streams := []struct {
		name string
		key  func(i int) [16]byte
	}{
		{"zipf", func(int) [16]byte { return addr(zipf.Uint64()) }},
		// Every key is new, so every Add evicts.
		{"distinct", func(i int) [16]byte { return addr(uint64(i)) }},
	}
	for _, st := range streams {
		keys := make([][16]byte, n)
		hashes := make([]uint64, n)
		for i := range keys {
			keys[i] = st.key(i)
			hashes[i] = HashAddr(keys[i])
		}
		b.Run(st.name, func(b *testing.B) {
			s := NewSpaceSaving(k)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				j := i & (n - 1)
				s.Add(keys[j], hashes[j], 1)
			}
		})
	}
}

func BenchmarkHistogramAdd(b *testing.B) {
	h := NewHistogram(65536)
	hashes := benchHashes(1 << 16)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Add(hashes[i&(1<<16-1)], 1)
	}
}

func BenchmarkHistogramAddIndex(b *testing.B) {
	h := NewHistogram(65536)
	b.ReportAllocs()
	for i := uint32(0); b.Loop(); i++ {
		h.AddIndex(i*40503, 1) // scatter like real ports rather than stride 1
	}
}

func BenchmarkHistogramEntropy(b *testing.B) {
	h := NewHistogram(65536)
	for i := range uint32(1000) {
		h.AddIndex(i*40503, uint64(i))
	}
	b.ReportAllocs()
	for b.Loop() {
		sink += uint64(h.Entropy())
	}
}

// BenchmarkHLLEstimateSparse estimates a window's sketch of a quiet link:
// 3000 distinct keys, most registers zero.
func BenchmarkHLLEstimateSparse(b *testing.B) {
	h := NewHLL(14)
	for _, x := range benchHashes(3000) {
		h.Add(x)
	}
	b.ReportAllocs()
	for b.Loop() {
		sink += h.Estimate()
	}
}
