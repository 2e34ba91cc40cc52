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

// flow is one conversation, both directions joined: A is the endpoint that
// sorts first. It is padded to one 64-byte cache line, so that reading a
// flow costs one cache miss, not two when it straddles lines.
type flow struct {
	a, b         [16]byte
	aPort, bPort uint16
	proto        uint8
	state        uint8
	packets      uint32
	first        int64
	_            [8]byte
}

// flowMeta is a slot's hash and last-seen time. A bucket's four metas are
// one 64-byte cache line: a lookup reads it and, on a hit, the flow
// record; choosing a victim reads only it.
type flowMeta struct {
	hash uint64 // 0 marks an empty slot
	last int64
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
	meta   []flowMeta
	slots  []flow
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
		meta:   make([]flowMeta, buckets*flowBucket),
		slots:  make([]flow, buckets*flowBucket),
		mask:   uint64(buckets - 1),
		idle:   idle,
		active: active,
	}
}

// capacity is the number of flows the table holds.
func (t *flowTable) capacity() int { return len(t.slots) }

// flowKey orders the endpoints so that both directions share a key, and
// returns the key's hash given the hashes of source and destination
// (never 0), and whether the packet goes from A to B.
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

// touch reads the metadata line of hash's bucket and returns a word of it;
// see Aggregator.AddBatch.
func (t *flowTable) touch(h uint64) uint64 {
	return t.meta[int(h&t.mask)*flowBucket].hash
}

// touchSlots reads the records of hash's bucket, one of which the flow
// will update or take.
func (t *flowTable) touchSlots(h uint64) uint64 {
	base := int(h&t.mask) * flowBucket
	s := t.slots[base : base+flowBucket]
	return uint64(s[0].first ^ s[1].first ^ s[2].first ^ s[3].first)
}

// update records one IP packet of the flow whose key (flowKey) hashes to h.
func (t *flowTable) update(p *decode.PacketInfo, h uint64, fromA bool) {
	a, b, ap, bp := p.Src, p.Dst, p.SrcPort, p.DstPort
	if !fromA {
		a, b, ap, bp = b, a, bp, ap
	}
	base := int(h&t.mask) * flowBucket
	meta := t.meta[base : base+flowBucket]
	for i := range meta {
		if meta[i].hash != h {
			continue
		}
		f := &t.slots[base+i]
		if f.aPort == ap && f.bPort == bp && f.proto == p.IPProto && f.a == a && f.b == b {
			meta[i].last = max(meta[i].last, p.Time)
			f.packets++
			f.state |= tcpState(p, fromA)
			return
		}
	}
	// A new flow: take an empty slot, or evict the least recently seen.
	victim := -1
	for i := range meta {
		if meta[i].hash == 0 {
			victim = i
			break
		}
		if victim < 0 || meta[i].last < meta[victim].last {
			victim = i
		}
	}
	i := base + victim
	if t.meta[i].hash != 0 {
		t.stats.Evicted++
		t.end(i)
	} else {
		t.used++
	}
	t.meta[i] = flowMeta{hash: h, last: p.Time}
	t.slots[i] = flow{a: a, b: b, aPort: ap, bPort: bp, proto: p.IPProto, packets: 1, first: p.Time, state: tcpState(p, fromA)}
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

func (t *flowTable) end(i int) {
	t.stats.Ended++
	t.endedCount++
	t.endedNanos += t.meta[i].last - t.slots[i].first
	t.meta[i].hash = 0
}

// expire ends the flows that are idle, too old, or closed, as of now.
// It also counts the open web connections that are old and nearly idle,
// the mark of slowloris: at least idleHTTPAge old, under one packet per
// second on average.
func (t *flowTable) expire(now int64) {
	t.idleHTTP = 0
	for i := range t.meta {
		if t.meta[i].hash == 0 {
			continue
		}
		f := &t.slots[i]
		closed := f.state&flowRst != 0 || f.state&(flowFinA|flowFinB) == flowFinA|flowFinB
		age := now - f.first
		// A flow of one or two packets (an unanswered SYN, a probe, a
		// spoofed flood packet) ends after embryonicIdle: a flood's debris
		// must not fill the table and the active-flow count for the whole
		// idle timeout after the flood.
		idle := now - t.meta[i].last
		if closed || idle >= t.idle || age >= t.active || (f.packets <= 2 && idle >= embryonicIdle) {
			t.end(i)
			t.used--
			continue
		}
		if f.proto == 6 && (webPorts.has(f.aPort) || webPorts.has(f.bPort)) && age >= idleHTTPAge && uint64(f.packets)*1e9 < uint64(age) {
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
	for i := range t.meta {
		if t.meta[i].hash != 0 {
			t.end(i)
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
