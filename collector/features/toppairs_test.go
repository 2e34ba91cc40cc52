package features

import "testing"

// TestTopPairs: the open flows' packets add up per initiator and
// responder, busiest first, capped at TopK; closed flows are gone.
func TestTopPairs(t *testing.T) {
	cfg := cfg10s()
	cfg.TopK = 2
	var wins []*Window
	a := NewAggregator(cfg, "eth0", func(w *Window) { wins = append(wins, w) })
	add := func(t0s float64, src, dst string, sport uint16, n int) {
		for range n {
			p := tcpPkt(at(t0s), src, dst, sport, 443, ack)
			a.Add(&p)
		}
	}
	add(1, "10.0.0.1", "192.0.2.1", 40000, 5) // two flows of one pair: 5 + 4
	add(2, "10.0.0.1", "192.0.2.1", 40001, 4)
	add(3, "10.0.0.2", "192.0.2.1", 40000, 7)
	add(4, "10.0.0.3", "192.0.2.9", 40000, 1)
	a.Advance(at(10))
	got := wins[0].TopPairs
	if len(got) != 2 || got[0].Src != addr("10.0.0.1") || got[0].Packets != 9 || got[1].Src != addr("10.0.0.2") || got[1].Packets != 7 {
		t.Errorf("top pairs %+v", got)
	}
}
