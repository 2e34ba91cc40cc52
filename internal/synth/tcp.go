package synth

import (
	"encoding/binary"
	"math/rand/v2"
)

// Directions of a connection.
const (
	c2s = 0 // client (initiator) to server
	s2c = 1
)

// conn is one TCP connection as seen at the capture point. It queues its
// segments with plausible sequence and acknowledgment numbers, timestamps,
// windows and timing: an endpoint answers a segment its delay after the
// segment passed the capture point, and data is sent in congestion window
// rounds paced by the path's bandwidth.
type conn struct {
	r     *rand.Rand
	h     [2]*host // client, server
	port  [2]uint16
	seq   [2]uint32 // next sequence number each side sends
	ipid  [2]uint16
	tsb   [2]uint32
	ts    bool
	win   [2]uint16 // window field of established segments, by sender
	mss   int       // payload bytes per full segment
	cwnd  [2]int    // segments, by sender
	bw    [2]float64
	t0    int64
	synOp uint8
	ws    uint8
	// finished marks a connection that was reset or closed.
	finished bool
}

func newConn(r *rand.Rand, client, server *host, cport, sport uint16) *conn {
	k := &conn{r: r, h: [2]*host{client, server}, port: [2]uint16{cport, sport}}
	k.seq[0], k.seq[1] = r.Uint32(), r.Uint32()
	k.ipid[0], k.ipid[1] = uint16(r.Uint32()), uint16(r.Uint32())
	k.tsb[0], k.tsb[1] = r.Uint32(), r.Uint32()
	k.synOp, _, k.ws = client.synOpt()
	k.ts = k.synOp == optSynLinux || k.synOp == optSynMac
	k.mss = 1460
	if k.ts {
		k.mss = 1448
	}
	k.win[0] = estWindow(r, client.os)
	k.win[1] = estWindow(r, server.os)
	k.cwnd = [2]int{10, 10}
	// Path bandwidth in bytes/s: a LAN is fast, the Internet varies.
	k.bw[0], k.bw[1] = 60e6, 60e6
	if !client.internal || !server.internal {
		k.bw[s2c] = logNormal(r, 4e6, 0.8)
		k.bw[c2s] = logNormal(r, 2e6, 0.8)
	}
	return k
}

func estWindow(r *rand.Rand, os osKind) uint16 {
	switch os {
	case osWindows:
		return uint16(1020 + r.IntN(7))
	case osMac:
		return uint16(2048 + r.IntN(2048))
	case osEmbedded:
		return uint16(5840 + r.IntN(100))
	}
	return uint16(501 + r.IntN(1500))
}

// delay returns the answer delay of the side that receives packets sent in
// direction dir.
func (k *conn) delay(dir int) int64 { return k.h[1-dir].delay }

// jit returns d with up to ±10% jitter, at least a few microseconds.
func (k *conn) jit(d int64) int64 {
	return max(d+int64((k.r.Float64()-0.5)*0.2*float64(d)), 3000)
}

// seg queues one segment. n payload bytes are taken from pre and filler.
func (k *conn) seg(q *queue, t int64, dir int, flags uint8, ack uint32, n int, pre []byte) *pkt {
	src, dst := k.h[dir], k.h[1-dir]
	p := pkt{
		t: t, kind: kTCP, flags: flags, ttl: src.ttl,
		srcMAC: src.mac, dstMAC: dst.mac, src: src.ip, dst: dst.ip,
		sport: k.port[dir], dport: k.port[1-dir],
		ipid: k.ipid[dir], seq: k.seq[dir], win: k.win[dir], n: n, pre: pre,
	}
	if flags&fACK != 0 {
		p.ack = ack
	}
	k.ipid[dir]++
	if k.ts {
		p.opt = optTS
		p.tsval = k.tsb[dir] + uint32(max(t-k.t0, 0)/1e6)
		p.tsecr = k.tsb[1-dir] + uint32(max(t-k.t0-k.h[0].delay-k.h[1].delay, 0)/1e6)
	}
	p.fill = p.seq ^ uint32(p.sport)<<7
	k.seq[dir] += uint32(n)
	if flags&(fSYN|fFIN) != 0 {
		k.seq[dir]++
	}
	return q.add(p)
}

// handshake queues SYN, SYN-ACK and ACK from t. It returns the time of
// the client's ACK.
func (k *conn) handshake(q *queue, t int64) int64 {
	k.t0 = t
	syn := k.seg(q, t, c2s, fSYN, 0, 0, nil)
	_, win, _ := k.h[0].synOpt()
	syn.opt, syn.win, syn.wscale, syn.tsecr = k.synOp, win, k.ws, 0
	t1 := t + k.jit(k.delay(c2s))
	sa := k.seg(q, t1, s2c, fSYN|fACK, k.seq[0], 0, nil)
	sa.win, sa.wscale = 65160, 7
	if k.h[1].os == osWindows {
		sa.win, sa.wscale = 65535, 8
	}
	if k.ts {
		sa.opt = optSynLinux
	} else {
		sa.opt = optSynAckNoTS
	}
	if k.synOp == optMSS {
		sa.opt = optMSS
		k.ts = false
		k.mss = 1460
	}
	t2 := t1 + k.jit(k.delay(s2c))
	k.seg(q, t2, c2s, fACK, k.seq[1], 0, nil)
	return t2
}

// failedConnect queues a connection attempt that is refused (RST) or gets
// no answer (SYN retransmitted, then given up).
func (k *conn) failedConnect(q *queue, t int64, refused bool) int64 {
	k.t0 = t
	_, win, _ := k.h[0].synOpt()
	syn := *k.seg(q, t, c2s, fSYN, 0, 0, nil)
	syn.opt, syn.win, syn.wscale, syn.tsecr = k.synOp, win, k.ws, 0
	q.p[len(q.p)-1] = syn
	if refused {
		k.seg(q, t+k.jit(k.delay(c2s)), s2c, fRST|fACK, k.seq[0], 0, nil)
		return t + k.delay(c2s)
	}
	// retransmissions after 1 s and 2 s more
	for _, d := range []int64{sec(1), sec(3)} {
		p := syn
		p.t = t + d
		p.ipid = k.ipid[0]
		if p.tsval != 0 {
			p.tsval += uint32(d / 1e6)
		}
		k.ipid[0]++
		q.add(p)
	}
	k.finished = true
	return t + sec(3)
}

// Ack policies for the last segment of a message.
const (
	ackNone    = iota // the answer carries the acknowledgment
	ackDelayed        // a delayed ACK (up to 40 ms)
)

// send queues n bytes from the sender dir starting at t, in congestion
// window rounds paced by the path bandwidth, with the receiver's ACKs. pre
// is the start of the message; with tls, the message is cut into TLS
// records whose headers appear where they belong. It returns the time of
// the last segment and the time of the last packet queued.
func (k *conn) send(q *queue, t int64, dir int, n int, pre []byte, tls bool, ackLast int) (lastData, end int64) {
	if n <= 0 {
		return t, t
	}
	rcv := 1 - dir
	gap := int64(float64(k.mss) / k.bw[dir] * 1e9)
	left := n
	off := 0 // message offset
	end = t
	for left > 0 {
		segs := min(k.cwnd[dir], (left+k.mss-1)/k.mss)
		var firstAck int64 = -1
		ts := t
		for i := range segs {
			size := min(k.mss, left)
			var payload []byte
			if off < len(pre) {
				payload = pre[off:min(len(pre), off+size)]
			}
			if tls {
				payload = tlsSegment(payload, off, size, n, k.seq[dir])
			}
			flags := uint8(fACK)
			if size == left || i == segs-1 {
				flags |= fPSH
			}
			k.seg(q, ts, dir, flags, k.seq[rcv], size, payload)
			left -= size
			off += size
			lastData = ts
			end = max(end, ts)
			// The receiver acknowledges every second segment at once, and
			// the last one according to the policy.
			if i%2 == 1 || left == 0 || i == segs-1 {
				at := ts + k.jit(k.delay(dir))
				if left == 0 {
					switch ackLast {
					case ackNone:
						at = -1
					case ackDelayed:
						if i%2 == 0 {
							at += ms(1 + 39*k.r.Float64())
						}
					}
				}
				if at >= 0 {
					k.seg(q, at, rcv, fACK, k.seq[dir], 0, nil)
					end = max(end, at)
					if firstAck < 0 {
						firstAck = at
					}
				}
			}
			ts += k.jit(gap)
		}
		if left == 0 {
			break
		}
		// The next round leaves when the first ACK reaches the sender.
		next := ts
		if firstAck >= 0 {
			next = max(next, firstAck+k.jit(k.delay(rcv)))
		}
		t = next
		if k.cwnd[dir] < 40 {
			k.cwnd[dir] *= 2
		} else if k.cwnd[dir] < 400 {
			k.cwnd[dir] += 4
		}
	}
	return lastData, end
}

// tlsSegment returns the payload of the segment at message offset off of a
// message of n bytes cut into TLS application data records, the record
// headers in place. It returns pre unchanged when no record header falls in
// the segment.
func tlsSegment(pre []byte, off, size, n int, seed uint32) []byte {
	const rec = 16384 + 5 + 22 // a full record with its AEAD overhead
	const minRec = 5 + 1 + 16  // the smallest record
	k := (n + rec - 1) / rec   // records in the message
	start := func(j int) int {
		if j >= k {
			return n
		}
		if j == k-1 && j > 0 {
			return min(j*rec, n-minRec) // no runt record at the end
		}
		return j * rec
	}
	var b []byte
	for j := max(off/rec-1, 0); j <= (off+size)/rec+1 && j < k; j++ {
		r := start(j)
		if r+5 <= off || r >= off+size {
			continue // no header byte in this segment
		}
		if b == nil {
			b = make([]byte, size)
			o := int(seed) % (len(fillerPool) - 65536)
			copy(b, fillerPool[o:o+size])
			copy(b, pre)
		}
		l := start(j+1) - r - 5
		hdr := [5]byte{0x17, 0x03, 0x03, byte(l >> 8), byte(l)}
		copy(b[max(r-off, 0):], hdr[max(off-r, 0):min(5, off+size-r)])
	}
	if b == nil {
		return pre
	}
	return b
}

// close queues an orderly close started by side who at t: FIN, the other
// side's FIN-ACK, and the last ACK. It returns the time of the last packet.
func (k *conn) close(q *queue, t int64, who int) int64 {
	other := 1 - who
	k.seg(q, t, who, fFIN|fACK, k.seq[other], 0, nil)
	t1 := t + k.jit(k.delay(who))
	if k.r.Float64() < 0.3 {
		// ACK first, FIN when the application closes
		k.seg(q, t1, other, fACK, k.seq[who], 0, nil)
		t1 += k.jit(ms(0.2 + 5*k.r.Float64()))
	}
	k.seg(q, t1, other, fFIN|fACK, k.seq[who], 0, nil)
	t2 := t1 + k.jit(k.delay(other))
	k.seg(q, t2, who, fACK, k.seq[other], 0, nil)
	k.finished = true
	return t2
}

// reset queues a RST from side who.
func (k *conn) reset(q *queue, t int64, who int) int64 {
	k.seg(q, t, who, fRST|fACK, k.seq[1-who], 0, nil)
	k.finished = true
	return t
}

// exchange queues a request from the client and the server's response
// after a processing time. It returns the time the exchange ended.
func (k *conn) exchange(q *queue, t int64, req int, reqPre []byte, think int64, resp int, respPre []byte, tls bool) int64 {
	last, _ := k.send(q, t, c2s, req, reqPre, tls, ackNone)
	t = last + k.jit(k.delay(c2s)) + think
	_, end := k.send(q, t, s2c, resp, respPre, tls, ackDelayed)
	return end
}

// putU16 and friends build application payloads.
func putU16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
func putU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
