package detector

import (
	"strings"
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
	// Advertisements from 100,000 forged senders: the pair table held the
	// first few, the victim's service counted them all.
	forged := bw{services: []features.ServiceActivity{hostWide(victim, features.ProtoICMPv6, features.Conns{Unsolicited: 100000})}}
	for i := range 20 {
		forged.pairs = append(forged.pairs, pair(lanAddr(100+i), victim, 0, features.ProtoICMPv6, features.Conns{Unsolicited: 1}))
	}
	checkRuleCases(t, ICMPFlood, []ruleCase{
		{name: "unasked ICMPv6 from forged senders, most not held in pairs", windows: []bw{forged}, want: true, targets: srcs(victim), spoofed: true},
		{name: "ping flood, answered", windows: []bw{ping}, want: true, sources: srcs(attacker), targets: srcs(victim)},
		{name: "ICMPv6 echo flood", windows: []bw{datagrams(features.ProtoICMPv6, 0, map[[16]byte]uint32{attacker: 12000}, 0)}, want: true, sources: srcs(attacker), targets: srcs(victim)},
		{name: "unasked errors (BlackNurse)", windows: []bw{nurse}, want: true, sources: srcs(attacker), targets: srcs(victim)},
		{name: "errors answering a host's own traffic", windows: []bw{backscatter}},
		{name: "a monitoring ping", windows: []bw{datagrams(features.ProtoICMP, 0, map[[16]byte]uint32{attacker: 10}, 10)}},
	})
}

// TestICMPFloodCountsUnheldSenders: the flood's size is what the target
// received, not what the pair table could hold.
func TestICMPFloodCountsUnheldSenders(t *testing.T) {
	forged := bw{services: []features.ServiceActivity{hostWide(victim, features.ProtoICMPv6, features.Conns{Unsolicited: 100000})}}
	for i := range 20 {
		forged.pairs = append(forged.pairs, pair(lanAddr(100+i), victim, 0, features.ProtoICMPv6, features.Conns{Unsolicited: 1}))
	}
	a := attackOf(runRules(t, []bw{forged, forged}).Attacks, ICMPFlood)
	if a == nil {
		t.Fatal("no ICMP flood")
	}
	if strings.Contains(a.Summary, "multicast") {
		t.Errorf("a host's flood said multicast: %s", a.Summary)
	}
	// The same advertisements to all nodes of the link (flood_router26):
	// the summary says every host receives them.
	allNodes := ip("ff02::1")
	toAll := bw{services: []features.ServiceActivity{hostWide(allNodes, features.ProtoICMPv6, features.Conns{Unsolicited: 100000})}}
	if b := attackOf(runRules(t, []bw{toAll, toAll}).Attacks, ICMPFlood); b == nil || !strings.Contains(b.Summary, "every host of the link") {
		t.Errorf("a flood of ff02::1: %+v, want its summary to say every host receives it", b)
	}
	if got := a.Evidence[0].Value; got != 200000 || !a.Spoofed {
		t.Errorf("%v packets over the last two windows (spoofed %v), want 200000 from forged senders: %s", got, a.Spoofed, a.Summary)
	}
}
