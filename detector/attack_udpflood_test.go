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

func TestUDPFlood(t *testing.T) {
	forged := map[[16]byte]uint32{}
	for i := range 500 {
		forged[ip(fmt.Sprintf("198.18.%d.%d", i/200, i%200+1))] = 40
	}
	checkRuleCases(t, UDPFlood, []ruleCase{
		{name: "one sender, unanswered", windows: []bw{datagrams(features.ProtoUDP, 7777, map[[16]byte]uint32{attacker: 20000}, 0)}, want: true, sources: srcs(attacker), targets: srcs(victim)},
		{name: "forged senders", windows: []bw{datagrams(features.ProtoUDP, 7777, forged, 0)}, want: true, targets: srcs(victim), spoofed: true},
		{name: "a busy DNS server answers", windows: []bw{datagrams(features.ProtoUDP, 53, map[[16]byte]uint32{attacker: 20000}, 19900)}},
		{name: "under the floor", windows: []bw{datagrams(features.ProtoUDP, 7777, map[[16]byte]uint32{attacker: 3000}, 0)}},
	})
}
