package features

import (
	"cmp"
	"math/bits"
	"slices"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/internal/blocklist"
)

// Blocklists gives the threat-intel lists in force; the configuration
// reload may swap them between any two packets.
type Blocklists interface {
	Set() *blocklist.Set
}

// BlocklistPeer is a local host and a listed address it exchanged
// packets with in a window. The local host is the end not on any list.
type BlocklistPeer struct {
	Local, Peer [16]byte
	Lists       []string // the lists that hold Peer
	Sent        uint32   // packets from Local to Peer
	Received    uint32   // packets from Peer to Local
}

// maxBlocklistPeers caps the pairs a window keeps: a listed scanner
// sweeping a network must not grow it.
const maxBlocklistPeers = 1024

// blocklistState is an aggregator's view of the lists: the per-packet
// lookups through a cache, the counts per list, the window's pairs.
type blocklistState struct {
	lists Blocklists
	set   *blocklist.Set // the cache holds answers of this set
	cache *AddrCache[uint64]
	pairs map[[32]byte]*BlocklistPeer
	// dropped counts packets of pairs that found no room this window.
	dropped uint64
}

func newBlocklistState(l Blocklists) *blocklistState {
	return &blocklistState{lists: l, cache: NewAddrCache[uint64](), pairs: map[[32]byte]*BlocklistPeer{}}
}

// mask returns the lists holding addr, whose hash is h.
func (b *blocklistState) mask(addr [16]byte, h uint64) uint64 {
	return b.cache.Get(addr, h, b.set.Lookup)
}

// packet accounts one IP packet against the lists.
func (a *Aggregator) blocklistPacket(p *decode.PacketInfo, h *packetHashes) {
	b := a.bl
	if set := b.lists.Set(); set != b.set {
		// Lists reloaded: earlier answers may be wrong. Every list in
		// force gets a count, 0 until its first packet.
		b.cache.Reset()
		b.set = set
		if a.counters.BlocklistPackets == nil {
			a.counters.BlocklistPackets = map[string]uint64{}
		}
		for _, name := range set.Names() {
			a.counters.BlocklistPackets[name] += 0
		}
	}
	ms, md := b.mask(p.Src, h.src), b.mask(p.Dst, h.dst)
	if ms|md == 0 {
		return
	}
	for m := ms | md; m != 0; m &= m - 1 {
		a.counters.BlocklistPackets[b.set.Name(bits.TrailingZeros64(m))]++
	}
	// The local end is the one no list holds; with both listed, the
	// sender.
	local, peer, mask, sent := p.Src, p.Dst, md, true
	if md == 0 {
		local, peer, mask, sent = p.Dst, p.Src, ms, false
	}
	var key [32]byte
	copy(key[:16], local[:])
	copy(key[16:], peer[:])
	e := b.pairs[key]
	if e == nil {
		if len(b.pairs) >= maxBlocklistPeers {
			b.dropped++
			return
		}
		e = &BlocklistPeer{Local: local, Peer: peer}
		for m := mask; m != 0; m &= m - 1 {
			e.Lists = append(e.Lists, b.set.Name(bits.TrailingZeros64(m)))
		}
		b.pairs[key] = e
	}
	if sent {
		e.Sent++
	} else {
		e.Received++
	}
}

// emitBlocklist hands the window's pairs out, those the local host sent to
// first and then by packets, and starts the next window.
func (b *blocklistState) emit() (peers []BlocklistPeer, dropped uint64) {
	for _, e := range b.pairs {
		peers = append(peers, *e)
	}
	slices.SortFunc(peers, func(x, y BlocklistPeer) int {
		return cmp.Or(cmp.Compare(y.Sent, x.Sent), cmp.Compare(y.Received, x.Received),
			compareAddr(x.Local, y.Local), compareAddr(x.Peer, y.Peer))
	})
	dropped = b.dropped
	clear(b.pairs)
	b.dropped = 0
	return peers, dropped
}
