package features

import (
	"bytes"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/collector/features/sketch"
)

// flowBucket is the number of slots probed per hash. A full bucket evicts
// its least recently seen flow, so a flood of new flows costs the same
// memory as a quiet link and old flows age out first.
const flowBucket = 8

// flow is one conversation, both directions joined: A is the endpoint that
// sorts first.
type flow struct {
	hash         uint64 // 0 marks an empty slot
	a, b         [16]byte
	aPort, bPort uint16
	proto        uint8
	state        uint8
	first, last  int64
	packets      uint64
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
	slots  []flow
	mask   uint64 // bucket count - 1
	idle   int64
	active int64
	used   int // occupied slots

	stats FlowStats

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
		slots:  make([]flow, buckets*flowBucket),
		mask:   uint64(buckets - 1),
		idle:   idle,
		active: active,
	}
}

// capacity is the number of flows the table holds.
func (t *flowTable) capacity() int { return len(t.slots) }

// flowKey orders the endpoints so that both directions share a key.
func flowKey(p *decode.PacketInfo) (a, b [16]byte, ap, bp uint16, fromA bool) {
	c := bytes.Compare(p.Src[:], p.Dst[:])
	if c < 0 || (c == 0 && p.SrcPort <= p.DstPort) {
		return p.Src, p.Dst, p.SrcPort, p.DstPort, true
	}
	return p.Dst, p.Src, p.DstPort, p.SrcPort, false
}

// hashFlow hashes a canonical key; the result is never 0.
func hashFlow(a, b [16]byte, ap, bp uint16, proto uint8) uint64 {
	h := sketch.HashAddr(a) ^ sketch.Mix64(sketch.HashAddr(b)+0x9e3779b97f4a7c15)
	h ^= sketch.Mix64(uint64(ap)<<24 | uint64(bp)<<8 | uint64(proto))
	h = sketch.Mix64(h)
	if h == 0 {
		h = 1
	}
	return h
}

// update records one IP packet and returns the flow's hash.
func (t *flowTable) update(p *decode.PacketInfo) uint64 {
	a, b, ap, bp, fromA := flowKey(p)
	h := hashFlow(a, b, ap, bp, p.IPProto)
	base := int(h&t.mask) * flowBucket
	bucket := t.slots[base : base+flowBucket]
	victim := -1
	for i := range bucket {
		f := &bucket[i]
		if f.hash == h && f.aPort == ap && f.bPort == bp && f.proto == p.IPProto && f.a == a && f.b == b {
			f.last = max(f.last, p.Time)
			f.packets++
			f.state |= tcpState(p, fromA)
			return h
		}
		if f.hash == 0 {
			if victim < 0 || bucket[victim].hash != 0 {
				victim = i
			}
		} else if victim < 0 || (bucket[victim].hash != 0 && f.last < bucket[victim].last) {
			victim = i
		}
	}
	f := &bucket[victim]
	if f.hash != 0 {
		t.stats.Evicted++
		t.end(f)
	} else {
		t.used++
	}
	*f = flow{hash: h, a: a, b: b, aPort: ap, bPort: bp, proto: p.IPProto, first: p.Time, last: p.Time, packets: 1, state: tcpState(p, fromA)}
	t.stats.Created++
	t.created++
	return h
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

func (t *flowTable) end(f *flow) {
	t.stats.Ended++
	t.endedCount++
	t.endedNanos += f.last - f.first
	f.hash = 0
}

// expire ends the flows that are idle, too old, or closed, as of now.
func (t *flowTable) expire(now int64) {
	for i := range t.slots {
		f := &t.slots[i]
		if f.hash == 0 {
			continue
		}
		closed := f.state&flowRst != 0 || f.state&(flowFinA|flowFinB) == flowFinA|flowFinB
		if closed || now-f.last >= t.idle || now-f.first >= t.active {
			t.end(f)
			t.used--
		}
	}
}

// resetWindow clears the per-window counters.
func (t *flowTable) resetWindow() {
	t.created, t.endedCount, t.endedNanos = 0, 0, 0
}
