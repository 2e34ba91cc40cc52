package pcapfile

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// TestHeaderReadsBack: a capture written with Header opens as a
// nanosecond pcap of its link type, timestamps exact.
func TestHeaderReadsBack(t *testing.T) {
	h := Header(101, 256)
	var rec [16]byte
	binary.LittleEndian.PutUint32(rec[0:], 1_700_000_000)
	binary.LittleEndian.PutUint32(rec[4:], 123_456_789)
	binary.LittleEndian.PutUint32(rec[8:], 4)
	binary.LittleEndian.PutUint32(rec[12:], 60)
	file := append(append(h[:], rec[:]...), 0x45, 0, 0, 20)
	r, err := NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != 101 || p.TimeNanos != 1_700_000_000_123_456_789 || p.WireLength != 60 || p.CaptureLength != 4 {
		t.Errorf("link %d, time %d, wire %d, captured %d", r.LinkType(), p.TimeNanos, p.WireLength, p.CaptureLength)
	}
}
