package pcapfile

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

func TestPcapFromGopacket(t *testing.T) {
	times := []time.Time{
		time.Date(2024, 3, 1, 12, 0, 0, 123456789, time.UTC),
		time.Date(2024, 3, 1, 12, 0, 1, 500007, time.UTC),
		time.Unix(4_000_000_000, 999_999_999).UTC(), // past 2038: seconds are unsigned
	}
	datas := [][]byte{frame(60, 1), frame(100, 2), {}}
	wires := []int{60, 1514, 64}
	for _, nanos := range []bool{false, true} {
		name := map[bool]string{false: "microseconds", true: "nanoseconds"}[nanos]
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			w := pcapgo.NewWriter(&buf)
			if nanos {
				w = pcapgo.NewWriterNanos(&buf)
			}
			if err := w.WriteFileHeader(65535, layers.LinkTypeLinuxSLL); err != nil {
				t.Fatal(err)
			}
			var want []Packet
			for i, ts := range times {
				ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(datas[i]), Length: wires[i]}
				if err := w.WritePacket(ci, datas[i]); err != nil {
					t.Fatal(err)
				}
				ns := ts.UnixNano()
				if !nanos {
					ns = ns / 1000 * 1000
				}
				want = append(want, Packet{TimeNanos: ns, WireLength: wires[i], LinkType: 113, Data: datas[i]})
			}
			// No extension: detection must not depend on the name.
			r, got, err := openAll(t, writeTemp(t, "capture", buf.Bytes()))
			if err != io.EOF {
				t.Fatalf("final error %v, want io.EOF", err)
			}
			if r.Format() != "pcap" || r.Compressed() || r.LinkType() != 113 {
				t.Errorf("Format %q Compressed %v LinkType %d", r.Format(), r.Compressed(), r.LinkType())
			}
			checkPackets(t, got, want)
		})
	}
}

func TestPcapByteOrdersAndPrecision(t *testing.T) {
	for _, tc := range []struct {
		name  string
		order byteOrder
		nanos bool
	}{
		{"little-endian microseconds", le, false},
		{"big-endian microseconds", be, false},
		{"little-endian nanoseconds", le, true},
		{"big-endian nanoseconds", be, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frac, unit := uint32(999_999), int64(1000)
			if tc.nanos {
				frac, unit = 999_999_999, 1
			}
			// The upper bits of the link-type field carry FCS information.
			b := pcapHeader(tc.order, tc.nanos, 96, 0x1400_0000|228)
			b = append(b, pcapRecord(tc.order, 1_700_000_000, frac, frame(20, 9), 1500)...)
			b = append(b, pcapRecord(tc.order, 0, 1, frame(96, 3), 96)...)
			r, err := NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if r.LinkType() != 228 {
				t.Errorf("LinkType %d, want 228 with the FCS bits masked off", r.LinkType())
			}
			got, err := readAll(t, r)
			if err != io.EOF {
				t.Fatalf("final error %v", err)
			}
			checkPackets(t, got, []Packet{
				{TimeNanos: 1_700_000_000e9 + int64(frac)*unit, WireLength: 1500, LinkType: 228, Data: frame(20, 9)},
				{TimeNanos: unit, WireLength: 96, LinkType: 228, Data: frame(96, 3)},
			})
		})
	}
}
