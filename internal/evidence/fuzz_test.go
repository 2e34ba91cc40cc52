package evidence

import (
	"bytes"
	"testing"
)

// FuzzRewrite feeds arbitrary frames of any link type to the rewriter: it
// must never panic nor keep more than the frame, and what it keeps must
// parse again to the same length (so a file of kept frames is readable
// the same way).
func FuzzRewrite(f *testing.F) {
	for _, c := range anonCases(f) {
		f.Add(c.link, c.frame)
	}
	f.Fuzz(func(t *testing.T, link uint16, b []byte) {
		keep, ok := rewrite(link, b, flipAddr)
		if !ok {
			return
		}
		if keep < 0 || keep > len(b) {
			t.Fatalf("keep %d of %d bytes", keep, len(b))
		}
		again := bytes.Clone(b[:keep])
		keep2, ok2 := rewrite(link, again, flipAddr)
		if !ok2 || keep2 != keep {
			t.Fatalf("the kept %d bytes rewrite to %d (ok %v)", keep, keep2, ok2)
		}
	})
}

// FuzzRing puts records of the sizes the input gives (one byte each, up
// to 255 bytes of data) into a small ring and checks that a walk always
// returns the newest records, in order, intact.
func FuzzRing(f *testing.F) {
	f.Add([]byte{0, 1, 2, 255, 128, 60, 60, 60})
	f.Add(bytes.Repeat([]byte{255}, 200))
	f.Add(bytes.Repeat([]byte{7, 250, 0}, 300))
	f.Fuzz(func(t *testing.T, sizes []byte) {
		g := newRing(16 * recSize(255))
		var a [16]byte
		for i, n := range sizes {
			data := bytes.Repeat([]byte{byte(i)}, int(n))
			g.put(int64(i), uint32(n), &a, &a, data)
			ok := true
			var got []record
			g.each(func(b []byte) bool { got = append(got, readRecord(b)); return true })
			if len(got) == 0 {
				t.Fatalf("empty after %d puts", i+1)
			}
			for j, r := range got {
				k := i - (len(got) - 1 - j)
				if r.ts != int64(k) || len(r.data) != int(sizes[k]) || r.wire != uint32(sizes[k]) || (len(r.data) > 0 && r.data[0] != byte(k)) {
					ok = false
				}
			}
			if !ok {
				t.Fatalf("after %d puts the walk is not the newest records in order", i+1)
			}
		}
	})
}
