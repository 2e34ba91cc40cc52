package evidence

import (
	"encoding/binary"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
)

// Ethernet types and IP protocol numbers the rewriter knows.
const (
	etherIPv4    = 0x0800
	etherARP     = 0x0806
	etherRARP    = 0x8035
	etherIPv6    = 0x86dd
	etherVLAN    = 0x8100
	etherQinQ    = 0x88a8
	etherQinQOld = 0x9100 // pre-802.1ad QinQ, still common

	protoHopByHop = 0
	protoICMP     = 1
	protoIGMP     = 2
	protoTCP      = 6
	protoUDP      = 17
	protoRouting  = 43
	protoFragment = 44
	protoAH       = 51
	protoICMPv6   = 58
	protoDstOpts  = 60
	protoSCTP     = 132
	protoUDPLite  = 136

	icmpRedirect = 5
	tcpOptMPTCP  = 30 // its ADD_ADDR carries an address

	maxVLANTags  = 8
	maxIPv6Hdrs  = 8
	afInet       = 2
	ipv4MinHdr   = 20
	ipv6Hdr      = 40
	ipv4Checksum = 10
)

// anonymizable reports whether rewrite can find the addresses of frames of
// this link type.
func anonymizable(link uint16) bool {
	switch link {
	case decode.LinkEthernet, decode.LinkSLL, decode.LinkSLL2, decode.LinkNull, decode.LinkLoop,
		decode.LinkRaw, decode.LinkRawBSD, decode.LinkRawOBSD, decode.LinkIPv4, decode.LinkIPv6:
		return true
	}
	return false
}

// rewrite passes every IPv4 and IPv6 source and destination address and
// ARP protocol address in the frame b, of link type link, through fn, in
// place, and fixes the IPv4 header checksum. It returns how many bytes of
// b to keep: the headers up to the end of the transport header, for what
// follows may hold addresses (ICMP errors quote a header, DNS answers and
// IPv6 routing headers list some). ok is false when the addresses cannot
// be found: an unknown link or network type, or headers cut short. Then b
// may be partly rewritten and must not be written out.
//
// IPv4 options are replaced by no-operation options (record route,
// timestamp and source route options hold addresses), and so are TCP
// multipath options (ADD_ADDR holds one). Transport checksums, which cover
// the addresses, are left as they were and so are usually wrong.
func rewrite(link uint16, b []byte, fn func([16]byte) [16]byte) (keep int, ok bool) {
	off, et, ok := network(link, b)
	if !ok {
		return 0, false
	}
	switch et {
	case etherIPv4:
		return rewriteIPv4(b, off, fn)
	case etherIPv6:
		return rewriteIPv6(b, off, fn)
	case etherARP, etherRARP:
		return rewriteARP(b, off, fn)
	}
	return 0, false
}

// network finds the network header of a frame: its offset and its type as
// an Ethernet type.
func network(link uint16, b []byte) (off int, et uint16, ok bool) {
	switch link {
	case decode.LinkEthernet:
		if len(b) < 14 {
			return 0, 0, false
		}
		off, et = 14, be16(b[12:])
	case decode.LinkSLL:
		if len(b) < 16 {
			return 0, 0, false
		}
		off, et = 16, be16(b[14:])
	case decode.LinkSLL2:
		if len(b) < 20 {
			return 0, 0, false
		}
		off, et = 20, be16(b[0:])
	case decode.LinkNull, decode.LinkLoop:
		if len(b) < 4 {
			return 0, 0, false
		}
		// LOOP is big endian; NULL is in the byte order of the machine
		// that captured, and the family numbers are small either way.
		af := binary.BigEndian.Uint32(b)
		if link == decode.LinkNull && af > 0xffff {
			af = binary.LittleEndian.Uint32(b)
		}
		switch af {
		case afInet:
			return 4, etherIPv4, true
		case 10, 24, 28, 30: // AF_INET6 of Linux, Net/OpenBSD, FreeBSD, Darwin
			return 4, etherIPv6, true
		}
		return 0, 0, false
	case decode.LinkIPv4:
		return 0, etherIPv4, true
	case decode.LinkIPv6:
		return 0, etherIPv6, true
	case decode.LinkRaw, decode.LinkRawBSD, decode.LinkRawOBSD:
		if len(b) == 0 {
			return 0, 0, false
		}
		switch b[0] >> 4 {
		case 4:
			return 0, etherIPv4, true
		case 6:
			return 0, etherIPv6, true
		}
		return 0, 0, false
	default:
		return 0, 0, false
	}
	for range maxVLANTags {
		if et != etherVLAN && et != etherQinQ && et != etherQinQOld {
			return off, et, true
		}
		if len(b) < off+4 {
			return 0, 0, false
		}
		et = be16(b[off+2:])
		off += 4
	}
	return 0, 0, false
}

func rewriteIPv4(b []byte, off int, fn func([16]byte) [16]byte) (int, bool) {
	if len(b) < off+ipv4MinHdr || b[off]>>4 != 4 || b[off]&0xf < 5 {
		return 0, false
	}
	h := b[off:]
	hl := int(h[0]&0xf) * 4
	// Addresses and options: from byte 12 to the end of the header, or of
	// the capture when the options are cut short.
	changed := h[12:min(hl, len(h))]
	before := onesSum(changed)
	anon4(h[12:16], fn)
	anon4(h[16:20], fn)
	for i := ipv4MinHdr; i < min(hl, len(h)); i++ {
		h[i] = 1 // no-operation
	}
	// RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'): a checksum that was right
	// stays right, a wrong one (forged, or offloaded) stays wrong.
	hc := be16(h[ipv4Checksum:])
	hc = ^fold(uint32(^hc) + uint32(^before) + uint32(onesSum(changed)))
	binary.BigEndian.PutUint16(h[ipv4Checksum:], hc)
	if hl > len(h) {
		return len(b), true
	}
	if be16(h[6:])&0x1fff != 0 { // a later fragment: no transport header
		return off + hl, true
	}
	return transportEnd(h[9], b, off+hl, fn), true
}

func rewriteIPv6(b []byte, off int, fn func([16]byte) [16]byte) (int, bool) {
	if len(b) < off+ipv6Hdr || b[off]>>4 != 6 {
		return 0, false
	}
	anon6(b[off+8:off+24], fn)
	anon6(b[off+24:off+40], fn)
	next, p := b[off+6], off+ipv6Hdr
	for range maxIPv6Hdrs {
		var size int
		switch next {
		case protoHopByHop, protoAH:
			// Their options hold no address.
			if len(b) < p+2 {
				return len(b), true
			}
			if size = (int(b[p+1]) + 1) * 8; next == protoAH {
				size = (int(b[p+1]) + 2) * 4
			}
		case protoFragment:
			if len(b) < p+8 {
				return len(b), true
			}
			if be16(b[p+2:])&0xfff8 != 0 { // a later fragment
				return p + 8, true
			}
			size = 8
		default:
			// Routing and destination options headers (and mobility
			// ones) can list addresses: cut there, as at a payload.
			return transportEnd(next, b, p, fn), true
		}
		next = b[p]
		if p += size; p >= len(b) {
			return len(b), true
		}
	}
	return p, true
}

func rewriteARP(b []byte, off int, fn func([16]byte) [16]byte) (int, bool) {
	if len(b) < off+8 {
		return 0, false
	}
	a := b[off:]
	hlen, plen := int(a[4]), int(a[5])
	if be16(a[2:]) != etherIPv4 || plen != 4 {
		return 0, false
	}
	end := 8 + 2*hlen + 2*plen
	if len(a) < end {
		return 0, false
	}
	anon4(a[8+hlen:], fn)
	anon4(a[8+2*hlen+plen:], fn)
	return off + end, true
}

// transportEnd returns where the kept bytes end for a transport header of
// protocol proto at p: after the header for the protocols known to carry
// no address in it, at p for the others (tunnels, routing headers).
func transportEnd(proto uint8, b []byte, p int, fn func([16]byte) [16]byte) int {
	end := p
	switch proto {
	case protoTCP:
		if len(b) < p+13 {
			return len(b) // the fixed header holds no address
		}
		doff := int(b[p+12]>>4) * 4
		end = p + max(doff, 20)
		scrubTCPOptions(b[min(p+20, len(b)):min(end, len(b))])
	case protoICMP:
		if len(b) >= p+1 && b[p] == icmpRedirect {
			if len(b) < p+8 {
				return min(p+4, len(b)) // the gateway is cut short
			}
			anon4(b[p+4:p+8], fn)
		}
		end = p + 8
	case protoUDP, protoUDPLite, protoICMPv6, protoIGMP:
		end = p + 8
	case protoSCTP:
		end = p + 12 // the common header; INIT chunks list addresses
	}
	return min(end, len(b))
}

// scrubTCPOptions turns multipath TCP options, and everything after a
// malformed option, into no-operation options.
func scrubTCPOptions(o []byte) {
	for i := 0; i < len(o); {
		switch o[i] {
		case 0: // end of options
			return
		case 1:
			i++
			continue
		}
		if i+1 >= len(o) {
			return // the length is cut off, and with it the option
		}
		n := int(o[i+1])
		if n < 2 {
			for j := i; j < len(o); j++ {
				o[j] = 1
			}
			return
		}
		if o[i] == tcpOptMPTCP {
			for j := i; j < min(i+n, len(o)); j++ {
				o[j] = 1
			}
		}
		i += n
	}
}

func anon4(b []byte, fn func([16]byte) [16]byte) {
	in := [16]byte{10: 0xff, 11: 0xff, 12: b[0], 13: b[1], 14: b[2], 15: b[3]}
	out := fn(in)
	copy(b[:4], out[12:16])
}

func anon6(b []byte, fn func([16]byte) [16]byte) {
	out := fn([16]byte(b[:16]))
	copy(b[:16], out[:])
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }

// onesSum is the folded ones' complement sum of b as 16-bit big-endian
// words, a last odd byte taken as the high half of a word.
func onesSum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return fold(s)
}

func fold(s uint32) uint16 {
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}
