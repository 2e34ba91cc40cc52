package detector

import (
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

func TestSlowloris(t *testing.T) {
	held := func(port uint16, holders map[[16]byte]uint32) bw {
		var b bw
		total := uint32(0)
		for h, n := range holders {
			b.pairs = append(b.pairs, tcp(h, server, port, features.Conns{Held: n}))
			total += n
		}
		b.services = []features.ServiceActivity{svc(server, port, features.Conns{Held: total})}
		return b
	}
	browsers := map[[16]byte]uint32{}
	for i := range 20 {
		browsers[lanAddr(10+i)] = 3
	}
	two := map[[16]byte]uint32{attacker: 150, ip("198.51.100.9"): 100}
	for k, v := range browsers {
		two[k] = v
	}

	checkRuleCases(t, Slowloris, []ruleCase{
		{name: "one host holds 300", windows: []bw{held(80, map[[16]byte]uint32{attacker: 300})}, want: true, sources: srcs(attacker), targets: srcs(server)},
		{name: "two hosts among browsers", windows: []bw{held(443, two)}, want: true, sources: srcs(attacker, ip("198.51.100.9")), targets: srcs(server)},
		{name: "browsers keeping a few alive each", windows: []bw{held(80, browsers)}},
		{name: "a database pool is no web server", windows: []bw{held(5432, map[[16]byte]uint32{attacker: 300})}},
		{name: "under the floor", windows: []bw{held(80, map[[16]byte]uint32{attacker: 40})}},
	})
	// Slow reads answered at the start, 1200 requests in 20 s: the held
	// connections explain them; no HTTP flood, no brute force.
	reads := held(80, map[[16]byte]uint32{attacker: 300})
	reads.pairs[0].Attempts, reads.pairs[0].Syns, reads.pairs[0].Established, reads.pairs[0].Requests = 600, 600, 600, 600
	reads.services[0].Conns = reads.pairs[0].Conns
	v := runRules(t, []bw{reads, reads})
	if attackOf(v.Attacks, Slowloris) == nil || len(v.Attacks) != 1 {
		t.Errorf("slow reads: attacks %v, want slowloris alone", types(v.Attacks))
	}
}
