package detector

import (
	"fmt"
	"slices"
)

// DHCPFlood is the dhcp_flood attack type.
const DHCPFlood = "dhcp_flood"

func init() {
	register(&AttackType{
		Name:           DHCPFlood,
		Title:          "DHCP starvation",
		Alert:          "NetAnomalyDHCPFlood",
		Severity:       3,
		Technique:      "T1499.002",
		TechniqueName:  "Endpoint Denial of Service: Service Exhaustion Flood",
		Recommendation: "A host is draining the DHCP pool or flooding the DHCP server: find the MAC's switch port and shut it, then enable DHCP snooping with a rate limit and port security on access ports; a rogue DHCP server often follows.",
		Behaviour: "DHCP client messages (DHCPv4, and DHCPv6, whose client is its DUID's MAC) that take leases for addresses nobody owns or bury the server: one MAC asking, over the horizon, " +
			"for 20 or more client hardware addresses other than its own (a relay agent's forwarding does not count); " +
			"or one MAC sending 100 requests or more over the last two windows (a host asks a few times a lease); " +
			"or 100 client hardware addresses or more asking for the first time over the last two windows, from many MACs (forged senders), " +
			"with fewer replies than half the requests (1,000 when answered: hosts coming back after an outage are).",
		Names:  "Sources: the sending MAC (the messages come from 0.0.0.0), none for forged MACs; targets: the DHCP servers that answered.",
		Floors: true,
		order:  11, // among the floods (DHCP requests are in no UDP flood's count); ties go by name
		detect: detectDHCPFlood,
	})
}

// Bars of the DHCP rule.
const (
	dhcpForeignClients = 20  // other hosts' hardware addresses one MAC asks for, over the horizon
	dhcpSenderRequests = 100 // one MAC's requests over the short span
	dhcpNewClients     = 100 // new client hardware addresses over the short span, mostly unanswered
	dhcpAnsweredFactor = 10  // times dhcpNewClients when they are answered
)

func detectDHCPFlood(e *evidence) []Attack {
	long, short, last := &e.h.long.dhcp, &e.h.short.dhcp, &e.h.last.dhcp
	if last.requests == 0 {
		return nil // no DHCP client in the latest window: nothing goes on
	}
	foreignBar := e.scale * dhcpForeignClients
	requestBar := e.scale * dhcpSenderRequests
	newBar := e.scale * dhcpNewClients
	targets := dhcpServers(long)
	var out []Attack
	var named [][6]byte
	for _, m := range sortedMACs(long.senders) {
		x := long.senders[m]
		l := last.senders[m]
		if l == nil || l.Requests == 0 {
			continue // it stopped
		}
		var req float64
		if s := short.senders[m]; s != nil {
			req = float64(s.Requests)
		}
		foreign := float64(x.Foreign)
		var evs []Evidence
		var c float64
		if foreign >= foreignBar {
			evs = append(evs, ev("dhcp_foreign_clients", foreign, foreignBar, 0))
			c = confidence(foreign, foreignBar)
		}
		if req >= requestBar && float64(l.Requests) >= stillAt*requestBar {
			evs = append(evs, ev("dhcp_requests", req, requestBar, 0))
			c = max(c, confidence(req, requestBar))
		}
		if len(evs) == 0 {
			continue
		}
		named = append(named, m)
		out = append(out, Attack{
			Confidence: c,
			Evidence:   evs,
			MACs:       [][6]byte{m},
			Targets:    slices.Clone(targets), // merged attacks append to it
			Summary: fmt.Sprintf("one MAC sent %.0f DHCP requests in %s and %.0f in %s, for %s (%.0f not its own); %s",
				req, dur(e.h.short.seconds), float64(x.Requests), dur(e.h.long.seconds), plural(float64(x.Clients), "client hardware address", "client hardware addresses"), foreign, answered(long)),
		})
	}
	// Forged senders: many new client addresses that the named MACs did
	// not ask for, mostly unanswered (the pool ran dry, or the server
	// cannot keep up), or ten times as many: hosts that come back after an
	// outage each ask from their own MAC, and are answered.
	n := float64(short.newClients) - namedClients(short, named)
	unanswered := float64(short.replies) < 0.5*float64(short.requests)
	if (n >= newBar && unanswered || n >= dhcpAnsweredFactor*newBar) && float64(last.newClients) >= stillAt*newBar {
		from := plural(float64(len(short.senders)), "MAC", "MACs")
		if short.sendersDropped > 0 {
			from = fmt.Sprintf("more than %d MACs", len(short.senders))
		}
		out = append(out, Attack{
			Confidence: confidence(n, newBar),
			Evidence:   []Evidence{ev("dhcp_new_clients", n, newBar, 0), ev("dhcp_requests", float64(short.requests), 0, 0)},
			Targets:    slices.Clone(targets), // merged attacks append to it
			Spoofed:    true,
			Summary: fmt.Sprintf("%.0f client hardware addresses asked for a DHCP lease for the first time in %s, from %s (forged); %s",
				n, dur(e.h.short.seconds), from, answered(long)),
		})
	}
	return out
}

// sortedMACs returns m's keys in order: rules iterate in a fixed order,
// so replays give the same verdicts.
func sortedMACs[V any](m map[[6]byte]V) [][6]byte {
	out := make([][6]byte, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b [6]byte) int { return slices.Compare(a[:], b[:]) })
	return out
}

// namedClients is the new client addresses the named MACs asked for.
func namedClients(s *dhcpSum, named [][6]byte) float64 {
	n := 0.0
	for _, m := range named {
		if x := s.senders[m]; x != nil {
			n += float64(x.Clients)
		}
	}
	return n
}

// dhcpServers are the servers that answered over the span, most replies
// first.
func dhcpServers(s *dhcpSum) [][16]byte {
	rs := make([]ranked, 0, len(s.servers))
	for _, v := range s.servers {
		rs = append(rs, ranked{v.Addr, float64(v.Replies)})
	}
	return heaviest(rs, 0, 0, 0)
}

func answered(s *dhcpSum) string {
	if s.replies == 0 {
		return "no server answered"
	}
	return fmt.Sprintf("servers answered %s", plural(float64(s.replies), "time", "times"))
}
