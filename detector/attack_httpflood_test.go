package detector

import (
	"fmt"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

func TestHTTPFlood(t *testing.T) {
	requests := func(port uint16, per map[[16]byte][2]uint32) bw {
		var b bw
		total := uint32(0)
		for h, n := range per {
			p := tcp(h, server, port, features.Conns{Attempts: 5, Syns: 5, Established: 5, Requests: n[0]})
			p.Posts = n[1]
			b.pairs = append(b.pairs, p)
			total += n[0]
		}
		b.services = []features.ServiceActivity{svc(server, port, features.Conns{Requests: total})}
		return b
	}
	bots := map[[16]byte][2]uint32{}
	crowd := map[[16]byte][2]uint32{}
	for i := range 100 {
		bots[ip(fmt.Sprintf("198.51.100.%d", i+1))] = [2]uint32{80, 0}
		crowd[ip(fmt.Sprintf("198.51.101.%d", i+1))] = [2]uint32{8, 0}
	}
	checkRuleCases(t, HTTPFlood, []ruleCase{
		{name: "one host, 1000 requests a second", windows: repeat(2, requests(80, map[[16]byte][2]uint32{attacker: {10000, 0}})), want: true, sources: srcs(attacker), targets: srcs(server)},
		{name: "a hundred bots", windows: repeat(2, requests(80, bots)), want: true, targets: srcs(server)},
		{name: "a flash crowd", windows: repeat(2, requests(80, crowd))},
		{name: "posting forms is brute force", windows: repeat(2, requests(8080, map[[16]byte][2]uint32{attacker: {10000, 9000}}))},
		{name: "not a web port", windows: repeat(2, requests(5432, map[[16]byte][2]uint32{attacker: {10000, 0}}))},
		{name: "a flood that stopped", windows: []bw{requests(80, map[[16]byte][2]uint32{attacker: {10000, 0}}), {}}},
		// 100 page loads in the one second a capture saw of its first
		// window are no pace: rates count a window at least.
		{name: "a second of a first window", windows: []bw{sliver(requests(80, map[[16]byte][2]uint32{attacker: {100, 0}}), 1)}},
		{name: "a flood in the second seen", windows: []bw{sliver(requests(80, map[[16]byte][2]uint32{attacker: {1000, 0}}), 1)}, want: true, sources: srcs(attacker), targets: srcs(server)},
	})
}

func sliver(b bw, seconds float64) bw {
	b.seconds = seconds
	return b
}
