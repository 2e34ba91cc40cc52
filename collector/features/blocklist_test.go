package features

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/internal/blocklist"
)

// swappable is a Blocklists whose set a test replaces, as a reload does.
type swappable struct{ p atomic.Pointer[blocklist.Set] }

func (s *swappable) Set() *blocklist.Set { return s.p.Load() }

func testSet(t *testing.T, lists map[string]string) *blocklist.Set {
	t.Helper()
	var names []string
	var cs []*blocklist.Contents
	for _, name := range []string{"drop", "c2"} {
		text, ok := lists[name]
		if !ok {
			continue
		}
		c, err := blocklist.Parse(strings.NewReader(text), name+".txt", 0)
		if err != nil {
			t.Fatal(err)
		}
		names, cs = append(names, name), append(cs, c)
	}
	s, err := blocklist.NewSet(names, cs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBlocklistedPeers: packets to and from listed addresses count per
// list, and each window names the local hosts that exchanged packets with
// them, the listed address and its lists; a reload takes effect at once.
func TestBlocklistedPeers(t *testing.T) {
	lists := &swappable{}
	lists.p.Store(testSet(t, map[string]string{"drop": "198.51.100.0/24\n", "c2": "198.51.100.7\n2001:db8:bad::/48\n"}))
	cfg := cfg10s()
	cfg.Blocklists = lists
	var wins []*Window
	a := NewAggregator(cfg, "eth0", func(w *Window) { wins = append(wins, w) })
	pkts := []decode.PacketInfo{
		tcpPkt(at(1), "10.0.0.5", "198.51.100.7", 40000, 443, syn),      // beacon out: drop and c2
		tcpPkt(at(1.1), "198.51.100.7", "10.0.0.5", 443, 40000, synAck), // its answer
		tcpPkt(at(2), "198.51.100.9", "10.0.0.6", 5555, 22, syn),        // a listed scanner, unanswered
		udpPkt(at(3), "10.0.0.8", "192.0.2.1", 5353, 53),                // unlisted
		ipPkt(at(4), decode.ProtoTCP, addr("2001:db8::5"), addr("2001:db8:bad::1"), 40001, 443),
	}
	for i := range pkts {
		a.Add(&pkts[i])
	}
	a.Advance(at(10))
	if len(wins) != 1 {
		t.Fatalf("%d windows", len(wins))
	}
	got := wins[0].Blocklisted
	want := []BlocklistPeer{
		{Local: addr("10.0.0.5"), Peer: addr("198.51.100.7"), Lists: []string{"drop", "c2"}, Sent: 1, Received: 1},
		{Local: addr("2001:db8::5"), Peer: addr("2001:db8:bad::1"), Lists: []string{"c2"}, Sent: 1},
		{Local: addr("10.0.0.6"), Peer: addr("198.51.100.9"), Lists: []string{"drop"}, Received: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("pairs %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Local != w.Local || g.Peer != w.Peer || !slices.Equal(g.Lists, w.Lists) || g.Sent != w.Sent || g.Received != w.Received {
			t.Errorf("pair %d: %+v, want %+v", i, g, w)
		}
	}
	c := a.Counters()
	if c.BlocklistPackets["drop"] != 3 || c.BlocklistPackets["c2"] != 3 || len(c.BlocklistPackets) != 2 {
		t.Errorf("packets per list %v, want drop 3 and c2 3", c.BlocklistPackets)
	}

	// A reload that drops 198.51.100.0/24 from drop: the cached answer
	// for the beacon's peer must not survive it.
	lists.p.Store(testSet(t, map[string]string{"drop": "203.0.113.0/24\n"}))
	p := tcpPkt(at(11), "10.0.0.5", "198.51.100.7", 40000, 443, ack)
	a.Add(&p)
	a.Advance(at(20))
	if n := len(wins[1].Blocklisted); n != 0 {
		t.Errorf("after the reload: %+v", wins[1].Blocklisted)
	}
	if c := a.Counters(); c.BlocklistPackets["drop"] != 3 {
		t.Errorf("after the reload: %v", c.BlocklistPackets)
	}
}

// TestBlocklistBounded: a listed host sweeping a network cannot grow the
// window's pairs past their cap; what finds no room is counted.
func TestBlocklistBounded(t *testing.T) {
	lists := &swappable{}
	lists.p.Store(testSet(t, map[string]string{"drop": "198.51.100.0/24\n"}))
	cfg := cfg10s()
	cfg.Blocklists = lists
	var wins []*Window
	a := NewAggregator(cfg, "eth0", func(w *Window) { wins = append(wins, w) })
	const n = 5000
	for i := range n {
		p := ipPkt(at(1+float64(i)/1000), decode.ProtoTCP, addr("198.51.100.9"), addrN(uint32(i)), 5555, 22)
		a.Add(&p)
	}
	a.Advance(at(10))
	c := a.Counters()
	if len(wins[0].Blocklisted) != maxBlocklistPeers || c.BlocklistPairsDropped != n-maxBlocklistPeers || c.BlocklistPackets["drop"] != n {
		t.Errorf("%d pairs, %d dropped, %d packets counted", len(wins[0].Blocklisted), c.BlocklistPairsDropped, c.BlocklistPackets["drop"])
	}
}

// BenchmarkBlocklistPacket measures what the lists cost a packet in the
// feature stage on traffic of the usual shape: a few thousand addresses,
// the busy ones far more often (Zipf), 1% of them on a 1,000,000-entry
// list; two lookups a packet, through the address cache.
func BenchmarkBlocklistPacket(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	addrs := make([][16]byte, 5000)
	var listed [][16]byte
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{byte(1 + r.IntN(223)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))}).As16()
		if i%100 == 50 { // 1% of the addresses, not the busiest
			listed = append(listed, addrs[i])
		}
	}
	lists := benchLists(b, r, listed, 1_000_000)
	zipf := rand.NewZipf(rand.New(rand.NewPCG(7, 8)), 1.1, 1, uint64(len(addrs)-1))
	pkts := make([]decode.PacketInfo, 1<<10) // hot in the cache, as a batch just decoded is
	hs := make([]packetHashes, len(pkts))
	for i := range pkts {
		pkts[i] = ipPkt(t0, decode.ProtoTCP, addrs[zipf.Uint64()], addrs[zipf.Uint64()], 40000, 443)
		prepare(&pkts[i], &hs[i])
	}
	a := NewAggregator(Config{Blocklists: lists}, "eth0", func(*Window) {})
	b.ResetTimer()
	i := 0
	for b.Loop() {
		j := i & (len(pkts) - 1)
		a.blocklistPacket(&pkts[j], &hs[j])
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/packet")
}

// benchLists returns lists of n entries: the listed addresses, the rest
// random /24s.
func benchLists(b *testing.B, r *rand.Rand, listed [][16]byte, n int) *swappable {
	var list strings.Builder
	for _, a := range listed {
		fmt.Fprintf(&list, "%s\n", netip.AddrFrom16(a).Unmap())
	}
	for range n - len(listed) {
		fmt.Fprintf(&list, "%d.%d.%d.0/24\n", 1+r.IntN(223), r.IntN(256), r.IntN(256))
	}
	c, err := blocklist.Parse(strings.NewReader(list.String()), "bench", 0)
	if err != nil {
		b.Fatal(err)
	}
	set, err := blocklist.NewSet([]string{"bench"}, []*blocklist.Contents{c})
	if err != nil {
		b.Fatal(err)
	}
	lists := &swappable{}
	lists.p.Store(set)
	return lists
}
