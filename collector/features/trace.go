package features

import (
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/collector/features/sketch"
)

// Path probes. traceroute sends probes whose time to live climbs one hop
// at a time from 1, three to a hop, each to a new UDP port (33434 and
// up): past a hop that stays silent, 30 hops are 90 new services of one
// host, all unanswered, a port scan's behaviour. A probe that passes the
// sensor with a time to live of traceStartTTL or less dies a hop or two
// further on: its sender is tracing the path to that destination, and
// its probes there with a higher time to live, up to traceMaxTTL, are the
// trace climbing. They are no attempts on the destination's services.
// A scan's probes reach their target: they leave a sensor on the
// scanner's LAN with 37 or more (nmap draws 37 to 59, stacks send 64, 128
// or 255), and a scan at one low time to live (nmap --ttl 1) does not
// climb, so it is counted.
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

// traceTable remembers, per sender and destination, the lowest time to
// live a trace began with and when its last probe went by.
type traceTable struct {
	key   [traceSlots]uint64
	at    [traceSlots]int64
	start [traceSlots]uint8
}

// probe reports whether p, which opens a flow from src to dst (their
// address hashes), is a climbing probe of a path trace.
func (t *traceTable) probe(p *decode.PacketInfo, src, dst uint64) bool {
	if p.TTL == 0 || p.TTL > traceMaxTTL {
		return false
	}
	k := max(sketch.Mix64(src^sketch.Mix64(dst+0x5851f42d4c957f2d)), 1)
	i := k & (traceSlots - 1)
	live := t.key[i] == k && p.Time-t.at[i] <= traceMemory
	switch {
	case p.TTL <= traceStartTTL:
		if !live || p.TTL < t.start[i] {
			t.key[i], t.start[i] = k, p.TTL
		}
		t.at[i] = p.Time
		return live && p.TTL > t.start[i]
	case live:
		t.at[i] = p.Time
		return true
	}
	return false
}
