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
			"after it, five times the busiest training window of unsolicited bytes. Over the last two windows. " +
			"Or servers seen answering one address's DNS queries with 10 times their bytes or more, 512 bytes an answer or more, on the same bars: a resolver of ours abused, the queries forged in the target's name.",
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
	return append(out, abusedReflectors(e, dns, bytesBar)...)
}

// ampFactor is how many times the bytes of the requests an abused
// reflector's answers to one address outweigh. Ordinary DNS answers are
// two to four times their question.
const ampFactor = 10

// ampAnswerSize is the least average size of an abused resolver's
// answers: an amplifier is asked for the largest (ANY, TXT, DNSKEY over
// EDNS), where a client's answers, even a mail server's SPF and DKIM
// records at ten times their question, are mostly under 512 bytes.
const ampAnswerSize = 512

// ampDataPorts are amplification-prone ports whose ordinary use moves
// bulk one way: SNMP walks (GetBulk answers 20 times the request), IPsec
// and NAT-T (a VPN's downloads), mDNS. Their servers are not judged from
// their side.
var ampDataPorts = map[uint16]bool{161: true, 500: true, 4500: true, 5353: true}

// abusedReflectors judges the other side of reflection: servers seen
// answering one address's requests with ampFactor times their bytes or
// more, in bulk (the requests forged in the target's name reach them,
// the answers go to it). A sensor beside an open resolver or an exposed
// NTP, SSDP or memcached server sees it abused.
func abusedReflectors(e *evidence, dns bool, bytesBar float64) []Attack {
	type aimed struct {
		answers, answerBytes, askedBytes float64
		reflectors                       []ranked
	}
	amplified := func(p *pairSum) bool {
		return p.Key.Proto == features.ProtoUDP && features.ReflectionPort(p.Key.Port) && !ampDataPorts[p.Key.Port] && (p.Key.Port == 53) == dns &&
			float64(p.ReplyBytes) >= ampFactor*float64(p.Bytes) && (!dns || p.ReplyBytes >= ampAnswerSize*uint64(p.Replies))
	}
	sum := func(s *span) (map[[16]byte]*aimed, [][16]byte) {
		m := map[[16]byte]*aimed{}
		var order [][16]byte
		for _, p := range sortedPairs(s, amplified) {
			a := m[p.Key.Src]
			if a == nil {
				a = &aimed{}
				m[p.Key.Src] = a
				order = append(order, p.Key.Src)
			}
			a.answers += float64(p.Replies)
			a.answerBytes += float64(p.ReplyBytes)
			a.askedBytes += float64(p.Bytes)
			a.reflectors = append(a.reflectors, ranked{p.Key.Dst, float64(p.ReplyBytes)})
		}
		return m, order
	}
	s := &e.h.short
	byTarget, order := sum(s)
	var last map[[16]byte]*aimed
	var out []Attack
	for _, t := range order {
		a := byTarget[t]
		if a.answers < ampAnswers && !e.trained() || a.answerBytes < bytesBar || s.rate(a.answerBytes) < ampRate/10 || (!e.trained() && s.rate(a.answerBytes) < ampRate) {
			continue
		}
		if last == nil {
			last, _ = sum(&e.h.last)
		}
		if l := last[t]; l == nil || l.answerBytes < stillAt*bytesBar {
			continue // it stopped
		}
		what, as := "requests", "amplifiers"
		if dns {
			what = "DNS queries"
		}
		if len(a.reflectors) == 1 {
			as = "an amplifier"
		}
		srcs := heaviest(a.reflectors, a.answerBytes, 0.02, 0)
		out = append(out, Attack{
			Confidence: confidence(a.answerBytes, bytesBar),
			Evidence:   []Evidence{ev("amplified_answer_bytes", a.answerBytes, bytesBar, 0), ev("amplification_factor", a.answerBytes/max(a.askedBytes, 1), ampFactor, 0)},
			Sources:    srcs,
			Targets:    [][16]byte{t},
			Summary: fmt.Sprintf("%s answered %.0f %s from the target with %.0f times their bytes (%.0f kB/s): used as %s against it, by requests forged in its name",
				plural(float64(len(a.reflectors)), "server", "servers"), a.answers, what, a.answerBytes/max(a.askedBytes, 1), s.rate(a.answerBytes)/1e3, as),
		})
	}
	return out
}
