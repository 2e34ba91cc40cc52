package sketch

import (
	"encoding/binary"
	"math/bits"
)

// XXH64 constants. HashAddr is XXH64 with seed 0 of a 16-byte address, so
// that its output can be checked against XXH64 (Hash64, in the tests) and
// the published reference vectors.
const (
	prime1 uint64 = 11400714785074694791
	prime2 uint64 = 14029467366897019727
	prime3 uint64 = 1609587929392839161
	prime4 uint64 = 9650029242287828579
	prime5 uint64 = 2870177450012600261
)

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
