package features

import (
	"cmp"
	"slices"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
)

// TestFlowExport: every flow leaving the table is reported once, with its
// 5-tuple initiator first, its times, packets, bytes and TCP flags each
// way, and why it left.
func TestFlowExport(t *testing.T) {
	var got []FlowRecord
	cfg := cfg10s()
	cfg.FlowExport = func(r *FlowRecord) { got = append(got, *r) }
	var wins []*Window
	a := NewAggregator(cfg, "eth0", func(w *Window) { wins = append(wins, w) })
	pkts := []decode.PacketInfo{
		// A TCP session that closes: 4 packets out, 3 back.
		withSize(tcpPkt(at(1), "10.0.0.1", "10.0.0.2", 40000, 80, syn), 74),
		withSize(tcpPkt(at(1.01), "10.0.0.2", "10.0.0.1", 80, 40000, synAck), 74),
		withSize(tcpPkt(at(1.02), "10.0.0.1", "10.0.0.2", 40000, 80, pshAck), 300),
		withSize(tcpPkt(at(1.05), "10.0.0.2", "10.0.0.1", 80, 40000, pshAck), 1500),
		withSize(tcpPkt(at(1.06), "10.0.0.1", "10.0.0.2", 40000, 80, finAck), 66),
		withSize(tcpPkt(at(1.07), "10.0.0.2", "10.0.0.1", 80, 40000, finAck), 66),
		withSize(tcpPkt(at(1.08), "10.0.0.1", "10.0.0.2", 40000, 80, ack), 66),
		// A DNS query and its answer, then silence past the idle timeout.
		withSize(udpPkt(at(2), "10.0.0.1", "10.0.0.53", 5353, 53), 80),
		withSize(udpPkt(at(2.01), "10.0.0.53", "10.0.0.1", 53, 5353), 200),
		// Open when the capture ends.
		withSize(tcpPkt(at(70), "10.0.0.3", "10.0.0.2", 40001, 22, syn), 74),
		withSize(tcpPkt(at(70.01), "10.0.0.2", "10.0.0.3", 22, 40001, synAck), 74),
		withSize(tcpPkt(at(70.02), "10.0.0.3", "10.0.0.2", 40001, 22, ack), 66),
	}
	for i := range pkts {
		a.Add(&pkts[i])
	}
	a.Flush()
	want := []FlowRecord{
		{Src: addr("10.0.0.1"), Dst: addr("10.0.0.2"), SrcPort: 40000, DstPort: 80, IPProto: 6, Start: at(1), End: at(1.08),
			Packets: 4, Bytes: 74 + 300 + 66 + 66, RevPackets: 3, RevBytes: 74 + 1500 + 66,
			Flags: syn | pshAck | finAck, RevFlags: synAck | pshAck | finAck, EndReason: EndOfFlow},
		{Src: addr("10.0.0.1"), Dst: addr("10.0.0.53"), SrcPort: 5353, DstPort: 53, IPProto: 17, Start: at(2), End: at(2.01),
			Packets: 1, Bytes: 80, RevPackets: 1, RevBytes: 200, EndReason: EndIdle},
		{Src: addr("10.0.0.3"), Dst: addr("10.0.0.2"), SrcPort: 40001, DstPort: 22, IPProto: 6, Start: at(70), End: at(70.02),
			Packets: 2, Bytes: 140, RevPackets: 1, RevBytes: 74, Flags: syn | ack, RevFlags: synAck, EndReason: EndForced},
	}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d: %+v", len(got), len(want), got)
	}
	// Flows that end at one sweep come out in table order.
	slices.SortFunc(got, func(x, y FlowRecord) int { return cmp.Compare(x.Start, y.Start) })
	for i := range want {
		g, w := got[i], want[i]
		// Times are kept to the millisecond.
		if abs(g.Start-w.Start) > 1e6 || abs(g.End-w.End) > 1e6 {
			t.Errorf("record %d: times %d-%d, want %d-%d", i, g.Start, g.End, w.Start, w.End)
		}
		g.Start, g.End = w.Start, w.End
		if g != w {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func abs(x int64) int64 { return max(x, -x) }

// TestFlowExportEviction: a flood that fills the table reports the flows
// it pushes out as ended for lack of room, and every flow once.
func TestFlowExportEviction(t *testing.T) {
	reasons := map[uint8]int{}
	cfg := cfg10s()
	cfg.FlowsMax = 64
	cfg.FlowExport = func(r *FlowRecord) { reasons[r.EndReason]++ }
	a := NewAggregator(cfg, "eth0", func(*Window) {})
	const n = 1000
	for i := range n {
		p := ipPkt(at(1+float64(i)/1e4), decode.ProtoTCP, addrN(uint32(i)), addr("10.0.0.2"), 1024, 80)
		p.TCPFlags = syn
		a.Add(&p)
	}
	a.Flush()
	if reasons[EndEvicted] < n-64 || reasons[EndEvicted]+reasons[EndForced] != n {
		t.Errorf("end reasons %v for %d flows in a 64-flow table", reasons, n)
	}
}
