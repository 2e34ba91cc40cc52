package detector

import (
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

func TestBlocklistedPeer(t *testing.T) {
	c2 := ip("198.51.100.7")
	scanner := ip("198.51.100.9")
	peer := func(local, listed [16]byte, sent, received uint32) features.BlocklistPeer {
		return features.BlocklistPeer{Local: local, Peer: listed, Lists: []string{"drop"}, Sent: sent, Received: received}
	}
	checkRuleCases(t, BlocklistedPeer, []ruleCase{
		{name: "a host talks to a listed address", windows: []bw{{listed: []features.BlocklistPeer{peer(victim, c2, 12, 10)}}},
			want: true, sources: srcs(victim), targets: srcs(c2)},
		{name: "one packet out, unanswered", windows: []bw{{listed: []features.BlocklistPeer{peer(server, c2, 1, 0)}}},
			want: true, sources: srcs(server), targets: srcs(c2)},
		{name: "two hosts, two listed addresses", windows: []bw{{listed: []features.BlocklistPeer{peer(victim, c2, 3, 3), peer(server, scanner, 1, 1)}}},
			want: true, sources: srcs(victim, server), targets: srcs(c2, scanner)},
		// A listed scanner probing a host that never answers: the host did
		// nothing; the packets are counted per list, not paged.
		{name: "only received from a listed address", windows: []bw{{listed: []features.BlocklistPeer{peer(victim, scanner, 0, 40)}}}},
		{name: "an earlier window's contact has ended", windows: []bw{{listed: []features.BlocklistPeer{peer(victim, c2, 5, 5)}}, {}}},
	})
	// The page says which lists.
	v := runRules(t, []bw{{listed: []features.BlocklistPeer{{Local: victim, Peer: c2, Lists: []string{"drop", "c2"}, Sent: 2, Received: 2}}}})
	if len(v.Attacks) != 1 || v.Attacks[0].Summary != "1 local host sent 2 packets to 1 listed address (lists: drop, c2)" || v.Attacks[0].Confidence != 0.9 {
		t.Errorf("attacks %+v", v.Attacks)
	}
}
