package evidence

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
)

// Frames for the tests, built with gopacket's layers.

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
)

func v4(a, b, c, d byte) [16]byte {
	return [16]byte{10: 0xff, 11: 0xff, 12: a, 13: b, 14: c, 15: d}
}

func v6(s string) [16]byte { return netip.MustParseAddr(s).As16() }

func isV4(a [16]byte) bool { return netip.AddrFrom16(a).Is4In6() }

func addrString(a [16]byte) string { return netip.AddrFrom16(a).Unmap().String() }

// ipOf is an address as gopacket's layers want it.
func ipOf(a [16]byte) net.IP {
	if isV4(a) {
		return net.IP(a[12:16])
	}
	return net.IP(a[:])
}

// flipAddr is the tests' anonymizer: it inverts the host's bits, an IPv4
// address staying IPv4-mapped, so the result is known and never the input.
func flipAddr(a [16]byte) [16]byte {
	from := 0
	if isV4(a) {
		from = 12
	}
	for i := from; i < 16; i++ {
		a[i] ^= 0xff
	}
	return a
}

func serialize(tb testing.TB, ls ...gopacket.SerializableLayer) []byte {
	tb.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		tb.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

// ipLayer returns an IPv4 or IPv6 header for src and dst.
func ipLayer(src, dst [16]byte, proto layers.IPProtocol) (gopacket.SerializableLayer, gopacket.NetworkLayer) {
	if isV4(src) {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 7, Protocol: proto, SrcIP: ipOf(src), DstIP: ipOf(dst)}
		return ip, ip
	}
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: ipOf(src), DstIP: ipOf(dst)}
	return ip, ip
}

// tcpPacket is an IP/TCP SYN with payload bytes, from the network layer.
func tcpPacket(tb testing.TB, src, dst [16]byte, payload int) []byte {
	ip, nl := ipLayer(src, dst, layers.IPProtocolTCP)
	t := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 1, SYN: true, Window: 1024}
	t.SetNetworkLayerForChecksum(nl)
	return serialize(tb, ip, t, gopacket.Payload(bytes.Repeat([]byte{0x5a}, payload)))
}

// udpPacket is an IP/UDP datagram, from the network layer.
func udpPacket(tb testing.TB, src, dst [16]byte, payload int) []byte {
	ip, nl := ipLayer(src, dst, layers.IPProtocolUDP)
	u := &layers.UDP{SrcPort: 5353, DstPort: 53}
	u.SetNetworkLayerForChecksum(nl)
	return serialize(tb, ip, u, gopacket.Payload(bytes.Repeat([]byte{0x5a}, payload)))
}

// ether wraps a packet of Ethernet type et in Ethernet with the given
// VLAN tags (their TPIDs, outermost first).
func ether(tb testing.TB, et uint16, pkt []byte, tpids ...uint16) []byte {
	tb.Helper()
	var ls []gopacket.SerializableLayer
	outer := et
	if len(tpids) > 0 {
		outer = tpids[0]
	}
	ls = append(ls, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetType(outer)})
	for i := range tpids {
		next := et
		if i+1 < len(tpids) {
			next = tpids[i+1]
		}
		ls = append(ls, &layers.Dot1Q{VLANIdentifier: uint16(100 + i), Type: layers.EthernetType(next)})
	}
	ls = append(ls, gopacket.Payload(pkt))
	return serialize(tb, ls...)
}

// arpBody is an ARP request from sender to target, without link header.
func arpBody(tb testing.TB, sender, target [16]byte) []byte {
	return serialize(tb, &layers.ARP{
		AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: layers.ARPRequest, SourceHwAddress: macA, SourceProtAddress: sender[12:], DstHwAddress: make([]byte, 6), DstProtAddress: target[12:],
	})
}

// onLink wraps a network packet (or ARP body, with et) in the header of a
// link type.
func onLink(tb testing.TB, link uint16, pkt []byte, et uint16) []byte {
	tb.Helper()
	var hdr []byte
	switch link {
	case decode.LinkEthernet:
		return ether(tb, et, pkt)
	case decode.LinkSLL:
		hdr = make([]byte, 16)
		binary.BigEndian.PutUint16(hdr[2:], 1) // ARPHRD_ETHER
		binary.BigEndian.PutUint16(hdr[4:], 6)
		copy(hdr[6:], macA)
		binary.BigEndian.PutUint16(hdr[14:], et)
	case decode.LinkSLL2:
		hdr = make([]byte, 20)
		binary.BigEndian.PutUint16(hdr[0:], et)
		binary.BigEndian.PutUint32(hdr[4:], 2) // interface index
		binary.BigEndian.PutUint16(hdr[8:], 1)
		hdr[11] = 6
		copy(hdr[12:], macA)
	case decode.LinkNull: // little endian, as captured on x86
		hdr = binary.LittleEndian.AppendUint32(nil, map[uint16]uint32{etherIPv4: 2, etherIPv6: 30}[et])
	case decode.LinkLoop:
		hdr = binary.BigEndian.AppendUint32(nil, map[uint16]uint32{etherIPv4: 2, etherIPv6: 24}[et])
	}
	return append(hdr, pkt...)
}

// tcp4Frame is an Ethernet/IPv4/TCP frame with payload bytes.
func tcp4Frame(tb testing.TB, src, dst [16]byte, payload int) []byte {
	return ether(tb, etherIPv4, tcpPacket(tb, src, dst, payload))
}
