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

func TestPcapngFromGopacket(t *testing.T) {
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet}, pcapgo.DefaultNgWriterOptions)
	if err != nil {
		t.Fatal(err)
	}
	// gopacket writes if_tsoffset but still stores absolute timestamps, so
	// the reader's times are the written ones plus the offset.
	if _, err := w.AddInterface(pcapgo.NgInterface{Name: "tun0", LinkType: layers.LinkTypeRaw, TimestampOffset: 100}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddInterface(pcapgo.NgInterface{Name: "wlan0", LinkType: layers.LinkTypeIEEE80211Radio, SnapLength: 128}); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2023, 11, 14, 22, 13, 20, 987654321, time.UTC)
	ifs := []int{0, 1, 2, 0, 1}
	links := []uint16{1, 101, 127}
	offsets := []int64{0, 100e9, 0}
	var want []Packet
	for i, id := range ifs {
		ts := base.Add(time.Duration(i)*time.Millisecond + time.Duration(i))
		d := frame(40+i*7, byte(i))
		ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(d), Length: len(d) + i, InterfaceIndex: id}
		if err := w.WritePacket(ci, d); err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			if err := w.WriteInterfaceStats(0, pcapgo.NgInterfaceStatistics{LastUpdate: ts, PacketsReceived: 3, PacketsDropped: pcapgo.NgNoValue64}); err != nil {
				t.Fatal(err)
			}
		}
		want = append(want, Packet{TimeNanos: ts.UnixNano() + offsets[id], WireLength: len(d) + i, LinkType: links[id], Interface: id, Data: d})
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r, got, err := openAll(t, writeTemp(t, "capture.pcap", buf.Bytes()))
	if err != io.EOF {
		t.Fatalf("final error %v, want io.EOF", err)
	}
	if r.Format() != "pcapng" || r.Compressed() || r.LinkType() != 1 {
		t.Errorf("Format %q Compressed %v LinkType %d", r.Format(), r.Compressed(), r.LinkType())
	}
	checkPackets(t, got, want)
}

func TestPcapngTimestampResolution(t *testing.T) {
	const s = 1_700_000_000
	for _, tc := range []struct {
		name   string
		opts   func(n *ng) [][]byte
		units  uint64
		wantNs int64
	}{
		{"default microseconds", nil, s*1e6 + 123456, s*1e9 + 123456000},
		{"10^-9", func(n *ng) [][]byte { return [][]byte{n.tsresol(9)} }, s*1e9 + 123456789, s*1e9 + 123456789},
		{"10^-3", func(n *ng) [][]byte { return [][]byte{n.tsresol(3)} }, s*1e3 + 7, s*1e9 + 7e6},
		{"10^0", func(n *ng) [][]byte { return [][]byte{n.tsresol(0)} }, s, s * 1e9},
		{"10^-12 rounds toward zero", func(n *ng) [][]byte { return [][]byte{n.tsresol(12)} }, 17_000_000_001_234_567_890, 17_000_000_001_234_567},
		{"10^-28", func(n *ng) [][]byte { return [][]byte{n.tsresol(28)} }, ^uint64(0), 1},
		{"10^-30 is below a nanosecond", func(n *ng) [][]byte { return [][]byte{n.tsresol(30)} }, ^uint64(0), 0},
		{"2^-20 half second", func(n *ng) [][]byte { return [][]byte{n.tsresol(0x80 | 20)} }, s<<20 | 1<<19, s*1e9 + 5e8},
		{"2^-20 one unit", func(n *ng) [][]byte { return [][]byte{n.tsresol(0x80 | 20)} }, s<<20 | 1, s*1e9 + 953},
		{"2^0", func(n *ng) [][]byte { return [][]byte{n.tsresol(0x80)} }, s, s * 1e9},
		{"2^-40", func(n *ng) [][]byte { return [][]byte{n.tsresol(0x80 | 40)} }, 3<<40 | 1<<39, 3_500_000_000},
		{"2^-64", func(n *ng) [][]byte { return [][]byte{n.tsresol(0x80 | 64)} }, 1 << 63, 5e8},
		{"2^-127", func(n *ng) [][]byte { return [][]byte{n.tsresol(0x80 | 127)} }, ^uint64(0), 0},
		{"offset", func(n *ng) [][]byte { return [][]byte{n.tsresol(9), n.tsoffset(s)} }, 123, s*1e9 + 123},
		{"negative offset", func(n *ng) [][]byte { return [][]byte{n.tsoffset(-10)} }, 20e6, 10e9},
		{"wrong-size option ignored", func(n *ng) [][]byte { return [][]byte{n.opt(nil, optTSResol, []byte{9, 9})} }, 5e6, 5e9},
	} {
		for _, order := range []byteOrder{le, be} {
			t.Run(tc.name+"/"+order.String(), func(t *testing.T) {
				n := newNG(order).shb()
				var opts [][]byte
				if tc.opts != nil {
					opts = tc.opts(n)
				}
				b := n.idb(1, 0, opts...).epb(0, tc.units, frame(10, 0), 10).bytes()
				r, err := NewReader(bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				got, err := readAll(t, r)
				if err != io.EOF {
					t.Fatalf("final error %v", err)
				}
				checkPackets(t, got, []Packet{{TimeNanos: tc.wantNs, WireLength: 10, LinkType: 1, Data: frame(10, 0)}})
			})
		}
	}
}

// TestPcapngBlocks covers several interfaces, every packet block type and
// skipped blocks in one section.
func TestPcapngBlocks(t *testing.T) {
	for _, order := range []byteOrder{le, be} {
		t.Run(order.String(), func(t *testing.T) {
			n := newNG(order).shb()
			n.block(4, []byte{1, 0, 8, 0, 10, 0, 0, 1, 'h', 'o', 's', 't', 0, 0, 0, 0}) // name resolution
			n.idb(1, 0, n.tsresol(9))
			n.idb(101, 0)
			n.idb(113, 0, n.tsresol(3), n.opt(nil, 2, []byte("any")))
			n.block(0x40000bad, frame(100, 0)) // custom block
			n.epb(0, 1_700_000_000_123_456_789, frame(60, 1), 60)
			n.epb(1, 1_700_000_000_123_456, frame(41, 2), 1500)
			n.block(5, make([]byte, 40)) // interface statistics
			n.pb(2, 1_700_000_001_000, frame(70, 3), 70)
			n.spb(frame(33, 4), 33)
			n.block(0x0a, make([]byte, 16)) // decryption secrets
			n.epb(2, 1_700_000_002_000, nil, 0)
			r, err := NewReader(bytes.NewReader(n.bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if r.LinkType() != 1 {
				t.Errorf("LinkType %d, want 1 (the first interface)", r.LinkType())
			}
			got, err := readAll(t, r)
			if err != io.EOF {
				t.Fatalf("final error %v", err)
			}
			checkPackets(t, got, []Packet{
				{TimeNanos: 1_700_000_000_123_456_789, WireLength: 60, LinkType: 1, Data: frame(60, 1)},
				{TimeNanos: 1_700_000_000_123_456_000, WireLength: 1500, LinkType: 101, Interface: 1, Data: frame(41, 2)},
				{TimeNanos: 1_700_000_001_000_000_000, WireLength: 70, LinkType: 113, Interface: 2, Data: frame(70, 3)},
				// A simple packet block has no time: the previous packet's.
				{TimeNanos: 1_700_000_001_000_000_000, WireLength: 33, LinkType: 1, Data: frame(33, 4)},
				{TimeNanos: 1_700_000_002_000_000_000, WireLength: 0, LinkType: 113, Interface: 2, Data: []byte{}},
			})
		})
	}
}

func TestSimplePacketBlockSnaplen(t *testing.T) {
	n := newNG(le).shb().idb(228, 32)
	n.spb(frame(32, 1), 100) // cut to the snapshot length
	n.spb(frame(10, 2), 10)  // padded to 12: the wire length bounds it
	n.epb(0, 5e6, frame(8, 3), 8)
	n.spb(frame(20, 4), 20)
	r, err := NewReader(bytes.NewReader(n.bytes()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, r)
	if err != io.EOF {
		t.Fatalf("final error %v", err)
	}
	checkPackets(t, got, []Packet{
		{TimeNanos: 0, WireLength: 100, LinkType: 228, Data: frame(32, 1)},
		{TimeNanos: 0, WireLength: 10, LinkType: 228, Data: frame(10, 2)},
		{TimeNanos: 5e9, WireLength: 8, LinkType: 228, Data: frame(8, 3)},
		{TimeNanos: 5e9, WireLength: 20, LinkType: 228, Data: frame(20, 4)},
	})
}

// TestPcapngSections checks that a new section may switch byte order and
// brings its own interfaces.
func TestPcapngSections(t *testing.T) {
	b := newNG(le).shb().idb(1, 0).epb(0, 1e6, frame(20, 1), 20).bytes()
	n := newNG(be).shb().idb(101, 0, n2tsresol(be, 3)).idb(228, 0)
	n.epb(1, 2e6, frame(21, 2), 21).epb(0, 3e3, frame(22, 3), 22)
	b = append(b, n.bytes()...)
	b = append(b, newNG(le).shb().idb(276, 0).epb(0, 4e6, frame(23, 4), 23).bytes()...)
	r, err := NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, r)
	if err != io.EOF {
		t.Fatalf("final error %v", err)
	}
	checkPackets(t, got, []Packet{
		{TimeNanos: 1e9, WireLength: 20, LinkType: 1, Data: frame(20, 1)},
		{TimeNanos: 2e9, WireLength: 21, LinkType: 228, Interface: 1, Data: frame(21, 2)},
		{TimeNanos: 3e9, WireLength: 22, LinkType: 101, Data: frame(22, 3)},
		{TimeNanos: 4e9, WireLength: 23, LinkType: 276, Data: frame(23, 4)},
	})
	if r.LinkType() != 1 {
		t.Errorf("LinkType %d, want the first interface's 1", r.LinkType())
	}
}

func n2tsresol(order byteOrder, v uint8) []byte { return newNG(order).tsresol(v) }
