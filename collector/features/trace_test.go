package features

import (
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
)

// TestPathTrace: a traceroute's probes climbing past a silent hop are no
// first contacts, nor attempts; a scan's are, whatever time to live it
// sends them with.
func TestPathTrace(t *testing.T) {
	const tracer, far, other = "10.0.0.66", "198.51.100.7", "198.51.100.8"
	const tracer6, far6 = "2001:db8::66", "2001:db8:1::7"
	probe := func(s float64, src, dst string, port uint16, ttl uint8) decode.PacketInfo {
		p := udpPkt(at(s), src, dst, 40000, port)
		p.TTL = ttl
		return p
	}
	// traceroute: 30 hops of 3 probes, ports 33434 and up, a probe every
	// 0.1 s (16 at once, then one per silent probe's 5 s): nothing answers.
	trace := func(start float64, src, dst string, firstTTL uint8) []decode.PacketInfo {
		var pkts []decode.PacketInfo
		for i := range 90 {
			pkts = append(pkts, probe(start+float64(i)*0.1, src, dst, 33434+uint16(i), firstTTL+uint8(i/3)))
		}
		return pkts
	}
	cases := []struct {
		name               string
		pkts               []decode.PacketInfo
		newPorts, attempts uint32
	}{
		{"traceroute -6: the hop limit climbs as a time to live does", trace(1, tracer6, far6, 1), 3, 3},
		{"traceroute past a silent hop: the first hop's three probes are first contacts", trace(1, tracer, far, 1), 3, 3},
		{"a trace seen from a sensor two hops on (its time to live starts at 2 here)", trace(1, tracer, far, 2), 3, 3},
		{"a scan at one low time to live (nmap --ttl 1) does not climb", func() []decode.PacketInfo {
			var pkts []decode.PacketInfo
			for i := range 200 {
				pkts = append(pkts, probe(1+float64(i)*0.01, tracer, far, uint16(1+i), 1))
			}
			return pkts
		}(), 200, 200},
		{"a scan at 37 or more right after a trace (nmap --traceroute)", func() []decode.PacketInfo {
			pkts := trace(1, tracer, far, 1)
			for i := range 200 {
				pkts = append(pkts, probe(11+float64(i)*0.01, tracer, far, uint16(1+i), 37+uint8(i%23)))
			}
			return pkts
		}(), 3 + 200, 3 + 200},
		{"climbing probes to another destination than the trace's", append(trace(1, tracer, far, 1), func() []decode.PacketInfo {
			var pkts []decode.PacketInfo
			for i := range 60 {
				pkts = append(pkts, probe(11+float64(i)*0.01, tracer, other, uint16(1000+i), 3+uint8(i/3)))
			}
			return pkts
		}()...), 3 + 60, 3 + 60},
		{"a scan at 10 after a probe at 1 does not climb", append([]decode.PacketInfo{probe(1, tracer, far, 33434, 1)}, func() []decode.PacketInfo {
			var pkts []decode.PacketInfo
			for i := range 100 {
				pkts = append(pkts, probe(2+float64(i)*0.01, tracer, far, uint16(1+i), 10))
			}
			return pkts
		}()...), 1 + 100, 1 + 100},
		{"mtr -u: the ladder climbed again and again, a new port each probe", func() []decode.PacketInfo {
			var pkts []decode.PacketInfo
			for round := range 20 {
				for hop := range 10 {
					pkts = append(pkts, probe(1+float64(round)+float64(hop)*0.05, tracer, far, uint16(33000+round*10+hop), uint8(hop+1)))
				}
			}
			return pkts
		}(), 1, 1},
		{"a trace forgotten 30 s after its last probe", append(trace(1, tracer, far, 1), probe(50, tracer, far, 2000, 20)), 3 + 1, 3 + 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bs := behaviourOf(t, c.pkts, 70)
			src := c.pkts[0].Src
			h := hostsOf(bs)[src]
			var attempts uint32
			for k, p := range pairsOf(bs) {
				if k.Src == src {
					attempts += p.Attempts
				}
			}
			if h.NewPorts != c.newPorts || attempts != c.attempts {
				t.Errorf("%d first contacts, %d attempts; want %d and %d", h.NewPorts, attempts, c.newPorts, c.attempts)
			}
		})
	}
}

// TestTraceTableBounded: traces from more senders at once than the table
// holds take each other's slots, counted; the table does not grow.
func TestTraceTableBounded(t *testing.T) {
	var tt traceTable
	for i := range 4 * traceSlots {
		p := decode.PacketInfo{Time: at(1 + float64(i)*0.001), TTL: 1}
		tt.probe(&p, uint64(i)+1, 7)
	}
	// After the first thousand or so, nearly every start lands on a live
	// slot of another pair.
	if tt.replaced < traceSlots || tt.replaced >= 4*traceSlots {
		t.Errorf("%d live traces replaced by %d starts in %d slots", tt.replaced, 4*traceSlots, traceSlots)
	}
	// The same sender and destination again is its own trace: its first
	// start may take another's slot, its second replaces nothing.
	before := tt.replaced
	p := decode.PacketInfo{Time: at(6), TTL: 1}
	tt.probe(&p, 1, 7)
	tt.probe(&p, 1, 7)
	if tt.replaced > before+1 {
		t.Errorf("a trace's own second start counted as replacing: %d -> %d", before, tt.replaced)
	}
}
