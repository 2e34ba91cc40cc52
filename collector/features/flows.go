package features

import (
	"bytes"
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
// attacker's own flows. Without addresses a slot takes 32 bytes and a
// bucket two cache lines, all that a lookup reads.
type flowSlot struct {
	hash    uint64 // 0 marks an empty slot
	last    int64  // Unix nanoseconds of the last packet
	first   int64  // and of the first
	packets uint32
	state   uint8 // flowFin* and flowRst bits
	web     bool  // TCP to or from a web port
	_       [2]byte
}

// flow states.
const (
	flowFinA uint8 = 1 << iota
	flowFinB
	flowRst
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
	mask   uint64 // bucket count - 1
	idle   int64
	active int64
	used   int // occupied slots

	stats FlowStats

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
		slots:  make([]flowSlot, buckets*flowBucket),
		mask:   uint64(buckets - 1),
		idle:   idle,
		active: active,
	}
}

// capacity is the number of flows the table holds.
func (t *flowTable) capacity() int { return len(t.slots) }

// flowKey orders the endpoints so that both directions share a key, and
// returns the key's hash given the hashes of source and destination
// (never 0), and whether the packet goes from A, the endpoint that sorts
// first, to B.
func flowKey(p *decode.PacketInfo, hs, hd uint64) (hash uint64, fromA bool) {
	c := bytes.Compare(p.Src[:], p.Dst[:])
	fromA = c < 0 || (c == 0 && p.SrcPort <= p.DstPort)
	if fromA {
		return hashFlow(hs, hd, p.SrcPort, p.DstPort, p.IPProto), true
	}
	return hashFlow(hd, hs, p.DstPort, p.SrcPort, p.IPProto), false
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

// bucket returns the slots of hash's bucket.
func (t *flowTable) bucket(h uint64) []flowSlot {
	base := int(h&t.mask) * flowBucket
	return t.slots[base : base+flowBucket]
}

// touch reads both cache lines of hash's bucket and returns a word of
// them; see Aggregator.AddBatch.
func (t *flowTable) touch(h uint64) uint64 {
	b := t.bucket(h)
	return b[0].hash ^ b[flowBucket/2].hash
}

// update records one IP packet of the flow whose key (flowKey) hashes to h.
func (t *flowTable) update(p *decode.PacketInfo, h uint64, fromA bool) {
	b := t.bucket(h)
	for i := range b {
		if f := &b[i]; f.hash == h {
			f.last = max(f.last, p.Time)
			f.packets++
			f.state |= tcpState(p, fromA)
			return
		}
	}
	// A new flow: take an empty slot, or evict the least recently seen.
	victim := -1
	for i := range b {
		if b[i].hash == 0 {
			victim = i
			break
		}
		if victim < 0 || b[i].last < b[victim].last {
			victim = i
		}
	}
	f := &b[victim]
	if f.hash != 0 {
		t.stats.Evicted++
		t.end(f)
	} else {
		t.used++
	}
	*f = flowSlot{
		hash:    h,
		last:    p.Time,
		first:   p.Time,
		packets: 1,
		state:   tcpState(p, fromA),
		web:     p.Proto == decode.ProtoTCP && (webPorts.has(p.SrcPort) || webPorts.has(p.DstPort)),
	}
	t.stats.Created++
	t.created++
}

func tcpState(p *decode.PacketInfo, fromA bool) uint8 {
	if p.Proto != decode.ProtoTCP {
		return 0
	}
	var s uint8
	if p.TCPFlags&decode.TCPRst != 0 {
		s |= flowRst
	}
	if p.TCPFlags&decode.TCPFin != 0 {
		if fromA {
			s |= flowFinA
		} else {
			s |= flowFinB
		}
	}
	return s
}

func (t *flowTable) end(f *flowSlot) {
	t.stats.Ended++
	t.endedCount++
	t.endedNanos += f.last - f.first
	f.hash = 0
}

// expire ends the flows that are idle, too old, or closed, as of now.
// It also counts the open web connections that are old and nearly idle,
// the mark of slowloris: at least idleHTTPAge old, under one packet per
// second on average.
func (t *flowTable) expire(now int64) {
	t.idleHTTP = 0
	for i := range t.slots {
		f := &t.slots[i]
		if f.hash == 0 {
			continue
		}
		closed := f.state&flowRst != 0 || f.state&(flowFinA|flowFinB) == flowFinA|flowFinB
		age := now - f.first
		// A flow of one or two packets (an unanswered SYN, a probe, a
		// spoofed flood packet) ends after embryonicIdle: a flood's debris
		// must not fill the table and the active-flow count for the whole
		// idle timeout after the flood.
		idle := now - f.last
		if closed || idle >= t.idle || age >= t.active || (f.packets <= 2 && idle >= embryonicIdle) {
			t.end(f)
			t.used--
			continue
		}
		if f.web && age >= idleHTTPAge && uint64(f.packets)*1e9 < uint64(age) {
			t.idleHTTP++
		}
	}
}

// embryonicIdle ends flows that never got past their first packets.
const embryonicIdle = int64(5 * time.Second)

// idleHTTPAge is how old a web connection must be to count as idle.
const idleHTTPAge = int64(10 * time.Second)

var webPorts = portSet(80, 443, 8000, 8008, 8080, 8443)

// endAll ends every flow, as when the packet clock starts over.
func (t *flowTable) endAll() {
	for i := range t.slots {
		if t.slots[i].hash != 0 {
			t.end(&t.slots[i])
		}
	}
	t.used = 0
}

// resetWindow clears the per-window counters.
func (t *flowTable) resetWindow() {
	t.created, t.endedCount, t.endedNanos = 0, 0, 0
}

// arpTable remembers which MAC last claimed each IPv4 address, in a fixed
// table: a flood of ARP from random addresses overwrites slots, it does
// not grow the table.
type arpTable struct {
	ips  [arpSlots]uint32
	macs [arpSlots][6]byte
	used [arpSlots]bool
}

const arpSlots = 4096

// claim records that mac claims the IPv4-mapped address ip, and reports
// whether another MAC claimed it before.
func (t *arpTable) claim(ip [16]byte, mac [6]byte) bool {
	v4 := uint32(ip[12])<<24 | uint32(ip[13])<<16 | uint32(ip[14])<<8 | uint32(ip[15])
	if v4 == 0 || mac == ([6]byte{}) {
		return false // probes and unanswered requests claim nothing
	}
	i := sketch.Mix64(uint64(v4)) & (arpSlots - 1)
	conflict := t.used[i] && t.ips[i] == v4 && t.macs[i] != mac
	t.ips[i], t.macs[i], t.used[i] = v4, mac, true
	return conflict
}
