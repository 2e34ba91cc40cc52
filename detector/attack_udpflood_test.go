package detector

import (
	"fmt"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

func datagrams(proto features.Protocol, port uint16, per map[[16]byte]uint32, replies uint32) bw {
	var b bw
	total := uint32(0)
	for h, n := range per {
		b.pairs = append(b.pairs, pair(h, victim, port, proto, features.Conns{Attempts: 1, Packets: n}))
		total += n
	}
	b.services = []features.ServiceActivity{hostWide(victim, proto, features.Conns{Packets: total, Replies: replies})}
	return b
}

// queries is datagrams of which every one is a DNS query, all answered.
func queries(per map[[16]byte]uint32) bw {
	b := datagrams(features.ProtoUDP, 53, per, 0)
	for i := range b.pairs {
		b.pairs[i].DNSQueries = b.pairs[i].Packets
		b.services[0].Replies += b.pairs[i].Packets
	}
	return b
}

// manyClients is n clients sending each.
func manyClients(n int, each uint32) map[[16]byte]uint32 {
	out := map[[16]byte]uint32{}
	for i := range n {
		out[ip(fmt.Sprintf("10.0.1.%d", i+1))] = each
	}
	return out
}

func TestUDPFlood(t *testing.T) {
	forged := map[[16]byte]uint32{}
	for i := range 500 {
		forged[ip(fmt.Sprintf("198.18.%d.%d", i/200, i%200+1))] = 40
	}
	checkRuleCases(t, UDPFlood, []ruleCase{
		{name: "one sender, unanswered", windows: []bw{datagrams(features.ProtoUDP, 7777, map[[16]byte]uint32{attacker: 20000}, 0)}, want: true, sources: srcs(attacker), targets: srcs(victim)},
		{name: "forged senders", windows: []bw{datagrams(features.ProtoUDP, 7777, forged, 0)}, want: true, targets: srcs(victim), spoofed: true},
		{name: "one sender's answered UDP, not DNS queries (a VPN, a QUIC upload)", windows: []bw{datagrams(features.ProtoUDP, 53, map[[16]byte]uint32{attacker: 20000}, 19900)}},
		{name: "DNS query flood from one sender, answered", windows: []bw{queries(map[[16]byte]uint32{attacker: 6000, ip("10.0.1.7"): 40})}, want: true, sources: srcs(attacker), targets: srcs(victim)},
		{name: "DNS query flood over two windows", windows: []bw{queries(map[[16]byte]uint32{attacker: 2600}), queries(map[[16]byte]uint32{attacker: 2600})}, want: true, sources: srcs(attacker), targets: srcs(victim)},
		{name: "a busy DNS server: 60 clients asking 100 each", windows: []bw{queries(manyClients(60, 100))}},
		{name: "three forwarders asking 150 a second each", windows: []bw{queries(manyClients(3, 3000))}},
		{name: "a DNS client under the query floor", windows: []bw{queries(map[[16]byte]uint32{attacker: 4000})}},
		{name: "under the floor", windows: []bw{datagrams(features.ProtoUDP, 7777, map[[16]byte]uint32{attacker: 3000}, 0)}},
	})
}
