package features

import (
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/collector/features/sketch"
)

// Path probes. traceroute sends probes whose time to live climbs one hop
// at a time from 1, three to a hop, each to a new UDP port (33434 and
// up): past a hop that stays silent, 30 hops are 90 new services of one
// host, all unanswered, a port scan's behaviour; mtr -u climbs the same
// ladder once a second. A probe that passes the sensor with a time to
// live of traceStartTTL or less dies a hop or two further on: its sender
// may be tracing the path to that destination. Its probes there that
// climb from it, one hop at a time up to traceMaxTTL, and a ladder's
// next round from the bottom again, are the trace: no attempts on the
// destination's services.
//
// A scan's probes reach their target: they leave a sensor on the
// scanner's LAN with 37 or more (nmap draws 37 to 59, stacks send 64, 128
// or 255). A scan at one low time to live (nmap --ttl 1), or one at
// another after a probe at 1, does not climb, so it is counted. One that
// climbs a ladder from 1 to 32 over and over is taken for a trace.
const (
	traceStartTTL = 2
	traceMaxTTL   = 32
	// traceMemory is how long a trace is remembered after its last
	// probe: traceroute waits 5 s for a hop's answer.
	traceMemory = int64(30 * time.Second)
	// traceSlots bounds the traces remembered: one per slot, a newer
	// pair taking an older one's slot.
	traceSlots = 1024
)

// traceTable remembers, per sender and destination, the lowest and the
// highest time to live of a trace's probes and when its last probe went
// by.
type traceTable struct {
	key        [traceSlots]uint64
	at         [traceSlots]int64
	start, top [traceSlots]uint8
	// replaced counts traces forgotten while live, their slot taken by
	// another sender and destination's (their next probes count as
	// contacts again).
	replaced uint64
}

// probe reports whether p, which opens a flow from src to dst (their
// address hashes), is a probe of a path trace past its first.
func (t *traceTable) probe(p *decode.PacketInfo, src, dst uint64) bool {
	if p.TTL == 0 || p.TTL > traceMaxTTL {
		return false
	}
	k := max(sketch.Mix64(src^sketch.Mix64(dst+0x5851f42d4c957f2d)), 1)
	i := k & (traceSlots - 1)
	switch live := t.key[i] == k && p.Time-t.at[i] <= traceMemory; {
	case !live:
		if p.TTL <= traceStartTTL {
			if t.key[i] != 0 && t.key[i] != k && p.Time-t.at[i] <= traceMemory {
				t.replaced++
			}
			t.key[i], t.at[i], t.start[i], t.top[i] = k, p.Time, p.TTL, p.TTL
		}
		return false
	case p.TTL <= t.start[i]:
		// The bottom again: a hop's next probe, or the ladder's next
		// round once it has climbed.
		t.at[i] = p.Time
		t.start[i] = p.TTL
		return t.top[i] > p.TTL
	case p.TTL <= t.top[i]+1:
		t.at[i], t.top[i] = p.Time, max(t.top[i], p.TTL)
		return true
	}
	return false // a jump: no ladder
}
