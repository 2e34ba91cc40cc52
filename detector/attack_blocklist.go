package detector

import (
	"fmt"
	"slices"
	"strings"
)

// BlocklistedPeer is the blocklisted_peer attack type.
const BlocklistedPeer = "blocklisted_peer"

func init() {
	register(&AttackType{
		Name:           BlocklistedPeer,
		Title:          "Traffic with a blocklisted address",
		Alert:          "NetAnomalyBlocklistedPeer",
		Severity:       2,
		Technique:      "T1071",
		TechniqueName:  "Application Layer Protocol",
		Recommendation: "A host sent traffic to an address on a threat-intel list: check the host for malware or a compromised account, and block the address at the edge if the list is trusted.",
		Behaviour: "A local host sent packets to an address on one of the configuration file's threat-intel lists (`blocklists`); " +
			"packets from a listed address that no local host answered are counted, not paged (a scan of them is the scan rule's).",
		Names:  "Sources: the local hosts that sent to listed addresses; targets: the listed addresses.",
		order:  70,
		detect: detectBlocklisted,
	})
}

func detectBlocklisted(e *evidence) []Attack {
	var srcs, dsts [][16]byte
	var lists []string
	sent, both := 0.0, false
	for _, p := range e.w.Blocklisted {
		if p.Sent == 0 {
			continue // only received: not the local host's doing
		}
		sent += float64(p.Sent)
		both = both || p.Received > 0
		srcs = appendNew(srcs, p.Local)
		dsts = appendNew(dsts, p.Peer)
		for _, l := range p.Lists {
			if !slices.Contains(lists, l) {
				lists = append(lists, l)
			}
		}
	}
	if sent == 0 {
		return nil
	}
	// A conversation is surer than a packet that may have been refused
	// or dropped on the way.
	conf := 0.7
	if both {
		conf = 0.9
	}
	return []Attack{{
		Confidence: conf,
		Evidence:   []Evidence{ev("packets_to_listed_addresses", sent, 1, 0)},
		Sources:    srcs,
		Targets:    dsts,
		shared:     true,
		Summary: fmt.Sprintf("%s sent %s to %s (lists: %s)", plural(float64(len(srcs)), "local host", "local hosts"), plural(sent, "packet", "packets"),
			plural(float64(len(dsts)), "listed address", "listed addresses"), strings.Join(lists, ", ")),
	}}
}
