package capture

import (
	"bytes"
	"errors"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fakeBlock writes a TPACKET_V3 block at block b of r: its status, and
// packets laid out as the kernel lays them out, each {payload, next}; a
// next of -1 means the kernel's own (the packet's end, aligned).
func fakeBlock(r *tpacketRing, b int, status uint32, num uint32, pkts [][]byte, macs []int) {
	base := b * r.blockSize
	put32 := func(off int, v uint32) { *(*uint32)(unsafe.Pointer(&r.ring[off])) = v }
	put32(base+blockStatusOff, status)
	put32(base+blockNumOff, num)
	put32(base+blockFirstOff, 48)
	off := 48
	for i, p := range pkts {
		mac := macs[i]
		h := base + off
		next := (mac + len(p) + 15) &^ 15
		if i == len(pkts)-1 {
			next = 0
		}
		put32(h+pktNextOff, uint32(next))
		put32(h+pktSecOff, uint32(1000+i))
		put32(h+pktNsecOff, 5)
		put32(h+pktSnapOff, uint32(len(p)))
		put32(h+pktLenOff, uint32(len(p)+100))
		*(*uint16)(unsafe.Pointer(&r.ring[h+pktMacOff])) = uint16(mac)
		if h+mac+len(p) <= len(r.ring) {
			copy(r.ring[h+mac:], p)
		}
		off += next
	}
}

// The ring reader walks each block the kernel handed over, gives it back,
// and takes headers that do not add up (a packet past its block, a count
// beyond the packets chained) as the block's end, never reading outside it.
func TestTPacketRingWalk(t *testing.T) {
	const bs = 4096
	r := &tpacketRing{fd: -1, ring: make([]byte, 3*bs), blockSize: bs, blocks: 3}
	a, b, c := []byte("first packet"), []byte("second"), []byte("third, the last")
	fakeBlock(r, 0, unix.TP_STATUS_USER, 3, [][]byte{a, b, c}, []int{64, 64, 80})
	// Block 1 claims 3 packets but chains 1; its second would not be read.
	fakeBlock(r, 1, unix.TP_STATUS_USER, 3, [][]byte{b}, []int{64})
	// Block 2's packet runs past the block.
	fakeBlock(r, 2, unix.TP_STATUS_USER, 1, [][]byte{a}, []int{bs})

	var got [][]byte
	for range 10 {
		data, nanos, wire, err := r.next()
		if errors.Is(err, errRingEmpty) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if wire != len(data)+100 || nanos%1e9 != 5 {
			t.Errorf("packet %q: wire %d, time %d", data, wire, nanos)
		}
		got = append(got, bytes.Clone(data))
	}
	want := [][]byte{a, b, c, b}
	if len(got) != len(want) {
		t.Fatalf("read %q, want %q", got, want)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("packet %d: %q, want %q", i, got[i], want[i])
		}
	}
	for blk := range 3 {
		if s := *r.status(blk); s != unix.TP_STATUS_KERNEL {
			t.Errorf("block %d left with status %#x, want given back (%#x)", blk, s, unix.TP_STATUS_KERNEL)
		}
	}
	// The reader is back at block 0, which the kernel has not filled again.
	if r.cur != 0 {
		t.Errorf("reader at block %d after a full turn, want 0", r.cur)
	}
	if _, _, _, err := r.next(); !errors.Is(err, errRingEmpty) {
		t.Errorf("next on a ring given back: %v, want errRingEmpty", err)
	}
	// Filled again, the block is read again.
	fakeBlock(r, 0, unix.TP_STATUS_USER, 1, [][]byte{c}, []int{64})
	if data, _, _, err := r.next(); err != nil || !bytes.Equal(data, c) {
		t.Errorf("next after the kernel refilled block 0: %q %v, want %q", data, err, c)
	}
}
