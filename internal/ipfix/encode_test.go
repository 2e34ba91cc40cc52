package ipfix

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRecordBytes pins the wire form of a record of each template, field
// by field, as a collector reads it with the templates.
func TestRecordBytes(t *testing.T) {
	for _, c := range []struct {
		name string
		flow Flow
		want string
	}{
		{"ipv4", tcpFlow4, `
			c0000201 c6336407        # 192.0.2.1 → 198.51.100.7
			c822 01bb 06             # 51234 → 443, TCP
			0000018bcfe5687b         # start, ms
			0000018bcfe57b7b         # end, ms
			000000000000000c 0000000000000d80  # 12 packets, 3456 bytes
			1b 03                    # flags, end of flow
			000000000000000a 00000000000181cd  # reverse: 10 packets, 98765 bytes
			12                       # reverse flags`},
		{"ipv6", udpFlow6, `
			20010db8000000000000000000000001
			20010db8000000010000000000000053
			9c40 0035 11
			0000018bcfe6eea0         # start, ms
			0000018bcfe765c4         # end, ms
			0000000000000003 00000000000000d2
			00 01                    # no flags, idle timeout
			0000000000000002 0000010000000000
			00`},
		{"ipv4 before 1970 and zero counters", Flow{Src: addr16("10.0.0.1"), Dst: addr16("10.0.0.2"), Start: -5e9, End: 999_999}, `
			0a000001 0a000002 0000 0000 00
			0000000000000000 0000000000000000
			0000000000000000 0000000000000000 00 00
			0000000000000000 0000000000000000 00`},
		{"ipv4 source, ipv6 destination: the ipv6 template", Flow{Src: addr16("10.0.0.1"), Dst: addr16("2001:db8::2"), Proto: 58, EndReason: EndLackOfResources}, `
			00000000000000000000ffff0a000001
			20010db8000000000000000000000002
			0000 0000 3a
			0000000000000000 0000000000000000
			0000000000000000 0000000000000000 00 05
			0000000000000000 0000000000000000 00`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var lines []string
			for _, l := range strings.Split(c.want, "\n") {
				lines = append(lines, strings.SplitN(l, "#", 2)[0])
			}
			want := unhex(t, strings.Join(lines, " "))
			fam := family(&c.flow)
			if len(want) != recordLens[fam] {
				t.Fatalf("test vector has %d bytes, record length is %d", len(want), recordLens[fam])
			}
			got := appendRecord(nil, &c.flow, fam)
			if hex.EncodeToString(got) != hex.EncodeToString(want) {
				t.Errorf("record\n got %x\nwant %x", got, want)
			}
		})
	}
}

// TestTemplateLayout checks the template set against the elements the
// task names, and that records are as long as their templates say.
func TestTemplateLayout(t *testing.T) {
	type field struct {
		id     uint16
		length uint16
		pen    uint32
	}
	common := []field{
		{7, 2, 0}, {11, 2, 0}, {4, 1, 0}, {152, 8, 0}, {153, 8, 0}, {2, 8, 0}, {1, 8, 0}, {6, 1, 0}, {136, 1, 0},
		{2, 8, 29305}, {1, 8, 29305}, {6, 1, 29305},
	}
	want := map[uint16][]field{
		256: append([]field{{8, 4, 0}, {12, 4, 0}}, common...),
		257: append([]field{{27, 16, 0}, {28, 16, 0}}, common...),
	}
	set := appendTemplateSet(nil)
	if id, l := binary.BigEndian.Uint16(set), int(binary.BigEndian.Uint16(set[2:])); id != 2 || l != len(set) || l != 148 || l%4 != 0 {
		t.Fatalf("template set id %d length %d (%d bytes written), want id 2 length 148", id, l, len(set))
	}
	seen := map[uint16]bool{}
	for off := setHeaderLen; off < len(set); {
		id, count := binary.BigEndian.Uint16(set[off:]), int(binary.BigEndian.Uint16(set[off+2:]))
		off += 4
		w, ok := want[id]
		if !ok || seen[id] {
			t.Fatalf("unexpected or repeated template %d", id)
		}
		seen[id] = true
		if count != len(w) {
			t.Fatalf("template %d has %d fields, want %d", id, count, len(w))
		}
		size := 0
		for i := range count {
			f := field{binary.BigEndian.Uint16(set[off:]), binary.BigEndian.Uint16(set[off+2:]), 0}
			off += 4
			if f.id&0x8000 != 0 {
				f.id &^= 0x8000
				f.pen = binary.BigEndian.Uint32(set[off:])
				off += 4
			}
			if f != w[i] {
				t.Errorf("template %d field %d = %+v, want %+v", id, i, f, w[i])
			}
			size += int(f.length)
		}
		fam := map[uint16]int{256: 0, 257: 1}[id]
		if size != recordLens[fam] {
			t.Errorf("template %d describes %d-byte records, encoder writes %d", id, size, recordLens[fam])
		}
		var f Flow
		if fam == 0 {
			f = tcpFlow4
		} else {
			f = udpFlow6
		}
		if n := len(appendRecord(nil, &f, fam)); n != size {
			t.Errorf("template %d: appendRecord wrote %d bytes, want %d", id, n, size)
		}
	}
	if len(seen) != 2 {
		t.Errorf("templates %v, want 256 and 257", seen)
	}
}

// TestMessageLayout checks the header, set lengths and padding of the
// messages the packer builds.
func TestMessageLayout(t *testing.T) {
	type set struct{ id, length int }
	for _, c := range []struct {
		name      string
		v4, v6    int
		templates bool
		want      []set
	}{
		{"one ipv4 record", 1, 0, false, []set{{256, 68}}},
		{"three ipv4 records", 3, 0, false, []set{{256, 196}}},
		{"one ipv6 record", 0, 1, false, []set{{257, 92}}},
		{"mixed: one set per template", 3, 2, false, []set{{256, 196}, {257, 180}}},
		{"templates ahead of data", 1, 1, true, []set{{2, 148}, {256, 68}, {257, 92}}},
		{"templates only", 0, 0, true, []set{{2, 148}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newPacker(DefaultMTU, 0xdeadbeef)
			p.templates = c.templates
			for i := range c.v4 {
				f := numbered(tcpFlow4, i)
				p.add(&f, 0)
			}
			for i := range c.v6 {
				f := numbered(udpFlow6, i)
				p.add(&f, 1)
			}
			msg := p.message(1_700_000_000, 77)
			wantLen := headerLen
			for _, s := range c.want {
				wantLen += s.length
			}
			if len(msg) != wantLen || p.size() != wantLen {
				t.Fatalf("message is %d bytes, size() %d, want %d", len(msg), p.size(), wantLen)
			}
			if v, l, et, seq, dom := binary.BigEndian.Uint16(msg), binary.BigEndian.Uint16(msg[2:]), binary.BigEndian.Uint32(msg[4:]),
				binary.BigEndian.Uint32(msg[8:]), binary.BigEndian.Uint32(msg[12:]); v != 10 || int(l) != len(msg) || et != 1_700_000_000 || seq != 77 || dom != 0xdeadbeef {
				t.Errorf("header: version %d length %d export time %d sequence %d domain %#x", v, l, et, seq, dom)
			}
			off := headerLen
			for _, w := range c.want {
				id, l := int(binary.BigEndian.Uint16(msg[off:])), int(binary.BigEndian.Uint16(msg[off+2:]))
				if id != w.id || l != w.length || l%4 != 0 {
					t.Errorf("set at %d: id %d length %d, want id %d length %d", off, id, l, w.id, w.length)
				}
				if id >= 256 {
					recLen := recordLens[id-256]
					data := l - setHeaderLen
					for _, b := range msg[off+setHeaderLen+data/recLen*recLen : off+l] {
						if b != 0 {
							t.Errorf("set %d: padding %x is not zero", id, msg[off+setHeaderLen+data/recLen*recLen:off+l])
							break
						}
					}
					if pad := data % recLen; pad > 3 {
						t.Errorf("set %d: %d bytes of padding", id, pad)
					}
				}
				off += l
			}
		})
	}
}

// TestPackerFillsToMTU checks that a full message stays within the MTU
// and that fits refuses only a record that would really overflow it.
func TestPackerFillsToMTU(t *testing.T) {
	for _, mtu := range []int{minMessage, 300, 512, DefaultMTU, 9000, maxUDPMessage} {
		for _, pattern := range []string{"4", "6", "46", "4466"} {
			for _, templates := range []bool{false, true} {
				p := newPacker(mtu, 1)
				p.templates = templates
				next := func(i int) (Flow, int) {
					if pattern[i%len(pattern)] == '4' {
						return numbered(tcpFlow4, i), 0
					}
					return numbered(udpFlow6, i), 1
				}
				i := 0
				for ; ; i++ {
					f, fam := next(i)
					if !p.fits(fam) {
						break
					}
					p.add(&f, fam)
				}
				if p.count == 0 {
					t.Fatalf("mtu %d pattern %s: not even one record fits", mtu, pattern)
				}
				msg := p.message(0, 0)
				if len(msg) > mtu {
					t.Errorf("mtu %d pattern %s templates %v: message of %d bytes", mtu, pattern, templates, len(msg))
				}
				// The refused record, packed anyway, overflows.
				big := newPacker(2*mtu+200, 1)
				big.templates = templates
				for j := 0; j <= i; j++ {
					f, fam := next(j)
					big.add(&f, fam)
				}
				if n := len(big.message(0, 0)); n <= mtu {
					t.Errorf("mtu %d pattern %s templates %v: record %d refused, but the message would be %d bytes", mtu, pattern, templates, i, n)
				}
			}
		}
	}
}

func TestFamily(t *testing.T) {
	for _, c := range []struct {
		src, dst string
		want     int
	}{
		{"192.0.2.1", "192.0.2.2", 0},
		{"2001:db8::1", "2001:db8::2", 1},
		{"192.0.2.1", "2001:db8::2", 1},
		{"::1", "192.0.2.2", 1},
		{"::", "::", 1},
	} {
		f := Flow{Src: addr16(c.src), Dst: addr16(c.dst)}
		if got := family(&f); got != c.want {
			t.Errorf("%s → %s: template %d, want %d", c.src, c.dst, templateIDs[got], templateIDs[c.want])
		}
	}
}

func TestDataSetLen(t *testing.T) {
	for _, c := range []struct{ records, want int }{
		{0, 0}, // no set at all
		{recordLenV4, 68},
		{2 * recordLenV4, 132},
		{recordLenV6, 92},
		{1, 8}, // padded to 4 bytes
		{66, 72},
		{67, 72},
		{68, 72},
	} {
		if got := dataSetLen(c.records); got != c.want {
			t.Errorf("dataSetLen(%d) = %d, want %d", c.records, got, c.want)
		}
	}
}

// FuzzRecordRoundTrip packs any flow into a message and checks that
// goflow2 reads every field back, and that the message never outgrows
// the smallest MTU.
func FuzzRecordRoundTrip(f *testing.F) {
	add := func(fl Flow) {
		f.Add(fl.Src[:], fl.Dst[:], fl.SrcPort, fl.DstPort, fl.Proto, fl.Start, fl.End,
			fl.Packets, fl.Bytes, fl.RevPackets, fl.RevBytes, fl.Flags, fl.RevFlags, fl.EndReason)
	}
	add(tcpFlow4)
	add(udpFlow6)
	add(Flow{Src: addr16("10.0.0.1"), Dst: addr16("2001:db8::2"), Start: -1, End: -1 << 63})
	add(Flow{Packets: ^uint64(0), Bytes: ^uint64(0), Start: 1<<63 - 1, Flags: 0xff, RevFlags: 0xff, EndReason: 0xff})
	f.Fuzz(func(t *testing.T, src, dst []byte, sport, dport uint16, proto uint8, start, end int64,
		pkts, octets, rpkts, roctets uint64, flags, rflags, reason uint8) {
		fl := Flow{SrcPort: sport, DstPort: dport, Proto: proto, Start: start, End: end,
			Packets: pkts, Bytes: octets, RevPackets: rpkts, RevBytes: roctets, Flags: flags, RevFlags: rflags, EndReason: reason}
		copy(fl.Src[:], src)
		copy(fl.Dst[:], dst)
		p := newPacker(minMessage, 3)
		p.templates = true
		fam := family(&fl)
		if !p.fits(fam) {
			t.Fatal("one record and the templates do not fit the smallest MTU")
		}
		p.add(&fl, fam)
		msg := p.message(1, 2)
		if len(msg) > minMessage {
			t.Fatalf("message of %d bytes, over %d", len(msg), minMessage)
		}
		m := newDecoder().decode(t, msg)
		recs := m.records()
		if len(recs) != 1 || len(m.data) != 1 || m.data[0].Id != templateIDs[fam] {
			t.Fatalf("decoded %d records in %d sets, want one record of template %d", len(recs), len(m.data), templateIDs[fam])
		}
		checkRecord(t, recs[0], fl)
	})
}
