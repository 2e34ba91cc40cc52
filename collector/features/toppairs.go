package features

import (
	"cmp"
	"slices"
)

// PairEntry is one conversation between two hosts: the initiator of its
// flows, their responder, and the packets the flows still open carried.
type PairEntry struct {
	Src, Dst [16]byte
	Packets  uint64
}

// topPairs sums the open flows' packets per initiator and responder and
// returns the Config.TopK busiest pairs. It walks the flow table once a
// window.
func (a *Aggregator) topPairs() []PairEntry {
	if a.pairSums == nil {
		a.pairSums = map[[32]byte]uint64{}
	}
	clear(a.pairSums)
	t := a.flows
	var k [32]byte
	for i := range t.slots {
		f := &t.slots[i]
		if f.hash == 0 {
			continue
		}
		e := &t.ends[i]
		copy(k[:16], e.init[:])
		copy(k[16:], e.resp[:])
		a.pairSums[k] += uint64(f.pktsI) + uint64(f.pktsR)
	}
	out := make([]PairEntry, 0, len(a.pairSums))
	for k, n := range a.pairSums {
		out = append(out, PairEntry{Src: [16]byte(k[:16]), Dst: [16]byte(k[16:]), Packets: n})
	}
	slices.SortFunc(out, func(x, y PairEntry) int {
		return cmp.Or(cmp.Compare(y.Packets, x.Packets), compareAddr(x.Src, y.Src), compareAddr(x.Dst, y.Dst))
	})
	return slices.Clip(out[:min(len(out), a.cfg.TopK)])
}
