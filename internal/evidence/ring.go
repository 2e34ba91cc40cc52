package evidence

import (
	"encoding/binary"
	"math"
)

// A record is one packet as the ring and the hand-off chunks keep it:
//
//	[0:8)   time, Unix nanoseconds, little endian
//	[8:12)  original length on the wire
//	[12:14) captured length n
//	[14:16) flags: in the ring, flagPad marks padding up to the ring's
//	        end; in a chunk, the mask of the recordings that want the
//	        packet, one bit per slot
//	[16:32) source address, [32:48) destination address (IPv4-mapped)
//	[48:48+n) the packet's first n bytes
//
// and then padding to a multiple of 8 bytes.
const (
	recHdr  = 48
	flagPad = 0x8000
)

// recSize is the bytes a record of n captured bytes takes.
func recSize(n int) int { return (recHdr + n + 7) &^ 7 }

// putRecord writes a record into b, which holds at least recSize(len(data))
// bytes.
func putRecord(b []byte, ts int64, wire uint32, flags uint16, src, dst *[16]byte, data []byte) {
	_ = b[recHdr-1]
	binary.LittleEndian.PutUint64(b[0:8], uint64(ts))
	binary.LittleEndian.PutUint32(b[8:12], wire)
	binary.LittleEndian.PutUint16(b[12:14], uint16(len(data)))
	binary.LittleEndian.PutUint16(b[14:16], flags)
	*(*[16]byte)(b[16:32]) = *src
	*(*[16]byte)(b[32:48]) = *dst
	copy(b[recHdr:], data)
}

// record is a decoded view of a record; data aliases the buffer.
type record struct {
	ts       int64
	wire     uint32
	flags    uint16
	src, dst [16]byte
	data     []byte
}

// readRecord decodes the record at the start of b, which holds it whole.
func readRecord(b []byte) record {
	n := int(binary.LittleEndian.Uint16(b[12:14]))
	return record{
		ts:    int64(binary.LittleEndian.Uint64(b[0:8])),
		wire:  binary.LittleEndian.Uint32(b[8:12]),
		flags: binary.LittleEndian.Uint16(b[14:16]),
		src:   [16]byte(b[16:32]),
		dst:   [16]byte(b[32:48]),
		data:  b[recHdr : recHdr+n],
	}
}

// ring keeps the most recent packets in a fixed byte buffer, overwriting
// the oldest. A record never straddles the end of the buffer: the space
// left there is padding, marked when a header fits in it.
//
// A put only writes: finding the oldest record intact would mean reading
// memory a whole lap old, a cache miss per packet. Instead the buffer is
// cut into blocks, and first[b] remembers where the first record starting
// in block b is, or -1. The block the writer is in is being overwritten;
// the records from the next block on are intact, so a walk starts at the
// first record of the next block that has one and follows the records
// (through the padding at the end, back to 0) up to the writer. That
// loses at most two blocks of history, 1/128 of the ring.
type ring struct {
	buf   []byte
	head  int   // where the next record goes
	first []int // per block: offset of the first record starting in it, or -1
	shift uint  // block size is 1<<shift
	last  int   // the block of the last record's start
}

// ringBlocks is about how many blocks a ring is cut into.
const ringBlocks = 256

func newRing(size int) ring {
	size &^= 7
	shift := uint(3)
	for size>>(shift+1) >= ringBlocks {
		shift++
	}
	g := ring{buf: make([]byte, size), shift: shift, first: make([]int, (size+1<<shift-1)>>shift), last: -1}
	for i := range g.first {
		g.first[i] = -1
	}
	return g
}

// put stores a packet over the oldest. len(data) is at most MaxSnaplen,
// and the ring holds at least 16 such records.
func (g *ring) put(ts int64, wire uint32, src, dst *[16]byte, data []byte) {
	size := recSize(len(data))
	if g.head+size > len(g.buf) {
		g.wrap()
	}
	end := g.head + size
	if b := g.head >> g.shift; b != g.last {
		g.first[b], g.last = g.head, b
	}
	if lb := (end - 1) >> g.shift; lb != g.last {
		// The record covers the start of later blocks: none of their
		// records from the last lap is whole now.
		for b := g.last + 1; b <= lb; b++ {
			g.first[b] = -1
		}
	}
	putRecord(g.buf[g.head:end], ts, wire, 0, src, dst, data)
	if g.head = end; g.head == len(g.buf) {
		g.head = 0
	}
}

// wrap pads the end of the buffer and goes back to its start. The blocks
// after the padding hold records of the lap before, which the walk must
// not reach: it goes from the padding to 0.
func (g *ring) wrap() {
	if len(g.buf)-g.head >= recHdr {
		binary.LittleEndian.PutUint16(g.buf[g.head+14:], flagPad)
	}
	b := g.head >> g.shift
	if g.first[b] >= g.head { // a record of the lap before
		g.first[b] = -1
	}
	for b++; b < len(g.first); b++ {
		g.first[b] = -1
	}
	g.head = 0
}

// each calls fn for every record from the oldest to the newest, stopping
// when fn returns false. The record aliases the ring.
func (g *ring) each(fn func(b []byte) bool) {
	hb, off := g.head>>g.shift, -1
	for i := 1; i <= len(g.first) && off < 0; i++ {
		off = g.first[(hb+i)%len(g.first)]
	}
	if off < 0 {
		return // empty
	}
	// Every step moves on by at least a header, and the walk passes the
	// end of the buffer once: the bound only guards against a bug.
	for steps := 2*len(g.buf)/recHdr + 2; off != g.head && steps > 0; steps-- {
		if len(g.buf)-off < recHdr || binary.LittleEndian.Uint16(g.buf[off+14:])&flagPad != 0 {
			off = 0
			continue
		}
		size := recSize(int(binary.LittleEndian.Uint16(g.buf[off+12:])))
		if !fn(g.buf[off : off+size]) {
			return
		}
		if off += size; off == len(g.buf) {
			off = 0
		}
	}
}

// clampWire turns a capture's claimed wire length into the record's field:
// never below the captured length, never beyond 32 bits.
func clampWire(wire, capLen int) uint32 {
	switch {
	case wire < capLen:
		return uint32(capLen)
	case wire > math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(wire)
}
