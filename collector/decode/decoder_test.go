package decode

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Test addresses. The Ethernet source and the ARP sender differ in the ARP
// reply case so that the test shows which one SrcMAC holds.
var (
	macA  = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0xaa}
	macB  = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0xbb}
	macC  = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0xcc}
	bcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
)

func mac6(m net.HardwareAddr) (a [6]byte) {
	copy(a[:], m)
	return a
}

// addr16 is the PacketInfo form of an address: IPv4 comes out as
// IPv4-mapped IPv6, which is what netip's As16 returns for it.
func addr16(s string) [16]byte { return netip.MustParseAddr(s).As16() }

func ipOf(s string) net.IP {
	a := netip.MustParseAddr(s)
	if a.Is4() {
		v := a.As4()
		return net.IP(v[:])
	}
	v := a.As16()
	return net.IP(v[:])
}

// frame serializes layers with lengths and checksums fixed, as a real
// stack would send them. Ethernet frames come out padded to 60 bytes, so
// every padded case also checks that trailers are not taken for payload.
func frame(tb testing.TB, ls ...gopacket.SerializableLayer) []byte {
	tb.Helper()
	var nl gopacket.NetworkLayer
	for _, l := range ls {
		var err error
		switch l := l.(type) {
		case *layers.IPv4:
			nl = l
		case *layers.IPv6:
			nl = l
		case *layers.TCP:
			err = l.SetNetworkLayerForChecksum(nl)
		case *layers.UDP:
			err = l.SetNetworkLayerForChecksum(nl)
		case *layers.ICMPv6:
			err = l.SetNetworkLayerForChecksum(nl)
		}
		if err != nil {
			tb.Fatalf("checksum network layer: %v", err)
		}
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		tb.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// ethHdr is an unpadded Ethernet header, for frames that must end exactly
// where the test says.
func ethHdr(typ layers.EthernetType) []byte {
	return binary.BigEndian.AppendUint16(cat(macB, macA), uint16(typ))
}

func eth(typ layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: typ}
}

func ip4(src, dst string, proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 7, Protocol: proto, SrcIP: ipOf(src), DstIP: ipOf(dst)}
}

func ip6(src, dst string, next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next, SrcIP: ipOf(src), DstIP: ipOf(dst)}
}

func tcp(src, dst uint16, flags uint8) *layers.TCP {
	return &layers.TCP{
		SrcPort: layers.TCPPort(src), DstPort: layers.TCPPort(dst), Seq: 1000, Window: 64240,
		FIN: flags&TCPFin != 0, SYN: flags&TCPSyn != 0, RST: flags&TCPRst != 0, PSH: flags&TCPPsh != 0,
		ACK: flags&TCPAck != 0, URG: flags&TCPUrg != 0, ECE: flags&TCPEce != 0, CWR: flags&TCPCwr != 0,
	}
}

func udp(src, dst uint16) *layers.UDP {
	return &layers.UDP{SrcPort: layers.UDPPort(src), DstPort: layers.UDPPort(dst)}
}

func dnsMsg(tb testing.TB, response bool, rcode layers.DNSResponseCode, answers int) []byte {
	m := &layers.DNS{
		ID: 0x1234, QR: response, RD: true, RA: response, ResponseCode: rcode,
		Questions: []layers.DNSQuestion{{Name: []byte("example.com"), Type: layers.DNSTypeA, Class: layers.DNSClassIN}},
	}
	for i := range answers {
		m.Answers = append(m.Answers, layers.DNSResourceRecord{
			Name: []byte("example.com"), Type: layers.DNSTypeA, Class: layers.DNSClassIN, TTL: 300,
			IP: net.IP{192, 0, 2, byte(i + 1)},
		})
	}
	return frame(tb, m)
}

// rawUDPHeader is a UDP header claiming a datagram of length bytes, for
// fragments, whose header the serializer must not fix.
func rawUDPHeader(src, dst uint16, length uint16) []byte {
	b := binary.BigEndian.AppendUint16(nil, src)
	b = binary.BigEndian.AppendUint16(b, dst)
	b = binary.BigEndian.AppendUint16(b, length)
	return append(b, 0, 0)
}

// bootp is a 300-byte BOOTP message: op, Ethernet hardware, the client
// hardware address chaddr, the gateway (relay agent) address giaddr.
func bootp(op byte, chaddr net.HardwareAddr, giaddr string) []byte {
	b := make([]byte, 300)
	b[0], b[1], b[2] = op, 1, 6
	binary.BigEndian.PutUint32(b[4:8], 0x3903f326) // xid
	copy(b[24:28], ipOf(giaddr))
	copy(b[28:], chaddr)
	copy(b[236:], []byte{99, 130, 83, 99, 53, 1, 1, 255}) // magic cookie, DHCPDISCOVER
	return b
}

func filler(n int) gopacket.Payload {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
	return b
}

// mplsLabel is one label stack entry.
func mplsLabel(label uint32, bottom bool) []byte {
	v := label<<12 | 64
	if bottom {
		v |= 1 << 8
	}
	return binary.BigEndian.AppendUint32(nil, v)
}

// sllHdr is a Linux cooked capture (v1) header for an incoming frame.
func sllHdr(proto layers.EthernetType) []byte {
	b := []byte{0, 0, 0, 1, 0, 6}
	b = append(b, macA...)
	b = append(b, 0, 0)
	return binary.BigEndian.AppendUint16(b, uint16(proto))
}

// sll2Hdr is a Linux cooked capture v2 header.
func sll2Hdr(proto layers.EthernetType) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(proto))
	b = append(b, 0, 0)       // reserved
	b = append(b, 0, 0, 0, 2) // interface index
	b = append(b, 0, 1)       // ARPHRD_ETHER
	b = append(b, 0, 6)       // to us, address length 6
	b = append(b, macA...)
	return append(b, 0, 0)
}

type decodeCase struct {
	name    string
	link    uint16
	data    []byte
	want    PacketInfo // Time, WireLen and CapLen are filled in by the test
	wantErr Layer      // layer whose error counter must go up by one
	hasErr  bool
}

func decodeCases(tb testing.TB) []decodeCase {
	v4a, v4b := addr16("10.0.0.1"), addr16("10.0.0.2")
	v6a, v6b := addr16("2001:db8::1"), addr16("2001:db8::53")
	srcMAC := mac6(macA)

	query := dnsMsg(tb, false, layers.DNSResponseCodeNoErr, 0)
	answer := dnsMsg(tb, true, layers.DNSResponseCodeNoErr, 2)
	nxdomain := dnsMsg(tb, true, layers.DNSResponseCodeNXDomain, 0)
	dnsTCP := cat(binary.BigEndian.AppendUint16(nil, uint16(len(answer))), answer)

	// The ICMP error quotes the IP header and the whole TCP header of the
	// SYN it answers: a decoder that follows the quote would see a SYN.
	quotedSYN := frame(tb, ip4("10.0.0.2", "10.0.0.1", layers.IPProtocolTCP), tcp(51000, 22, TCPSyn))

	ip4TCP := frame(tb, ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP), tcp(51000, 80, TCPSyn))
	ip6UDP := frame(tb, ip6("2001:db8::1", "2001:db8::53", layers.IPProtocolUDP), udp(5353, 53), gopacket.Payload(query))

	// First and non-first IPv4 fragments of a 1208-byte NTP datagram.
	frag1 := ip4("10.0.0.2", "10.0.0.1", layers.IPProtocolUDP)
	frag1.Flags = layers.IPv4MoreFragments
	frag2 := ip4("10.0.0.2", "10.0.0.1", layers.IPProtocolUDP)
	frag2.FragOffset = 1480 / 8

	// IPv6 fragments of a UDP datagram, and a TCP segment behind a
	// hop-by-hop and a destination options header (each 8 bytes: next
	// header, length 0, one PadN option of 4 bytes).
	v6frag1 := &layers.IPv6Fragment{NextHeader: layers.IPProtocolUDP, MoreFragments: true, Identification: 99}
	v6frag2 := &layers.IPv6Fragment{NextHeader: layers.IPProtocolUDP, FragmentOffset: 1232 / 8, Identification: 99}
	extHdrs := []byte{
		byte(layers.IPProtocolIPv6Destination), 0, 1, 4, 0, 0, 0, 0,
		byte(layers.IPProtocolTCP), 0, 1, 4, 0, 0, 0, 0,
	}

	// A TCP header cut to 10 bytes behind an IPv4 header that agrees.
	cutTCP := frame(tb, ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP), filler(10))
	ihl4 := frame(tb, ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP), tcp(51000, 80, TCPSyn))
	ihl4[0] = 0x44

	// IPv6 neighbour discovery: the link-layer address a message gives for
	// its source (PacketInfo.ARPTargetMAC).
	ll, spoof := addr16("fe80::ff:fe00:10"), [6]byte{0x3e, 0xf0, 0xfd, 0x46, 0xc5, 0x08}
	ndOpt := func(typ byte, mac [6]byte) []byte { return cat([]byte{typ, 1}, mac[:]) }
	ndNA := func(target [16]byte, opt byte) []byte { return cat(make([]byte, 4), target[:], ndOpt(opt, spoof)) }
	nd := func(name string, typ uint8, hops uint8, src [16]byte, body []byte, want [6]byte, vlan ...bool) decodeCase {
		h := ip6("::", "ff02::1", layers.IPProtocolICMPv6)
		h.SrcIP, h.HopLimit = net.IP(src[:]), hops
		ls := []gopacket.SerializableLayer{eth(layers.EthernetTypeIPv6), h, &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, 0)}, gopacket.Payload(body)}
		w := PacketInfo{L3: L3IPv6, Proto: ProtoICMPv6, IPProto: 58, Src: src, Dst: addr16("ff02::1"), SrcMAC: srcMAC, ICMPType: typ, Payload: uint32(len(body)), TTL: hops, ARPTargetMAC: want}
		if len(vlan) > 0 {
			ls = append([]gopacket.SerializableLayer{eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv6}}, ls[1:]...)
			w.HasVLAN, w.VLAN = true, 100
		}
		return decodeCase{name: name, link: LinkEthernet, data: frame(tb, ls...), want: w}
	}
	tcpSYN := PacketInfo{L3: L3IPv4, Proto: ProtoTCP, IPProto: 6, App: AppHTTP, Src: v4a, Dst: v4b, SrcPort: 51000, DstPort: 80, TCPFlags: TCPSyn, TCPWindow: 64240}
	withMAC := func(p PacketInfo) PacketInfo { p.SrcMAC = srcMAC; return p }
	tcpSYNv6 := PacketInfo{L3: L3IPv6, Proto: ProtoTCP, IPProto: 6, App: AppHTTP, Src: v6a, Dst: v6b, SrcPort: 51000, DstPort: 80, TCPFlags: TCPSyn, TCPWindow: 64240}
	ip6TCP := frame(tb, ip6("2001:db8::1", "2001:db8::53", layers.IPProtocolTCP), tcp(51000, 80, TCPSyn))
	dnsQueryV6 := PacketInfo{L3: L3IPv6, Proto: ProtoUDP, IPProto: 17, App: AppDNS, Src: v6a, Dst: v6b, SrcPort: 5353, DstPort: 53,
		Payload: uint32(len(query)), DNS: true, DNSQueries: 1, DNSNameLen: 11, DNSLabelMax: 7, DNSNameEntropy: 47, DNSQType: 1}

	// SCTP: a common header (ports, verification tag, checksum) and the
	// first chunk's header, an INIT or an ABORT; behind a destination
	// options header for the layers' path.
	sctpHdr := func(src, dst uint16, chunk byte) []byte {
		b := binary.BigEndian.AppendUint16(nil, src)
		b = binary.BigEndian.AppendUint16(b, dst)
		return cat(b, make([]byte, 8), []byte{chunk, 0, 0, 20}, filler(16))
	}
	sctpInit := PacketInfo{L3: L3IPv4, Proto: ProtoOther, IPProto: 132, Src: v4a, Dst: v4b, SrcPort: 40000, DstPort: 2905, SrcMAC: srcMAC, SCTPChunk: 1}
	quotedInit := frame(tb, ip4("10.0.0.2", "10.0.0.1", layers.IPProtocolSCTP), gopacket.Payload(sctpHdr(40000, 2905, 1)))
	sctpExt := []byte{byte(layers.IPProtocolSCTP), 0, 1, 4, 0, 0, 0, 0}

	return []decodeCase{
		{
			name: "ethernet ipv4 tcp syn", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP), tcp(51000, 80, TCPSyn)),
			want: withMAC(tcpSYN),
		},
		{
			name: "ethernet ipv4 tcp syn-ack from the server port", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv4), ip4("10.0.0.2", "10.0.0.1", layers.IPProtocolTCP), tcp(443, 51000, TCPSyn|TCPAck)),
			want: PacketInfo{L3: L3IPv4, Proto: ProtoTCP, TCPWindow: 64240, IPProto: 6, App: AppTLS, Src: v4b, Dst: v4a, SrcPort: 443, DstPort: 51000,
				TCPFlags: TCPSyn | TCPAck, SrcMAC: srcMAC},
		},
		{
			name: "tcp segment with payload", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP), tcp(51000, 22, TCPPsh|TCPAck), filler(100)),
			want: PacketInfo{L3: L3IPv4, Proto: ProtoTCP, TCPWindow: 64240, IPProto: 6, App: AppSSH, Src: v4a, Dst: v4b, SrcPort: 51000, DstPort: 22,
				TCPFlags: TCPPsh | TCPAck, SrcMAC: srcMAC, Payload: 100},
		},
		{
			name: "tcp zero window: a receiver that takes no more", link: LinkEthernet,
			data: func() []byte {
				h := tcp(51000, 80, TCPAck)
				h.Window = 0
				return frame(tb, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP), h)
			}(),
			want: PacketInfo{L3: L3IPv4, Proto: ProtoTCP, IPProto: 6, App: AppHTTP, Src: v4a, Dst: v4b, SrcPort: 51000, DstPort: 80,
				TCPFlags: TCPAck, SrcMAC: srcMAC},
		},
		{
			name: "ethernet ipv6 udp dns query", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv6), ip6("2001:db8::1", "2001:db8::53", layers.IPProtocolUDP), udp(5353, 53), gopacket.Payload(query)),
			want: withMAC(dnsQueryV6),
		},
		{
			name: "ethernet ipv6 udp dns response with two answers", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv6), ip6("2001:db8::53", "2001:db8::1", layers.IPProtocolUDP), udp(53, 5353), gopacket.Payload(answer)),
			want: PacketInfo{L3: L3IPv6, Proto: ProtoUDP, IPProto: 17, App: AppDNS, Src: v6b, Dst: v6a, SrcPort: 53, DstPort: 5353, SrcMAC: srcMAC,
				Payload: uint32(len(answer)), DNS: true, DNSResponse: true, DNSQueries: 1, DNSAnswers: 2},
		},
		{
			name: "ethernet ipv6 udp dns nxdomain", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv6), ip6("2001:db8::53", "2001:db8::1", layers.IPProtocolUDP), udp(53, 5353), gopacket.Payload(nxdomain)),
			want: PacketInfo{L3: L3IPv6, Proto: ProtoUDP, IPProto: 17, App: AppDNS, Src: v6b, Dst: v6a, SrcPort: 53, DstPort: 5353, SrcMAC: srcMAC,
				Payload: uint32(len(nxdomain)), DNS: true, DNSResponse: true, DNSRcode: 3, DNSQueries: 1},
		},
		{
			name: "dns response over tcp after the length prefix", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv4), ip4("10.0.0.2", "10.0.0.1", layers.IPProtocolTCP), tcp(53, 40000, TCPPsh|TCPAck), gopacket.Payload(dnsTCP)),
			want: PacketInfo{L3: L3IPv4, Proto: ProtoTCP, TCPWindow: 64240, IPProto: 6, App: AppDNS, Src: v4b, Dst: v4a, SrcPort: 53, DstPort: 40000, SrcMAC: srcMAC,
				TCPFlags: TCPPsh | TCPAck, Payload: uint32(len(dnsTCP)), DNS: true, DNSResponse: true, DNSQueries: 1, DNSAnswers: 2},
		},
		{
			name: "dns handshake segment over tcp is not a dns message", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP), tcp(40000, 53, TCPSyn)),
			want: PacketInfo{L3: L3IPv4, Proto: ProtoTCP, TCPWindow: 64240, IPProto: 6, App: AppDNS, Src: v4a, Dst: v4b, SrcPort: 40000, DstPort: 53, SrcMAC: srcMAC, TCPFlags: TCPSyn},
		},
		{
			name: "udp on port 53 shorter than a dns header", link: LinkEthernet,
			data:   frame(tb, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP), udp(40000, 53), filler(5)),
			want:   PacketInfo{L3: L3IPv4, Proto: ProtoUDP, IPProto: 17, App: AppDNS, Src: v4a, Dst: v4b, SrcPort: 40000, DstPort: 53, SrcMAC: srcMAC, Payload: 5},
			hasErr: true, wantErr: LayerApplication,
		},
		{
			// The application is guessed from the destination port, but the
			// DNS header is read whenever one side is port 53.
			name: "dns response reflected to port 80", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv4), ip4("10.0.0.2", "10.0.0.1", layers.IPProtocolUDP), udp(53, 80), gopacket.Payload(answer)),
			want: PacketInfo{L3: L3IPv4, Proto: ProtoUDP, IPProto: 17, App: AppHTTP, Src: v4b, Dst: v4a, SrcPort: 53, DstPort: 80, SrcMAC: srcMAC,
				Payload: uint32(len(answer)), DNS: true, DNSResponse: true, DNSQueries: 1, DNSAnswers: 2},
		},
		{
			// A starvation tool's discover: broadcast from 0.0.0.0, for a
			// client hardware address that is not the frame's source.
			name: "dhcp discover reads op and client hardware address", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv4), ip4("0.0.0.0", "255.255.255.255", layers.IPProtocolUDP), udp(68, 67), gopacket.Payload(bootp(1, macC, "0.0.0.0"))),
			want: PacketInfo{L3: L3IPv4, Proto: ProtoUDP, IPProto: 17, App: AppDHCP, Dst: addr16("255.255.255.255"), Src: addr16("0.0.0.0"), SrcPort: 68, DstPort: 67, SrcMAC: srcMAC,
				Payload: 300, DHCPOp: DHCPRequest, DHCPClient: mac6(macC)},
		},
		{
			name: "dhcp request forwarded by a relay agent", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP), udp(67, 67), gopacket.Payload(bootp(1, macC, "10.0.0.1"))),
			want: PacketInfo{L3: L3IPv4, Proto: ProtoUDP, IPProto: 17, App: AppDHCP, Src: v4a, Dst: v4b, SrcPort: 67, DstPort: 67, SrcMAC: srcMAC,
				Payload: 300, DHCPOp: DHCPRequest, DHCPRelayed: true, DHCPClient: mac6(macC)},
		},
		{
			name: "dhcp offer from the server", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv4), ip4("10.0.0.2", "10.0.0.1", layers.IPProtocolUDP), udp(67, 68), gopacket.Payload(bootp(2, macC, "0.0.0.0"))),
			want: PacketInfo{L3: L3IPv4, Proto: ProtoUDP, IPProto: 17, App: AppDHCP, Src: v4b, Dst: v4a, SrcPort: 67, DstPort: 68, SrcMAC: srcMAC,
				Payload: 300, DHCPOp: DHCPReply, DHCPClient: mac6(macC)},
		},
		{
			name: "a reply op from the client port is no dhcp", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP), udp(68, 67), gopacket.Payload(bootp(2, macC, "0.0.0.0"))),
			want: PacketInfo{L3: L3IPv4, Proto: ProtoUDP, IPProto: 17, App: AppDHCP, Src: v4a, Dst: v4b, SrcPort: 68, DstPort: 67, SrcMAC: srcMAC, Payload: 300},
		},
		{
			name: "a bootp header too short for the hardware address is no dhcp", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv4), ip4("0.0.0.0", "255.255.255.255", layers.IPProtocolUDP), udp(68, 67), gopacket.Payload(bootp(1, macC, "0.0.0.0")[:40])),
			want: PacketInfo{L3: L3IPv4, Proto: ProtoUDP, IPProto: 17, App: AppDHCP, Dst: addr16("255.255.255.255"), Src: addr16("0.0.0.0"), SrcPort: 68, DstPort: 67, SrcMAC: srcMAC, Payload: 40},
		},
		{
			name: "udp 443 is quic", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP), udp(50000, 443), filler(20)),
			want: PacketInfo{L3: L3IPv4, Proto: ProtoUDP, IPProto: 17, App: AppQUIC, Src: v4a, Dst: v4b, SrcPort: 50000, DstPort: 443, SrcMAC: srcMAC, Payload: 20},
		},
		nd("a neighbour advertisement for its own address", 136, 255, ll, ndNA(ll, 2), spoof),
		nd("a neighbour advertisement behind a vlan tag (the layers' path)", 136, 255, ll, ndNA(ll, 2), spoof, true),
		nd("a neighbour solicitation with its source's link-layer address", 135, 255, ll, ndNA(v6b, 1), spoof),
		nd("a router advertisement", 134, 255, ll, cat(make([]byte, 12), ndOpt(1, spoof)), spoof),
		nd("a router solicitation", 133, 255, ll, cat(make([]byte, 4), ndOpt(1, spoof)), spoof),
		nd("an advertisement not sent on the link (hop limit 64)", 136, 64, ll, ndNA(ll, 2), [6]byte{}),
		nd("a proxy's advertisement for another address", 136, 255, ll, ndNA(v6b, 2), [6]byte{}),
		nd("duplicate address detection: a solicitation from the unspecified address", 135, 255, [16]byte{}, ndNA(ll, 1), [6]byte{}),
		nd("a solicitation whose option is cut", 135, 255, ll, ndNA(v6b, 1)[:26], [6]byte{}),
		{
			// A traceroute's first probe: the time to live as sent, on the
			// fast path and on the layers' (a VLAN tag) alike.
			name: "ipv4 time to live 1", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv4), func() *layers.IPv4 { h := ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP); h.TTL = 1; return h }(), tcp(51000, 80, TCPSyn)),
			want: func() PacketInfo { p := withMAC(tcpSYN); p.TTL = 1; return p }(),
		},
		{
			name: "ipv4 time to live 2 behind a vlan tag", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv4},
				func() *layers.IPv4 { h := ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP); h.TTL = 2; return h }(), tcp(51000, 80, TCPSyn)),
			want: func() PacketInfo { p := withMAC(tcpSYN); p.HasVLAN, p.VLAN, p.TTL = true, 100, 2; return p }(),
		},
		{
			name: "ipv6 hop limit 3", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv6), func() *layers.IPv6 {
				h := ip6("2001:db8::1", "2001:db8::53", layers.IPProtocolUDP)
				h.HopLimit = 3
				return h
			}(), udp(40000, 33434), filler(12)),
			want: PacketInfo{L3: L3IPv6, Proto: ProtoUDP, IPProto: 17, Src: v6a, Dst: v6b, SrcPort: 40000, DstPort: 33434, SrcMAC: srcMAC, Payload: 12, TTL: 3},
		},
		{
			name: "802.1q", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv4},
				ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP), tcp(51000, 80, TCPSyn)),
			want: func() PacketInfo { p := withMAC(tcpSYN); p.HasVLAN, p.VLAN = true, 100; return p }(),
		},
		{
			name: "qinq reports the outer vlan", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeQinQ),
				&layers.Dot1Q{Priority: 5, VLANIdentifier: 200, Type: layers.EthernetTypeDot1Q},
				&layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv4},
				ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP), tcp(51000, 80, TCPSyn)),
			want: func() PacketInfo { p := withMAC(tcpSYN); p.HasVLAN, p.VLAN = true, 200; return p }(),
		},
		{
			name: "mpls label stack", link: LinkEthernet,
			data: cat(ethHdr(layers.EthernetTypeMPLSUnicast), mplsLabel(16, false), mplsLabel(17, true), ip4TCP),
			want: withMAC(tcpSYN),
		},
		{
			name: "mpls label stack without a bottom", link: LinkEthernet,
			data: cat(ethHdr(layers.EthernetTypeMPLSUnicast), mplsLabel(16, false), mplsLabel(17, false)),
			want: PacketInfo{Proto: ProtoOther, SrcMAC: srcMAC}, hasErr: true, wantErr: LayerNetwork,
		},
		{
			name: "pppoe session", link: LinkEthernet,
			data: cat(ethHdr(layers.EthernetTypePPPoESession), []byte{0x11, 0x00, 0x00, 0x01}, binary.BigEndian.AppendUint16(nil, uint16(len(ip4TCP)+2)), []byte{0x00, 0x21}, ip4TCP),
			want: withMAC(tcpSYN),
		},
		{
			name: "pppoe ipv6 session", link: LinkEthernet,
			data: cat(ethHdr(layers.EthernetTypePPPoESession), []byte{0x11, 0x00, 0x00, 0x01}, binary.BigEndian.AppendUint16(nil, uint16(len(ip6TCP)+2)), []byte{0x00, 0x57}, ip6TCP),
			want: withMAC(tcpSYNv6),
		},
		{
			name: "pppoe discovery is not ip", link: LinkEthernet,
			data: cat(ethHdr(layers.EthernetTypePPPoEDiscovery), []byte{0x11, 0x09, 0x00, 0x00, 0x00, 0x04, 0x01, 0x01, 0x00, 0x00}),
			want: PacketInfo{Proto: ProtoOther, SrcMAC: srcMAC},
		},
		{
			name: "arp request", link: LinkEthernet,
			data: frame(tb, &layers.Ethernet{SrcMAC: macA, DstMAC: bcast, EthernetType: layers.EthernetTypeARP}, &layers.ARP{
				AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
				Operation: layers.ARPRequest, SourceHwAddress: macA, SourceProtAddress: ipOf("10.0.0.1"),
				DstHwAddress: make(net.HardwareAddr, 6), DstProtAddress: ipOf("10.0.0.9"),
			}),
			want: PacketInfo{L3: L3ARP, Proto: ProtoARP, ARPOp: 1, Src: v4a, Dst: addr16("10.0.0.9"), SrcMAC: srcMAC},
		},
		{
			name: "arp reply names the arp sender, not the ethernet source, and its target's MAC", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeARP), &layers.ARP{
				AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
				Operation: layers.ARPReply, SourceHwAddress: macC, SourceProtAddress: ipOf("10.0.0.9"),
				DstHwAddress: macB, DstProtAddress: ipOf("10.0.0.1"),
			}),
			want: PacketInfo{L3: L3ARP, Proto: ProtoARP, ARPOp: 2, Src: addr16("10.0.0.9"), Dst: v4a, SrcMAC: mac6(macC), ARPTargetMAC: mac6(macB)},
		},
		{
			name: "icmp echo request", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolICMPv4),
				&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 1}, filler(32)),
			want: PacketInfo{L3: L3IPv4, Proto: ProtoICMP, IPProto: 1, Src: v4a, Dst: v4b, SrcMAC: srcMAC, ICMPType: 8, Payload: 32, DataHash: echoData(filler(32))},
		},
		{
			name: "icmp port unreachable quoting a tcp syn counts the outer header only", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolICMPv4),
				&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 3)}, gopacket.Payload(quotedSYN)),
			// The host the SYN went to refuses it: the quote names the flow.
			want: PacketInfo{L3: L3IPv4, Proto: ProtoICMP, IPProto: 1, Src: v4a, Dst: v4b, SrcMAC: srcMAC, ICMPType: 3, ICMPCode: 3,
				Payload: uint32(len(quotedSYN)), Refusal: true, RefusedProto: 6, RefusedSrc: 51000, RefusedDst: 22},
		},
		{
			// A router reporting the SYN's destination unreachable: no
			// answer from that host, no refusal.
			name: "icmp host unreachable from a router is no refusal", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv4), ip4("10.0.0.254", "10.0.0.2", layers.IPProtocolICMPv4),
				&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 1)}, gopacket.Payload(quotedSYN)),
			want: PacketInfo{L3: L3IPv4, Proto: ProtoICMP, IPProto: 1, Src: addr16("10.0.0.254"), Dst: v4b, SrcMAC: srcMAC, ICMPType: 3, ICMPCode: 1,
				Payload: uint32(len(quotedSYN))},
		},
		{
			name: "icmpv6 port unreachable quoting a udp query", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv6), ip6("2001:db8::53", "2001:db8::1", layers.IPProtocolICMPv6),
				&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(1, 4)}, gopacket.Payload(cat([]byte{0, 0, 0, 0}, ip6UDP))),
			want: PacketInfo{L3: L3IPv6, Proto: ProtoICMPv6, IPProto: 58, Src: v6b, Dst: v6a, SrcMAC: srcMAC, ICMPType: 1, ICMPCode: 4,
				Payload: uint32(4 + len(ip6UDP)), Refusal: true, RefusedProto: 17, RefusedSrc: 5353, RefusedDst: 53},
		},
		{
			name: "icmpv6 echo request", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv6), ip6("2001:db8::1", "2001:db8::53", layers.IPProtocolICMPv6),
				&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}, &layers.ICMPv6Echo{Identifier: 1, SeqNumber: 1}, filler(16)),
			// The ICMPv6 payload starts after the 4-byte type, code and
			// checksum: identifier, sequence number, then the data.
			want: PacketInfo{L3: L3IPv6, Proto: ProtoICMPv6, IPProto: 58, Src: v6a, Dst: v6b, SrcMAC: srcMAC, ICMPType: 128, Payload: 4 + 16},
		},
		{
			name: "ipv4 first fragment reads the udp ports", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv4), frag1, gopacket.Payload(cat(rawUDPHeader(123, 40000, 1208), filler(1472)))),
			want: PacketInfo{L3: L3IPv4, Proto: ProtoUDP, IPProto: 17, App: AppNTP, Src: v4b, Dst: v4a, SrcPort: 123, DstPort: 40000, SrcMAC: srcMAC,
				Fragment: true, FragmentProto: ProtoUDP},
		},
		{
			name: "ipv4 first fragment of a tcp segment reads the flags", link: LinkEthernet,
			data: func() []byte {
				// The first 16 bytes of the TCP header: ports, sequence
				// number, acknowledgment number and the flags byte.
				h := frame(tb, ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP), tcp(51000, 80, TCPSyn))[20:36]
				ip := ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP)
				ip.Flags = layers.IPv4MoreFragments
				return frame(tb, eth(layers.EthernetTypeIPv4), ip, gopacket.Payload(h))
			}(),
			want: func() PacketInfo { p := withMAC(tcpSYN); p.Fragment = true; return p }(),
		},
		{
			// DNS amplification: responses reflected to the victim's SSH
			// port, too large for one packet.
			name: "ipv4 first fragment of a dns response to port 22", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv4), frag1, gopacket.Payload(cat(rawUDPHeader(53, 22, 3000), answer, filler(1400)))),
			want: PacketInfo{L3: L3IPv4, Proto: ProtoUDP, IPProto: 17, App: AppSSH, Src: v4b, Dst: v4a, SrcPort: 53, DstPort: 22, SrcMAC: srcMAC,
				Fragment: true, FragmentProto: ProtoUDP, DNS: true, DNSResponse: true, DNSQueries: 1, DNSAnswers: 2},
		},
		{
			name: "ipv4 first fragment with a bad tcp data offset has no flags", link: LinkEthernet,
			data: func() []byte {
				h := frame(tb, ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP), tcp(51000, 80, TCPSyn))[20:36]
				h[12] = 0x20 // data offset 2 words
				ip := ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP)
				ip.Flags = layers.IPv4MoreFragments
				return frame(tb, eth(layers.EthernetTypeIPv4), ip, gopacket.Payload(h))
			}(),
			want: func() PacketInfo { p := withMAC(tcpSYN); p.Fragment, p.TCPFlags, p.TCPWindow = true, 0, 0; return p }(),
		},
		{
			name: "ipv4 non-first fragment has no layer 4", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv4), frag2, filler(200)),
			want: PacketInfo{L3: L3IPv4, Proto: ProtoOther, IPProto: 17, Src: v4b, Dst: v4a, SrcMAC: srcMAC, Fragment: true, FragmentProto: ProtoUDP, NonFirstFragment: true},
		},
		{
			name: "ipv6 first fragment", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv6), ip6("2001:db8::53", "2001:db8::1", layers.IPProtocolIPv6Fragment), v6frag1,
				gopacket.Payload(cat(rawUDPHeader(53, 5353, 3000), answer, filler(1000)))),
			// A large DNS response is fragmented; its header is in the
			// first fragment.
			want: PacketInfo{L3: L3IPv6, Proto: ProtoUDP, IPProto: 17, App: AppDNS, Src: v6b, Dst: v6a, SrcPort: 53, DstPort: 5353, SrcMAC: srcMAC,
				Fragment: true, FragmentProto: ProtoUDP, DNS: true, DNSResponse: true, DNSQueries: 1, DNSAnswers: 2},
		},
		{
			name: "ipv6 non-first fragment", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv6), ip6("2001:db8::53", "2001:db8::1", layers.IPProtocolIPv6Fragment), v6frag2, filler(500)),
			want: PacketInfo{L3: L3IPv6, Proto: ProtoOther, IPProto: 17, Src: v6b, Dst: v6a, SrcMAC: srcMAC, Fragment: true, FragmentProto: ProtoUDP, NonFirstFragment: true},
		},
		{
			name: "ipv4 sctp init reads the ports and the chunk", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolSCTP), gopacket.Payload(sctpHdr(40000, 2905, 1))),
			want: sctpInit,
		},
		{
			name: "ipv6 sctp abort behind destination options", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv6), ip6("2001:db8::53", "2001:db8::1", layers.IPProtocolIPv6Destination),
				gopacket.Payload(cat(sctpExt, sctpHdr(2905, 40000, 6)))),
			want: PacketInfo{L3: L3IPv6, Proto: ProtoOther, IPProto: 132, Src: v6b, Dst: v6a, SrcPort: 2905, DstPort: 40000, SrcMAC: srcMAC, SCTPChunk: 6},
		},
		{
			name: "sctp header cut to 8 bytes has no ports", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolSCTP), gopacket.Payload(sctpHdr(40000, 2905, 1)[:8])),
			want: PacketInfo{L3: L3IPv4, Proto: ProtoOther, IPProto: 132, Src: v4a, Dst: v4b, SrcMAC: srcMAC},
		},
		{
			name: "ipv4 first fragment of an sctp init", link: LinkEthernet,
			data: func() []byte {
				ip := ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolSCTP)
				ip.Flags = layers.IPv4MoreFragments
				return frame(tb, eth(layers.EthernetTypeIPv4), ip, gopacket.Payload(sctpHdr(40000, 2905, 1)))
			}(),
			want: func() PacketInfo { p := sctpInit; p.Fragment, p.FragmentProto = true, ProtoOther; return p }(),
		},
		{
			// A host without SCTP answers an INIT scan so: the quote
			// names the refused association.
			name: "icmp protocol unreachable quoting an sctp init", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolICMPv4),
				&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 2)}, gopacket.Payload(quotedInit)),
			want: PacketInfo{L3: L3IPv4, Proto: ProtoICMP, IPProto: 1, Src: v4a, Dst: v4b, SrcMAC: srcMAC, ICMPType: 3, ICMPCode: 2,
				Payload: uint32(len(quotedInit)), Refusal: true, RefusedProto: 132, RefusedSrc: 40000, RefusedDst: 2905},
		},
		{
			name: "ipv6 hop-by-hop and destination options before tcp", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv6), ip6("2001:db8::1", "2001:db8::53", layers.IPProtocolIPv6HopByHop),
				gopacket.Payload(extHdrs), tcp(51000, 80, TCPSyn)),
			want: withMAC(tcpSYNv6),
		},
		{
			name: "ipv6 in ipv4 with an ipv6 fragment header", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv4), ip4("192.0.2.1", "192.0.2.2", layers.IPProtocolIPv6),
				ip6("2001:db8::53", "2001:db8::1", layers.IPProtocolIPv6Fragment), v6frag1,
				gopacket.Payload(cat(rawUDPHeader(53, 5353, 3000), nxdomain))),
			// IPv4 is the outer network layer; the layer-4 header is the one
			// behind the first IP header chain, here in the inner IPv6
			// fragment.
			want: PacketInfo{L3: L3IPv4, Proto: ProtoUDP, IPProto: 17, App: AppDNS, Src: addr16("192.0.2.1"), Dst: addr16("192.0.2.2"),
				SrcPort: 53, DstPort: 5353, SrcMAC: srcMAC, Fragment: true, FragmentProto: ProtoUDP, DNS: true, DNSResponse: true, DNSRcode: 3, DNSQueries: 1},
		},
		{
			name: "ipv4 non-first fragment in ipv6", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv6), ip6("2001:db8::1", "2001:db8::53", layers.IPProtocolIPv4), frag2, filler(200)),
			want: PacketInfo{L3: L3IPv6, Proto: ProtoOther, IPProto: 17, Src: v6a, Dst: v6b, SrcMAC: srcMAC, Fragment: true, FragmentProto: ProtoUDP, NonFirstFragment: true},
		},
		{
			name: "ipv4 first fragment in ipv6", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv6), ip6("2001:db8::1", "2001:db8::53", layers.IPProtocolIPv4), frag1,
				gopacket.Payload(cat(rawUDPHeader(123, 40000, 1208), filler(100)))),
			want: PacketInfo{L3: L3IPv6, Proto: ProtoUDP, IPProto: 17, App: AppNTP, Src: v6a, Dst: v6b, SrcPort: 123, DstPort: 40000, SrcMAC: srcMAC,
				Fragment: true, FragmentProto: ProtoUDP},
		},
		{
			name: "gre is counted as other", link: LinkEthernet,
			data: frame(tb, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolGRE), &layers.GRE{Protocol: layers.EthernetTypeIPv4}, gopacket.Payload(ip4TCP)),
			want: PacketInfo{L3: L3IPv4, Proto: ProtoOther, IPProto: 47, Src: v4a, Dst: v4b, SrcMAC: srcMAC},
		},

		// Link types.
		{name: "linux sll", link: LinkSLL, data: cat(sllHdr(layers.EthernetTypeIPv4), ip4TCP), want: tcpSYN},
		{name: "linux sll2", link: LinkSLL2, data: cat(sll2Hdr(layers.EthernetTypeIPv6), ip6UDP), want: dnsQueryV6},
		{
			name: "linux sll with a vlan tag", link: LinkSLL,
			data: cat(sllHdr(layers.EthernetTypeDot1Q), []byte{0x00, 0x2a, 0x08, 0x00}, ip4TCP),
			want: func() PacketInfo { p := tcpSYN; p.HasVLAN, p.VLAN = true, 42; return p }(),
		},
		{name: "raw 101 ipv4", link: LinkRaw, data: ip4TCP, want: tcpSYN},
		{name: "raw 101 ipv6", link: LinkRaw, data: ip6UDP, want: dnsQueryV6},
		{name: "raw 12 ipv4", link: LinkRawBSD, data: ip4TCP, want: tcpSYN},
		{name: "raw 12 ipv6", link: LinkRawBSD, data: ip6UDP, want: dnsQueryV6},
		{name: "raw 14 ipv4", link: LinkRawOBSD, data: ip4TCP, want: tcpSYN},
		{name: "raw 14 ipv6", link: LinkRawOBSD, data: ip6UDP, want: dnsQueryV6},
		{name: "ipv4 228", link: LinkIPv4, data: ip4TCP, want: tcpSYN},
		{name: "ipv6 229", link: LinkIPv6, data: ip6UDP, want: dnsQueryV6},
		{name: "null little-endian ipv4", link: LinkNull, data: cat([]byte{2, 0, 0, 0}, ip4TCP), want: tcpSYN},
		{name: "null big-endian ipv4", link: LinkNull, data: cat([]byte{0, 0, 0, 2}, ip4TCP), want: tcpSYN},
		{name: "null little-endian ipv6 (darwin)", link: LinkNull, data: cat([]byte{30, 0, 0, 0}, ip6UDP), want: dnsQueryV6},
		{name: "null big-endian ipv6 (freebsd)", link: LinkNull, data: cat([]byte{0, 0, 0, 28}, ip6UDP), want: dnsQueryV6},
		{name: "openbsd loop ipv6", link: LinkLoop, data: cat([]byte{0, 0, 0, 24}, ip6UDP), want: dnsQueryV6},

		// Malformed frames: counted once, at the layer that broke.
		{
			name: "empty ethernet frame", link: LinkEthernet, data: []byte{},
			want: PacketInfo{Proto: ProtoOther}, hasErr: true, wantErr: LayerLink,
		},
		{
			name: "one-byte ethernet frame", link: LinkEthernet, data: []byte{0xff},
			want: PacketInfo{Proto: ProtoOther}, hasErr: true, wantErr: LayerLink,
		},
		{
			name: "empty raw frame", link: LinkRaw, data: nil,
			want: PacketInfo{Proto: ProtoOther}, hasErr: true, wantErr: LayerNetwork,
		},
		{
			name: "one-byte raw frame", link: LinkRaw, data: []byte{0x45},
			want: PacketInfo{Proto: ProtoOther}, hasErr: true, wantErr: LayerNetwork,
		},
		{
			name: "truncated null header", link: LinkNull, data: []byte{2, 0},
			want: PacketInfo{Proto: ProtoOther}, hasErr: true, wantErr: LayerLink,
		},
		{
			name: "truncated sll header", link: LinkSLL, data: sllHdr(layers.EthernetTypeIPv4)[:10],
			want: PacketInfo{Proto: ProtoOther}, hasErr: true, wantErr: LayerLink,
		},
		{
			name: "ipv4 header truncated to 10 bytes", link: LinkEthernet, data: cat(ethHdr(layers.EthernetTypeIPv4), ip4TCP[:10]),
			want: PacketInfo{Proto: ProtoOther, SrcMAC: srcMAC}, hasErr: true, wantErr: LayerNetwork,
		},
		{
			name: "ipv4 header length below 5 words", link: LinkEthernet, data: cat(ethHdr(layers.EthernetTypeIPv4), ihl4),
			want: PacketInfo{Proto: ProtoOther, SrcMAC: srcMAC}, hasErr: true, wantErr: LayerNetwork,
		},
		{
			name: "ipv6 header truncated", link: LinkEthernet, data: cat(ethHdr(layers.EthernetTypeIPv6), ip6UDP[:30]),
			want: PacketInfo{Proto: ProtoOther, SrcMAC: srcMAC}, hasErr: true, wantErr: LayerNetwork,
		},
		{
			name: "802.1q tag truncated", link: LinkEthernet, data: cat(ethHdr(layers.EthernetTypeDot1Q), []byte{0x00}),
			want: PacketInfo{Proto: ProtoOther, SrcMAC: srcMAC}, hasErr: true, wantErr: LayerNetwork,
		},
		{
			// The protocol comes from the IP header, as tshark counts a
			// malformed TCP header as TCP.
			name: "tcp header cut to 10 bytes", link: LinkEthernet, data: cat(ethHdr(layers.EthernetTypeIPv4), cutTCP),
			want:   PacketInfo{L3: L3IPv4, Proto: ProtoTCP, IPProto: 6, Src: v4a, Dst: v4b, SrcMAC: srcMAC},
			hasErr: true, wantErr: LayerTransport,
		},
		{
			name: "udp header cut to 4 bytes", link: LinkRaw,
			data: frame(tb, ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP), filler(4)),
			want: PacketInfo{L3: L3IPv4, Proto: ProtoUDP, IPProto: 17, Src: v4a, Dst: v4b}, hasErr: true, wantErr: LayerTransport,
		},
	}
}

// TestDecode runs every case through one decoder, in order, so that state
// left by one frame (layer objects are reused) would show in the next.
func TestDecode(t *testing.T) {
	d := NewDecoder()
	for _, tc := range decodeCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			before := d.Errors
			unsupported := d.UnsupportedLink
			// Garbage in p must not survive, except the capture's fields
			// (the frame as it was on the wire: whole).
			wire := uint32(len(tc.data))
			p := PacketInfo{Time: -5, WireLen: wire, Proto: ProtoICMP, DNS: true, VLAN: 7, HasVLAN: true, SrcPort: 1}
			if !d.Decode(tc.link, tc.data, &p) {
				t.Fatalf("Decode(link %d) = false, want true", tc.link)
			}
			want := tc.want
			want.Time, want.WireLen, want.CapLen = -5, wire, uint32(len(tc.data))
			if (want.L3 == L3IPv4 || want.L3 == L3IPv6) && want.TTL == 0 {
				want.TTL = 64 // as ip4 and ip6 build them
			}
			if p != want {
				t.Errorf("PacketInfo mismatch\n got %+v\nwant %+v", p, want)
			}
			var wantErrs [NumLayers]uint64
			if tc.hasErr {
				wantErrs[tc.wantErr] = 1
			}
			for l := range NumLayers {
				if got := d.Errors[l] - before[l]; got != wantErrs[l] {
					t.Errorf("Errors[%v] went up by %d, want %d", l, got, wantErrs[l])
				}
			}
			if d.UnsupportedLink != unsupported {
				t.Errorf("UnsupportedLink went up on a supported link")
			}
		})
	}
}

func TestDecodeUnsupportedLink(t *testing.T) {
	d := NewDecoder()
	data := frame(t, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP), tcp(51000, 80, TCPSyn))
	for i, link := range []uint16{105, 104, 239, 65535} {
		if SupportedLink(link) {
			t.Errorf("SupportedLink(%d) = true", link)
		}
		p := PacketInfo{Time: 1, WireLen: 60}
		if d.Decode(link, data, &p) {
			t.Errorf("Decode(link %d) = true, want false", link)
		}
		if d.UnsupportedLink != uint64(i+1) {
			t.Errorf("after link %d: UnsupportedLink = %d, want %d", link, d.UnsupportedLink, i+1)
		}
		if p.Proto != ProtoOther || p.L3 != L3None || p.Time != 1 || p.WireLen != 60 {
			t.Errorf("link %d: skipped frame left %+v", link, p)
		}
	}
	if d.Errors != [NumLayers]uint64{} {
		t.Errorf("unsupported frames counted as decode errors: %v", d.Errors)
	}
	for _, link := range []uint16{LinkNull, LinkEthernet, LinkRawBSD, LinkRawOBSD, LinkRaw, LinkLoop, LinkSLL, LinkIPv4, LinkIPv6, LinkSLL2} {
		if !SupportedLink(link) {
			t.Errorf("SupportedLink(%d) = false", link)
		}
	}
}

// TestDecodeDoesNotAllocate guards the per-packet path: the decoder runs
// for every captured frame.
func TestDecodeDoesNotAllocate(t *testing.T) {
	frames := map[string][]byte{
		"tcp": frame(t, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP), tcp(51000, 443, TCPAck|TCPPsh), filler(200)),
		"dns": frame(t, eth(layers.EthernetTypeIPv6), ip6("2001:db8::53", "2001:db8::1", layers.IPProtocolUDP), udp(53, 5353),
			gopacket.Payload(dnsMsg(t, true, layers.DNSResponseCodeNoErr, 2))),
		"vlan icmp": frame(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 10, Type: layers.EthernetTypeIPv4},
			ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)}),
	}
	for name, data := range frames {
		d := NewDecoder()
		var p PacketInfo
		d.Decode(LinkEthernet, data, &p) // first use may size internal slices
		if n := testing.AllocsPerRun(1000, func() { d.Decode(LinkEthernet, data, &p) }); n != 0 {
			t.Errorf("%s: Decode allocates %v times per packet, want 0", name, n)
		}
	}
}

func benchFrames(tb testing.TB) [][]byte {
	return [][]byte{
		frame(tb, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP), tcp(51000, 443, TCPAck|TCPPsh), filler(1200)),
		frame(tb, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP), tcp(51001, 80, TCPSyn)),
		frame(tb, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.53", layers.IPProtocolUDP), udp(40000, 53),
			gopacket.Payload(dnsMsg(tb, false, layers.DNSResponseCodeNoErr, 0))),
		frame(tb, eth(layers.EthernetTypeIPv4), ip4("10.0.0.53", "10.0.0.1", layers.IPProtocolUDP), udp(53, 40000),
			gopacket.Payload(dnsMsg(tb, true, layers.DNSResponseCodeNoErr, 2))),
		frame(tb, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolICMPv4),
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)}, filler(56)),
		frame(tb, eth(layers.EthernetTypeIPv6), ip6("2001:db8::1", "2001:db8::2", layers.IPProtocolTCP), tcp(51000, 443, TCPAck), filler(600)),
		frame(tb, eth(layers.EthernetTypeIPv6), ip6("2001:db8::1", "2001:db8::2", layers.IPProtocolUDP), udp(50000, 443), filler(1200)),
		frame(tb, eth(layers.EthernetTypeIPv6), ip6("2001:db8::1", "2001:db8::2", layers.IPProtocolICMPv6),
			&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}, &layers.ICMPv6Echo{Identifier: 1, SeqNumber: 1}),
	}
}

// BenchmarkDecode reports the cost of one packet over a mix of TCP, DNS,
// ICMP and IPv6 frames.
func BenchmarkDecode(b *testing.B) {
	frames := benchFrames(b)
	d := NewDecoder()
	var p PacketInfo
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		d.Decode(LinkEthernet, frames[i], &p)
		if i++; i == len(frames) {
			i = 0
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/packet")
}

// TestDNSQuestion checks the name statistics a DNS tunnel shows in: long,
// random-looking labels.
func TestDNSQuestion(t *testing.T) {
	name := func(labels ...string) []byte {
		var b []byte
		for _, l := range labels {
			b = append(b, byte(len(l)))
			b = append(b, l...)
		}
		return append(b, 0, 0, 16, 0, 1) // end, type TXT, class IN
	}
	tunnel := "mfrggzdfmztwq2lknnwg23tpobyxe43uov3ho6dzpjqwe3dfmzxw2"
	cases := []struct {
		name                         string
		b                            []byte
		length, longest, entropy16x1 int
		qtype                        uint16
	}{
		{"one label", name("aaaa"), 4, 4, 0, 16},
		{"two labels", name("ab", "ab"), 5, 2, 16, 16},
		{"base32 tunnel", name(tunnel, "t", "example", "net"), len(tunnel) + 14, len(tunnel), -1, 16},
		{"root", []byte{0, 0, 1, 0, 1}, 0, 0, 0, 1},
		{"cut by the snaplen", name("abcdefgh", "example")[:6], 0, 0, 0, 0},
		{"compression pointer", []byte{3, 'w', 'w', 'w', 0xc0, 12}, 3, 3, 0, 0},
		{"empty", nil, 0, 0, 0, 0},
	}
	for _, c := range cases {
		var p PacketInfo
		dnsQuestion(&p, c.b)
		if int(p.DNSNameLen) != c.length || int(p.DNSLabelMax) != c.longest || p.DNSQType != c.qtype {
			t.Errorf("%s: length %d longest %d type %d, want %d %d %d", c.name, p.DNSNameLen, p.DNSLabelMax, p.DNSQType, c.length, c.longest, c.qtype)
		}
		switch {
		case c.entropy16x1 >= 0 && int(p.DNSNameEntropy) != c.entropy16x1:
			t.Errorf("%s: entropy %d/16 bits, want %d", c.name, p.DNSNameEntropy, c.entropy16x1)
		case c.entropy16x1 < 0 && p.DNSNameEntropy < 4*16:
			t.Errorf("%s: entropy %d/16 bits, want at least 4 bits per character", c.name, p.DNSNameEntropy)
		}
	}
	// A hostile name of 64 labels of 63 bytes stops at 255 characters:
	// the counters never overflow.
	var long []byte
	for range 64 {
		long = append(long, 63)
		long = append(long, bytes.Repeat([]byte{'x'}, 63)...)
	}
	var p PacketInfo
	dnsQuestion(&p, append(long, 0))
	if p.DNSNameLen != 255 || p.DNSLabelMax != 63 {
		t.Errorf("hostile name: length %d longest %d", p.DNSNameLen, p.DNSLabelMax)
	}
}

func TestHTTPMethod(t *testing.T) {
	for in, want := range map[string]HTTPMethod{
		"GET / HTTP/1.1\r\n": HTTPGet, "POST /login HTTP/1.1": HTTPPost, "HEAD / HTTP/1.0": HTTPOther,
		"PUT /x": HTTPOther, "DELETE /x": HTTPOther, "SSH-2.0-OpenSSH": HTTPNone, "GE": HTTPNone, "": HTTPNone,
		"\x16\x03\x01\x02\x00": HTTPNone, "get / HTTP/1.1": HTTPNone,
	} {
		if got := httpMethod([]byte(in)); got != want {
			t.Errorf("httpMethod(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestSSHBanner(t *testing.T) {
	for in, want := range map[string]bool{
		"SSH-2.0-OpenSSH_9.2p1\r\n": true, "SSH-1.99-Cisco-1.25\r\n": true, "SSH-": true,
		"SSH": false, "ssh-2.0": false, "GET / HTTP/1.1": false, "": false, "220 vsftpd": false,
	} {
		if got := sshBanner([]byte(in)); got != want {
			t.Errorf("sshBanner(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestLinkTypesAreGopacketValues keeps the link-type numbers equal to
// gopacket's, which collector/capture uses to label its frames without
// importing this package.
func TestLinkTypesAreGopacketValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		ours uint16
		gp   layers.LinkType
	}{
		{"null", LinkNull, layers.LinkTypeNull},
		{"ethernet", LinkEthernet, layers.LinkTypeEthernet},
		{"raw", LinkRaw, layers.LinkTypeRaw},
		{"loop", LinkLoop, layers.LinkTypeLoop},
		{"linux sll", LinkSLL, layers.LinkTypeLinuxSLL},
		{"ipv4", LinkIPv4, layers.LinkTypeIPv4},
		{"ipv6", LinkIPv6, layers.LinkTypeIPv6},
		{"linux sll2", LinkSLL2, layers.LinkTypeLinuxSLL2},
	} {
		if tc.ours != uint16(tc.gp) {
			t.Errorf("%s: decode has %d, gopacket %d", tc.name, tc.ours, tc.gp)
		}
	}
}

// serverAnswer decodes a TCP segment from a server's port carrying
// payload, as a server's answer to a client.
func serverAnswer(t *testing.T, d *Decoder, port uint16, payload string) PacketInfo {
	data := frame(t, eth(layers.EthernetTypeIPv4), ip4("10.0.0.2", "10.0.0.1", layers.IPProtocolTCP), tcp(port, 51000, TCPPsh|TCPAck), gopacket.Payload(payload))
	p := PacketInfo{WireLen: uint32(len(data))}
	d.Decode(LinkEthernet, data, &p)
	return p
}

// TestDecodeAuthRefused: a server's answer refusing credentials is
// recognised at the start of a segment, in the fast path and the layers
// alike, in each protocol that says so in the clear (the bytes as the
// servers send them); other answers and requests are not.
func TestDecodeAuthRefused(t *testing.T) {
	for _, layersOnly := range []bool{false, true} {
		d := NewDecoder()
		d.layersOnly = layersOnly
		for _, c := range []struct {
			payload string
			want    bool
		}{
			{"HTTP/1.1 401 Unauthorized\r\n", true},
			{"HTTP/1.0 401 Authorization Required\r\n", true},
			{"HTTP/1.1 407 Proxy Authentication Required\r\n", true},
			{"HTTP/1.1 403 Forbidden\r\n", false},
			{"HTTP/1.1 200 OK\r\n", false},
			{"HTTP/1.1 4010", false},
			{"HTTP/2 401 ", false},
			{"HTTP/1.1 40", false},
			{"GET /401 HTTP/1.1\r\n", false},
			// Redis 7, Redis 5, and a command sent before AUTH.
			{"-WRONGPASS invalid username-password pair or user is disabled.\r\n", true},
			{"-ERR invalid password\r\n", true},
			{"-NOAUTH Authentication required.\r\n", false},
			{"-ERR unknown command 'FOO'\r\n", false},
			// Postfix, Gmail's multi-line reply, and success.
			{"535 5.7.8 Error: authentication failed: authentication failure\r\n", true},
			{"535-5.7.8 Username and Password not accepted.\r\n", true},
			{"235 2.7.0 Authentication successful\r\n", false},
			{"5350 ", false},
			// vsftpd after PASS, and before it.
			{"530 Login incorrect.\r\n", true},
			{"331 Please specify the password.\r\n", false},
			// Dovecot's POP3 and IMAP.
			{"-ERR [AUTH] Authentication failed.\r\n", true},
			{"-ERR Unknown command.\r\n", false},
			{"a001 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n", true},
			{"a001 OK [CAPABILITY IMAP4rev1] Logged in\r\n", false},
			{"* OK [CAPABILITY IMAP4rev1 LITERAL+] Dovecot ready.\r\n", false},
			// MySQL: ERR 1045 (access denied), ERR 1064 (a syntax error).
			{"\x4a\x00\x00\x02\xff\x15\x04#28000Access denied for user 'root'@'10.0.0.1' (using password: YES)", true},
			{"\x30\x00\x00\x01\xff\x28\x04#42000You have an error in your SQL syntax", false},
			// MariaDB 10.11's refusal, as hydra met it: its length, 72, is
			// an 'H'.
			{"\x48\x00\x00\x02\xff\x15\x04#28000Access denied for user 'app'@'10.99.0.66' (using password: YES)", true},
			{"\x2d\x00\x00\x02\xff\x15\x04#28000Access denied for user 'x'@'h' (using password: YES)", true},
			// PostgreSQL: a wrong password, and a syntax error.
			{"E\x00\x00\x00\x64SFATAL\x00VFATAL\x00C28P01\x00Mpassword authentication failed for user \"postgres\"\x00\x00", true},
			{"E\x00\x00\x00\x40SERROR\x00VERROR\x00C42601\x00Msyntax error at or near \"x\"\x00\x00", false},
			// LDAP bind responses: invalid credentials from OpenLDAP
			// (short lengths) and Active Directory (4-byte lengths), and
			// a success.
			{"\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x31\x04\x00\x04\x00", true},
			{"\x30\x84\x00\x00\x00\x10\x02\x01\x01\x61\x84\x00\x00\x00\x07\x0a\x01\x31\x04\x00\x04\x00", true},
			{"\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x00\x04\x00\x04\x00", false},
			{"\x30\x0c\x02\x01", false},
		} {
			if p := serverAnswer(t, d, 80, c.payload); p.AuthRefused != c.want {
				t.Errorf("layers only %v, %q: AuthRefused %v, want %v", layersOnly, c.payload, p.AuthRefused, c.want)
			}
		}
	}
}

// TestDecodeTLSSetup: a TLS handshake or change cipher spec record at the
// start of a segment is a connection's set-up, in the fast path and the
// layers alike; application data, and bytes that only begin like a
// record, are not.
func TestDecodeTLSSetup(t *testing.T) {
	for _, layersOnly := range []bool{false, true} {
		d := NewDecoder()
		d.layersOnly = layersOnly
		for _, c := range []struct {
			name    string
			payload []byte
			want    bool
		}{
			{"client hello (TLS 1.0 record)", []byte{22, 3, 1, 0, 200, 1, 0, 0, 196}, true},
			{"server hello (TLS 1.2 record)", []byte{22, 3, 3, 0, 90, 2, 0, 0, 86}, true},
			{"change cipher spec", []byte{20, 3, 3, 0, 1, 1}, true},
			{"application data", []byte{23, 3, 3, 0, 40, 9, 9, 9}, false},
			{"alert", []byte{21, 3, 3, 0, 2, 2, 40}, false},
			{"SSLv2-like version", []byte{22, 2, 0, 0, 10}, false},
			{"unknown TLS version", []byte{22, 3, 9, 0, 10}, false},
			{"too short", []byte{22, 3}, false},
			{"HTTP", []byte("GET / HTTP/1.1\r\n"), false},
		} {
			data := frame(t, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP), tcp(51000, 443, TCPPsh|TCPAck), gopacket.Payload(c.payload))
			p := PacketInfo{WireLen: uint32(len(data))}
			d.Decode(LinkEthernet, data, &p)
			if p.TLSSetup != c.want {
				t.Errorf("layers only %v, %s: TLSSetup %v, want %v", layersOnly, c.name, p.TLSSetup, c.want)
			}
		}
	}
}

// TestDecodeSSHLogin: an SSH_MSG_NEWKEYS packet is recognised at the start
// of a segment, in the fast path and the layers alike, and a segment cut
// by the capture's snap length keeps its length on the wire: the SSH
// login's outcome is read from segment sizes (features.sshAnswer), and
// a capture of headers only must not change them.
func TestDecodeSSHLogin(t *testing.T) {
	newKeys := []byte{0, 0, 0, 12, 10, 21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	notNewKeys := []byte{0, 0, 0, 12, 10, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0} // KEXINIT's number
	badLength := []byte{0, 0, 0, 13, 10, 21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	for _, layersOnly := range []bool{false, true} {
		d := NewDecoder()
		d.layersOnly = layersOnly
		for _, c := range []struct {
			payload []byte
			want    bool
		}{{newKeys, true}, {notNewKeys, false}, {badLength, false}, {newKeys[:15], false}} {
			data := frame(t, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP), tcp(51000, 22, TCPPsh|TCPAck), gopacket.Payload(c.payload))
			p := PacketInfo{WireLen: uint32(len(data))}
			d.Decode(LinkEthernet, data, &p)
			if p.SSHNewKeys != c.want || p.Payload != uint32(len(c.payload)) {
				t.Errorf("layers only %v, payload % x: SSHNewKeys %v, payload %d; want %v, %d", layersOnly, c.payload, p.SSHNewKeys, p.Payload, c.want, len(c.payload))
			}
		}
		// A 1448-byte segment snapped to 98 bytes of frame.
		data := frame(t, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolTCP), tcp(22, 51000, TCPPsh|TCPAck), filler(1448))
		p := PacketInfo{WireLen: uint32(len(data))}
		d.Decode(LinkEthernet, data[:98], &p)
		if p.Payload != 1448 || p.Proto != ProtoTCP {
			t.Errorf("layers only %v: a snapped segment's payload is %d (%v), want 1448", layersOnly, p.Payload, p.Proto)
		}
	}
}

// TestDecodeDataHash: an echo's data is told apart past its first 16
// bytes (a pinger's timestamp), in the fast path and the layers alike,
// over IPv4 and IPv6; short data has none.
func TestDecodeDataHash(t *testing.T) {
	data := func(first, rest byte, n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = rest
			if i < 16 {
				b[i] = first
			}
		}
		return b
	}
	for _, layersOnly := range []bool{false, true} {
		d := NewDecoder()
		d.layersOnly = layersOnly
		echo := func(v6 bool, typ uint8, payload []byte) uint32 {
			var b []byte
			if v6 {
				b = frame(t, eth(layers.EthernetTypeIPv6), ip6("2001:db8::1", "2001:db8::2", layers.IPProtocolICMPv6),
					&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, 0)}, &layers.ICMPv6Echo{Identifier: 7, SeqNumber: 1}, gopacket.Payload(payload))
			} else {
				b = frame(t, eth(layers.EthernetTypeIPv4), ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolICMPv4),
					&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 0), Id: 7, Seq: 1}, gopacket.Payload(payload))
			}
			var p PacketInfo
			d.Decode(LinkEthernet, b, &p)
			return p.DataHash
		}
		for _, v6 := range []bool{false, true} {
			req, rep := uint8(8), uint8(0)
			if v6 {
				req, rep = 128, 129
			}
			a, b, c := echo(v6, req, data(1, 9, 56)), echo(v6, req, data(2, 9, 56)), echo(v6, req, data(1, 8, 56))
			if a == 0 || a != b || a == c {
				t.Errorf("layers only %v, IPv6 %v: data hashes %d, %d, %d: want the first two equal (the timestamps differ), the third not", layersOnly, v6, a, b, c)
			}
			if r := echo(v6, rep, data(1, 9, 56)); r != a {
				t.Errorf("layers only %v, IPv6 %v: the reply's data hash %d, the request's %d", layersOnly, v6, r, a)
			}
			if s := echo(v6, req, data(1, 9, 16)); s != 0 {
				t.Errorf("layers only %v, IPv6 %v: 16 bytes of data hash to %d, want 0", layersOnly, v6, s)
			}
		}
	}
}

// TestDecodeAuthAccepted: a server's answer accepting a login, in the
// protocols that say so unmistakably in the clear, in both paths; other
// answers, refusals and a MySQL command's OK or a result row are not.
func TestDecodeAuthAccepted(t *testing.T) {
	for _, layersOnly := range []bool{false, true} {
		d := NewDecoder()
		d.layersOnly = layersOnly
		for _, c := range []struct {
			payload  string
			accepted bool
		}{
			{"235 2.7.0 Authentication successful\r\n", true},
			{"230 Login successful.\r\n", true},
			{"230-Welcome to the archive\r\n", true},
			{"250 2.0.0 OK\r\n", false},
			{"2350 ", false},
			{"535 5.7.8 Authentication credentials invalid\r\n", false},
			// PostgreSQL: AuthenticationOk, and the server asking for an
			// MD5 password.
			{"R\x00\x00\x00\x08\x00\x00\x00\x00S\x00\x00\x00\x1a", true},
			{"R\x00\x00\x00\x0c\x00\x00\x00\x05salt", false},
			// LDAP: a bind's success, and its refusal.
			{"\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x00\x04\x00\x04\x00", true},
			{"\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x31\x04\x00\x04\x00", false},
			// MySQL: the OK closing a login (sequence 2), a command's OK
			// (sequence 1), a result row whose first column is empty.
			{"\x07\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00", true},
			// An OK whose length, 48 or 50, is a BER SEQUENCE's tag or a '2'.
			{"\x30\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00" + strings.Repeat("\x00", 41), true},
			{"\x32\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00" + strings.Repeat("\x00", 43), true},
			{"\x07\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00", false},
			{"\x05\x00\x00\x04\x00abcd", false},
			{"HTTP/1.1 200 OK\r\n", false},
		} {
			if p := serverAnswer(t, d, 587, c.payload); p.AuthAccepted != c.accepted {
				t.Errorf("layers only %v, %q: AuthAccepted %v, want %v", layersOnly, c.payload, p.AuthAccepted, c.accepted)
			}
		}
	}
}

// TestDecodeSNMPCommunity: an SNMPv1 or v2c request's community (its
// password) is hashed, in both paths, over IPv4 and IPv6; SNMPv3, other
// ports, answers and malformed messages have none.
func TestDecodeSNMPCommunity(t *testing.T) {
	// A GetRequest for sysDescr.0, as snmpget and onesixtyone send it.
	pdu := []byte{0xa0, 0x19, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30, 0x0c,
		0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, 0x05, 0x00}
	msg := func(version byte, community string, longForm bool) []byte {
		body := cat([]byte{0x02, 0x01, version, 0x04, byte(len(community))}, []byte(community), pdu)
		if longForm {
			return cat([]byte{0x30, 0x81, byte(len(body))}, body)
		}
		return cat([]byte{0x30, byte(len(body))}, body)
	}
	for _, layersOnly := range []bool{false, true} {
		d := NewDecoder()
		d.layersOnly = layersOnly
		hash := func(v6 bool, sport, dport uint16, payload []byte) uint32 {
			ip := gopacket.SerializableLayer(ip4("10.0.0.66", "10.0.0.10", layers.IPProtocolUDP))
			if v6 {
				ip = ip6("2001:db8::66", "2001:db8::10", layers.IPProtocolUDP)
			}
			et := layers.EthernetTypeIPv4
			if v6 {
				et = layers.EthernetTypeIPv6
			}
			var p PacketInfo
			d.Decode(LinkEthernet, frame(t, eth(et), ip, udp(sport, dport), gopacket.Payload(payload)), &p)
			return p.DataHash
		}
		for _, v6 := range []bool{false, true} {
			public := hash(v6, 40000, 161, msg(0, "public", false))
			for _, c := range []struct {
				name    string
				got     uint32
				samePub bool // equal to public's hash, else 0 or another
				zero    bool
			}{
				{"v2c public", hash(v6, 40001, 161, msg(1, "public", false)), true, false},
				{"long form length", hash(v6, 40001, 161, msg(1, "public", true)), true, false},
				{"private", hash(v6, 40000, 161, msg(0, "private", false)), false, false},
				{"SNMPv3", hash(v6, 40000, 161, msg(3, "public", false)), false, true},
				{"to the trap port", hash(v6, 40000, 162, msg(1, "public", false)), false, true},
				{"the agent's answer", hash(v6, 161, 40000, msg(1, "public", false)), false, true},
				{"community past the datagram", hash(v6, 40000, 161, msg(1, "public", false)[:9]), false, true},
				{"not BER", hash(v6, 40000, 161, []byte("public")), false, true},
			} {
				switch {
				case public == 0:
					t.Fatalf("layers only %v, IPv6 %v: public's community hashes to 0", layersOnly, v6)
				case c.samePub && c.got != public, c.zero && c.got != 0, !c.samePub && !c.zero && (c.got == 0 || c.got == public):
					t.Errorf("layers only %v, IPv6 %v, %s: hash %d (public's %d)", layersOnly, v6, c.name, c.got, public)
				}
			}
		}
	}
}

// TestDecodeDHCPv6: a DHCPv6 message's kind and client identity, from the
// client identifier option wherever it is among the first options.
func TestDecodeDHCPv6(t *testing.T) {
	opt := func(code uint16, data []byte) []byte {
		b := binary.BigEndian.AppendUint16(nil, code)
		b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
		return append(b, data...)
	}
	llt := cat([]byte{0, 1, 0, 1, 0x2c, 0x1d, 0x00, 0x01}, macC) // DUID-LLT, Ethernet
	ll := cat([]byte{0, 3, 0, 1}, macC)                          // DUID-LL
	en := []byte{0, 2, 0, 0, 0x01, 0x37, 1, 2, 3, 4, 5, 6}       // DUID-EN
	msg := func(typ byte, opts ...[]byte) []byte {
		return cat(append([][]byte{{typ, 0x12, 0x34, 0x56}}, opts...)...)
	}
	elapsed := opt(8, []byte{0, 0})
	d := NewDecoder()
	for _, c := range []struct {
		name         string
		sport, dport uint16
		payload      []byte
		op           uint8
		relayed      bool
		client       [6]byte
	}{
		{"solicit with a link-layer DUID and time", 546, 547, msg(1, elapsed, opt(1, llt)), DHCPRequest, false, mac6(macC)},
		{"request with a link-layer DUID", 546, 547, msg(3, opt(1, ll)), DHCPRequest, false, mac6(macC)},
		{"solicit with an enterprise DUID", 546, 547, msg(1, opt(1, en)), DHCPRequest, false, [6]byte{}},
		{"advertise from the server", 547, 546, msg(2, opt(1, llt)), DHCPReply, false, [6]byte{}},
		{"relay-forward", 547, 547, msg(12), DHCPRequest, true, [6]byte{}},
		{"a client message to the client port", 547, 546, msg(1, opt(1, llt)), DHCPNone, false, [6]byte{}},
		{"an option cut short", 546, 547, msg(1, opt(1, llt)[:10]), DHCPRequest, false, [6]byte{}},
	} {
		b := frame(t, eth(layers.EthernetTypeIPv6), ip6("fe80::1", "ff02::1:2", layers.IPProtocolUDP), udp(c.sport, c.dport), gopacket.Payload(c.payload))
		var p PacketInfo
		d.Decode(LinkEthernet, b, &p)
		if p.DHCPOp != c.op || p.DHCPRelayed != c.relayed {
			t.Errorf("%s: op %d relayed %v, want %d %v", c.name, p.DHCPOp, p.DHCPRelayed, c.op, c.relayed)
		}
		switch {
		case c.client != [6]byte{} && p.DHCPClient != c.client:
			t.Errorf("%s: client %x, want the DUID's MAC %x", c.name, p.DHCPClient, c.client)
		case c.name == "solicit with an enterprise DUID" && (p.DHCPClient == [6]byte{} || p.DHCPClient == duidClient(llt)):
			t.Errorf("%s: client %x, want a hash of the DUID", c.name, p.DHCPClient)
		case c.client == [6]byte{} && c.name != "solicit with an enterprise DUID" && p.DHCPClient != [6]byte{}:
			t.Errorf("%s: client %x, want none", c.name, p.DHCPClient)
		}
	}
}
