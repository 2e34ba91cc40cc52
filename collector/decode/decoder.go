package decode

import (
	"bytes"
	"encoding/binary"
	"math"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Link types (LINKTYPE_* values as found in capture files and on sockets).
const (
	LinkNull     uint16 = 0
	LinkEthernet uint16 = 1
	LinkRawBSD   uint16 = 12 // DLT_RAW on most systems
	LinkRawOBSD  uint16 = 14 // DLT_RAW on OpenBSD
	LinkRaw      uint16 = 101
	LinkLoop     uint16 = 108
	LinkSLL      uint16 = 113
	LinkIPv4     uint16 = 228
	LinkIPv6     uint16 = 229
	LinkSLL2     uint16 = 276
)

// SupportedLink reports whether frames of this link type can be decoded.
func SupportedLink(link uint16) bool {
	switch link {
	case LinkNull, LinkEthernet, LinkRawBSD, LinkRawOBSD, LinkRaw, LinkLoop, LinkSLL, LinkIPv4, LinkIPv6, LinkSLL2:
		return true
	}
	return false
}

// Layer names where a decode error happened.
type Layer uint8

// The layers for decode error accounting.
const (
	LayerLink Layer = iota
	LayerNetwork
	LayerTransport
	LayerApplication
	NumLayers
)

var layerNames = [NumLayers]string{"link", "network", "transport", "application"}

func (l Layer) String() string { return layerNames[l] }

// LayerNames returns the error layer labels in order.
func LayerNames() []string { return layerNames[:] }

// Decoder decodes frames with gopacket's DecodingLayerParser into
// PacketInfo. It is not safe for concurrent use: use one per worker. Its
// counters are plain fields read by the owner of the decoder.
type Decoder struct {
	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	sll     layers.LinuxSLL
	sll2    layers.LinuxSLL2
	loop    layers.Loopback
	mpls    mplsLayer
	pppoe   pppoeSessionLayer
	ip4     layers.IPv4
	ip6     layers.IPv6
	ip6ext  layers.IPv6ExtensionSkipper
	ip6frag layers.IPv6Fragment
	ah      layers.IPSecAH
	tcp     layers.TCP
	udp     layers.UDP
	icmp4   layers.ICMPv4
	icmp6   layers.ICMPv6
	arp     layers.ARP

	ethParser, sllParser, sll2Parser, loopParser, ip4Parser, ip6Parser *gopacket.DecodingLayerParser

	decoded []gopacket.LayerType

	// layersOnly turns the fast path off: the tests compare the two.
	layersOnly bool

	// Errors counts frames with a malformed header, by the layer that
	// failed. Such frames are still counted as packets.
	Errors [NumLayers]uint64
	// UnsupportedLink counts frames of a link type that cannot be decoded;
	// they are skipped.
	UnsupportedLink uint64
}

// NewDecoder returns a decoder with all layers preallocated.
func NewDecoder() *Decoder {
	d := &Decoder{decoded: make([]gopacket.LayerType, 0, 32)}
	// The extension skipper is registered before the fragment layer so that
	// the fragment layer wins for its own type.
	ls := []gopacket.DecodingLayer{
		&d.eth, &d.dot1q, &d.sll, &d.sll2, &d.loop, &d.mpls, &d.pppoe,
		&d.ip4, &d.ip6, &d.ip6ext, &d.ip6frag, &d.ah,
		&d.tcp, &d.udp, &d.icmp4, &d.icmp6, &d.arp,
	}
	mk := func(first gopacket.LayerType) *gopacket.DecodingLayerParser {
		p := gopacket.NewDecodingLayerParser(first)
		c := gopacket.DecodingLayerContainer(gopacket.DecodingLayerSparse(nil))
		for _, l := range ls {
			c = c.Put(l)
		}
		p.SetDecodingLayerContainer(c)
		// An upper layer we do not decode (GRE, ESP, payloads) is normal.
		p.IgnoreUnsupported = true
		return p
	}
	d.ethParser = mk(layers.LayerTypeEthernet)
	d.sllParser = mk(layers.LayerTypeLinuxSLL)
	d.sll2Parser = mk(layers.LayerTypeLinuxSLL2)
	d.loopParser = mk(layers.LayerTypeLoopback)
	d.ip4Parser = mk(layers.LayerTypeIPv4)
	d.ip6Parser = mk(layers.LayerTypeIPv6)
	return d
}

// Decode fills p (except Time and WireLen, which come from the capture)
// from one frame. It returns false when the link type is not supported; the
// frame is then counted in UnsupportedLink and should be skipped.
func (d *Decoder) Decode(link uint16, data []byte, p *PacketInfo) bool {
	t, w := p.Time, p.WireLen
	*p = PacketInfo{Time: t, WireLen: w, CapLen: uint32(len(data)), Proto: ProtoOther}
	if !d.layersOnly && d.fast(link, data, p) {
		return true
	}

	var parser *gopacket.DecodingLayerParser
	switch link {
	case LinkEthernet:
		parser = d.ethParser
	case LinkSLL:
		parser = d.sllParser
	case LinkSLL2:
		parser = d.sll2Parser
	case LinkNull, LinkLoop:
		parser = d.loopParser
	case LinkIPv4:
		parser = d.ip4Parser
	case LinkIPv6:
		parser = d.ip6Parser
	case LinkRaw, LinkRawBSD, LinkRawOBSD:
		if len(data) > 0 && data[0]>>4 == 6 {
			parser = d.ip6Parser
		} else {
			parser = d.ip4Parser
		}
	default:
		d.UnsupportedLink++
		return false
	}

	err := parser.DecodeLayers(data, &d.decoded)
	d.fill(p)
	if err != nil {
		d.Errors[d.failedLayer(parser)]++
	}
	return true
}

// fast decodes the frames that make nearly all traffic straight from
// their bytes: Ethernet without a VLAN tag, or bare IP; IPv4 without
// options and not a fragment, or IPv6 without extension headers; TCP, UDP,
// ICMP or ICMPv6, each header whole. It fills p exactly as the layers and
// fill would, and reports false, having written nothing, for any other
// frame, which the layers then decode (FuzzDecode holds the two to the
// same result). The layers cost about 130 ns a packet on a live link, a
// third of the capture goroutine's time.
func (d *Decoder) fast(link uint16, data []byte, p *PacketInfo) bool {
	ip, v6 := data, false
	switch link {
	case LinkEthernet:
		if len(data) < 14 {
			return false
		}
		switch binary.BigEndian.Uint16(data[12:14]) {
		case 0x0800:
		case 0x86dd:
			v6 = true
		default:
			return false
		}
		ip = data[14:]
	case LinkIPv4:
	case LinkIPv6:
		v6 = true
	case LinkRaw, LinkRawBSD, LinkRawOBSD:
		v6 = len(data) > 0 && data[0]>>4 == 6
	default:
		return false
	}
	var l4 []byte
	var upper uint8
	if v6 {
		// The IPv6 layer: a 40-byte header, the payload cut to its length
		// (0, a jumbogram, needs a hop-by-hop header: the layers').
		if len(ip) < 40 {
			return false
		}
		n := int(binary.BigEndian.Uint16(ip[4:6]))
		if n == 0 {
			return false
		}
		l4, upper = ip[40:], ip[6]
		l4 = l4[:min(n, len(l4))]
	} else {
		// The IPv4 layer: a 20-byte header, a total length of at least that
		// (0 is taken as the frame's, as segmentation offload leaves it),
		// the bytes past it cut off.
		if len(ip) < 20 || ip[0]&0x0f != 5 {
			return false
		}
		n := int(binary.BigEndian.Uint16(ip[2:4]))
		if n == 0 {
			n = len(ip)
		}
		if n < 20 || binary.BigEndian.Uint16(ip[6:8])&0x3fff != 0 {
			return false // too short, or a fragment (more fragments, or an offset)
		}
		l4, upper = ip[20:min(n, len(ip))], ip[9]
	}
	var payload []byte
	switch {
	case upper == 6: // TCP
		if len(l4) < 20 {
			return false
		}
		off := int(l4[12]>>4) * 4
		if off < 20 || off > len(l4) {
			return false
		}
		payload = l4[off:]
		p.SrcPort, p.DstPort = binary.BigEndian.Uint16(l4[0:2]), binary.BigEndian.Uint16(l4[2:4])
		p.TCPFlags = l4[13]
		p.TCPWindow = binary.BigEndian.Uint16(l4[14:16])
		p.Payload = tcpPayload(p, payload)
		p.HTTPMethod = httpMethod(payload)
		p.SSH = sshBanner(payload)
		p.SSHNewKeys = sshNewKeys(payload)
		p.TLSSetup = tlsSetup(payload)
		p.AuthRefused, p.AuthAccepted = authAnswer(payload)
	case upper == 17: // UDP
		if len(l4) < 8 {
			return false
		}
		switch n := int(binary.BigEndian.Uint16(l4[4:6])); {
		case n >= 8:
			payload = l4[8:min(n, len(l4))]
			p.Payload = uint32(n - 8)
		case n == 0: // a jumbogram: the rest of the packet
			payload = l4[8:]
			p.Payload = uint32(len(payload))
		default:
			return false
		}
		p.SrcPort, p.DstPort = binary.BigEndian.Uint16(l4[0:2]), binary.BigEndian.Uint16(l4[2:4])
	case upper == 1 && !v6: // ICMP
		if len(l4) < 8 {
			return false
		}
		p.ICMPType, p.ICMPCode = l4[0], l4[1]
		p.Payload = uint32(len(l4) - 8)
		if p.ICMPType == 8 || p.ICMPType == 0 {
			p.DataHash = echoData(l4[8:])
		}
	case upper == 58 && v6: // ICMPv6
		if len(l4) < 4 {
			return false
		}
		p.ICMPType, p.ICMPCode = l4[0], l4[1]
		p.Payload = uint32(len(l4) - 4)
		if (p.ICMPType == 128 || p.ICMPType == 129) && len(l4) >= 8 {
			p.DataHash = echoData(l4[8:])
		}
	case upper == 132: // SCTP
		if !sctp(p, l4) {
			return false
		}
	default:
		return false
	}
	if link == LinkEthernet {
		copy(p.SrcMAC[:], data[6:12])
	}
	if v6 {
		p.L3, p.TTL = L3IPv6, ip[7]
		copy(p.Src[:], ip[8:24])
		copy(p.Dst[:], ip[24:40])
	} else {
		p.L3, p.TTL = L3IPv4, ip[8]
		setMapped4(&p.Src, ip[12:16])
		setMapped4(&p.Dst, ip[16:20])
	}
	d.finishL4(p, layers.IPProtocol(upper), v6, payload)
	if upper == 1 || upper == 58 {
		refusal(p, l4[min(8, len(l4)):])
	}
	if upper == 58 {
		neighbourClaim(p, l4[4:])
	}
	return true
}

// refusal reads an ICMP destination unreachable's quoted packet q (the
// bytes after the ICMP header, and after ICMPv6's 4 unused bytes) and sets
// p's Refusal fields when the sender of the unreachable is the quoted
// packet's destination and its receiver the quoted packet's source.
func refusal(p *PacketInfo, q []byte) {
	if !(p.L3 == L3IPv4 && p.Proto == ProtoICMP && p.ICMPType == 3 || p.L3 == L3IPv6 && p.Proto == ProtoICMPv6 && p.ICMPType == 1) {
		return
	}
	var src, dst [16]byte
	var l4 []byte
	var proto uint8
	switch {
	case p.L3 == L3IPv4 && len(q) >= 20 && q[0]>>4 == 4 && int(q[0]&0x0f)*4 >= 20:
		ihl := int(q[0]&0x0f) * 4
		proto = q[9]
		setMapped4(&src, q[12:16])
		setMapped4(&dst, q[16:20])
		l4 = q[min(ihl, len(q)):]
	case p.L3 == L3IPv6 && len(q) >= 40 && q[0]>>4 == 6:
		proto = q[6]
		copy(src[:], q[8:24])
		copy(dst[:], q[24:40])
		l4 = q[40:]
	default:
		return
	}
	if (proto != 6 && proto != 17 && proto != 132) || len(l4) < 4 || src != p.Dst || dst != p.Src {
		return
	}
	p.Refusal, p.RefusedProto = true, proto
	p.RefusedSrc, p.RefusedDst = binary.BigEndian.Uint16(l4[0:2]), binary.BigEndian.Uint16(l4[2:4])
}

// neighbourClaim reads an IPv6 neighbour discovery message's claim: the
// MAC its link-layer address option gives for the message's source
// address, as ARP's sender fields give one (RFC 4861: a source
// link-layer address in router and neighbour solicitations and router
// advertisements, a target link-layer address in a neighbour
// advertisement, taken when its target is its source: a proxy's
// advertisement for another address is left). body is the message past
// its 4-byte header. Only a message sent on the link (hop limit 255, as
// receivers require) from an address (not the unspecified one of
// duplicate address detection) claims.
func neighbourClaim(p *PacketInfo, body []byte) {
	if p.L3 != L3IPv6 || p.Proto != ProtoICMPv6 || p.TTL != 255 || p.Src == ([16]byte{}) {
		return
	}
	var opts []byte
	want := byte(1) // source link-layer address
	switch {
	case p.ICMPType == 133 && len(body) >= 4:
		opts = body[4:]
	case p.ICMPType == 134 && len(body) >= 12:
		opts = body[12:]
	case p.ICMPType == 135 && len(body) >= 20:
		opts = body[20:]
	case p.ICMPType == 136 && len(body) >= 20 && [16]byte(body[4:20]) == p.Src:
		opts, want = body[20:], 2 // target link-layer address
	default:
		return
	}
	for len(opts) >= 8 {
		n := int(opts[1]) * 8
		if n == 0 || n > len(opts) {
			return
		}
		if opts[0] == want && n == 8 {
			copy(p.ARPTargetMAC[:], opts[2:8])
			return
		}
		opts = opts[n:]
	}
}

// failedLayer names the layer that DecodeLayers was working on when it
// failed: the one after the last decoded layer.
func (d *Decoder) failedLayer(parser *gopacket.DecodingLayerParser) Layer {
	if len(d.decoded) == 0 {
		if parser == d.ip4Parser || parser == d.ip6Parser {
			return LayerNetwork
		}
		return LayerLink
	}
	switch d.decoded[len(d.decoded)-1] {
	case layers.LayerTypeEthernet, layers.LayerTypeLinuxSLL, layers.LayerTypeLinuxSLL2, layers.LayerTypeLoopback, layers.LayerTypeDot1Q, layers.LayerTypeMPLS, layers.LayerTypePPPoE:
		return LayerNetwork
	default:
		return LayerTransport
	}
}

// fill reads the decoded layers into p.
func (d *Decoder) fill(p *PacketInfo) {
	ipSeen, inner6 := false, false
	var upper layers.IPProtocol
	// Each layer object holds the last header of its type once the frame
	// is decoded, so the outer VLAN tag is read from the bytes after the
	// link header, and a fragment's payload is taken from the header that
	// fragments the packet.
	var linkPayload, fragPayload, ipPayload []byte
	for _, typ := range d.decoded {
		switch typ {
		case layers.LayerTypeEthernet:
			copy(p.SrcMAC[:], d.eth.SrcMAC)
			linkPayload = d.eth.Payload
		case layers.LayerTypeLinuxSLL:
			linkPayload = d.sll.Payload
		case layers.LayerTypeLinuxSLL2:
			linkPayload = d.sll2.Payload
		case layers.LayerTypeDot1Q:
			if !p.HasVLAN {
				p.HasVLAN, p.VLAN = true, d.dot1q.VLANIdentifier
				if len(linkPayload) >= 2 {
					p.VLAN = binary.BigEndian.Uint16(linkPayload) & 0x0fff
				}
			}
		case layers.LayerTypeARP:
			p.L3, p.Proto = L3ARP, ProtoARP
			p.ARPOp = d.arp.Operation
			if len(d.arp.SourceHwAddress) == 6 {
				copy(p.SrcMAC[:], d.arp.SourceHwAddress)
			}
			if len(d.arp.DstHwAddress) == 6 {
				copy(p.ARPTargetMAC[:], d.arp.DstHwAddress)
			}
			if len(d.arp.SourceProtAddress) == 4 && len(d.arp.DstProtAddress) == 4 {
				setMapped4(&p.Src, d.arp.SourceProtAddress)
				setMapped4(&p.Dst, d.arp.DstProtAddress)
			}
			return
		case layers.LayerTypeIPv4:
			// IP in IP: tshark counts the first layer-4 header after the
			// first IP header, which is the inner one; so do we. The layer
			// object then holds the inner header, so its addresses are
			// reported: rare enough not to keep a second set of layers.
			upper, inner6, ipPayload = d.ip4.Protocol, false, d.ip4.Payload
			// A fragment ends the parse, so this is the header that
			// fragments, also when it is inside an IPv6 tunnel.
			if d.ip4.Flags&layers.IPv4MoreFragments != 0 || d.ip4.FragOffset != 0 {
				p.Fragment = true
				p.NonFirstFragment = d.ip4.FragOffset != 0
				fragPayload = d.ip4.Payload
			}
			if ipSeen {
				continue
			}
			ipSeen = true
			p.L3, p.TTL = L3IPv4, d.ip4.TTL
			setMapped4(&p.Src, d.ip4.SrcIP)
			setMapped4(&p.Dst, d.ip4.DstIP)
		case layers.LayerTypeIPv6:
			upper, inner6, ipPayload = d.ip6.NextHeader, true, d.ip6.Payload
			if d.ip6.HopByHop != nil {
				upper = d.ip6.HopByHop.NextHeader
			}
			if ipSeen {
				continue
			}
			ipSeen = true
			p.L3, p.TTL = L3IPv6, d.ip6.HopLimit
			copy(p.Src[:], d.ip6.SrcIP)
			copy(p.Dst[:], d.ip6.DstIP)
		case layers.LayerTypeIPv6HopByHop, layers.LayerTypeIPv6Routing, layers.LayerTypeIPv6Destination:
			upper, ipPayload = d.ip6ext.NextHeader, d.ip6ext.Payload
		case layers.LayerTypeIPv6Fragment:
			upper, ipPayload = d.ip6frag.NextHeader, d.ip6frag.Payload
			p.Fragment = true
			p.NonFirstFragment = p.NonFirstFragment || d.ip6frag.FragmentOffset != 0
			fragPayload = d.ip6frag.Payload
		case layers.LayerTypeIPSecAH:
			upper, ipPayload = d.ah.NextHeader, d.ah.Payload
		case layers.LayerTypeTCP:
			p.SrcPort, p.DstPort = uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort)
			p.TCPFlags = tcpFlags(d.tcp.Contents)
			p.TCPWindow = d.tcp.Window
			p.Payload = tcpPayload(p, d.tcp.Payload)
			p.HTTPMethod = httpMethod(d.tcp.Payload)
			p.SSH = sshBanner(d.tcp.Payload)
			p.SSHNewKeys = sshNewKeys(d.tcp.Payload)
			p.TLSSetup = tlsSetup(d.tcp.Payload)
			p.AuthRefused, p.AuthAccepted = authAnswer(d.tcp.Payload)
			d.finishL4(p, upper, inner6, d.tcp.Payload)
			return
		case layers.LayerTypeUDP:
			p.SrcPort, p.DstPort = uint16(d.udp.SrcPort), uint16(d.udp.DstPort)
			p.Payload = uint32(len(d.udp.Payload))
			if d.udp.Length >= 8 {
				p.Payload = uint32(d.udp.Length) - 8
			}
			d.finishL4(p, upper, inner6, d.udp.Payload)
			return
		case layers.LayerTypeICMPv4:
			p.ICMPType, p.ICMPCode = d.icmp4.TypeCode.Type(), d.icmp4.TypeCode.Code()
			p.Payload = uint32(len(d.icmp4.Payload))
			if p.ICMPType == 8 || p.ICMPType == 0 {
				p.DataHash = echoData(d.icmp4.Payload)
			}
			d.finishL4(p, upper, inner6, nil)
			refusal(p, d.icmp4.Payload)
			return
		case layers.LayerTypeICMPv6:
			p.ICMPType, p.ICMPCode = d.icmp6.TypeCode.Type(), d.icmp6.TypeCode.Code()
			p.Payload = uint32(len(d.icmp6.Payload))
			if (p.ICMPType == 128 || p.ICMPType == 129) && len(d.icmp6.Payload) >= 4 {
				p.DataHash = echoData(d.icmp6.Payload[4:]) // past the identifier and sequence number
			}
			d.finishL4(p, upper, inner6, nil)
			refusal(p, d.icmp6.Payload[min(4, len(d.icmp6.Payload)):])
			neighbourClaim(p, d.icmp6.Payload)
			return
		}
	}
	if !ipSeen {
		d.rarp(p)
		return
	}
	// The parser stopped before a layer-4 header: a fragment, a protocol we
	// do not decode, or a malformed header. The protocol still comes from
	// the IP header, as tshark reports it.
	d.finishL4(p, upper, inner6, nil)
	switch {
	case p.Fragment && !p.NonFirstFragment:
		// A first fragment carries the layer-4 header: read what it has.
		d.firstFragmentL4(p, fragPayload)
	case !p.Fragment && upper == 132:
		sctp(p, ipPayload)
	}
}

// sctp reads an SCTP packet's ports and the type of its first chunk from
// l4, the IP payload, and reports whether its 12-byte common header was
// there. SCTP is not one of the protocols counted by name, but its
// associations open as TCP's connections do: an INIT answered by an INIT
// ACK, or refused by an ABORT (RFC 9260), so nmap's INIT scan (-sY) is a
// scan of ports.
func sctp(p *PacketInfo, l4 []byte) bool {
	if len(l4) < 12 {
		return false
	}
	p.SrcPort, p.DstPort = binary.BigEndian.Uint16(l4[0:2]), binary.BigEndian.Uint16(l4[2:4])
	if len(l4) > 12 {
		p.SCTPChunk = l4[12]
	}
	return true
}

// finishL4 sets the protocol, application and DNS fields once the layer-4
// header is known; payload is what follows a TCP or UDP header.
// ICMP counts as icmp only behind IPv4 and icmpv6 only behind IPv6, as in
// tshark: nmap's protocol scan sends protocol 58 over IPv4.
func (d *Decoder) finishL4(p *PacketInfo, upper layers.IPProtocol, v6 bool, payload []byte) {
	p.IPProto = uint8(upper)
	proto := protocolOf(upper, v6)
	if p.Fragment {
		p.FragmentProto = proto
	}
	if p.NonFirstFragment {
		// No layer-4 header in this frame: tshark shows it as bare IP.
		p.Proto = ProtoOther
		return
	}
	p.Proto = proto
	if p.Proto == ProtoTCP || p.Proto == ProtoUDP {
		p.App = classifyApp(p.Proto, p.SrcPort, p.DstPort)
		// Not p.App == AppDNS: a reflected response from port 53 to the
		// victim's port 80 is still DNS.
		if p.SrcPort == 53 || p.DstPort == 53 {
			d.dns(p, payload)
		}
		if p.Proto == ProtoUDP && !v6 && dhcpPorts(p.SrcPort, p.DstPort) {
			dhcp(p, payload)
		}
		if p.Proto == ProtoUDP && v6 && (p.DstPort == 547 || p.SrcPort == 547) {
			dhcp6(p, payload)
		}
		if p.Proto == ProtoUDP && p.DstPort == 161 {
			p.DataHash = snmpCommunity(payload)
		}
	}
}

// dhcp6 reads a DHCPv6 message on the server port: its type, as
// PacketInfo.DHCPOp (a client's request, a server's reply; a relay
// agent's forwarding is relayed), and the client identifier option's
// DUID as DHCPClient: the MAC a link-layer DUID holds, or else 6 bytes of
// a hash of the DUID. Only the first 8 options are looked through.
func dhcp6(p *PacketInfo, b []byte) {
	if len(b) < 4 {
		return
	}
	switch b[0] {
	case 1, 3, 4, 5, 6, 8, 9, 11: // Solicit, Request, Confirm, Renew, Rebind, Release, Decline, Information-request
		if p.DstPort != 547 {
			return
		}
		p.DHCPOp = DHCPRequest
	case 2, 7: // Advertise, Reply
		if p.SrcPort != 547 {
			return
		}
		p.DHCPOp = DHCPReply
		return
	case 12: // Relay-forward
		if p.DstPort == 547 {
			p.DHCPOp, p.DHCPRelayed = DHCPRequest, true
		}
		return
	default:
		return
	}
	opts := b[4:]
	for range 8 {
		if len(opts) < 4 {
			return
		}
		code, n := binary.BigEndian.Uint16(opts[0:2]), int(binary.BigEndian.Uint16(opts[2:4]))
		if len(opts) < 4+n {
			return
		}
		if code == 1 {
			p.DHCPClient = duidClient(opts[4 : 4+n])
			return
		}
		opts = opts[4+n:]
	}
}

// duidClient is the client a DUID names: the Ethernet address of a
// link-layer DUID (type 1 with a time, type 3 without; hardware type 1),
// or 6 bytes of a hash of the DUID.
func duidClient(d []byte) (m [6]byte) {
	if len(d) >= 4 && binary.BigEndian.Uint16(d[2:4]) == 1 {
		switch binary.BigEndian.Uint16(d[0:2]) {
		case 1:
			if len(d) == 14 {
				copy(m[:], d[8:14])
				return m
			}
		case 3:
			if len(d) == 10 {
				copy(m[:], d[4:10])
				return m
			}
		}
	}
	h := fnv1a(d)
	binary.BigEndian.PutUint16(m[0:2], uint16(h>>48))
	binary.BigEndian.PutUint32(m[2:6], uint32(h))
	return m
}

// echoData hashes an echo's data b (what follows the identifier and
// sequence number) past its first 16 bytes, up to 48 bytes; 0 when there
// are none.
func echoData(b []byte) uint32 {
	if len(b) <= 16 {
		return 0
	}
	return max(uint32(fnv1a(b[16:min(len(b), 64)])), 1)
}

// snmpCommunity hashes the community of an SNMPv1 or v2c message b (RFC
// 1157, 3416: a BER SEQUENCE of the version, 0 or 1, the community as an
// OCTET STRING, then the PDU); 0 for anything else, SNMPv3 included.
// Definite lengths only, each within b.
func snmpCommunity(b []byte) uint32 {
	if len(b) < 2 || b[0] != 0x30 {
		return 0
	}
	i := 2
	switch {
	case b[1] == 0x81:
		i = 3
	case b[1] == 0x82:
		i = 4
	case b[1] >= 0x80:
		return 0
	}
	if len(b) < i+5 || b[i] != 0x02 || b[i+1] != 0x01 || b[i+2] > 1 || b[i+3] != 0x04 {
		return 0
	}
	n, c := int(b[i+4]), b[i+5:]
	if n >= 0x80 || n > len(c) {
		return 0
	}
	return max(uint32(fnv1a(c[:n])), 1)
}

// fnv1a is the 64-bit FNV-1a hash of b, for the few bytes the decoder
// tells apart (an echo's data, a DUID) without a copy.
func fnv1a(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h
}

// dhcpPorts reports whether a UDP datagram goes between the DHCP ports:
// client to server (68 to 67), server to client (67 to 68), or a relay
// agent's (67 to 67).
func dhcpPorts(src, dst uint16) bool {
	return (src == 67 || src == 68) && (dst == 67 || dst == 68) && !(src == 68 && dst == 68)
}

// dhcp reads the fixed BOOTP header of a UDP payload b on the DHCP ports:
// op, gateway address and client hardware address. Anything else, or too
// short a header to hold the hardware address, is not taken for DHCP.
func dhcp(p *PacketInfo, b []byte) {
	const chaddr = 28 // op, htype, hlen, hops, xid, secs, flags, four addresses
	if len(b) < chaddr+16 || b[0] != DHCPRequest && b[0] != DHCPReply {
		return
	}
	// A request comes from a client's port 68 or a relay agent's 67, and
	// goes to a server's 67; a reply comes from a server's 67.
	if b[0] == DHCPRequest && p.DstPort != 67 || b[0] == DHCPReply && p.SrcPort != 67 {
		return
	}
	p.DHCPOp = b[0]
	p.DHCPRelayed = binary.BigEndian.Uint32(b[24:28]) != 0
	if b[1] == 1 && b[2] == 6 { // Ethernet, 6-byte addresses
		copy(p.DHCPClient[:], b[chaddr:chaddr+6])
	}
}

// ethertypeRARP is reverse ARP, which gopacket does not map to a layer but
// which has the ARP packet format; tshark counts it as ARP.
const ethertypeRARP = 0x8035

// rarp decodes a reverse ARP frame that the parser stopped at.
func (d *Decoder) rarp(p *PacketInfo) {
	if len(d.decoded) == 0 {
		return
	}
	var et layers.EthernetType
	var payload []byte
	switch d.decoded[len(d.decoded)-1] {
	case layers.LayerTypeEthernet:
		et, payload = d.eth.EthernetType, d.eth.Payload
	case layers.LayerTypeDot1Q:
		et, payload = d.dot1q.Type, d.dot1q.Payload
	case layers.LayerTypeLinuxSLL:
		et, payload = d.sll.EthernetType, d.sll.Payload
	case layers.LayerTypeLinuxSLL2:
		et, payload = d.sll2.ProtocolType, d.sll2.Payload
	default:
		return
	}
	if et != ethertypeRARP {
		return
	}
	p.L3, p.Proto = L3ARP, ProtoARP
	if d.arp.DecodeFromBytes(payload, gopacket.NilDecodeFeedback) != nil {
		d.Errors[LayerNetwork]++
		return
	}
	p.ARPOp = d.arp.Operation
}

// protocolOf maps an IP protocol number to its label.
func protocolOf(upper layers.IPProtocol, v6 bool) Protocol {
	switch {
	case upper == layers.IPProtocolTCP:
		return ProtoTCP
	case upper == layers.IPProtocolUDP:
		return ProtoUDP
	case upper == layers.IPProtocolICMPv4 && !v6:
		return ProtoICMP
	case upper == layers.IPProtocolICMPv6 && v6:
		return ProtoICMPv6
	}
	return ProtoOther
}

// firstFragmentL4 reads ports and flags from a first fragment, whose
// layer-4 header the parser does not follow.
func (d *Decoder) firstFragmentL4(p *PacketInfo, payload []byte) {
	switch p.Proto {
	case ProtoTCP, ProtoUDP:
		if len(payload) >= 4 {
			p.SrcPort = binary.BigEndian.Uint16(payload[0:2])
			p.DstPort = binary.BigEndian.Uint16(payload[2:4])
			p.App = classifyApp(p.Proto, p.SrcPort, p.DstPort)
		}
		// The flags count only in a header with a valid data offset, as
		// in an unfragmented segment.
		if p.Proto == ProtoTCP && len(payload) >= 14 && payload[12]>>4 >= 5 {
			p.TCPFlags = payload[13]
			if len(payload) >= 16 {
				p.TCPWindow = uint16(payload[14])<<8 | uint16(payload[15])
			}
		}
		// A large DNS response is fragmented: its header is in the first
		// fragment, behind the UDP header.
		if p.Proto == ProtoUDP && (p.SrcPort == 53 || p.DstPort == 53) && len(payload) >= 8+12 {
			d.dns(p, payload[8:])
		}
	case ProtoICMP, ProtoICMPv6:
		if len(payload) >= 2 {
			p.ICMPType, p.ICMPCode = payload[0], payload[1]
		}
	case ProtoOther:
		if p.IPProto == 132 {
			sctp(p, payload)
		}
	}
}

// dns reads the fixed 12-byte DNS header of a UDP or TCP payload b on port
// 53. Only the header is read, so no name parsing can be abused.
func (d *Decoder) dns(p *PacketInfo, b []byte) {
	if p.Proto == ProtoTCP {
		if len(b) == 0 {
			return // handshake or ack: no DNS message
		}
		if len(b) < 2 {
			d.Errors[LayerApplication]++
			return
		}
		b = b[2:] // DNS over TCP has a 2-byte length prefix
	}
	if len(b) < 12 {
		d.Errors[LayerApplication]++
		return
	}
	p.DNS = true
	p.DNSResponse = b[2]&0x80 != 0
	p.DNSRcode = b[3] & 0x0f
	p.DNSQueries = binary.BigEndian.Uint16(b[4:6])
	p.DNSAnswers = binary.BigEndian.Uint16(b[6:8])
	if p.DNSQueries > 0 && !p.DNSResponse {
		// The name of a query: an answer repeats it.
		dnsQuestion(p, b[12:])
	}
}

// dnsQuestion reads the first question's name from b, the bytes after
// the DNS header: its length, longest label, character entropy and type.
// Tunnels carry data in long, random-looking names. Labels only: a
// compression pointer or a label running past the capture ends the name,
// and the type is read only when the whole name was.
func dnsQuestion(p *PacketInfo, b []byte) {
	var counts [256]uint8 // at most 255 characters: no overflow
	n, chars, longest, i := 0, 0, 0, 0
	complete := false
	for i < len(b) {
		l := int(b[i])
		if l == 0 {
			complete = true
			i++
			break
		}
		if l&0xc0 != 0 || i+1+l > len(b) || n+l+1 > 255 {
			break
		}
		for _, c := range b[i+1 : i+1+l] {
			counts[c]++
		}
		if n > 0 {
			n++ // the dot
		}
		n += l
		chars += l
		longest = max(longest, l)
		i += 1 + l
	}
	p.DNSNameLen = uint8(n)
	p.DNSLabelMax = uint8(longest)
	if chars > 0 {
		// H = log2(n) - sum(c log2 c)/n over the distinct characters, each
		// visited once through the name itself: no pass over 256 counts.
		sum := 0.0
		for _, c := range b[:i] {
			if k := counts[c]; k != 0 {
				sum += xlog2x[k]
				counts[c] = 0
			}
		}
		// The length bytes were counted as characters of no label: they
		// are not in counts unless a label holds the same byte value, in
		// which case the loop above took that character's count once.
		h := math.Log2(float64(chars)) - sum/float64(chars)
		p.DNSNameEntropy = uint8(math.Round(max(h, 0) * 16))
	}
	if complete && i+2 <= len(b) {
		p.DNSQType = binary.BigEndian.Uint16(b[i : i+2])
	}
}

// xlog2x[k] is k*log2(k).
var xlog2x = func() (t [256]float64) {
	for k := 1; k < 256; k++ {
		t[k] = float64(k) * math.Log2(float64(k))
	}
	return t
}()

// httpMethod recognises the method an HTTP/1 request starts with.
func httpMethod(b []byte) HTTPMethod {
	if len(b) < 4 {
		return HTTPNone
	}
	switch string(b[:4]) {
	case "GET ":
		return HTTPGet
	case "POST":
		return HTTPPost
	case "HEAD", "PUT ", "DELE", "OPTI", "PATC", "CONN":
		return HTTPOther
	}
	return HTTPNone
}

// authRefused recognises a server's answer refusing the credentials a
// client sent, in the protocols that say so in the clear at the start of
// a segment, whatever the port:
//   - HTTP/1: status 401 (Unauthorized) or 407 (Proxy Authentication
//     Required);
//   - Redis: -WRONGPASS (6.0 and later), -ERR invalid password;
//   - SMTP: 535, authentication credentials invalid (RFC 4954); FTP: 530,
//     not logged in (RFC 959);
//   - POP3: -ERR [AUTH] (RFC 3206); IMAP: a tagged NO
//     [AUTHENTICATIONFAILED] (RFC 5530);
//   - MySQL: an ERR packet of error 1045, access denied;
//   - PostgreSQL: an ErrorResponse of SQLSTATE 28P01 (invalid password)
//     or 28000 (invalid authorization);
//   - LDAP: a bind response of result 49, invalid credentials (RFC 4511).
//
// A request refused for want of credentials (Redis -NOAUTH) is no guess.
func authRefused(b []byte) bool {
	if len(b) < 5 {
		return false
	}
	if len(b) >= 7 && b[2] == 0 && b[3] <= 4 && b[4] == 0xff && b[5] == 0x15 && b[6] == 0x04 {
		// A MySQL packet: a 3-byte length (any first byte, 'H' for 72),
		// the login exchange's sequence number (the server's greeting 0,
		// the client's answer 1, an authentication switch 2 and 3), ERR,
		// error 1045.
		return true
	}
	switch b[0] {
	case 'H':
		if len(b) < 12 || string(b[:7]) != "HTTP/1." || b[8] != ' ' {
			return false
		}
		if len(b) > 12 && b[12] != ' ' && b[12] != '\r' {
			return false // a longer status code
		}
		code := string(b[9:12])
		return code == "401" || code == "407"
	case '-':
		return hasPrefix(b, "-WRONGPASS") || hasPrefix(b, "-ERR invalid password") || hasPrefix(b, "-ERR [AUTH]")
	case '5':
		return (hasPrefix(b, "535") || hasPrefix(b, "530")) && (b[3] == ' ' || b[3] == '-')
	case 'E':
		// Type, a 4-byte length, then fields, each a code byte and a
		// string ending in 0: severity first, the SQLSTATE (C) after.
		f := b[5:min(len(b), 64)]
		return bytes.Contains(f, []byte("\x00C28P01\x00")) || bytes.Contains(f, []byte("\x00C28000\x00"))
	case 0x30:
		code, ok := ldapBindResult(b)
		return ok && code == 49
	}
	// IMAP: a tag of letters and digits, then the refusal.
	if c := b[0] | 0x20; c < 'a' || c > 'z' {
		if b[0] < '0' || b[0] > '9' {
			return false
		}
	}
	if i := bytes.IndexByte(b[:min(len(b), 24)], ' '); i > 0 {
		return hasPrefix(b[i+1:], "NO [AUTHENTICATIONFAILED]")
	}
	return false
}

// authAnswer reads a server's answer to a login at the start of a TCP
// payload b: refused (see authRefused) or accepted (see authAccepted).
func authAnswer(b []byte) (refused, accepted bool) {
	if authRefused(b) {
		return true, false
	}
	return false, authAccepted(b)
}

// authAccepted recognises a server's answer accepting the credentials a
// client sent, in the protocols whose answer says so unmistakably in the
// clear: SMTP 235 (RFC 4954), FTP 230 (RFC 959), PostgreSQL's
// AuthenticationOk, MySQL's OK closing the login exchange (sequence 2,
// or 3 after a fast authentication), an LDAP bind's result 0.
func authAccepted(b []byte) bool {
	if len(b) < 5 {
		return false
	}
	if len(b) >= 11 && b[0] < 64 && b[1] == 0 && b[2] == 0 && (b[3] == 2 || b[3] == 3) && b[4] == 0 && int(b[0]) == len(b)-4 {
		return true // a MySQL OK packet: a short 3-byte length, the sequence, 0x00
	}
	switch b[0] {
	case '2':
		return (hasPrefix(b, "235") || hasPrefix(b, "230")) && (b[3] == ' ' || b[3] == '-')
	case 'R':
		return len(b) >= 9 && string(b[1:9]) == "\x00\x00\x00\x08\x00\x00\x00\x00"
	case 0x30:
		code, ok := ldapBindResult(b)
		return ok && code == 0
	}
	return false
}

// hasPrefix is bytes.HasPrefix for a string prefix, without converting.
func hasPrefix(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[:len(s)]) == s
}

// ldapBindResult reads the result code of an LDAP message holding a bind
// response (0 success, 49 invalidCredentials): a BER SEQUENCE of the
// message ID and a [APPLICATION 1] whose first element is the result
// code, an ENUMERATED of one byte.
func ldapBindResult(b []byte) (int, bool) {
	// berLen skips a tag and its definite length at b[i:], returning the
	// offset of the contents and their length.
	berLen := func(i int) (int, int, bool) {
		if i+2 > len(b) {
			return 0, 0, false
		}
		l := int(b[i+1])
		if l < 0x80 {
			return i + 2, l, true
		}
		// The long form, up to 4 length bytes (Active Directory
		// always uses 4).
		m := l & 0x7f
		if m == 0 || m > 4 || i+2+m > len(b) {
			return 0, 0, false
		}
		n := 0
		for _, c := range b[i+2 : i+2+m] {
			n = n<<8 | int(c)
		}
		return i + 2 + m, n, true
	}
	i, _, ok := berLen(0) // the SEQUENCE
	if !ok || i >= len(b) || b[i] != 0x02 {
		return 0, false
	}
	j, n, ok := berLen(i) // the message ID
	if !ok || j+n >= len(b) || b[j+n] != 0x61 {
		return 0, false
	}
	k, _, ok := berLen(j + n) // the bind response
	if !ok || k+3 > len(b) || b[k] != 0x0a || b[k+1] != 0x01 {
		return 0, false
	}
	return int(b[k+2]), true
}

// tlsSetup recognises a TLS record that sets a connection up: a
// handshake (content type 22) or change cipher spec (20) of TLS 1.x (RFC
// 8446, 5.1). A request and its answer travel in application data (23).
func tlsSetup(b []byte) bool {
	return len(b) >= 3 && (b[0] == 22 || b[0] == 20) && b[1] == 3 && b[2] <= 4
}

// sshBanner recognises the identification string every SSH peer sends
// first (RFC 4253, 4.2).
func sshBanner(b []byte) bool {
	return len(b) >= 4 && string(b[:4]) == "SSH-"
}

// tcpPayload is a TCP segment's payload length: what the capture holds of
// it and what the capture cut off the frame (a snap length), which is
// all payload once the headers were read. Never more than the frame.
func tcpPayload(p *PacketInfo, captured []byte) uint32 {
	return uint32(len(captured)) + p.WireLen - min(p.WireLen, p.CapLen)
}

// sshNewKeys recognises an SSH_MSG_NEWKEYS packet at the start of a TCP
// payload (RFC 4253, 6 and 7.3): a binary packet whose length is its
// padding's plus 2 (the padding length byte and the message number 21),
// with at least 4 bytes of padding.
func sshNewKeys(b []byte) bool {
	return len(b) >= 16 && b[5] == 21 && b[4] >= 4 && binary.BigEndian.Uint32(b[:4]) == 2+uint32(b[4])
}

// tcpFlags returns the 8 classic flag bits from a TCP header.
func tcpFlags(h []byte) uint8 {
	if len(h) < 14 {
		return 0
	}
	return h[13]
}

// setMapped4 writes the 4-byte IPv4 address b into a as IPv4-mapped IPv6,
// in place: this runs twice per packet.
func setMapped4(a *[16]byte, b []byte) {
	if len(b) != 4 {
		*a = [16]byte{}
		return
	}
	binary.LittleEndian.PutUint64(a[0:8], 0)
	binary.LittleEndian.PutUint64(a[8:16], uint64(0xffff)<<16|uint64(binary.LittleEndian.Uint32(b))<<32)
}
