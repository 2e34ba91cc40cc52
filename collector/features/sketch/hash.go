package sketch

import (
	"encoding/binary"
	"math/bits"
)

// XXH64 constants. Hash64 is XXH64 with seed 0 so that its output can be
// checked against the published reference vectors.
const (
	prime1 uint64 = 11400714785074694791
	prime2 uint64 = 14029467366897019727
	prime3 uint64 = 1609587929392839161
	prime4 uint64 = 9650029242287828579
	prime5 uint64 = 2870177450012600261
)

// Hash64 returns the XXH64 hash (seed 0) of b. It does not allocate.
func Hash64(b []byte) uint64 {
	n := len(b)
	var h uint64
	if n >= 32 {
		v1 := prime1
		v1 += prime2
		v2 := prime2
		var v3 uint64
		v4 := prime1
		v4 = -v4
		for ; len(b) >= 32; b = b[32:] {
			v1 = round(v1, binary.LittleEndian.Uint64(b[0:8]))
			v2 = round(v2, binary.LittleEndian.Uint64(b[8:16]))
			v3 = round(v3, binary.LittleEndian.Uint64(b[16:24]))
			v4 = round(v4, binary.LittleEndian.Uint64(b[24:32]))
		}
		h = bits.RotateLeft64(v1, 1) + bits.RotateLeft64(v2, 7) +
			bits.RotateLeft64(v3, 12) + bits.RotateLeft64(v4, 18)
		h = mergeRound(h, v1)
		h = mergeRound(h, v2)
		h = mergeRound(h, v3)
		h = mergeRound(h, v4)
	} else {
		h = prime5
	}
	h += uint64(n)

	for ; len(b) >= 8; b = b[8:] {
		h = lane(h, binary.LittleEndian.Uint64(b))
	}
	if len(b) >= 4 {
		h ^= uint64(binary.LittleEndian.Uint32(b)) * prime1
		h = bits.RotateLeft64(h, 23)*prime2 + prime3
		b = b[4:]
	}
	for _, c := range b {
		h ^= uint64(c) * prime5
		h = bits.RotateLeft64(h, 11) * prime1
	}
	return avalanche(h)
}

// HashAddr returns the hash of a 16-byte address. It is Hash64(a[:]) unrolled
// for the fixed length, so either may be used for the same keys.
func HashAddr(a [16]byte) uint64 {
	h := prime5 + 16
	h = lane(h, binary.LittleEndian.Uint64(a[0:8]))
	h = lane(h, binary.LittleEndian.Uint64(a[8:16]))
	return avalanche(h)
}

// Mix64 returns the x-th output of splitmix64 seeded with 0. It is a
// bijection, so distinct numeric keys (ports, counters, packed tuples) never
// collide before the caller truncates the result. Multiplying by the
// splitmix64 gamma, rather than adding it, spreads sequential keys the way
// the generator's own state advances; the bare mixer over a counter is known
// to fail PractRand (Evensen, 2018).
func Mix64(x uint64) uint64 {
	x = (x + 1) * 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func round(acc, input uint64) uint64 {
	acc += input * prime2
	return bits.RotateLeft64(acc, 31) * prime1
}

func mergeRound(acc, v uint64) uint64 {
	acc ^= round(0, v)
	return acc*prime1 + prime4
}

// lane consumes one 8-byte word of the tail (fewer than 32 bytes remain).
func lane(h, v uint64) uint64 {
	h ^= round(0, v)
	return bits.RotateLeft64(h, 27)*prime1 + prime4
}

func avalanche(h uint64) uint64 {
	h ^= h >> 33
	h *= prime2
	h ^= h >> 29
	h *= prime3
	return h ^ h>>32
}
