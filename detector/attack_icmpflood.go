package detector

import "github.com/netanomaly/netanomaly_exporter/collector/features"

// ICMPFlood is the icmp_flood attack type.
const ICMPFlood = "icmp_flood"

func init() {
	register(&AttackType{
		Name:           ICMPFlood,
		Title:          "ICMP flood",
		Alert:          "NetAnomalyICMPFlood",
		Severity:       3,
		Technique:      "T1498.001",
		TechniqueName:  "Network Denial of Service: Direct Network Flood",
		Recommendation: "Rate-limit ICMP at the edge (keep type 3 code 4 for path MTU discovery) and check that the target is not answering every request.",
		Behaviour: "ICMP and ICMPv6 sent to one host far above normal: requests (echo and others), and errors or replies it never asked for " +
			"(BlackNurse, smurf); before training at least 1,000 over the last two windows; after it, five times the busiest training window. " +
			"The target's own replies and errors, and errors answering what it sent, count for nothing. Over the last two windows.",
		Names:  "Sources: the senders with a real share of the requests, or none when forged addresses each send a few; targets: the flooded host.",
		Floors: true,
		order:  14,
		detect: func(e *evidence) []Attack {
			return volumeFlood(e, features.ProtoICMP, features.MaxTargetICMPRequests, icmpFloodCount, "ICMP packets")
		},
	})
}

// icmpFloodCount is the ICMP flood rule's bar before training, over the
// short span (20 s): 50 packets a second.
const icmpFloodCount = 1000
