package decode

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/netanomaly/netanomaly_exporter/collector/capture/pcapfile"
)

// fuzzLinks are the link types every fuzz input is decoded as: all those
// the decoder supports, and one it does not (IEEE 802.11).
var fuzzLinks = []uint16{LinkNull, LinkEthernet, LinkRawBSD, LinkRawOBSD, LinkRaw, LinkLoop, LinkSLL, LinkIPv4, LinkIPv6, LinkSLL2, 105}

// FuzzDecode decodes arbitrary bytes as the input's own link type and as
// every link type above. Decoding must not panic, must not write to the
// frame, must give the same result with a fresh decoder as with one that
// has decoded other frames before, and must keep PacketInfo consistent.
//
// Seeds: the hand-built frames of TestDecode, and real frames in
// testdata/fuzz/FuzzDecode (see testdata/README.md).
func FuzzDecode(f *testing.F) {
	for _, tc := range decodeCases(f) {
		f.Add(tc.link, tc.data)
	}
	// DHCPv6 options and echo data, which the cases above lack.
	duid := []byte{0, 1, 0, 6, 0, 1, 0, 1, 0x2c, 0x1d, 0, 1, 2, 0, 0, 0, 0, 0xcc}
	f.Add(LinkEthernet, frame(f, eth(layers.EthernetTypeIPv6), ip6("fe80::1", "ff02::1:2", layers.IPProtocolUDP), udp(546, 547),
		gopacket.Payload(append([]byte{1, 0, 0, 1, 0, 8, 0, 2, 0, 0}, duid...))))
	f.Add(LinkEthernet, frame(f, eth(layers.EthernetTypeIPv6), ip6("2001:db8::1", "2001:db8::2", layers.IPProtocolICMPv6),
		&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}, &layers.ICMPv6Echo{Identifier: 7, SeqNumber: 1}, filler(56)))
	f.Add(LinkEthernet, frame(f, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(0, 0), Id: 7, Seq: 1}, filler(56)))
	// An SNMPv2c GetRequest with its community.
	f.Add(LinkEthernet, frame(f, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP), udp(40000, 161),
		gopacket.Payload([]byte{0x30, 0x1a, 0x02, 0x01, 0x01, 0x04, 0x06, 'p', 'u', 'b', 'l', 'i', 'c', 0xa0, 0x0d, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x02, 0x30, 0x00})))
	used := NewDecoder()
	f.Fuzz(func(t *testing.T, link uint16, data []byte) {
		orig := bytes.Clone(data)
		fresh := NewDecoder()
		layered := NewDecoder()
		layered.layersOnly = true
		for _, l := range append(fuzzLinks[:len(fuzzLinks):len(fuzzLinks)], link) {
			p1 := decodeChecked(t, used, l, data)
			p2 := decodeChecked(t, fresh, l, data)
			if p1 != p2 {
				t.Fatalf("link %d: result depends on earlier frames\n after others %+v\n fresh        %+v", l, p1, p2)
			}
			// The fast path decodes what it takes as the layers do.
			errs := fresh.Errors
			p3 := decodeChecked(t, layered, l, data)
			if p2 != p3 || fresh.Errors != layered.Errors {
				t.Fatalf("link %d: the fast path and the layers differ\n fast   %+v, errors %v\n layers %+v, errors %v", l, p2, fresh.Errors, p3, layered.Errors)
			}
			fresh.Errors, layered.Errors = errs, errs
		}
		if !bytes.Equal(orig, data) {
			t.Fatal("Decode wrote to the frame")
		}
	})
}

// decodeChecked decodes one frame and checks the invariants that hold for
// any input.
func decodeChecked(t *testing.T, d *Decoder, link uint16, data []byte) PacketInfo {
	t.Helper()
	errs, unsupported := d.Errors, d.UnsupportedLink
	p := PacketInfo{Time: 42, WireLen: 1 << 20}
	ok := d.Decode(link, data, &p)
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("link %d, %d bytes: %s\n%+v", link, len(data), fmt.Sprintf(format, args...), p)
	}
	if ok != SupportedLink(link) {
		fail("Decode returned %v for a link type SupportedLink calls %v", ok, !ok)
	}
	if p.Time != 42 || p.WireLen != 1<<20 {
		fail("Time or WireLen changed")
	}
	if p.CapLen != uint32(len(data)) {
		fail("CapLen %d, want %d", p.CapLen, len(data))
	}
	var newErrs uint64
	for l := range NumLayers {
		newErrs += d.Errors[l] - errs[l]
	}
	if !ok {
		if d.UnsupportedLink != unsupported+1 || newErrs != 0 {
			fail("unsupported frame: UnsupportedLink +%d, errors +%d", d.UnsupportedLink-unsupported, newErrs)
		}
		if p != (PacketInfo{Time: 42, WireLen: 1 << 20, CapLen: uint32(len(data)), Proto: ProtoOther}) {
			fail("unsupported frame left fields set")
		}
		return p
	}
	if d.UnsupportedLink != unsupported {
		fail("UnsupportedLink went up on a supported link")
	}
	if newErrs > 1 {
		fail("one frame counted as %d decode errors", newErrs)
	}

	ip := p.L3 == L3IPv4 || p.L3 == L3IPv6
	l4 := p.Proto == ProtoTCP || p.Proto == ProtoUDP
	sctp := ip && p.Proto == ProtoOther && p.IPProto == 132 && !p.NonFirstFragment
	// An ICMP header behind the other IP version is read but counted as
	// other, as tshark does; its type and payload length stay.
	icmp := p.Proto == ProtoICMP || p.Proto == ProtoICMPv6 || (ip && (p.IPProto == 1 || p.IPProto == 58))
	switch {
	case p.Proto >= NumProtocols:
		fail("Proto %d out of range", p.Proto)
	case p.App >= NumApps:
		fail("App %d out of range", p.App)
	case p.L3 != L3None && p.L3 != L3ARP && !ip:
		fail("L3 %d unknown", p.L3)
	case p.IsIP() != ip:
		fail("IsIP disagrees with L3")
	case (l4 || p.Proto == ProtoICMP || p.Proto == ProtoICMPv6) && !ip:
		fail("%v without an IP header", p.Proto)
	case (p.Proto == ProtoARP) != (p.L3 == L3ARP):
		fail("ARP protocol and ARP network layer disagree")
	case p.NonFirstFragment && !p.Fragment, p.Fragment && !ip:
		fail("fragment flags inconsistent")
	case !l4 && p.App != AppNone, !l4 && !sctp && (p.SrcPort != 0 || p.DstPort != 0):
		fail("ports or application without TCP or UDP")
	case p.SCTPChunk != 0 && !sctp:
		fail("an SCTP chunk without SCTP")
	case p.Proto != ProtoTCP && p.TCPFlags != 0:
		fail("TCP flags without TCP")
	case !icmp && (p.ICMPType != 0 || p.ICMPCode != 0):
		fail("ICMP type without ICMP")
	case p.Proto != ProtoARP && p.ARPOp != 0:
		fail("ARP operation without ARP")
	case p.DNS && (!l4 || (p.SrcPort != 53 && p.DstPort != 53)):
		fail("DNS outside TCP or UDP port 53")
	case !p.DNS && (p.DNSResponse || p.DNSRcode != 0 || p.DNSAnswers != 0 || p.DNSQueries != 0):
		fail("DNS fields without DNS")
	case p.DNSRcode > 15:
		fail("DNS rcode %d is more than 4 bits", p.DNSRcode)
	case p.VLAN > 4095, p.VLAN != 0 && !p.HasVLAN:
		fail("VLAN %d inconsistent", p.VLAN)
	case !l4 && !icmp && p.Payload != 0:
		fail("payload length without a layer-4 header")
	}
	return p
}

var genSeeds = flag.Bool("decode.genseeds", false, "rewrite testdata/fuzz/FuzzDecode/seed-real-* from the shared real captures")

// seedCaptures are the real captures the committed seeds come from: only
// sources whose licences allow copying (zeek BSD-3-Clause, suricata-verify
// MIT), picked for the layers they exercise.
var seedCaptures = []string{
	"zeek/vlan-qinqinq.pcap",                         // three stacked VLAN tags
	"zeek/mpls-in-vlan.pcap",                         // MPLS behind 802.1Q
	"zeek/pppoe.pcap",                                // PPPoE session and discovery
	"zeek/linux_dlt_sll2.pcap",                       // SLL2 with ARP, ICMP, ICMPv6
	"zeek/linuxsll-arp.pcap",                         // SLL with ARP
	"zeek/erspan.pcap",                               // GRE / ERSPAN
	"zeek/fragmented-syn.pcap",                       // IPv4 fragments of a SYN
	"zeek/ipv6-fragmented-dns.pcap",                  // IPv6 fragments of DNS
	"zeek/wikipedia.pcap",                            // DNS, ARP, non-IP
	"zeek/nmap-vsn.pcap",                             // scan: SYN, RST, ARP
	"zeek/llc.pcap",                                  // FDDI: unsupported link
	"zeek/nflog-http.pcap",                           // NFLOG: unsupported link
	"suricata-verify/denial6-5.pcap",                 // IPv6 with AH, ICMPv6 floods
	"suricata-verify/defrag-rawip6_frag-ip-tcp.pcap", // raw IPv6 fragments
	"suricata-verify/smb-length-5770_input.pcap",     // BSD null/loopback
	"suricata-verify/decode-sll2-02_input.pcap",      // SLL2 with TCP
}

const (
	seedsPerCapture = 4
	seedMaxLen      = 1600 // longer frames are cut, which keeps them valid fuzz input
)

// TestGenerateFuzzSeeds writes the real-frame seeds when run with
// -decode.genseeds. From each capture it keeps the first frames that
// walk different layers, or end differently, from the ones already kept.
func TestGenerateFuzzSeeds(t *testing.T) {
	if !*genSeeds {
		t.Skip("run with -decode.genseeds to rewrite the real-frame fuzz seeds")
	}
	var dir string
	for _, d := range []string{"../../../shared/pcaps", "/work/shared/pcaps"} {
		if _, err := os.Stat(filepath.Join(d, "README.md")); err == nil {
			dir = d
			break
		}
	}
	if dir == "" {
		t.Fatal("shared real captures not found")
	}
	out := filepath.Join("testdata", "fuzz", "FuzzDecode")
	old, _ := filepath.Glob(filepath.Join(out, "seed-real-*"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	total := 0
	for _, name := range seedCaptures {
		r, err := pcapfile.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		d := NewDecoder()
		kept := 0
		for n := 1; kept < seedsPerCapture; n++ {
			pk, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			errs := d.Errors
			var p PacketInfo
			ok := d.Decode(pk.LinkType, pk.Data, &p)
			// The layers walked tell frames apart best; the rest separates
			// what the walk alone does not show.
			sig := fmt.Sprintf("%d %v %v %v %d %v %v %v %d %v", pk.LinkType, ok, d.decoded, p.Proto, p.IPProto, p.Fragment,
				p.NonFirstFragment, p.DNS, p.ICMPType, errs != d.Errors)
			if seen[sig] {
				continue
			}
			seen[sig] = true
			kept++
			total++
			data := pk.Data[:min(len(pk.Data), seedMaxLen)]
			base := strings.NewReplacer("/", "-", ".pcapng", "", ".pcap", "").Replace(name)
			file := filepath.Join(out, fmt.Sprintf("seed-real-%s-%d", base, n))
			body := fmt.Sprintf("go test fuzz v1\nuint16(%d)\n[]byte(%q)\n", pk.LinkType, data)
			if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		r.Close()
	}
	t.Logf("wrote %d seeds to %s", total, out)
}
