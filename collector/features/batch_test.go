package features

import (
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
)

// mixedTraffic is packets of every kind the aggregator tells apart, over
// several windows, with a gap, a clock step back and flows that repeat, so
// that batches straddle window closes and flow table evictions.
func mixedTraffic() []decode.PacketInfo {
	r := rand.New(rand.NewPCG(11, 12))
	var pkts []decode.PacketInfo
	now := at(3)
	for i := range 30_000 {
		switch i {
		case 12_000:
			now += 45 * sec // a gap of empty windows
		case 20_000:
			now -= 60 * sec // the clock steps back
		}
		now += int64(r.IntN(2_000_000)) // 1 ms on average
		src, dst := addrN(r.Uint32N(300)), addrN(r.Uint32N(40))
		var p decode.PacketInfo
		switch k := r.IntN(10); {
		case k < 4:
			p = ipPkt(now, decode.ProtoTCP, src, dst, uint16(40000+r.IntN(8)), uint16(20+r.IntN(100)))
			p.TCPFlags = []uint8{decode.TCPSyn, decode.TCPSyn | decode.TCPAck, decode.TCPAck, decode.TCPFin | decode.TCPAck, decode.TCPRst}[r.IntN(5)]
		case k < 6:
			p = ipPkt(now, decode.ProtoUDP, src, addrN(r.Uint32()), uint16(r.Uint32()), uint16(r.IntN(2000)))
		case k < 7:
			p = ipPkt(now, decode.ProtoICMPv6, addr("2001:db8::1"), addr("2001:db8::2"), 0, 0)
			p.ICMPType = 128
		case k < 8:
			p = dnsPkt(now, r.IntN(2) == 0, uint8(r.IntN(3)), uint32(60+r.IntN(500)))
		case k < 9:
			p = arpPkt(now, uint16(1+r.IntN(2)), "10.0.0.1", "10.0.0.2")
			p.SrcMAC = [6]byte{2, 0, 0, 0, 0, byte(r.IntN(2))}
		default:
			p = decode.PacketInfo{Time: now, WireLen: 60, CapLen: 60, Proto: decode.ProtoOther}
		}
		p.WireLen = uint32(60 + r.IntN(1400))
		pkts = append(pkts, p)
	}
	return pkts
}

// AddBatch is how the pipeline feeds packets; every test above uses Add.
// Both must give the same windows and counters, wherever batches start.
func TestAddBatchMatchesAdd(t *testing.T) {
	pkts := mixedTraffic()
	cfg := cfg10s()
	cfg.FlowsMax = 512 // evictions
	cfg.TopK = 5
	want, wantAgg := run(t, cfg, pkts, func(a *Aggregator) { a.Flush() })
	if len(want) < 8 {
		t.Fatalf("%d windows; the traffic should span at least 8", len(want))
	}
	for _, size := range []int{1, 3, 255, 256, 257, 1000, len(pkts)} {
		var got []*Window
		a := NewAggregator(cfg, "eth0", func(w *Window) { got = append(got, w) })
		a.Advance(t0) // as run does
		for rest := pkts; len(rest) > 0; {
			n := min(size, len(rest))
			a.AddBatch(rest[:n])
			rest = rest[n:]
		}
		a.Flush()
		if len(got) != len(want) {
			t.Fatalf("batches of %d: %d windows, Add gave %d", size, len(got), len(want))
		}
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("batches of %d: window %d differs\n got %+v\nwant %+v", size, i, got[i].Features, want[i].Features)
			}
		}
		if g, w := a.Counters(), wantAgg.Counters(); !reflect.DeepEqual(g, w) {
			t.Fatalf("batches of %d: counters differ\n got %+v\nwant %+v", size, g, w)
		}
	}
}

// TestAddBatchDoesNotAllocate checks that packets cost no allocation: only
// closing a window does (the Window and its lists, a fixed number).
func TestAddBatchDoesNotAllocate(t *testing.T) {
	pkts := mixedTraffic()[:12_000] // no clock step: windows close normally
	a := NewAggregator(cfg10s(), "eth0", func(*Window) {})
	a.AddBatch(pkts[:5000])
	rest := pkts[5000:]
	windows := a.counters.Windows
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for range 20 {
		a.AddBatch(rest[:256])
		rest = rest[256:]
	}
	runtime.ReadMemStats(&m1)
	closed := a.counters.Windows - windows
	if allocs := m1.Mallocs - m0.Mallocs; allocs > 32*closed {
		t.Errorf("20 batches of 256 packets closing %d windows allocate %d times, want at most 32 per window", closed, allocs)
	}
}
