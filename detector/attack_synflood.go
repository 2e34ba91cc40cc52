package detector

import (
	"fmt"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// SynFlood is the syn_flood attack type.
const SynFlood = "syn_flood"

func init() {
	register(&AttackType{
		Name:           SynFlood,
		Title:          "SYN flood",
		Alert:          "NetAnomalySynFlood",
		Severity:       3,
		Technique:      "T1498.001",
		TechniqueName:  "Network Denial of Service: Direct Network Flood",
		Recommendation: "Enable SYN cookies on the target, rate-limit SYNs per source at the edge, and ask the upstream provider for filtering if the link saturates.",
		Behaviour: "TCP SYNs to one service, or to one host over changing ports, far above normal and not completing a handshake: " +
			"whether the target answers with SYN-ACKs, refuses with RSTs or stays silent, and whether the sender resets the answers; " +
			"or connections to one service completing a handshake and carrying nothing from the client, closed or held for 5 s (a connection flood: nping --tcp-connect). " +
			"Also SYN-ACKs and RSTs that nobody asked for arriving in bulk (reflection, backscatter). Over the last two windows: before training " +
			"at least 1,000; after it three times the busiest training service and at least 200. One source trying each of many ports up to a dozen times (a scanner's retries) is a scan, " +
			"unless it keeps up a flood's pace over them (10,000 SYNs in the last two windows): then it is named a SYN flood and a scan.",
		Names:  "Sources: the hosts sending the SYNs (the reflectors for reflected SYN-ACKs), or none when forged addresses each send a few; targets: the flooded host.",
		Floors: true,
		order:  10,
		detect: func(e *evidence) []Attack {
			var out []Attack
			flooded := map[[16]byte]bool{}
			tcp := func(all bool) func(*serviceSum) bool {
				return func(v *serviceSum) bool { return v.Key.Proto == features.ProtoTCP && v.Key.AllPorts == all }
			}
			for _, v := range sortedServices(&e.h.short, tcp(false)) {
				if a, ok := synFloodOn(e, v); ok {
					out = append(out, a)
					flooded[v.Key.Addr] = true
				}
			}
			for _, v := range sortedServices(&e.h.short, tcp(true)) {
				if flooded[v.Key.Addr] {
					continue
				}
				if a, ok := synFloodOn(e, v); ok {
					out = append(out, a)
				} else if a, ok := reflectedSynAcks(e, v); ok {
					out = append(out, a)
				}
			}
			return out
		},
	})
}

// Bars of the SYN flood rule, over the short span (two windows, 20 s by
// default). Before training: at least synFloodCount SYNs that complete no
// handshake. After: three times the training's busiest service per
// window, and at least synFloodTrainedCount.
const (
	synFloodCount        = 1000
	synFloodTrainedCount = 200
	// synFloodSweep is the pace at which one source walking over a host's
	// ports, each once, floods it as well as scans it: 500 SYNs a second
	// over the short span (nmap's top 1000 ports take 1,000 to 2,000).
	synFloodSweep = 10000
	// scanRetries is how often a scanner may try each port.
	scanRetries = 12
)

// floodSent is what TCP initiators sent that may have completed no
// handshake: their SYNs, repeats included, or for an ACK or junk flood
// (packets without SYN, most of them) the packets. A SYN flood's own
// resets of the SYN-ACKs it gets are not more SYNs.
func floodSent(c *features.Conns) uint32 {
	if 2*c.Syns >= c.Packets {
		return c.Syns
	}
	return c.Packets
}

// fruitless is what a TCP initiator sent that came to nothing: the SYNs
// (or packets) of floodSent that completed no handshake, and the
// connections that completed one and carried nothing from the initiator
// (a connection flood's; counted per port, not for a host's whole TCP).
func fruitless(c *features.Conns) float64 {
	sent := floodSent(c)
	return float64(sent-min(sent, c.Established)) + float64(c.Silent)
}

// synFloodOn judges one TCP service, or one host's whole TCP when the
// service is AllPorts.
func synFloodOn(e *evidence, v *serviceSum) (Attack, bool) {
	s := &e.h.short
	sent := floodSent(&v.Conns)
	incomplete := fruitless(&v.Conns)
	count := e.bar(synFloodCount, synFloodTrainedCount, features.MaxServiceIncompleteSyns, 3, shortSpan)
	rate := s.rate(incomplete)
	if incomplete < count {
		return Attack{}, false
	}
	if l := e.h.last.services[v.Key]; l == nil || fruitless(&l.Conns) < stillAt*count {
		return Attack{}, false // it stopped
	}
	all := v.Key.AllPorts
	rs, _ := senders(s, func(p *pairSum) bool {
		return p.Key.Proto == features.ProtoTCP && p.Key.Dst == v.Key.Addr && (all || p.Key.Port == v.Key.Port)
	}, func(p *pairSum) float64 { return fruitless(&p.Conns) })
	srcs := heaviest(rs, incomplete, 0.02, 10)
	// One source over changing ports, each port tried up to a dozen times
	// (a scanner's retries): a scan, the port scan rule's, unless at a
	// flood's pace. A flood over ports repeats them more.
	sweep := all && scannedBy(s, v.Key.Addr, incomplete)
	if sweep && incomplete < synFloodSweep {
		return Attack{}, false
	}
	spoofed := namedShare(rs, srcs, incomplete) < 0.5 && len(rs) >= manySources
	how := "no answer"
	switch sent := float64(sent); {
	case float64(v.SynAcks) >= 0.5*sent && float64(v.HalfOpen) >= 0.5*float64(v.Attempts):
		how = "the target answers with SYN-ACKs that are reset or left half-open"
	case float64(v.SynAcks) >= 0.5*sent:
		how = "the target answers with SYN-ACKs"
	case float64(v.Refused) >= 0.5*float64(v.Attempts):
		how = "the target refuses them with RSTs"
	}
	what := "SYNs"
	if float64(v.Syns) < 0.5*float64(sent) {
		what = "TCP packets without SYN (an ACK, FIN, RST or junk flood)"
	}
	where := fmt.Sprintf("port %d", v.Key.Port)
	if all {
		ps := map[uint16]bool{}
		for _, p := range sortedPairs(s, func(p *pairSum) bool { return p.Key.Proto == features.ProtoTCP && p.Key.Dst == v.Key.Addr }) {
			ps[p.Key.Port] = true
		}
		where = fmt.Sprintf("%d ports or more", len(ps))
		if sweep {
			where += ", each about once (a scan at a flood's pace)"
		}
	}
	who := plural(float64(len(rs)), "source", "sources")
	if spoofed {
		who = fmt.Sprintf("%.0f new source ports and addresses, most sending a few each (forged or distributed)", float64(v.NewSources))
	}
	summary := fmt.Sprintf("%.0f %s to %s in %.0f s completed no handshake (%s), from %s", incomplete, what, where, s.seconds, how, who)
	if silent := float64(v.Silent); silent >= 0.5*incomplete {
		summary = fmt.Sprintf("%.0f connections to %s in %.0f s completed a handshake and carried nothing from the client (a connection flood), %.0f more SYNs completed none, from %s",
			silent, where, s.seconds, incomplete-silent, who)
	}
	return Attack{
		Confidence: confidence(incomplete, count),
		Evidence: []Evidence{
			ev("incomplete_syns", incomplete, count, 0),
			ev("incomplete_syns_per_second", rate, count/max(s.seconds, 1), 0),
		},
		Sources: srcs,
		Targets: [][16]byte{v.Key.Addr},
		Spoofed: spoofed,
		Summary: summary,
		shared:  sweep,
	}, true
}

// reflectedSynAcks judges the SYN-ACKs and RSTs a host receives for
// connections it never opened.
func reflectedSynAcks(e *evidence, v *serviceSum) (Attack, bool) {
	s := &e.h.short
	n := float64(v.Unsolicited)
	count := e.bar(synFloodCount, synFloodTrainedCount, features.MaxServiceIncompleteSyns, 3, shortSpan)
	if n < count {
		return Attack{}, false
	}
	if l := e.h.last.services[v.Key]; l == nil || float64(l.Unsolicited) < stillAt*count {
		return Attack{}, false
	}
	rs, _ := senders(s, func(p *pairSum) bool { return p.Key.Proto == features.ProtoTCP && p.Key.Dst == v.Key.Addr },
		func(p *pairSum) float64 { return float64(p.Unsolicited) })
	srcs := heaviest(rs, n, 0.02, 10)
	return Attack{
		Confidence: confidence(n, count),
		Evidence:   []Evidence{ev("unsolicited_tcp_answers", n, count, 0)},
		Sources:    srcs,
		Targets:    [][16]byte{v.Key.Addr},
		Spoofed:    namedShare(rs, srcs, n) < 0.5,
		Summary:    fmt.Sprintf("%.0f SYN-ACKs and RSTs in %.0f s for connections the target never opened, from %s (reflection of forged SYNs)", n, s.seconds, plural(float64(len(rs)), "reflector", "reflectors")),
	}, true
}

// scannedBy reports whether one source's first contacts with target's
// ports, or the ports it tried, account for at least a twelfth of n
// SYNs: each port tried up to a dozen times is a scan, however fast
// (nmap retries a silent port up to ten times; Windows' connect()
// retries a refused one, two sockets a port, so a connect scan from
// Windows sends 10 or more SYNs to some ports); a flood over ports
// repeats them more.
func scannedBy(s *span, target [16]byte, n float64) bool {
	if s.widest == nil {
		s.widest = widestWalks(s)
	}
	return s.widest[target]*scanRetries >= n
}

// widestWalks finds, for each host, the most of its TCP ports one source
// first contacted (its hosts' NewPorts) or tried (its pairs: a second
// walk over the same ports finds none new while the first contacts are
// remembered; the pairs the windows list, so at least these). Once a
// window, whatever the number of hosts flooded.
func widestWalks(s *span) map[[16]byte]float64 {
	widest := map[[16]byte]float64{}
	for _, h := range s.hosts {
		widest[h.Target] = max(widest[h.Target], float64(h.NewPorts))
	}
	for _, w := range s.sourceWalks() {
		widest[w.dst] = max(widest[w.dst], w.tcpPorts)
	}
	return widest
}
