package evidence

import (
	"bytes"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
)

var (
	hostA = v4(10, 1, 2, 3)
	hostB = v4(192, 0, 2, 77)
	hostC = v4(198, 51, 100, 44) // quoted, gateway or listed in options
	host6 = v6("2001:db8::a")
	hostD = v6("2001:db8:1::b")
	hostE = v6("2001:db8:2::c") // listed in a routing header
)

// anonCase is a frame and what rewrite must make of it.
type anonCase struct {
	name    string
	link    uint16
	frame   []byte
	ok      bool
	keep    int        // bytes kept
	addrs   [][16]byte // the addresses in the kept headers, in order, before rewriting
	secrets [][16]byte // every address the frame holds: none may be left in the kept bytes
}

func anonCases(t testing.TB) []anonCase {
	tcp4 := tcpPacket(t, hostA, hostB, 100)
	udp6 := udpPacket(t, host6, hostD, 100)
	arp := arpBody(t, hostA, hostB)
	both := [][16]byte{hostA, hostB}
	both6 := [][16]byte{host6, hostD}

	// An ICMP port unreachable quoting the UDP datagram that caused it.
	quoted := udpPacket(t, hostB, hostC, 0)
	icmpErr := serialize(t, &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: ipOf(hostA), DstIP: ipOf(hostB)},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodePort)}, gopacket.Payload(quoted))
	// A redirect to gateway hostC.
	redirect := serialize(t, &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: ipOf(hostA), DstIP: ipOf(hostB)},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeRedirect, 1), Id: uint16(hostC[12])<<8 | uint16(hostC[13]), Seq: uint16(hostC[14])<<8 | uint16(hostC[15])},
		gopacket.Payload(quoted))
	// Record route, listing hostC.
	rr := append([]byte{7, 11, 8}, hostC[12:]...)
	rr = append(rr, 0, 0, 0, 0, 0) // the route's free slot, and an end of options
	optIP := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: ipOf(hostA), DstIP: ipOf(hostB),
		Options: []layers.IPv4Option{{OptionType: 7, OptionLength: 11, OptionData: rr[2:11]}}}
	optUDP := &layers.UDP{SrcPort: 1, DstPort: 2}
	optUDP.SetNetworkLayerForChecksum(optIP)
	withOpts := serialize(t, optIP, optUDP)
	// A later fragment: no transport header.
	frag := serialize(t, &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, FragOffset: 185, SrcIP: ipOf(hostA), DstIP: ipOf(hostB)},
		gopacket.Payload(bytes.Repeat([]byte{0x5a}, 64)))
	// IPv6 with a routing header listing hostE, then UDP.
	rh := serialize(t, &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolIPv6Routing, SrcIP: ipOf(host6), DstIP: ipOf(hostD)},
		gopacket.Payload(append([]byte{17, 2, 0, 1, 0, 0, 0, 0}, hostE[:]...)), gopacket.Payload(make([]byte, 8)))
	// TCP with MSS, then a multipath ADD_ADDR option holding hostC.
	mpIP := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: ipOf(hostA), DstIP: ipOf(hostB)}
	mpTCP := &layers.TCP{SrcPort: 1, DstPort: 2, SYN: true, Options: []layers.TCPOption{
		{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{5, 0xb4}},
		{OptionType: 30, OptionLength: 8, OptionData: append([]byte{0x30, 1}, hostC[12:]...)},
	}}
	mpTCP.SetNetworkLayerForChecksum(mpIP)
	mptcp := serialize(t, mpIP, mpTCP)
	// A bogus ARP for a 16-byte protocol.
	arp16 := bytes.Clone(arp)
	arp16[5] = 16

	c := []anonCase{
		{"ethernet ipv4 tcp", decode.LinkEthernet, ether(t, etherIPv4, tcp4), true, 14 + 20 + 20, both, both},
		{"ethernet ipv4 udp", decode.LinkEthernet, ether(t, etherIPv4, udpPacket(t, hostA, hostB, 10)), true, 14 + 20 + 8, both, both},
		{"ethernet ipv6 udp", decode.LinkEthernet, ether(t, etherIPv6, udp6), true, 14 + 40 + 8, both6, both6},
		{"ethernet arp", decode.LinkEthernet, ether(t, etherARP, arp), true, 14 + 28, both, both},
		{"802.1q ipv4 tcp", decode.LinkEthernet, ether(t, etherIPv4, tcp4, etherVLAN), true, 18 + 20 + 20, both, both},
		{"qinq ipv6 udp", decode.LinkEthernet, ether(t, etherIPv6, udp6, etherQinQ, etherVLAN), true, 22 + 40 + 8, both6, both6},
		{"old qinq arp", decode.LinkEthernet, ether(t, etherARP, arp, etherQinQOld, etherVLAN), true, 22 + 28, both, both},
		{"sll ipv4 tcp", decode.LinkSLL, onLink(t, decode.LinkSLL, tcp4, etherIPv4), true, 16 + 20 + 20, both, both},
		{"sll arp", decode.LinkSLL, onLink(t, decode.LinkSLL, arp, etherARP), true, 16 + 28, both, both},
		{"sll2 ipv6 udp", decode.LinkSLL2, onLink(t, decode.LinkSLL2, udp6, etherIPv6), true, 20 + 40 + 8, both6, both6},
		{"raw ipv4", decode.LinkRaw, tcp4, true, 40, both, both},
		{"raw ipv6", decode.LinkRaw, udp6, true, 48, both6, both6},
		{"linktype ipv4", decode.LinkIPv4, tcp4, true, 40, both, both},
		{"linktype ipv6", decode.LinkIPv6, udp6, true, 48, both6, both6},
		{"null ipv4", decode.LinkNull, onLink(t, decode.LinkNull, tcp4, etherIPv4), true, 44, both, both},
		{"null ipv6", decode.LinkNull, onLink(t, decode.LinkNull, udp6, etherIPv6), true, 52, both6, both6},
		{"loop ipv6", decode.LinkLoop, onLink(t, decode.LinkLoop, udp6, etherIPv6), true, 52, both6, both6},
		{"icmp error quoting a header", decode.LinkRaw, icmpErr, true, 28, both, [][16]byte{hostA, hostB, hostC}},
		{"icmp redirect gateway", decode.LinkRaw, redirect, true, 28, both, [][16]byte{hostA, hostB, hostC}},
		{"ipv4 record route", decode.LinkRaw, withOpts, true, 32 + 8, both, [][16]byte{hostA, hostB, hostC}},
		{"ipv4 later fragment", decode.LinkRaw, frag, true, 20, both, both},
		{"ipv6 routing header", decode.LinkRaw, rh, true, 40, both6, [][16]byte{host6, hostD, hostE}},
		{"tcp multipath option", decode.LinkRaw, mptcp, true, 20 + 32, both, [][16]byte{hostA, hostB, hostC}},

		{"ipv4 header cut short", decode.LinkEthernet, ether(t, etherIPv4, tcp4)[:14+19], false, 0, nil, nil},
		{"ipv6 header cut short", decode.LinkRaw, udp6[:39], false, 0, nil, nil},
		{"vlan tag cut short", decode.LinkEthernet, ether(t, etherIPv4, tcp4, etherVLAN)[:16], false, 0, nil, nil},
		{"arp cut short", decode.LinkEthernet, ether(t, etherARP, arp)[:14+27], false, 0, nil, nil},
		{"arp of another protocol", decode.LinkEthernet, ether(t, etherARP, arp16), false, 0, nil, nil},
		{"unknown ethernet type", decode.LinkEthernet, ether(t, 0x88cc, tcp4), false, 0, nil, nil},
		{"802.3 length field", decode.LinkEthernet, ether(t, 100, tcp4), false, 0, nil, nil},
		{"ip version 5", decode.LinkIPv4, append([]byte{0x55}, tcp4[1:]...), false, 0, nil, nil},
		{"raw of no version", decode.LinkRaw, append([]byte{0x15}, tcp4[1:]...), false, 0, nil, nil},
		{"null of unknown family", decode.LinkNull, append([]byte{7, 0, 0, 0}, tcp4...), false, 0, nil, nil},
		{"unsupported link", 105, tcp4, false, 0, nil, nil},
		{"empty", decode.LinkEthernet, nil, false, 0, nil, nil},
	}
	return c
}

func TestRewrite(t *testing.T) {
	for _, c := range anonCases(t) {
		t.Run(c.name, func(t *testing.T) {
			b := bytes.Clone(c.frame)
			keep, ok := rewrite(c.link, b, flipAddr)
			if ok != c.ok {
				t.Fatalf("ok = %v, want %v", ok, c.ok)
			}
			if !ok {
				return
			}
			if keep != c.keep {
				t.Errorf("kept %d bytes, want %d", keep, c.keep)
			}
			kept := b[:keep]
			for _, s := range c.secrets {
				raw := s[:]
				if isV4(s) {
					raw = s[12:]
				}
				if bytes.Contains(kept, raw) {
					t.Errorf("address %s left in the kept bytes % x", addrString(s), kept)
				}
			}
			got := headerAddrs(t, c.link, kept)
			var want [][16]byte
			for _, a := range c.addrs {
				want = append(want, flipAddr(a))
			}
			if len(got) != len(want) {
				t.Fatalf("addresses %v, want %v", got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("address %d is %s, want %s", i, addrString(got[i]), addrString(want[i]))
				}
			}
			if c.link == decode.LinkEthernet && !bytes.Equal(kept[:12], c.frame[:12]) {
				t.Errorf("MAC addresses changed")
			}
		})
	}
}

// headerAddrs decodes a rewritten frame with gopacket and returns the
// addresses of its outer network header, checking the IPv4 checksum.
func headerAddrs(t *testing.T, link uint16, b []byte) [][16]byte {
	t.Helper()
	lt := layers.LinkType(link)
	if link == decode.LinkIPv4 || link == decode.LinkIPv6 {
		lt = layers.LinkTypeRaw
	}
	if link == decode.LinkEthernet && len(b) >= 14 && b[12] == 0x91 && b[13] == 0 {
		// gopacket knows 802.1ad QinQ, not the older 0x9100 tag.
		b = bytes.Clone(b)
		b[12], b[13] = 0x88, 0xa8
	}
	p := gopacket.NewPacket(b, lt, gopacket.DecodeOptions{NoCopy: true})
	as16 := func(ip net.IP) [16]byte { return [16]byte(ip.To16()) }
	for _, l := range p.Layers() {
		switch l := l.(type) {
		case *layers.IPv4:
			if s := onesSum(l.Contents); s != 0xffff {
				t.Errorf("IPv4 header checksum wrong after rewriting (sum %#04x): % x", s, l.Contents)
			}
			for _, o := range l.Options {
				if o.OptionType != 1 {
					t.Errorf("IPv4 option %d left; want only no-operation", o.OptionType)
				}
			}
			return [][16]byte{as16(l.SrcIP), as16(l.DstIP)}
		case *layers.IPv6:
			return [][16]byte{as16(l.SrcIP), as16(l.DstIP)}
		case *layers.ARP:
			return [][16]byte{v4(l.SourceProtAddress[0], l.SourceProtAddress[1], l.SourceProtAddress[2], l.SourceProtAddress[3]),
				v4(l.DstProtAddress[0], l.DstProtAddress[1], l.DstProtAddress[2], l.DstProtAddress[3])}
		}
	}
	t.Fatalf("no network layer in % x", b)
	return nil
}

// TestRewriteChecksum checks the incremental checksum update for headers
// whose options the capture cut at odd and even lengths: with the bytes
// the capture did not keep (which the rewriter never changes), the
// rewritten header sums right. And a wrong checksum stays wrong: forged
// or offloaded ones must not look good in evidence.
func TestRewriteChecksum(t *testing.T) {
	hdr := serialize(t, &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: ipOf(hostA), DstIP: ipOf(hostB),
		Options: []layers.IPv4Option{{OptionType: 7, OptionLength: 11, OptionData: append(append([]byte{8}, hostC[12:]...), 0, 0, 0, 0)}}})
	for _, cut := range []int{20, 21, 22, 27, len(hdr)} {
		b := bytes.Clone(hdr[:cut])
		if _, ok := rewrite(decode.LinkRaw, b, flipAddr); !ok {
			t.Fatalf("cut at %d: not rewritten", cut)
		}
		if s := onesSum(append(b, hdr[cut:]...)); s != 0xffff {
			t.Errorf("cut at %d: checksum wrong after rewriting (sum %#04x)", cut, s)
		}
	}
	bad := bytes.Clone(hdr)
	bad[10] ^= 0x55
	if _, ok := rewrite(decode.LinkRaw, bad, flipAddr); !ok {
		t.Fatal("not rewritten")
	}
	if onesSum(bad) == 0xffff {
		t.Error("a wrong checksum became right")
	}
}

// TestRewriteIdentity checks that an anonymizer returning its input leaves
// the kept headers as they were.
func TestRewriteIdentity(t *testing.T) {
	same := func(a [16]byte) [16]byte { return a }
	for _, c := range anonCases(t) {
		if !c.ok || c.name == "ipv4 record route" || c.name == "tcp multipath option" {
			continue // options are scrubbed whatever the addresses become
		}
		b := bytes.Clone(c.frame)
		keep, _ := rewrite(c.link, b, same)
		if !bytes.Equal(b[:keep], c.frame[:keep]) {
			t.Errorf("%s: identity changed the frame:\n% x\n% x", c.name, b[:keep], c.frame[:keep])
		}
	}
}

func TestAnonymizable(t *testing.T) {
	for _, l := range []uint16{decode.LinkEthernet, decode.LinkSLL, decode.LinkSLL2, decode.LinkNull, decode.LinkLoop, decode.LinkRaw, decode.LinkRawBSD, decode.LinkRawOBSD, decode.LinkIPv4, decode.LinkIPv6} {
		if !anonymizable(l) {
			t.Errorf("link type %d not anonymizable", l)
		}
	}
	for _, l := range []uint16{105, 127, 147, 0xffff} {
		if anonymizable(l) {
			t.Errorf("link type %d anonymizable", l)
		}
	}
}
