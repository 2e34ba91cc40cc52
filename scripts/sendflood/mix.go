//go:build linux

package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
)

const (
	protoTCP = 6
	protoUDP = 17

	flagFIN = 0x01
	flagSYN = 0x02
	flagPSH = 0x08
	flagACK = 0x10
)

// mixConfig describes the traffic: conversations between clients in
// 10.1.0.0/16 and servers in 10.2.0.0/24, active of them interleaved at a
// time, each in order (handshake, request, response, close), like a busy
// link seen from a mirror port.
type mixConfig struct {
	frames, clients, servers, active int
	seed                             uint64
	dst, src                         net.HardwareAddr
}

func (c mixConfig) check() error {
	switch {
	case c.frames < 1 || c.frames > 1<<22:
		return errors.New("-pool must be in 1..4194304")
	case c.clients < 1 || c.clients > 65536:
		return errors.New("-clients must be in 1..65536")
	case c.servers < 1 || c.servers > 254:
		return errors.New("-servers must be in 1..254")
	case c.active < 1 || c.active > 65536:
		return errors.New("-active must be in 1..65536")
	}
	return nil
}

// build returns the frames: 45% of the conversations are web (TCP to 80,
// 443 or 8080: handshake, a request, 1-8 response segments of 200-1400
// bytes, close), 10% other TCP services (22, 25, 3306: small segments both
// ways), 35% DNS A queries with their answers, 10% UDP between high ports
// (1-4 datagrams). The pool repeats: the same conversations come back each
// pass, so the flow table sees a steady set of flows, not a flood of new
// ones.
func (c mixConfig) build() [][]byte {
	rng := rand.New(rand.NewPCG(c.seed, 0x6e6574616e6f6d))
	active := make([][][]byte, c.active)
	frames := make([][]byte, 0, c.frames)
	for len(frames) < c.frames {
		i := rng.IntN(len(active))
		for len(active[i]) == 0 {
			active[i] = c.conversation(rng)
		}
		frames = append(frames, active[i][0])
		active[i] = active[i][1:]
	}
	return frames
}

// endpoint is one side of a conversation.
type endpoint struct {
	ip   [4]byte
	port uint16
	seq  uint32
}

func (c mixConfig) conversation(rng *rand.Rand) [][]byte {
	cl := rng.IntN(c.clients)
	client := endpoint{ip: [4]byte{10, 1, byte(cl >> 8), byte(cl)}, port: uint16(32768 + rng.IntN(28232)), seq: rng.Uint32()}
	server := endpoint{ip: [4]byte{10, 2, 0, byte(1 + rng.IntN(c.servers))}, seq: rng.Uint32()}
	var out [][]byte
	tcp := func(from, to *endpoint, flags byte, payload []byte) {
		ack := uint32(0)
		if flags&flagACK != 0 {
			ack = to.seq
		}
		out = append(out, c.frame(protoTCP, *from, *to, flags, ack, payload))
		from.seq += uint32(len(payload))
		if flags&(flagSYN|flagFIN) != 0 {
			from.seq++
		}
	}
	udp := func(from, to endpoint, payload []byte) {
		out = append(out, c.frame(protoUDP, from, to, 0, 0, payload))
	}
	switch r := rng.IntN(100); {
	case r < 55:
		web := r < 45
		if web {
			server.port = []uint16{80, 443, 8080}[rng.IntN(3)]
		} else {
			server.port = []uint16{22, 25, 3306}[rng.IntN(3)]
		}
		tcp(&client, &server, flagSYN, nil)
		tcp(&server, &client, flagSYN|flagACK, nil)
		tcp(&client, &server, flagACK, nil)
		if web {
			tcp(&client, &server, flagPSH|flagACK, request(rng, server.port))
			segs := 1 + rng.IntN(8)
			for s := range segs {
				tcp(&server, &client, flagPSH|flagACK, response(rng, server.port, s == 0))
				if s%2 == 1 || s == segs-1 {
					tcp(&client, &server, flagACK, nil)
				}
			}
		} else {
			for range 2 + rng.IntN(9) {
				from, to := &client, &server
				if rng.IntN(2) == 0 {
					from, to = to, from
				}
				tcp(from, to, flagPSH|flagACK, filler(16+rng.IntN(300)))
			}
		}
		tcp(&client, &server, flagFIN|flagACK, nil)
		tcp(&server, &client, flagFIN|flagACK, nil)
		tcp(&client, &server, flagACK, nil)
	case r < 90:
		server.port = 53
		id := uint16(rng.Uint32())
		name := fmt.Sprintf("host%d", rng.IntN(5000))
		udp(client, server, dnsMessage(id, name, 0))
		udp(server, client, dnsMessage(id, name, byte(1+rng.IntN(254))))
	default:
		server.port = uint16(1024 + rng.IntN(64000))
		for range 1 + rng.IntN(4) {
			udp(client, server, filler(16+rng.IntN(200)))
		}
	}
	return out
}

// request is the start of an HTTP request on ports 80 and 8080, a TLS-sized
// record elsewhere.
func request(rng *rand.Rand, port uint16) []byte {
	if port == 443 {
		return filler(200 + rng.IntN(400))
	}
	return fmt.Appendf(nil, "GET /item/%d HTTP/1.1\r\nHost: www%d.example.com\r\nUser-Agent: sendflood\r\nAccept: */*\r\n\r\n", rng.IntN(100000), rng.IntN(16))
}

func response(rng *rand.Rand, port uint16, first bool) []byte {
	n := 200 + rng.IntN(1201)
	if port == 443 || !first {
		return filler(n)
	}
	head := fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n", 1000+rng.IntN(20000))
	return append(head, filler(max(0, n-len(head)))...)
}

// dnsMessage is an A query for NAME.example.com, or with a non-zero last
// byte its answer (192.0.2.last).
func dnsMessage(id uint16, name string, last byte) []byte {
	m := binary.BigEndian.AppendUint16(nil, id)
	if last != 0 {
		m = append(m, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0)
	} else {
		m = append(m, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0)
	}
	for _, label := range []string{name, "example", "com"} {
		m = append(m, byte(len(label)))
		m = append(m, label...)
	}
	m = append(m, 0, 0, 1, 0, 1) // end of name, type A, class IN
	if last != 0 {
		m = append(m, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, last)
	}
	return m
}

func filler(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

// frame is an Ethernet/IPv4/TCP or UDP frame with correct checksums.
func (c mixConfig) frame(proto byte, from, to endpoint, flags byte, ack uint32, payload []byte) []byte {
	l4len := 8
	if proto == protoTCP {
		l4len = 20
	}
	b := make([]byte, 14+20+l4len+len(payload))
	copy(b[0:6], c.dst)
	copy(b[6:12], c.src)
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+l4len+len(payload)))
	binary.BigEndian.PutUint16(ip[4:], uint16(from.seq))
	ip[6] = 0x40 // don't fragment
	ip[8] = 64
	ip[9] = proto
	copy(ip[12:16], from.ip[:])
	copy(ip[16:20], to.ip[:])
	binary.BigEndian.PutUint16(ip[10:], checksum(ip, 0))
	l4 := b[34:]
	binary.BigEndian.PutUint16(l4[0:], from.port)
	binary.BigEndian.PutUint16(l4[2:], to.port)
	copy(l4[l4len:], payload)
	csum := 16
	if proto == protoTCP {
		binary.BigEndian.PutUint32(l4[4:], from.seq)
		binary.BigEndian.PutUint32(l4[8:], ack)
		l4[12] = 5 << 4
		l4[13] = flags
		binary.BigEndian.PutUint16(l4[14:], 64240)
	} else {
		binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
		csum = 6
	}
	// Pseudo-header: addresses, protocol, layer-4 length.
	var sum uint32
	for i := 12; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	sum += uint32(proto) + uint32(len(l4))
	s := checksum(l4, sum)
	if s == 0 && proto == protoUDP {
		s = 0xffff // 0 means "no checksum" in UDP
	}
	binary.BigEndian.PutUint16(l4[csum:], s)
	return b
}

func checksum(b []byte, sum uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
