package synth

import (
	"encoding/binary"
)

// Packet kinds.
const (
	kTCP uint8 = iota
	kUDP
	kICMP
	kARP
	kFrag // an IPv4 fragment: pre holds the fragment's IP payload
)

// TCP flags.
const (
	fFIN = 0x01
	fSYN = 0x02
	fRST = 0x04
	fPSH = 0x08
	fACK = 0x10
)

// TCP option layouts.
const (
	optNone       uint8 = iota
	optMSS              // MSS only (nmap probes)
	optSynLinux         // MSS, SACK permitted, timestamps, NOP, window scale 7 (Linux, Android)
	optSynWindows       // MSS, NOP, window scale 8, NOP, NOP, SACK permitted (Windows)
	optSynMac           // MSS, NOP, window scale 6, NOP, NOP, timestamps, SACK permitted, EOL (macOS)
	optSynAckNoTS       // MSS, NOP, NOP, SACK permitted, NOP, window scale 7 (Linux answering Windows)
	optTS               // NOP, NOP, timestamps (segments of a connection with timestamps)
)

// pkt describes one frame completely, so that it can be built long after
// the connection that made it moved on. Times are Unix nanoseconds.
type pkt struct {
	t              int64
	kind           uint8
	flags          uint8 // TCP flags, ICMP type, ARP operation
	code           uint8 // ICMP code
	opt            uint8 // TCP option layout
	ttl            uint8
	noDF           bool
	mf             bool   // more fragments
	proto          uint8  // IP protocol of a fragment
	fragOff        uint16 // fragment offset in 8-byte units
	srcMAC, dstMAC [6]byte
	sha, tha       [6]byte // ARP sender and target hardware addresses
	src, dst       [4]byte
	sport, dport   uint16 // ports; ICMP echo identifier and sequence
	ipid           uint16
	win            uint16
	mss            uint16
	seq, ack       uint32 // TCP sequence numbers
	tsval, tsecr   uint32
	wscale         uint8
	n              int    // layer-4 payload length
	pre            []byte // first bytes of the payload; the rest is filler
	fill           uint32 // where the filler is taken from
}

var broadcastMAC = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// fillerPool holds pseudo-random bytes that stand for encrypted or
// compressed payloads. It is the same for every scenario.
var fillerPool = func() []byte {
	b := make([]byte, 1<<20+65536)
	x := uint64(0x9e3779b97f4a7c15)
	for i := 0; i+8 <= len(b); i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.LittleEndian.PutUint64(b[i:], x)
	}
	return b
}()

// optLen returns the TCP option bytes of a layout.
func optLen(o uint8) int {
	switch o {
	case optMSS:
		return 4
	case optSynLinux:
		return 20
	case optSynWindows, optSynAckNoTS, optTS:
		return 12
	case optSynMac:
		return 24
	}
	return 0
}

// build writes the frame of p into b (which must hold at least 14+60+p.n
// bytes, or the fragment) and returns its length.
func build(b []byte, p *pkt) int {
	copy(b[0:6], p.dstMAC[:])
	copy(b[6:12], p.srcMAC[:])
	if p.kind == kARP {
		b[12], b[13] = 0x08, 0x06
		a := b[14:]
		binary.BigEndian.PutUint16(a[0:], 1)      // Ethernet
		binary.BigEndian.PutUint16(a[2:], 0x0800) // IPv4
		a[4], a[5] = 6, 4
		binary.BigEndian.PutUint16(a[6:], uint16(p.flags))
		copy(a[8:14], p.sha[:])
		copy(a[14:18], p.src[:])
		copy(a[18:24], p.tha[:])
		copy(a[24:28], p.dst[:])
		return pad(b, 14+28)
	}
	b[12], b[13] = 0x08, 0x00
	ip := b[14:]
	var l4len int
	var proto uint8
	switch p.kind {
	case kTCP:
		l4len = 20 + optLen(p.opt) + p.n
		proto = 6
	case kUDP:
		l4len = 8 + p.n
		proto = 17
	case kICMP:
		l4len = 8 + p.n
		proto = 1
	case kFrag:
		l4len = len(p.pre)
		proto = p.proto
	}
	total := 20 + l4len
	ip[0] = 0x45
	ip[1] = 0
	binary.BigEndian.PutUint16(ip[2:], uint16(total))
	binary.BigEndian.PutUint16(ip[4:], p.ipid)
	var ff uint16
	if !p.noDF && p.kind != kFrag {
		ff = 0x4000
	}
	if p.mf {
		ff |= 0x2000
	}
	ff |= p.fragOff & 0x1fff
	binary.BigEndian.PutUint16(ip[6:], ff)
	ip[8] = p.ttl
	ip[9] = proto
	ip[10], ip[11] = 0, 0
	copy(ip[12:16], p.src[:])
	copy(ip[16:20], p.dst[:])
	binary.BigEndian.PutUint16(ip[10:], ^fold(sum(0, ip[:20])))
	l4 := ip[20 : 20+l4len]
	switch p.kind {
	case kTCP:
		hl := 20 + optLen(p.opt)
		binary.BigEndian.PutUint16(l4[0:], p.sport)
		binary.BigEndian.PutUint16(l4[2:], p.dport)
		binary.BigEndian.PutUint32(l4[4:], p.seq)
		binary.BigEndian.PutUint32(l4[8:], p.ack)
		l4[12] = byte(hl/4) << 4
		l4[13] = p.flags
		binary.BigEndian.PutUint16(l4[14:], p.win)
		l4[16], l4[17], l4[18], l4[19] = 0, 0, 0, 0
		putOptions(l4[20:hl], p)
		payload(l4[hl:], p)
		cs := pseudo(p.src, p.dst, 6, l4len)
		binary.BigEndian.PutUint16(l4[16:], ^fold(sum(cs, l4)))
	case kUDP:
		binary.BigEndian.PutUint16(l4[0:], p.sport)
		binary.BigEndian.PutUint16(l4[2:], p.dport)
		binary.BigEndian.PutUint16(l4[4:], uint16(l4len))
		l4[6], l4[7] = 0, 0
		payload(l4[8:], p)
		cs := ^fold(sum(pseudo(p.src, p.dst, 17, l4len), l4))
		if cs == 0 {
			cs = 0xffff
		}
		binary.BigEndian.PutUint16(l4[6:], cs)
	case kICMP:
		l4[0], l4[1] = p.flags, p.code
		l4[2], l4[3] = 0, 0
		binary.BigEndian.PutUint16(l4[4:], p.sport)
		binary.BigEndian.PutUint16(l4[6:], p.dport)
		payload(l4[8:], p)
		binary.BigEndian.PutUint16(l4[2:], ^fold(sum(0, l4)))
	case kFrag:
		copy(l4, p.pre)
	}
	return pad(b, 14+total)
}

// pad zero-fills a short frame to the Ethernet minimum of 60 bytes (without
// FCS), as it appears on the wire.
func pad(b []byte, n int) int {
	if n >= 60 {
		return n
	}
	clear(b[n:60])
	return 60
}

func payload(dst []byte, p *pkt) {
	k := copy(dst, p.pre)
	if k < len(dst) {
		off := int(p.fill) % (len(fillerPool) - 65536)
		copy(dst[k:], fillerPool[off:])
	}
}

func putOptions(o []byte, p *pkt) {
	mss := p.mss
	if mss == 0 {
		mss = 1460
	}
	ts := func(b []byte) {
		b[0], b[1] = 8, 10
		binary.BigEndian.PutUint32(b[2:], p.tsval)
		binary.BigEndian.PutUint32(b[6:], p.tsecr)
	}
	putMSS := func(b []byte) {
		b[0], b[1] = 2, 4
		binary.BigEndian.PutUint16(b[2:], mss)
	}
	switch p.opt {
	case optMSS:
		putMSS(o)
	case optSynLinux:
		putMSS(o)
		o[4], o[5] = 4, 2
		ts(o[6:16])
		o[16] = 1
		o[17], o[18], o[19] = 3, 3, p.wscale
	case optSynWindows:
		putMSS(o)
		o[4] = 1
		o[5], o[6], o[7] = 3, 3, p.wscale
		o[8], o[9] = 1, 1
		o[10], o[11] = 4, 2
	case optSynMac:
		putMSS(o)
		o[4] = 1
		o[5], o[6], o[7] = 3, 3, p.wscale
		o[8], o[9] = 1, 1
		ts(o[10:20])
		o[20], o[21] = 4, 2
		o[22], o[23] = 0, 0
	case optSynAckNoTS:
		putMSS(o)
		o[4], o[5] = 1, 1
		o[6], o[7] = 4, 2
		o[8] = 1
		o[9], o[10], o[11] = 3, 3, p.wscale
	case optTS:
		o[0], o[1] = 1, 1
		ts(o[2:12])
	}
}

// sum adds b as big-endian 16-bit words to s (one's complement, unfolded).
func sum(s uint64, b []byte) uint64 {
	for len(b) >= 32 {
		s += uint64(binary.BigEndian.Uint32(b[0:])) + uint64(binary.BigEndian.Uint32(b[4:])) +
			uint64(binary.BigEndian.Uint32(b[8:])) + uint64(binary.BigEndian.Uint32(b[12:])) +
			uint64(binary.BigEndian.Uint32(b[16:])) + uint64(binary.BigEndian.Uint32(b[20:])) +
			uint64(binary.BigEndian.Uint32(b[24:])) + uint64(binary.BigEndian.Uint32(b[28:]))
		b = b[32:]
	}
	for len(b) >= 4 {
		s += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	return s
}

func fold(s uint64) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

func pseudo(src, dst [4]byte, proto uint8, l4len int) uint64 {
	return uint64(binary.BigEndian.Uint32(src[:])) + uint64(binary.BigEndian.Uint32(dst[:])) +
		uint64(proto) + uint64(l4len)
}

// quote returns the first 28 bytes of p's IP packet, as an ICMP error
// quotes them.
func quote(p *pkt) []byte {
	var b [14 + 60 + 64]byte
	q := *p
	if q.n > 64 {
		q.n = 64
	}
	build(b[:], &q)
	out := make([]byte, 28)
	copy(out, b[14:14+28])
	return out
}

// udpDatagram returns a whole UDP datagram (header and payload) with its
// checksum, for fragmentation.
func udpDatagram(src, dst [4]byte, sport, dport uint16, data []byte) []byte {
	d := make([]byte, 8+len(data))
	binary.BigEndian.PutUint16(d[0:], sport)
	binary.BigEndian.PutUint16(d[2:], dport)
	binary.BigEndian.PutUint16(d[4:], uint16(len(d)))
	copy(d[8:], data)
	cs := ^fold(sum(pseudo(src, dst, 17, len(d)), d))
	if cs == 0 {
		cs = 0xffff
	}
	binary.BigEndian.PutUint16(d[6:], cs)
	return d
}
