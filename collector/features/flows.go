package features

import (
	"encoding/binary"
	"math/bits"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/collector/features/sketch"
)

// flowBucket is the number of slots probed per hash. A full bucket evicts
// its least recently seen flow, so a flood of new flows costs the same
// memory as a quiet link and old flows age out first.
const flowBucket = 4

// flowSlot is one conversation, both directions joined. A flow is known
// by the 64-bit hash of its 5-tuple alone: a packet is mistaken for
// another flow of its bucket with odds of 2^-48 (once in three years at
// 3 million packets/s), and a crafted collision only merges the
// attacker's own flows. Its endpoints live apart, in flowEnds, read only
// when a connection's outcome is decided: a lookup reads the slots only,
// 32 bytes each, a bucket two cache lines.
type flowSlot struct {
	hash  uint64 // 0 marks an empty slot
	last  int64  // Unix nanoseconds of the last packet
	age   uint32 // milliseconds from the first packet to the last
	pktsI uint32 // packets from the initiator
	pktsR uint32 // packets from the responder
	state uint16 // st* bits
	// reqAt is when the request under way (stReqOpen) began, or else when
	// the responder last sent data, in tenths of a second after the first
	// packet (saturating after 109 minutes).
	reqAt uint16
}

// first is the time of the flow's first packet, to the millisecond.
func (f *flowSlot) first() int64 { return f.last - int64(f.age)*int64(time.Millisecond) }

// seen records a packet at t.
func (f *flowSlot) seen(t int64) {
	if t > f.last {
		f.age = uint32(min(int64(f.age)+(t-f.last)/int64(time.Millisecond), 1<<32-1))
		f.last = t
	}
}

// flowEnds are a flow's endpoints, initiator first, and where its
// counters sit in the current window's behaviour tables.
type flowEnds struct {
	init, resp   [16]byte
	iport, rport uint16
	proto        decode.Protocol
	web          bool // TCP to a web port
	// sshAccept is the size of an SSH server's first encrypted answer,
	// its SSH_MSG_SERVICE_ACCEPT (see sshAnswer).
	sshAccept uint16
	// echoLen is the wire length of the ICMP flow's last echo request,
	// 0 before one: an echo reply repeats its request's data.
	echoLen uint16
	// data is the data hash of the flow's last echo request, or the
	// community hash of its last SNMP request (decode.PacketInfo.DataHash).
	data uint32
	// Slots of the flow's pair, service, host-wide service and initiator
	// in the behaviour tables of window seq: notLooked, or noRoom.
	seq uint32
	// int16: the tables hold at most 16384 keys (slotsFitInt16), and
	// flowEnds stays one cache line.
	pair, svc, all, host int16
	// slowTurns counts the connection's slow request turns in its
	// first ShortSession seconds (saturating).
	slowTurns uint8
	// zeroWindow: the initiator advertised a zero TCP window since the
	// last window closed; it keeps the responder's data waiting.
	zeroWindow bool
	ssh        bool  // the responder greeted in SSH: counted in its pair
	sshAuth    uint8 // sshKex, sshWaitAccept, the answers read after it, sshLogin (also a login any server accepted in the clear) or sshDone
}

// Cached slot values in flowEnds.
const (
	notLooked = -2
	noRoom    = -1
)

// Connection state bits.
const (
	stInitA       uint16 = 1 << iota // the initiator is endpoint A of the flow key
	stAttempt                        // the initiator opened it where we saw it: an attempt was counted
	stSynAck                         // the responder sent a SYN-ACK
	stEst                            // established: handshake completed, or answered
	stDecided                        // the attempt's outcome was counted
	stFinI                           // FIN from the initiator
	stFinR                           // FIN from the responder
	stRst                            // reset
	stEnded                          // the session's end was counted
	stFirstPort                      // the attempt was a first contact with the service
	stReqOpen                        // initiator data not answered yet: a request under way
	stUnsolicited                    // it began with an answer nobody asked for
	stMid                            // it began mid-connection, or with a probe without SYN
	stReqPost                        // the request under way is an HTTP POST
	stReqPaced                       // the request under way came slowTurn after the responder last spoke
	stHeard                          // the initiator sent data after the handshake, or its silence was counted (Conns.Silent)
)

// FlowStats are the flow table's counters, cumulative over its life.
type FlowStats struct {
	Created uint64 // flows inserted
	Ended   uint64 // flows that timed out or closed
	Evicted uint64 // flows pushed out by a new flow in a full bucket
}

// flowTable is a fixed-size, bucketed hash table of flows.
type flowTable struct {
	slots  []flowSlot
	ends   []flowEnds
	counts []flowCounts // flow export's counters; nil without export
	// endReason says why the flow being ended leaves (an End* value).
	endReason uint8
	mask      uint64 // bucket count - 1
	idle      int64
	active    int64
	used      int // occupied slots
	// occupied has a bit per slot, set while it holds a flow: a window's
	// close visits the flows there are, not every slot (a quiet link's
	// few hundred flows in a table of 65536 slots, 2 MiB).
	occupied []uint64

	stats FlowStats

	// finish is called with a flow about to leave the table, to count
	// what it has not counted yet (an unanswered attempt, a session's
	// end).
	finish func(i int, now int64)

	idleHTTP uint64 // slow, long-lived web connections at the last expire

	// per window, reset by the aggregator
	created    uint64
	endedCount uint64
	endedNanos int64
}

func newFlowTable(max int, idle, active int64) *flowTable {
	buckets := 1
	for buckets*flowBucket < max {
		buckets <<= 1
	}
	return &flowTable{
		slots:    make([]flowSlot, buckets*flowBucket),
		ends:     make([]flowEnds, buckets*flowBucket),
		occupied: make([]uint64, (buckets*flowBucket+63)/64),
		mask:     uint64(buckets - 1),
		idle:     idle,
		active:   active,
	}
}

// capacity is the number of flows the table holds.
func (t *flowTable) capacity() int { return len(t.slots) }

// flowKey orders the endpoints so that both directions share a key, and
// returns the key's hash given the hashes of source and destination
// (never 0), and whether the packet goes from A, the endpoint that sorts
// first, to B.
func flowKey(p *decode.PacketInfo, hs, hd uint64) (hash uint64, fromA bool) {
	return endpointsKey(&p.Src, &p.Dst, p.SrcPort, p.DstPort, p.IPProto, hs, hd)
}

// endpointsKey is flowKey for a packet from src:sport to dst:dport of IP
// protocol proto.
func endpointsKey(src, dst *[16]byte, sport, dport uint16, proto uint8, hs, hd uint64) (hash uint64, fromA bool) {
	// The addresses compare as two big-endian words each: the order of
	// bytes.Compare, without its call.
	s0, d0 := binary.BigEndian.Uint64(src[:8]), binary.BigEndian.Uint64(dst[:8])
	s1, d1 := binary.BigEndian.Uint64(src[8:]), binary.BigEndian.Uint64(dst[8:])
	fromA = s0 < d0 || s0 == d0 && (s1 < d1 || s1 == d1 && sport <= dport)
	if fromA {
		return hashFlow(hs, hd, sport, dport, proto), true
	}
	return hashFlow(hd, hs, dport, sport, proto), false
}

// hashFlow hashes a canonical key from its addresses' hashes; the result
// is never 0.
func hashFlow(ha, hb uint64, ap, bp uint16, proto uint8) uint64 {
	h := ha ^ sketch.Mix64(hb+0x9e3779b97f4a7c15)
	h ^= sketch.Mix64(uint64(ap)<<24 | uint64(bp)<<8 | uint64(proto))
	h = sketch.Mix64(h)
	if h == 0 {
		h = 1
	}
	return h
}

// bucket returns the index of hash's first slot.
func (t *flowTable) bucket(h uint64) int {
	return int(h&t.mask) * flowBucket
}

// touch reads both cache lines of hash's bucket and returns a word of
// them; see Aggregator.AddBatch.
func (t *flowTable) touch(h uint64) uint64 {
	b := t.slots[t.bucket(h):]
	return b[0].hash ^ b[flowBucket/2].hash
}

// touchEnds reads the endpoints of the slot lookup would give a packet of
// hash h: its flow's, or the one a new flow would take or evict. A flow's
// outcome and an evicted flow's end read them; see Aggregator.AddBatch.
func (t *flowTable) touchEnds(h uint64) uint64 {
	base := t.bucket(h)
	i, _ := pick(t.slots[base:base+flowBucket], h)
	return uint64(t.ends[base+i].seq)
}

// pick returns the slot of bucket b holding hash h, found, or else the
// slot a new flow takes: an empty one, or the least recently seen.
func pick(b []flowSlot, h uint64) (int, bool) {
	for i := range b {
		if b[i].hash == h {
			return i, true
		}
	}
	victim := -1
	for i := range b {
		if b[i].hash == 0 {
			return i, false
		}
		if victim < 0 || b[i].last < b[victim].last {
			victim = i
		}
	}
	return victim, false
}

// find returns the slot of the flow whose key hashes to h, if it is in
// the table.
func (t *flowTable) find(h uint64) (int, bool) {
	base := t.bucket(h)
	i, found := pick(t.slots[base:base+flowBucket], h)
	return base + i, found
}

// lookup returns the slot of the flow whose key hashes to h, and whether
// it is new. A new flow takes an empty slot or evicts the least recently
// seen flow of its bucket; the caller fills it in.
func (t *flowTable) lookup(h uint64, now int64) (int, bool) {
	base := t.bucket(h)
	b := t.slots[base : base+flowBucket]
	victim, found := pick(b, h)
	if found {
		return base + victim, false
	}
	i := base + victim
	if b[victim].hash != 0 {
		t.stats.Evicted++
		t.endReason = EndEvicted
		t.end(i, now)
	} else {
		t.used++
	}
	t.occupied[i/64] |= 1 << (i % 64)
	t.stats.Created++
	t.created++
	return i, true
}

// end takes flow i out of the table.
func (t *flowTable) end(i int, now int64) {
	f := &t.slots[i]
	if t.finish != nil {
		t.finish(i, now)
	}
	t.stats.Ended++
	t.endedCount++
	t.endedNanos += int64(f.age) * int64(time.Millisecond)
	f.hash = 0
	t.occupied[i/64] &^= 1 << (i % 64)
}

// expire ends the flows that are idle, too old, or closed, as of now, and
// calls each open flow's visit: the aggregator decides unanswered
// attempts and counts held connections there. It also counts the open web
// connections that are old and nearly idle, the mark of slowloris: at
// least idleHTTPAge old, under one packet per second on average.
func (t *flowTable) expire(now int64, visit func(i int, now int64)) {
	t.idleHTTP = 0
	t.each(func(i int) {
		t.expireSlot(i, now, visit)
	})
}

// each calls fn with every occupied slot, in order. fn may end the flow
// in its slot, not insert one.
func (t *flowTable) each(fn func(i int)) {
	for wi, w := range t.occupied {
		for w != 0 {
			fn(wi*64 + bits.TrailingZeros64(w))
			w &= w - 1
		}
	}
}

// expireSlot is expire's work on the flow in slot i.
func (t *flowTable) expireSlot(i int, now int64, visit func(i int, now int64)) {
	f := &t.slots[i]
	if f.hash == 0 {
		t.occupied[i/64] &^= 1 << (i % 64) // taken but never filled in
		return
	}
	closed := f.state&stRst != 0 || f.state&(stFinI|stFinR) == stFinI|stFinR
	age := now - f.first()
	packets := uint64(f.pktsI) + uint64(f.pktsR)
	// A flow of one or two packets (an unanswered SYN, a probe, a
	// spoofed flood packet) ends after embryonicIdle: a flood's debris
	// must not fill the table and the active-flow count for the whole
	// idle timeout after the flood.
	idle := now - f.last
	if closed || idle >= t.idle || age >= t.active || (packets <= 2 && idle >= embryonicIdle) {
		switch {
		case closed:
			t.endReason = EndOfFlow
		case age >= t.active:
			t.endReason = EndActive
		default:
			t.endReason = EndIdle
		}
		t.end(i, now)
		t.used--
		return
	}
	if visit != nil {
		visit(i, now)
	}
	if t.ends[i].web && age >= idleHTTPAge && packets*1e9 < uint64(age) {
		t.idleHTTP++
	}
}

// embryonicIdle ends flows that never got past their first packets.
const embryonicIdle = int64(5 * time.Second)

// idleHTTPAge is how old a web connection must be to count as idle.
const idleHTTPAge = int64(10 * time.Second)

// webPorts are the web services' ports, plain and TLS: their idle
// connections count as held, their SYNs' sources as web clients, and the
// detector's slowloris and HTTP flood rules judge these (WebPort).
var webPorts = portSet(80, 443, 8000, 8008, 8080, 8443, 8888)

// endAll ends every flow, as when the packet clock starts over.
func (t *flowTable) endAll(now int64) {
	t.each(func(i int) {
		if t.slots[i].hash != 0 {
			t.endReason = EndForced
			t.end(i, now)
		}
	})
	t.used = 0
}

// resetWindow clears the per-window counters.
func (t *flowTable) resetWindow() {
	t.created, t.endedCount, t.endedNanos = 0, 0, 0
}

// arpTable remembers the owner of each address on the link: the MAC that
// claimed it first (an ARP packet's sender, an IPv6 neighbour discovery
// message's link-layer address option) and has kept claiming it, in a
// fixed table (a flood of ARP from random addresses overwrites slots, it
// does not grow the table). A claim by another MAC while the owner is
// still heard from is a conflict, however far apart the two claims fall;
// an owner silent for longer than ownerTimeout hands the address over
// without one (a replaced host, a router failover).
type arpTable struct {
	ips       [arpSlots][16]byte
	owners    [arpSlots][6]byte
	ownerLast [arpSlots]int64
	used      [arpSlots]bool
	// ownerTimeout is how long an owner may stay silent and keep its
	// address, in nanoseconds.
	ownerTimeout int64
	// replaced counts slots taken over by another address.
	replaced uint64
}

const arpSlots = 4096

// take returns the slot of the address ip, given to it with owner mac
// heard at now, and true, when the slot held no address or another.
func (t *arpTable) take(ip [16]byte, mac [6]byte, now int64) (uint64, bool) {
	i := sketch.HashAddr(ip) & (arpSlots - 1)
	if t.used[i] && t.ips[i] == ip {
		return i, false
	}
	if t.used[i] {
		t.replaced++
	}
	t.ips[i], t.owners[i], t.ownerLast[i], t.used[i] = ip, mac, now, true
	return i, true
}

// unspecified reports whether ip is 0.0.0.0 (IPv4-mapped) or ::, the
// address of a host that has none yet (an ARP probe, duplicate address
// detection).
func unspecified(ip [16]byte) bool {
	return ip == [16]byte{} || ip == [16]byte{10: 0xff, 11: 0xff}
}

// reached records that another host answered the address ip at mac (an
// ARP reply's target): evidence of its owner, never a claim.
// It makes mac the owner of an address not known yet and keeps an owner
// that is still reached there as heard from; it changes nothing when the
// address has another owner.
func (t *arpTable) reached(ip [16]byte, mac [6]byte, now int64) {
	if unspecified(ip) || mac == ([6]byte{}) || mac == ([6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) {
		return
	}
	if i, fresh := t.take(ip, mac, now); !fresh && t.owners[i] == mac {
		t.ownerLast[i] = max(t.ownerLast[i], now)
	}
}

// claim records that mac claims the address ip at now, and returns the
// address's owner with the time it last claimed it, and whether mac's
// claim conflicts with it.
func (t *arpTable) claim(ip [16]byte, mac [6]byte, now int64) (owner [6]byte, ownerLast int64, conflict bool) {
	if unspecified(ip) || mac == ([6]byte{}) {
		return owner, 0, false // probes and unanswered requests claim nothing
	}
	i, fresh := t.take(ip, mac, now)
	switch {
	case fresh:
	case t.owners[i] == mac:
		t.ownerLast[i] = max(t.ownerLast[i], now)
	case now-t.ownerLast[i] > t.ownerTimeout:
		t.owners[i], t.ownerLast[i] = mac, now
	default:
		return t.owners[i], t.ownerLast[i], true
	}
	return t.owners[i], t.ownerLast[i], false
}
