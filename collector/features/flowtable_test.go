package features

import (
	"math/bits"
	"math/rand/v2"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
)

// TestFlowTableOccupied: the occupancy bitmap a window's close walks has a
// bit set for exactly the slots that hold a flow, through new flows,
// evictions from full buckets, closes, resets and idle timeouts.
func TestFlowTableOccupied(t *testing.T) {
	cfg := cfg10s()
	cfg.FlowsMax = 256
	a := NewAggregator(cfg, "eth0", func(*Window) {})
	check := func(when string) {
		t.Helper()
		ft := a.flows
		set := 0
		for i := range ft.slots {
			bit := ft.occupied[i/64]&(1<<(i%64)) != 0
			if bit != (ft.slots[i].hash != 0) {
				t.Fatalf("%s: slot %d holds hash %x, occupied bit %v", when, i, ft.slots[i].hash, bit)
			}
		}
		for _, w := range ft.occupied {
			set += bits.OnesCount64(w)
		}
		if set != ft.used {
			t.Fatalf("%s: %d occupied bits, %d slots used", when, set, ft.used)
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	flags := []uint8{decode.TCPSyn, decode.TCPAck, decode.TCPAck | decode.TCPFin, decode.TCPRst, decode.TCPSyn | decode.TCPAck}
	now := t0
	for i := range 200_000 {
		// Bursts and lulls: flows pile up, fill buckets, then time out.
		if i%20_000 == 0 {
			now += int64(40e9)
		} else {
			now += 50_000
		}
		p := ipPkt(now, decode.ProtoTCP, addrN(r.Uint32N(600)), addrN(r.Uint32N(40)), uint16(1024+r.IntN(8)), 80)
		p.TCPFlags = flags[r.IntN(len(flags))]
		a.Add(&p)
		if i%9_973 == 0 {
			check("mid-run")
		}
	}
	check("at the end")
	a.Flush()
	a.flows.endAll(now)
	check("after ending every flow")
	if a.flows.used != 0 {
		t.Fatalf("%d flows left after endAll", a.flows.used)
	}
}
