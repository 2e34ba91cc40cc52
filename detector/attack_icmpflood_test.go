package detector

import (
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

func TestICMPFlood(t *testing.T) {
	ping := datagrams(features.ProtoICMP, 0, map[[16]byte]uint32{attacker: 12000}, 12000)
	// BlackNurse: port unreachables nobody asked for.
	nurse := bw{
		pairs:    []features.PairActivity{pair(attacker, victim, 0, features.ProtoICMP, features.Conns{Unsolicited: 10000})},
		services: []features.ServiceActivity{hostWide(victim, features.ProtoICMP, features.Conns{Unsolicited: 10000})},
	}
	// The errors a host gets back for the UDP it sprays are no flood of
	// it: it talked to the sender.
	backscatter := nurse
	backscatter.pairs = append(backscatter.pairs, pair(victim, attacker, 7777, features.ProtoUDP, features.Conns{Attempts: 1, Packets: 20000}))
	checkRuleCases(t, ICMPFlood, []ruleCase{
		{name: "ping flood, answered", windows: []bw{ping}, want: true, sources: srcs(attacker), targets: srcs(victim)},
		{name: "ICMPv6 echo flood", windows: []bw{datagrams(features.ProtoICMPv6, 0, map[[16]byte]uint32{attacker: 12000}, 0)}, want: true, sources: srcs(attacker), targets: srcs(victim)},
		{name: "unasked errors (BlackNurse)", windows: []bw{nurse}, want: true, sources: srcs(attacker), targets: srcs(victim)},
		{name: "errors answering a host's own traffic", windows: []bw{backscatter}},
		{name: "a monitoring ping", windows: []bw{datagrams(features.ProtoICMP, 0, map[[16]byte]uint32{attacker: 10}, 10)}},
	})
}
