package sketch

import (
	"encoding/binary"
	"math/bits"
	"testing"
)

// sanityBuffer rebuilds the input of the xxHash reference sanity check.
func sanityBuffer(n int) []byte {
	const prime = 2654435761
	gen := uint32(prime)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(gen >> 24)
		gen *= gen
	}
	return b
}

func TestHash64ReferenceVectors(t *testing.T) {
	tests := []struct {
		in   []byte
		want uint64
	}{
		{[]byte(""), 0xef46db3751d8e999},
		{[]byte("a"), 0xd24ec4f1a98c6e5b},
		{[]byte("as"), 0x1c330fb2d66be179},
		{[]byte("asd"), 0x631c37ce72a97393},
		{[]byte("asdf"), 0x415872f599cea71e},
		{[]byte("abc"), 0x44bc2cf5ad770999},
		{[]byte("Call me Ishmael."), 0x6d04390fc9d61a90},
		{[]byte("Nobody inspects the spammish repetition"), 0xfbcea83c8a378bf1},
		{[]byte("Some years ago--never mind how long precisely-"), 0x8f26f2b986afdc52},
		{sanityBuffer(1), 0x4fce394cc88952d8},
		{sanityBuffer(14), 0xcffa8db881bc3a3d},
		{sanityBuffer(101), 0x0eab543384f878ad},
	}
	for _, tt := range tests {
		if got := Hash64(tt.in); got != tt.want {
			t.Errorf("Hash64(%q) = %#x, want %#x", tt.in, got, tt.want)
		}
	}
}

func TestHashAddrMatchesHash64(t *testing.T) {
	addrs := [][16]byte{
		{},
		ipv4(10, 0, 0, 1),
		ipv4(255, 255, 255, 255),
		{0x20, 0x01, 0x0d, 0xb8, 15: 1},
		[16]byte([]byte("Call me Ishmael.")),
	}
	for i := range uint64(1000) {
		var a [16]byte
		binary.LittleEndian.PutUint64(a[:8], Mix64(i))
		binary.LittleEndian.PutUint64(a[8:], Mix64(^i))
		addrs = append(addrs, a)
	}
	for _, a := range addrs {
		if got, want := HashAddr(a), Hash64(a[:]); got != want {
			t.Fatalf("HashAddr(%x) = %#x, Hash64 = %#x", a, got, want)
		}
	}
}

func TestMix64SplitMixStream(t *testing.T) {
	// The first outputs of splitmix64 seeded with 0.
	want := []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f, 0xf88bb8a8724c81ec}
	for i, w := range want {
		if got := Mix64(uint64(i)); got != w {
			t.Errorf("Mix64(%d) = %#x, want %#x", i, got, w)
		}
	}
}

// TestAvalanche checks that flipping any single input bit flips about half
// of the output bits, for inputs that differ in few bits as addresses do.
func TestAvalanche(t *testing.T) {
	tests := []struct {
		name  string
		nbits int
		hash  func(i uint64, flip int) (uint64, uint64)
	}{
		{"Mix64", 64, func(i uint64, flip int) (uint64, uint64) {
			return Mix64(i), Mix64(i ^ 1<<flip)
		}},
		{"HashAddr", 128, func(i uint64, flip int) (uint64, uint64) {
			a := ipv4(10, byte(i>>16), byte(i>>8), byte(i))
			b := a
			b[flip/8] ^= 1 << (flip % 8)
			return HashAddr(a), HashAddr(b)
		}},
		{"Hash64", 64, func(i uint64, flip int) (uint64, uint64) {
			var a, b [8]byte
			binary.BigEndian.PutUint64(a[:], i)
			binary.BigEndian.PutUint64(b[:], i^1<<flip)
			return Hash64(a[:]), Hash64(b[:])
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const samples = 2000
			for flip := range tt.nbits {
				total := 0
				for i := range uint64(samples) {
					x, y := tt.hash(i, flip)
					total += bits.OnesCount64(x ^ y)
				}
				// Binomial(64, 1/2) averaged over 2000 samples has sd 0.09.
				if mean := float64(total) / samples; mean < 31.5 || mean > 32.5 {
					t.Errorf("flipping bit %d changes %.2f output bits on average, want 32", flip, mean)
				}
			}
		})
	}
}

func TestHashAllocs(t *testing.T) {
	buf := make([]byte, 64)
	var a [16]byte
	var sink uint64
	if n := testing.AllocsPerRun(100, func() { sink += Hash64(buf) + HashAddr(a) + Mix64(sink) }); n != 0 {
		t.Errorf("hashing allocates %v times, want 0", n)
	}
}

// ipv4 returns an IPv4-mapped IPv6 address, the form the decoder produces.
func ipv4(a, b, c, d byte) [16]byte {
	return [16]byte{10: 0xff, 11: 0xff, 12: a, 13: b, 14: c, 15: d}
}
