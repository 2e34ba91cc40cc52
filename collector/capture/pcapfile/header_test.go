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

// TestPutRecordHeaderClamps: times a pcap record cannot hold are clamped,
// not wrapped.
func TestPutRecordHeaderClamps(t *testing.T) {
	var b [RecordHeaderSize]byte
	for _, c := range []struct {
		ts        int64
		sec, nsec uint32
	}{{-5, 0, 0}, {1_700_000_000_000_000_007, 1_700_000_000, 7}, {1 << 62, 1<<32 - 1, 999_999_999}} {
		PutRecordHeader(b[:], c.ts, 4, 60)
		if s, n := binary.LittleEndian.Uint32(b[0:]), binary.LittleEndian.Uint32(b[4:]); s != c.sec || n != c.nsec {
			t.Errorf("%d: %d.%09d, want %d.%09d", c.ts, s, n, c.sec, c.nsec)
		}
	}
}
