package detector

import (
	"fmt"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// DNSTunnel is the dns_tunnel attack type.
const DNSTunnel = "dns_tunnel"

func init() {
	register(&AttackType{
		Name:           DNSTunnel,
		Title:          "DNS tunnel",
		Alert:          "NetAnomalyDNSTunnel",
		Severity:       3,
		Technique:      "T1071.004",
		TechniqueName:  "Application Layer Protocol: DNS",
		Recommendation: "A host is moving data through DNS names: find the process sending the queries on the source, block the tunnel's domain at your resolvers, and force clients to use them.",
		Behaviour: "One host sending one DNS server, over the horizon, many queries that look like a tunnel's: names that look like encoded data " +
			"(long, with a long label of random-looking characters), or questions for record types that carry free-form bytes and that ordinary " +
			"clients never ask for (NULL, private use), whatever the names: at least 30, and half its queries to it; or 60 queries with names of " +
			"30 characters or more on average drawing answers of 400 bytes or more.",
		Names:  "Sources: the querying host; targets: the DNS server it sends to.",
		Floors: true,
		order:  11, // before the UDP flood: a tunnel's queries are its own
		detect: detectDNSTunnel,
	})
}

// Bars of the DNS tunnel rule over the horizon.
const (
	tunnelQueries     = 30
	tunnelShare       = 0.5
	tunnelBigQueries  = 60
	tunnelBigAnswer   = 400 // bytes a DNS answer on average
	tunnelLongNameLen = 30
)

func detectDNSTunnel(e *evidence) []Attack {
	l := &e.h.long
	bar := e.bar(tunnelQueries, tunnelQueries, features.DNSTunnelQueries, 0.5, float64(e.h.size))
	var out []Attack
	for _, p := range activePairs(e.h, func(p *pairSum) bool { return p.Key.Port == 53 && p.DNSQueries > 0 }) {
		if l := e.h.last.pairs[p.Key]; l == nil || l.DNSQueries == 0 {
			continue // it stopped
		}
		q, tun := float64(p.DNSQueries), float64(p.DNSTunnel)
		nameMean := float64(p.DNSNameBytes) / q
		answerMean := 0.0
		if p.Replies > 0 {
			answerMean = float64(p.ReplyBytes) / float64(p.Replies)
		}
		var c float64
		var evs []Evidence
		switch {
		case tun >= bar && tun >= tunnelShare*q:
			c = confidence(tun, bar)
			evs = []Evidence{ev("tunnel_like_queries", tun, bar, 0), ev("tunnel_like_share", tun/q, tunnelShare, 0)}
		case q >= tunnelBigQueries && nameMean >= tunnelLongNameLen && answerMean >= tunnelBigAnswer:
			c = confidence(q, tunnelBigQueries)
			evs = []Evidence{ev("long_name_queries", q, tunnelBigQueries, 0), ev("answer_size_mean_bytes", answerMean, tunnelBigAnswer, 0)}
		default:
			continue
		}
		out = append(out, Attack{
			Confidence: c,
			Evidence:   evs,
			Sources:    [][16]byte{p.Key.Src},
			Targets:    [][16]byte{p.Key.Dst},
			Summary: fmt.Sprintf("%.0f DNS queries in %s, %.0f tunnel-like (names that look like encoded data, or NULL or private record types; names of %.0f characters on average, answers of %.0f bytes)",
				q, dur(l.seconds), tun, nameMean, answerMean),
		})
	}
	return out
}
