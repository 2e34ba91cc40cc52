package synth

import (
	"bufio"
	"encoding/binary"
	"io"
	"math/rand/v2"

	"github.com/netanomaly/netanomaly_exporter/collector/capture/pcapfile"
)

// The captures below are simple and fast to write, for benchmarks and
// tests that want volume rather than realism: Ethernet, IPv4 and a bare
// TCP, UDP or ICMP header, no payload beyond the sessions' zeros, and a
// constant gap between packets.

// WriteFlood writes a classic pcap of n Ethernet frames from random IPv4
// sources and ports to 16 destinations: a mix of TCP SYNs, UDP and ICMP,
// every packet a new flow, the worst case for per-source and per-flow
// state. Timestamps advance by gap nanoseconds. The output is
// deterministic for a seed.
func WriteFlood(w io.Writer, n int, seed uint64, gap int64) error {
	return writeRandom(w, n, seed, gap, 0)
}

// WriteTraffic is like WriteFlood but draws sources from a pool of
// sources hosts, each using 4 source ports towards 8 service ports, so
// that flows carry many packets as on a busy but normal link.
func WriteTraffic(w io.Writer, n int, seed uint64, gap int64, sources int) error {
	return writeRandom(w, n, seed, gap, sources)
}

// trafficPorts are the service ports of WriteTraffic.
var trafficPorts = [8]uint16{53, 80, 443, 22, 25, 123, 993, 8080}

// writeRandom writes WriteFlood's capture, or with sources > 0
// WriteTraffic's.
func writeRandom(w io.Writer, n int, seed uint64, gap int64, sources int) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	hdr := pcapfile.Header(1, 262144)
	if _, err := bw.Write(hdr[:]); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 0x6e6574616e6f6d))
	frame := make([]byte, 16+14+20+20)
	t := int64(1_700_000_000) * 1e9
	for range n {
		var l4 []byte
		proto := byte(6)
		switch r := rng.IntN(10); {
		case r < 6: // TCP SYN
			l4 = frame[16+34 : 16+54]
			clear(l4)
			sp, dp := uint16(rng.IntN(64512)+1024), uint16(rng.IntN(1024))
			if sources > 0 {
				sp, dp = 40000+uint16(rng.IntN(4)), trafficPorts[rng.IntN(len(trafficPorts))]
			}
			binary.BigEndian.PutUint16(l4[0:], sp)
			binary.BigEndian.PutUint16(l4[2:], dp)
			l4[12] = 5 << 4
			l4[13] = 0x02
			binary.BigEndian.PutUint16(l4[14:], 64240) // window
		case r < 9: // UDP
			proto = 17
			l4 = frame[16+34 : 16+42]
			sp, dp := uint16(rng.IntN(64512)+1024), uint16(rng.IntN(65535)+1)
			if sources > 0 {
				sp, dp = 40000+uint16(rng.IntN(4)), trafficPorts[rng.IntN(len(trafficPorts))]
			}
			binary.BigEndian.PutUint16(l4[0:], sp)
			binary.BigEndian.PutUint16(l4[2:], dp)
			binary.BigEndian.PutUint16(l4[4:], 8)
			binary.BigEndian.PutUint16(l4[6:], 0)
		default: // ICMP echo
			proto = 1
			l4 = frame[16+34 : 16+42]
			clear(l4)
			l4[0] = 8
		}
		pkt := frame[16 : 16+34+len(l4)]
		eth := pkt[:14]
		copy(eth[0:6], []byte{0x02, 0, 0, 0, 0, 1})
		copy(eth[6:12], []byte{0x02, 0, 0, 0, 0, 2})
		eth[12], eth[13] = 0x08, 0x00
		ip := pkt[14:34]
		clear(ip)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(l4)))
		ip[8] = 64
		ip[9] = proto
		src := rng.Uint32() | 0x01000000
		if sources > 0 {
			src = 0x0a010000 + uint32(rng.IntN(sources))
		}
		binary.BigEndian.PutUint32(ip[12:], src)
		binary.BigEndian.PutUint32(ip[16:], 0x0a000000|uint32(rng.IntN(16)))
		pcapfile.PutRecordHeader(frame, t, len(pkt), len(pkt))
		if _, err := bw.Write(frame[:16+len(pkt)]); err != nil {
			return err
		}
		t += gap
	}
	return bw.Flush()
}

// WriteSessions writes n Ethernet frames of TCP connections as a busy
// normal link carries them: conns connections at a time from a pool of
// 2000 clients to 50 servers' web, TLS and SSH ports, each a handshake,
// request and response turns (about 40 packets, both directions, most of
// them data and ACKs), and a close; a finished connection is replaced by a
// new one. Timestamps advance by gap nanoseconds. Deterministic for a
// seed.
func WriteSessions(w io.Writer, n int, seed uint64, gap int64, conns int) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	hdr := pcapfile.Header(1, 262144)
	if _, err := bw.Write(hdr[:]); err != nil {
		return err
	}
	type conn struct {
		client, server uint32
		cport, sport   uint16
		step, turns    int
	}
	rng := rand.New(rand.NewPCG(seed, 0x73657373696f6e))
	next := uint16(1024)
	fresh := func() conn {
		next++
		if next < 1024 {
			next = 1024
		}
		return conn{
			client: 0x0a010000 + uint32(rng.IntN(2000)), server: 0x0a000000 + uint32(rng.IntN(50)),
			cport: next, sport: []uint16{80, 443, 443, 22}[rng.IntN(4)], turns: 4 + rng.IntN(8),
		}
	}
	cs := make([]conn, conns)
	for i := range cs {
		cs[i] = fresh()
	}
	frame := make([]byte, 16+54+1460)
	t := int64(1_700_000_000) * 1e9
	for range n {
		c := &cs[rng.IntN(len(cs))]
		// The steps: 0 SYN, 1 SYN-ACK, 2 ACK, then per turn a request, a
		// response of three segments and an ACK, then FIN, FIN, ACK.
		fromClient, flags, payload := true, byte(0x10), 0
		switch s := c.step; {
		case s == 0:
			flags = 0x02
		case s == 1:
			fromClient, flags = false, 0x12
		case s == 2:
		case s < 3+5*c.turns:
			switch (s - 3) % 5 {
			case 0:
				flags, payload = 0x18, 120
			case 1, 2, 3:
				fromClient, flags, payload = false, 0x18, 1200
			case 4:
			}
		case s == 3+5*c.turns:
			flags = 0x11
		case s == 4+5*c.turns:
			fromClient, flags = false, 0x11
		default:
			flags = 0x10
			*c = fresh()
			c.step = -1
		}
		c.step++
		src, dst, sp, dp := c.client, c.server, c.cport, c.sport
		if !fromClient {
			src, dst, sp, dp = dst, src, dp, sp
		}
		pkt := frame[16 : 16+54+payload]
		copy(pkt[0:6], []byte{0x02, 0, 0, 0, 0, 1})
		copy(pkt[6:12], []byte{0x02, 0, 0, 0, 0, 2})
		pkt[12], pkt[13] = 0x08, 0x00
		ip := pkt[14:34]
		clear(ip)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(40+payload))
		ip[8], ip[9] = 64, 6
		binary.BigEndian.PutUint32(ip[12:], src)
		binary.BigEndian.PutUint32(ip[16:], dst)
		l4 := pkt[34:54]
		clear(l4)
		binary.BigEndian.PutUint16(l4[0:], sp)
		binary.BigEndian.PutUint16(l4[2:], dp)
		l4[12], l4[13] = 5<<4, flags
		binary.BigEndian.PutUint16(l4[14:], 64240) // window
		pcapfile.PutRecordHeader(frame, t, len(pkt), len(pkt))
		if _, err := bw.Write(frame[:16+len(pkt)]); err != nil {
			return err
		}
		t += gap
	}
	return bw.Flush()
}
