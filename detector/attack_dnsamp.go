package detector

import (
	"fmt"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// DNSAmplification is the dns_amplification attack type.
const DNSAmplification = "dns_amplification"

func init() {
	register(&AttackType{
		Name:           DNSAmplification,
		Title:          "DNS amplification",
		Alert:          "NetAnomalyDNSAmplification",
		Severity:       3,
		Technique:      "T1498.002",
		TechniqueName:  "Network Denial of Service: Reflection Amplification",
		Recommendation: "The target is receiving DNS answers it did not ask for: filter inbound UDP from source port 53 to it at the edge or upstream; if your own resolvers are the reflectors, stop open recursion.",
		Behaviour: "DNS answers from port 53 that the target never asked for, arriving in bulk: before training at least 200 of them and 10 kB/s; " +
			"after it, five times the busiest training window of unsolicited bytes. Over the last two windows.",
		Names:  "Sources: the reflectors sending the answers; targets: the host they are aimed at.",
		Floors: true,
		order:  16,
		detect: func(e *evidence) []Attack { return amplification(e, true) },
	})
}

// Bars of the amplification rules over the short span before training.
const (
	ampAnswers = 200
	ampBytes   = 200e3
	ampRate    = 10e3
	// After training: at least ampTrainedBytes.
	ampTrainedBytes = 50e3
)

// amplification judges the answers nobody asked for that each host
// receives: DNS ones when dns is set, the others otherwise.
func amplification(e *evidence, dns bool) []Attack {
	s := &e.h.short
	bytesBar := e.bar(ampBytes, ampTrainedBytes, features.MaxTargetUnsolicitedBytes, 5, shortSpan)
	var out []Attack
	for _, v := range sortedServices(s, func(v *serviceSum) bool { return v.Key.Proto == features.ProtoUDP && v.Key.AllPorts }) {
		total, dnsBytes := float64(v.UnsolicitedBytes), float64(v.UnsolicitedDNSBytes)
		if float64(v.Unsolicited) < ampAnswers && !e.trained() || total < bytesBar || s.rate(total) < ampRate/10 || (!e.trained() && s.rate(total) < ampRate) {
			continue
		}
		if (dnsBytes >= 0.5*total) != dns {
			continue
		}
		if l := e.h.last.services[v.Key]; l == nil || float64(l.UnsolicitedBytes) < stillAt*bytesBar {
			continue // it stopped
		}
		rs, _ := senders(s, func(p *pairSum) bool {
			return p.Key.Proto == features.ProtoUDP && p.Key.Dst == v.Key.Addr && p.Unsolicited > 0
		},
			func(p *pairSum) float64 { return float64(p.UnsolicitedBytes) })
		srcs := heaviest(rs, total, 0.02, 0)
		ports := map[uint16]bool{}
		for _, p := range sortedPairs(s, func(p *pairSum) bool {
			return p.Key.Proto == features.ProtoUDP && p.Key.Dst == v.Key.Addr && p.Unsolicited > 0
		}) {
			ports[p.Key.Port] = true
		}
		out = append(out, Attack{
			Confidence: confidence(total, bytesBar),
			Evidence:   []Evidence{ev("unsolicited_answer_bytes", total, bytesBar, 0), ev("unsolicited_answers", float64(v.Unsolicited), ampAnswers, 0)},
			Sources:    srcs,
			Targets:    [][16]byte{v.Key.Addr},
			Spoofed:    false,
			Summary: fmt.Sprintf("%.0f answers (%.0f kB/s) the target never asked for, from %s on %s",
				float64(v.Unsolicited), s.rate(total)/1e3, plural(float64(len(rs)), "reflector", "reflectors"), plural(float64(len(ports)), "service port", "service ports")),
		})
	}
	return out
}
