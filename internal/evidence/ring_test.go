package evidence

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestRing writes records of random sizes through rings of several sizes
// and checks after each that the ring holds exactly the newest records
// that fit, oldest first, intact, within its bytes.
func TestRing(t *testing.T) {
	for _, size := range []int{16 * recSize(200), 16*recSize(200) + 13, 64 << 10} {
		g := newRing(size)
		rng := rand.New(rand.NewPCG(uint64(size), 1))
		type sent struct {
			ts   int64
			data []byte
		}
		var all []sent
		for i := range 3000 {
			n := rng.IntN(201)
			if i%7 == 0 {
				n = 200
			}
			data := bytes.Repeat([]byte{byte(i)}, n)
			src, dst := v4(10, 0, byte(i>>8), byte(i)), v6("2001:db8::1")
			g.put(int64(i), uint32(n+1000), &src, &dst, data)
			all = append(all, sent{int64(i), data})

			var got []record
			g.each(func(b []byte) bool {
				got = append(got, readRecord(b))
				return true
			})
			if len(got) == 0 {
				t.Fatalf("ring of %d after %d puts: empty", size, i+1)
			}
			// The records are the newest, consecutive, ending with this one.
			first := len(all) - len(got)
			for j, r := range got {
				w := all[first+j]
				if r.ts != w.ts || !bytes.Equal(r.data, w.data) || r.wire != uint32(len(w.data)+1000) || r.src != v4(10, 0, byte(w.ts>>8), byte(w.ts)) {
					t.Fatalf("ring of %d after %d puts: record %d is ts %d (%d bytes), want ts %d (%d bytes)", size, i+1, j, r.ts, len(r.data), w.ts, len(w.data))
				}
			}
			// It holds all but the newest lap's first blocks: at most two
			// blocks and two records (one cut, one of padding) less.
			held := 0
			for _, r := range got {
				held += recSize(len(r.data))
			}
			if first > 0 && held < len(g.buf)-2<<g.shift-2*recSize(200) {
				t.Fatalf("ring of %d after %d puts: holds %d bytes", size, i+1, held)
			}
		}
	}
}

func TestRingEachStops(t *testing.T) {
	g := newRing(64 << 10)
	var a [16]byte
	for i := range 10 {
		g.put(int64(i), 60, &a, &a, make([]byte, 60))
	}
	n := 0
	g.each(func([]byte) bool { n++; return n < 3 })
	if n != 3 {
		t.Errorf("each went on after false: %d calls", n)
	}
}

func TestClampWire(t *testing.T) {
	for _, c := range []struct {
		wire, capLen int
		want         uint32
	}{
		{1514, 128, 1514},
		{60, 60, 60},
		{10, 60, 60}, // a capture claiming less than it holds
		{-1, 60, 60},
		{1 << 40, 60, 1<<32 - 1},
	} {
		if got := clampWire(c.wire, c.capLen); got != c.want {
			t.Errorf("clampWire(%d, %d) = %d, want %d", c.wire, c.capLen, got, c.want)
		}
	}
}
