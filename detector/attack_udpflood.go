package detector

import (
	"fmt"
	"slices"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// UDPFlood is the udp_flood attack type.
const UDPFlood = "udp_flood"

func init() {
	register(&AttackType{
		Name:           UDPFlood,
		Title:          "UDP flood",
		Alert:          "NetAnomalyUDPFlood",
		Severity:       3,
		Technique:      "T1498.001",
		TechniqueName:  "Network Denial of Service: Direct Network Flood",
		Recommendation: "Rate-limit or drop UDP to the targeted host and port at the edge, and ask the upstream provider to filter if the link saturates.",
		Behaviour: "UDP sent to one host by others (not answers to its own requests) far above normal: before training at least 5,000 packets " +
			"over the last two windows, mostly unanswered, or 5,000 DNS queries from one sender however answered (a DNS query flood: no client asks that fast); " +
			"after it, five times the busiest training window.",
		Names:  "Sources: the senders with a real share of the packets, or none when forged addresses each send a few; targets: the flooded host.",
		Floors: true,
		order:  12,
		detect: func(e *evidence) []Attack {
			return volumeFlood(e, features.ProtoUDP, features.MaxTargetUDPPackets, udpFloodCount, "UDP packets")
		},
	})
}

// udpFloodCount is the UDP flood rule's bar before training, over the
// short span (20 s): 250 packets a second.
const udpFloodCount = 5000

// volumeFlood judges the packets that initiators send to each host over
// the short span, for UDP and ICMP floods.
func volumeFlood(e *evidence, proto features.Protocol, baseline features.Index, minCount float64, what string) []Attack {
	s := &e.h.short
	count := e.bar(minCount, minCount/20, baseline, 5, shortSpan)
	var out []Attack
	icmp := proto == features.ProtoICMP
	for _, v := range sortedServices(s, func(v *serviceSum) bool {
		return v.Key.AllPorts && (v.Key.Proto == proto || icmp && isICMP(v.Key.Proto))
	}) {
		n := float64(v.Packets)
		if icmp {
			n += unaskedICMP(s, v.Key.Addr, v.Key.Proto)
		}
		if n < count {
			continue
		}
		// Answered UDP is a busy service (DNS, syslog) until the trained
		// baseline says otherwise, unless hosts ask it questions faster
		// than any client does: a DNS query flood, counted in queries of
		// those hosts alone. An answered ping flood is a flood.
		queries := !icmp && !e.trained() && float64(v.Replies) >= 0.5*n
		if l := e.h.last.services[v.Key]; l == nil || float64(l.Packets+l.Unsolicited*b2u(icmp)) < stillAt*count {
			continue // it stopped
		}
		var talked map[[16]byte]bool
		if icmp {
			talked = talkedTo(s, v.Key.Addr)
		}
		rs, _ := senders(s, func(p *pairSum) bool { return p.Key.Dst == v.Key.Addr && p.Key.Proto == v.Key.Proto },
			func(p *pairSum) float64 {
				switch {
				case queries:
					return float64(p.DNSQueries)
				case icmp && !talked[p.Key.Src]:
					return float64(p.Packets + p.Unsolicited)
				}
				return float64(p.Packets)
			})
		if queries {
			rs = slices.DeleteFunc(rs, func(r ranked) bool { return r.weight < count })
			n = 0
			for _, r := range rs {
				n += r.weight
			}
			if n == 0 {
				continue
			}
		}
		// What a rule that ran before explains (a DNS tunnel's queries)
		// is not a flood.
		rs = slices.DeleteFunc(rs, func(r ranked) bool {
			if _, ok := e.claimed[r.addr]; ok {
				n -= r.weight
				return true
			}
			return false
		})
		if n < count {
			continue
		}
		srcs := heaviest(rs, n, 0.02, 10)
		spoofed := namedShare(rs, srcs, n) < 0.5
		who := plural(float64(len(srcs)), "sender", "senders")
		// Many senders: many held in pairs, or most of the packets from
		// senders the pair table could not hold.
		var held float64
		for _, r := range rs {
			held += r.weight
		}
		spoofed = spoofed && (len(rs) >= manySources || held < n/2)
		if spoofed {
			who = "many senders each sending a few (forged or distributed)"
		}
		pace := count / max(s.seconds, 1)
		evs := []Evidence{ev("packets", n, count, 0), ev("packets_per_second", s.rate(n), pace, 0)}
		summary := fmt.Sprintf("%.0f %s a second received, %.0f%% answered, from %s", s.rate(n), what, 100*float64(v.Replies)/n, who)
		if features.GroupAddr(v.Key.Addr) {
			// A router advertisement or neighbour advertisement flood
			// (THC's flood_router26), a broadcast storm: every host on the
			// link takes each packet.
			summary += ", sent to a multicast or broadcast address: every host of the link or group receives them"
		}
		if queries {
			evs = []Evidence{ev("flood_dns_queries", n, count, 0), ev("flood_dns_queries_per_second", s.rate(n), pace, 0)}
			summary = fmt.Sprintf("%.0f DNS queries a second received from %s each asking %.0f or more a second (a DNS query flood), %.0f%% of its UDP answered",
				s.rate(n), who, pace, 100*float64(v.Replies)/float64(v.Packets))
		}
		out = append(out, Attack{
			Confidence: confidence(n, count),
			Evidence:   evs,
			Sources:    srcs,
			Targets:    [][16]byte{v.Key.Addr},
			Spoofed:    spoofed,
			Summary:    summary,
		})
	}
	return out
}

// unaskedICMP is the ICMP errors and replies a host received from senders
// it sent nothing to: a flood of them (BlackNurse, smurf), not the answers
// to its own traffic.
func unaskedICMP(s *span, host [16]byte, proto features.Protocol) float64 {
	if s.unasked == nil {
		s.unasked = unaskedAll(s)
	}
	return s.unasked[hostProto{host, proto}]
}

// hostProto is a host and an ICMP protocol.
type hostProto struct {
	addr  [16]byte
	proto features.Protocol
}

// unaskedAll answers unaskedICMP for every host at once, in three walks
// of the span's pairs: one walk per host would make a window in which
// many hosts receive ICMP (backscatter) cost the square of its pairs.
// What the host received from senders the pair table could not hold (a
// flood from forged addresses, each new) is in its service's count and
// in no pair's: those senders are none it talked to.
func unaskedAll(s *span) map[hostProto]float64 {
	out := map[hostProto]float64{}
	for k, v := range s.services {
		if k.AllPorts && isICMP(k.Proto) && v.Unsolicited > 0 {
			out[hostProto{k.Addr, k.Proto}] = float64(v.Unsolicited)
		}
	}
	// The hosts that received unsolicited ICMP, and whom they talked to;
	// what their pairs hold is counted below, sender by sender.
	talked := map[[16]byte]map[[16]byte]bool{}
	for k, p := range s.pairs {
		if p.Unsolicited > 0 && isICMP(k.Proto) {
			talked[k.Dst] = nil
			hp := hostProto{k.Dst, k.Proto}
			out[hp] = max(0, out[hp]-float64(p.Unsolicited))
		}
	}
	if len(talked) == 0 {
		return out
	}
	for k, p := range s.pairs {
		if m, ok := talked[k.Src]; ok && (p.Attempts > 0 || p.Packets > 0 || p.Syns > 0) {
			if m == nil {
				m = map[[16]byte]bool{}
				talked[k.Src] = m
			}
			m[k.Dst] = true
		}
	}
	// Sums of counts: exact in any order.
	for k, p := range s.pairs {
		if p.Unsolicited > 0 && isICMP(k.Proto) && !talked[k.Dst][k.Src] {
			out[hostProto{k.Dst, k.Proto}] += float64(p.Unsolicited)
		}
	}
	return out
}

// talkedTo returns the peers from sent anything to in the span, in one
// walk of its pairs (not one per question).
func talkedTo(s *span, from [16]byte) map[[16]byte]bool {
	out := map[[16]byte]bool{}
	for k, p := range s.pairs {
		if k.Src == from && (p.Attempts > 0 || p.Packets > 0 || p.Syns > 0) {
			out[k.Dst] = true
		}
	}
	return out
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}
