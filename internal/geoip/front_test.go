package geoip

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/gaissmai/bart"
)

// The IPv4 front answers as the prefix table does, also for overlapping
// prefixes of every length (a database's networks never overlap; the
// front must not depend on it).
func TestFront(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	var tab bart.Table[uint16]
	var probes []netip.Addr
	for range 4000 {
		// /16s 0.0 to 15.15; a quarter of them get networks longer than
		// /24 (asked of the table), the rest blocks of /24s or a value.
		a := netip.AddrFrom4([4]byte{byte(rng.IntN(16)), byte(rng.IntN(16)), byte(rng.Uint32()), byte(rng.Uint32())})
		bits := rng.IntN(25)
		if a.As4()[1]%4 == 0 {
			bits = rng.IntN(33)
		}
		p := netip.PrefixFrom(a, bits).Masked()
		tab.Insert(p, uint16(1+rng.IntN(NumCodes)))
		probes = append(probes, p.Addr(), lastAddr(p), lastAddr(p).Next(), a)
	}
	var f front
	f.build(&tab)
	deep, blocks := 0, len(f.blocks)/256
	for _, e := range f.dir {
		if e == frontDeep {
			deep++
		}
	}
	if deep == 0 || blocks == 0 {
		t.Fatalf("%d deep /16s and %d blocks: the test covers neither", deep, blocks)
	}
	for i := range 200000 {
		a := probes[i%len(probes)]
		if i >= len(probes) {
			a = netip.AddrFrom4([4]byte{byte(rng.IntN(17)), byte(rng.IntN(17)), byte(rng.Uint32()), byte(rng.Uint32())})
		}
		if !a.Is4() {
			continue
		}
		want, _ := tab.Lookup(a)
		if got := f.lookup(a.As16(), &tab); got != want {
			t.Fatalf("front places %s in %d, the table in %d", a, got, want)
		}
	}
}
