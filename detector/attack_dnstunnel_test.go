package detector

import (
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

func TestDNSTunnel(t *testing.T) {
	resolver := ip("10.0.0.2")
	queries := func(n, tunnel, nameLen uint32, answer uint64) bw {
		return bw{pairs: []features.PairActivity{{Key: features.PairKey{Src: lanAddr(7), Dst: resolver, Port: 53, Proto: features.ProtoUDP},
			Conns:      features.Conns{Attempts: n, Established: n, Packets: n, Replies: n, ReplyBytes: uint64(n) * answer},
			DNSQueries: n, DNSTunnel: tunnel, DNSNameBytes: n * nameLen}}}
	}
	checkRuleCases(t, DNSTunnel, []ruleCase{
		{name: "encoded names, one a second", windows: repeat(4, queries(10, 10, 120, 200)), want: true, sources: srcs(lanAddr(7)), targets: srcs(resolver)},
		{name: "a DNS-heavy client with ordinary names", windows: repeat(30, queries(100, 0, 20, 120))},
		{name: "long names drawing large answers", windows: repeat(3, queries(30, 0, 45, 700)), want: true, sources: srcs(lanAddr(7)), targets: srcs(resolver)},
		{name: "a mail server's TXT lookups: short names, large answers", windows: repeat(3, queries(30, 0, 20, 700))},
		{name: "a few odd names among many", windows: repeat(5, queries(100, 5, 25, 150))},
	})
	// A fast tunnel is as many packets as a UDP flood: it is named a
	// tunnel, and its queries are no flood.
	fast := queries(3000, 3000, 120, 280)
	fast.services = []features.ServiceActivity{hostWide(resolver, features.ProtoUDP, fast.pairs[0].Conns)}
	fast.pairs[0].Replies, fast.services[0].Replies = 0, 0 // a resolver that drops them: unanswered
	v := runRules(t, []bw{fast, fast})
	if attackOf(v.Attacks, DNSTunnel) == nil || attackOf(v.Attacks, UDPFlood) != nil {
		t.Errorf("a fast tunnel: attacks %v, want dns_tunnel alone", types(v.Attacks))
	}
}
