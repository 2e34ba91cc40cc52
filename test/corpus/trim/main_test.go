package main

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/capture/pcapfile"
)

var be = binary.BigEndian

// eth returns an Ethernet header with the given EtherType, after the VLAN
// tags given as TPID values.
func eth(ethType uint16, tags ...uint16) []byte {
	b := make([]byte, 12, 64)
	for i := range b {
		b[i] = byte(i + 1)
	}
	for _, t := range tags {
		b = be.AppendUint16(b, t)
		b = be.AppendUint16(b, 7) // VLAN 7
	}
	return be.AppendUint16(b, ethType)
}

// ipv4 returns an IPv4 header with optLen bytes of options and the given
// fragment field (flags and offset).
func ipv4(proto byte, optLen int, frag uint16) []byte {
	ihl := 20 + optLen
	b := make([]byte, ihl)
	b[0] = 0x40 | byte(ihl/4)
	be.PutUint16(b[6:], frag)
	b[8] = 64
	b[9] = proto
	copy(b[12:], []byte{10, 213, 0, 66, 10, 213, 0, 10})
	return b
}

// ipv6 returns an IPv6 header followed by the given extension headers,
// each as (next header, bytes).
func ipv6(next byte, ext ...[]byte) []byte {
	b := make([]byte, 40)
	b[0] = 0x60
	b[6] = next
	b[7] = 64
	for _, e := range ext {
		b = append(b, e...)
	}
	return b
}

func tcp(optLen int) []byte {
	thl := 20 + optLen
	b := make([]byte, thl)
	be.PutUint16(b[0:], 40000)
	be.PutUint16(b[2:], 80)
	b[12] = byte(thl/4) << 4
	b[13] = 0x18
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func payload(n int) []byte { return bytes.Repeat([]byte{'x'}, n) }

func TestCut(t *testing.T) {
	get := []byte("GET /index.html HTTP/1.1\r\nHost: www.lab.test\r\nUser-Agent: curl/7.88.1\r\n\r\n")
	frag := make([]byte, 8)
	frag[0] = 6 // next: TCP, offset 0
	laterFrag := make([]byte, 8)
	laterFrag[0] = 6
	be.PutUint16(laterFrag[2:], 185<<3)
	hop := make([]byte, 8)
	hop[0] = 44 // next: fragment
	for _, tc := range []struct {
		name string
		link uint16
		data []byte
		want int
	}{
		{"tcp http request", linkEthernet, cat(eth(0x0800), ipv4(6, 0, 0x4000), tcp(12), get), 14 + 20 + 32 + 32},
		{"tcp short payload", linkEthernet, cat(eth(0x0800), ipv4(6, 0, 0), tcp(0), payload(10)), 14 + 20 + 20 + 10},
		{"tcp no payload", linkEthernet, cat(eth(0x0800), ipv4(6, 0, 0), tcp(20)), 14 + 20 + 40},
		{"tcp ip options", linkEthernet, cat(eth(0x0800), ipv4(6, 8, 0), tcp(0), payload(1400)), 14 + 28 + 20 + 32},
		{"tcp vlan qinq", linkEthernet, cat(eth(0x0800, 0x88a8, 0x8100), ipv4(6, 0, 0), tcp(12), payload(1400)), 22 + 20 + 32 + 32},
		{"tcp ipv6", linkEthernet, cat(eth(0x86dd), ipv6(6), tcp(20), payload(1400)), 14 + 40 + 40 + 32},
		{"tcp ipv6 ext headers", linkEthernet, cat(eth(0x86dd), ipv6(0, hop, frag), tcp(0), payload(100)), 14 + 56 + 20 + 32},
		{"ipv6 later fragment", linkEthernet, cat(eth(0x86dd), ipv6(44, laterFrag), payload(1400)), 128},
		{"ipv4 later fragment", linkEthernet, cat(eth(0x0800), ipv4(6, 0, 185), payload(1400)), 128},
		{"udp dns", linkEthernet, cat(eth(0x0800), ipv4(17, 0, 0), payload(8+500)), 256},
		{"udp small", linkEthernet, cat(eth(0x0800), ipv4(17, 0, 0), payload(8+40)), 14 + 20 + 48},
		{"icmp", linkEthernet, cat(eth(0x0800), ipv4(1, 0, 0), payload(1000)), 128},
		{"arp", linkEthernet, cat(eth(0x0806), payload(28)), 42},
		{"unknown ethertype", linkEthernet, cat(eth(0x88cc), payload(400)), 128},
		{"sll tcp", linkLinuxSLL, cat(make([]byte, 14), []byte{8, 0}, ipv4(6, 0, 0), tcp(0), payload(100)), 16 + 20 + 20 + 32},
		{"sll2 udp", linkLinuxSLL2, cat([]byte{0x86, 0xdd}, make([]byte, 18), ipv6(17), payload(400)), 256},
		{"raw ipv4 tcp", linkRaw, cat(ipv4(6, 0, 0), tcp(0), payload(100)), 20 + 20 + 32},
		{"raw ipv6", linkIPv6, cat(ipv6(6), tcp(0), payload(100)), 40 + 20 + 32},
		{"raw garbage", linkRaw, payload(300), 128},
		{"unknown link type", 147, payload(300), 128},
		{"empty", linkEthernet, nil, 0},
		{"runt ethernet", linkEthernet, []byte{1, 2, 3}, 3},
		{"vlan cut short", linkEthernet, eth(0x8100)[:14], 14},
		{"ip cut short", linkEthernet, cat(eth(0x0800), ipv4(6, 0, 0))[:30], 30},
		{"bad ihl", linkEthernet, cat(eth(0x0800), []byte{0x42}, make([]byte, 300)), 128},
		{"ihl past the end", linkEthernet, cat(eth(0x0800), []byte{0x4f}, make([]byte, 30)), 14 + 31},
		{"version mismatch", linkEthernet, cat(eth(0x0800), ipv6(6), tcp(0), payload(300)), 128},
		{"tcp header cut by snaplen", linkEthernet, cat(eth(0x0800), ipv4(6, 0, 0), tcp(40))[:70], 70},
		{"tcp bad data offset", linkEthernet, cat(eth(0x0800), ipv4(6, 0, 0), []byte{0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}, payload(300)), 128},
		{"ipv6 extension loop", linkEthernet, cat(eth(0x86dd), ipv6(60, bytes.Repeat([]byte{60, 0, 0, 0, 0, 0, 0, 0}, 12)), payload(100)), 128},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cut(tc.link, tc.data); got != tc.want {
				t.Errorf("cut = %d, want %d (packet of %d bytes)", got, tc.want, len(tc.data))
			}
		})
	}
}

// pcapFile returns a classic microsecond pcap holding the packets.
func pcapFile(link uint32, pkts ...[]byte) []byte {
	le := binary.LittleEndian
	b := le.AppendUint32(nil, 0xa1b2c3d4)
	b = le.AppendUint16(b, 2)
	b = le.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)
	b = le.AppendUint32(b, 256)
	b = le.AppendUint32(b, link)
	for i, p := range pkts {
		b = le.AppendUint32(b, 1765012345+uint32(i))
		b = le.AppendUint32(b, 123456)
		b = le.AppendUint32(b, uint32(len(p)))
		b = le.AppendUint32(b, uint32(len(p)+1000)) // cut by the snapshot length
		b = append(b, p...)
	}
	return b
}

func TestTrimFile(t *testing.T) {
	pkts := [][]byte{
		cat(eth(0x0800), ipv4(6, 0, 0), tcp(12), payload(180)),
		cat(eth(0x0800), ipv4(17, 0, 0), payload(30)),
		cat(eth(0x0806), payload(28)),
		cat(eth(0x0800), ipv4(1, 0, 0), payload(200)),
	}
	want := []int{14 + 20 + 32 + 32, 14 + 20 + 30, 42, 128}
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pcap")
	full := pcapFile(1, pkts...)
	// a record cut short at the end, as when tcpdump is killed: dropped
	full = append(full, pcapFile(1, payload(60))[24:40]...)
	if err := os.WriteFile(in, full, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.pcap.gz")
	var stderr bytes.Buffer
	if code := run([]string{in, out}, &stderr); code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "ends inside a record") {
		t.Errorf("no warning about the truncated last record: %s", stderr.String())
	}
	r, err := pcapfile.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.Compressed() || r.Format() != "pcap" || r.LinkType() != 1 {
		t.Errorf("output: compressed %v, format %s, link type %d; want a gzipped pcap, Ethernet", r.Compressed(), r.Format(), r.LinkType())
	}
	for i := 0; ; i++ {
		p, err := r.Next()
		if err == io.EOF {
			if i != len(pkts) {
				t.Errorf("%d packets, want %d", i, len(pkts))
			}
			break
		}
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if i >= len(pkts) {
			t.Fatalf("more packets than the %d written", len(pkts))
		}
		wantT := int64(1765012345+i)*1e9 + 123456000
		if p.CaptureLength != want[i] || p.WireLength != len(pkts[i])+1000 || p.TimeNanos != wantT {
			t.Errorf("packet %d: %d bytes of %d at %d, want %d of %d at %d", i, p.CaptureLength, p.WireLength, p.TimeNanos,
				want[i], len(pkts[i])+1000, wantT)
		}
		if !bytes.Equal(p.Data, pkts[i][:want[i]]) {
			t.Errorf("packet %d: data differs from the input's first %d bytes", i, want[i])
		}
	}

	for _, args := range [][]string{{in}, {filepath.Join(dir, "missing.pcap"), out}, {in, filepath.Join(dir, "no", "such", "out.pcap.gz")}} {
		if code := run(args, io.Discard); code == 0 {
			t.Errorf("run %q: exit 0, want an error", args)
		}
	}
	if err := os.WriteFile(in, []byte("not a capture"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{in, out}, io.Discard); code != 1 {
		t.Errorf("not a capture: exit %d, want 1", code)
	}
	if _, err := pcapfile.Open(out); err != nil {
		t.Errorf("a failed run replaced the earlier output: %v", err)
	}
}

func FuzzCut(f *testing.F) {
	f.Add(uint16(linkEthernet), cat(eth(0x0800), ipv4(6, 0, 0), tcp(12), payload(60)))
	f.Add(uint16(linkEthernet), cat(eth(0x86dd, 0x8100), ipv6(0, []byte{6, 0, 0, 0, 0, 0, 0, 0}), tcp(0), payload(60)))
	f.Add(uint16(linkLinuxSLL2), cat([]byte{8, 0}, make([]byte, 18), ipv4(17, 4, 0), payload(300)))
	f.Add(uint16(linkRaw), []byte{0x6f})
	f.Fuzz(func(t *testing.T, link uint16, data []byte) {
		n := cut(link, data)
		if n < 0 || n > len(data) {
			t.Fatalf("cut = %d for %d bytes", n, len(data))
		}
		if n < len(data) && n < tcpPayloadKeep {
			t.Fatalf("cut = %d of %d bytes: less than any rule keeps", n, len(data))
		}
	})
}

func BenchmarkCut(b *testing.B) {
	pkts := [][]byte{
		cat(eth(0x0800), ipv4(6, 0, 0), tcp(12), payload(1448)),
		cat(eth(0x86dd), ipv6(17), payload(500)),
		cat(eth(0x0800, 0x8100), ipv4(1, 0, 0), payload(60)),
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for _, p := range pkts {
			n += cut(linkEthernet, p)
		}
	}
	if n == 0 {
		b.Fatal("nothing kept")
	}
}
