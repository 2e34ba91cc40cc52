package detector

import (
	"cmp"
	"fmt"
	"slices"
)

// ARPSpoofing is the arp_spoofing attack type.
const ARPSpoofing = "arp_spoofing"

func init() {
	register(&AttackType{
		Name:           ARPSpoofing,
		Title:          "ARP spoofing",
		Alert:          "NetAnomalyARPSpoofing",
		Severity:       3,
		Technique:      "T1557.002",
		TechniqueName:  "Adversary-in-the-Middle: ARP Cache Poisoning",
		Recommendation: "A second MAC is answering for an address: find the port of the offending MAC on the switch, isolate it, and enable dynamic ARP inspection (for IPv6, RA guard and ND inspection).",
		Behaviour: "An address claimed in ARP, or in IPv6 neighbour discovery (the link-layer address a solicitation, a router advertisement or an advertisement for its own source gives), " +
			"three times or more over the horizon, by a MAC other than its owner (the first MAC heard claiming it, " +
			"or that an ARP reply to it was addressed to: a spoofer's own replies show where its victims are) " +
			"while the owner is still heard from; an owner silent for a whole horizon hands the address over (a replaced host, a failover).",
		Names:  "Sources: the claiming MAC; targets: the addresses it claims.",
		order:  50,
		detect: detectARPSpoofing,
	})
}

// arpClaims is how many conflicting claims make spoofing.
const arpClaims = 3

func detectARPSpoofing(e *evidence) []Attack {
	horizonNanos := int64(e.h.size) * (e.w.End - e.w.Start)
	type claim struct {
		ip     [16]byte
		owner  [6]byte
		claims uint32
	}
	byMAC := map[[6]byte][]claim{}
	for k, a := range e.h.long.arp {
		if l := e.h.last.arp[k]; l == nil || l.claims == 0 {
			continue // no claim in the latest window
		}
		if a.claims >= arpClaims && e.w.End-a.ownerLast <= horizonNanos {
			byMAC[k.claimant] = append(byMAC[k.claimant], claim{k.ip, a.owner, a.claims})
		}
	}
	var out []Attack
	for _, m := range sortedMACs(byMAC) {
		cs := byMAC[m]
		slices.SortFunc(cs, func(a, b claim) int { return cmp.Or(cmp.Compare(b.claims, a.claims), compareAddr(a.ip, b.ip)) })
		total := uint32(0)
		var ips [][16]byte
		for _, c := range cs {
			total += c.claims
			ips = appendNew(ips, c.ip)
		}
		out = append(out, Attack{
			Confidence: confidence(float64(total), arpClaims),
			Evidence:   []Evidence{ev("conflicting_arp_claims", float64(total), arpClaims, 0)},
			MACs:       [][6]byte{m},
			Targets:    ips,
			Summary:    fmt.Sprintf("one MAC claimed %s owned by other MACs that are still heard from, %d times in %s", plural(float64(len(cs)), "address", "addresses"), total, dur(e.h.long.seconds)),
		})
	}
	return out
}
