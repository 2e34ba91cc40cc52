package detector

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// TrafficDrop is the traffic_drop attack type.
const TrafficDrop = "traffic_drop"

func init() {
	register(&AttackType{
		Name:           TrafficDrop,
		Title:          "Traffic drop",
		Alert:          "NetAnomalyTrafficDrop",
		Severity:       2,
		Recommendation: "Traffic fell far below normal: check the link, the span port or mirror session, upstream routing and the capture itself.",
		Behaviour: "Packets a second in a whole window far below normal: under a fifth of the training median and under its expected range, " +
			"or under an eighth of the recent normal windows' level; in two whole windows in a row, or in one when under half of that " +
			"(a link down, a dead span port; one quiet window of a quiet network is a lull). Or a host that served connections stopped answering: " +
			"it completed 5 or more over the horizon, then left 4 or more attempts from 2 or more initiators unanswered (no reply 3 s after a TCP attempt's first SYN, or after the last datagram of a UDP or ICMP one) " +
			"over the last two windows, or over the latest alone when it still answered before it, answering none there and sending nothing " +
			"(a server or gateway down, its link cut). Or part of the network gone: hosts on 2 or more " +
			"machines (MACs) that sent in at least half the training windows, seen in this run, fell silent together: each for 2 whole windows or more and longer " +
			"than in 9 of 10 of its training windows, no other address of its machine (its MAC) heard, not waiting on a dead server; and the odds " +
			"of so many being that quiet at once, by each one's silences in training, under 1 in a million for any group of that size among the regular hosts " +
			"(a switch, a segment or several hosts down while the rest goes on). Never judged on a window the capture saw only part of (a start, a restart, " +
			"an interface that went away, the end of a file).",
		Names:      "No sources: a drop has none. Targets: the hosts that stopped answering, and the regular hosts that fell silent.",
		NeedsModel: true,
		order:      91,
		detect:     detectDrop,
	})
}

// dropRatio: a drop is under an eighth of the recent level.
const dropRatio = 8

func detectDrop(e *evidence) []Attack {
	w := e.w
	if w.Partial {
		return nil
	}
	silent, unanswered, clients, seconds := silentHosts(e)
	var gone [][16]byte
	var logOdds float64
	var longest int
	if len(e.silent) >= minSilentRegulars {
		gone, logOdds, longest = regularsGone(e.silent, func() map[[16]byte]bool { return waiting(e) }, e.regulars)
	}
	targets := silent
	for _, a := range gone {
		if !slices.Contains(targets, a) {
			targets = append(targets, a)
		}
	}
	typical := e.typical(features.PacketsPerSecond)
	if typical < 5 && len(targets) == 0 {
		return nil // too quiet a network to tell a drop from a lull
	}
	v := w.Features[features.PacketsPerSecond]
	lo, _ := e.set.Scaler.Expected(int(features.PacketsPerSecond), 4)
	th := math.Min(typical/5, lo)
	if e.recentPPS >= 5 {
		th = math.Max(th, e.recentPPS/dropRatio)
	}
	// A lull is not an outage: a drop holds for two windows, unless it
	// is deep (under half the bar: a link down, a dead span).
	if typical >= 5 && (v < th/2 || v < th && e.prev.whole && e.prev.pps < th) {
		return []Attack{{
			Confidence: math.Min(0.99, 0.6+0.15*math.Log2(th/math.Max(v, th/64))),
			Evidence:   []Evidence{ev(features.Schema[features.PacketsPerSecond].Name, v, th, typical)},
			// The whole link is quiet, and every regular host with it:
			// only the hosts that stopped answering are named.
			Targets: silent,
			Summary: fmt.Sprintf("%.1f packets a second against %.0f typically", v, typical),
		}}
	}
	if len(targets) == 0 {
		return nil
	}
	a := Attack{Targets: targets}
	var says []string
	if len(silent) > 0 {
		a.Confidence = confidence(unanswered, silentUnanswered)
		a.Evidence = append(a.Evidence, ev("unanswered_attempts", unanswered, silentUnanswered, 0), ev("initiators_unanswered", clients, silentInitiators, 0))
		says = append(says, fmt.Sprintf("%s stopped answering: %.0f attempts from %.0f initiators unanswered over the last %s, after serving connections",
			plural(float64(len(silent)), "host", "hosts"), unanswered, clients, dur(seconds)))
	}
	if len(gone) > 0 {
		// Each tenfold below the bar adds 0.05: a million times less
		// likely than the bar is 0.9.
		a.Confidence = math.Max(a.Confidence, math.Min(0.99, 0.6+0.05*(math.Log10(silentOddsBar)-logOdds)))
		a.Evidence = append(a.Evidence, ev("regular_hosts_silent", float64(len(gone)), minSilentRegulars, 0), ev("silence_odds_log10", logOdds, math.Log10(silentOddsBar), 0))
		says = append(says, fmt.Sprintf("%s that send in most windows fell silent together, for up to %s in a row: by their silences in training, odds of 1 in 10^%.0f",
			plural(float64(len(gone)), "host", "hosts"), plural(float64(longest), "window", "windows"), -logOdds))
	}
	a.Summary = strings.Join(says, "; ")
	return []Attack{a}
}

// Bars of a host that stopped answering: it completed silentServed
// connections or more over the horizon, then left silentUnanswered
// attempts or more from silentInitiators initiators or more unanswered,
// answering none (no handshake, no refusal, no SYN-ACK) and sending
// nothing in the latest window. The attempts are counted over the short
// span, or over the latest window alone for a host that still answered
// earlier in the span: its answers before it went silent say nothing of
// the attempts after. One client's timeouts are its own trouble;
// several clients' to a host that served them a minute ago are the
// host's.
const (
	silentServed     = 5
	silentUnanswered = 4
	silentInitiators = 2
)

// silence is what a host left unanswered over a span it answered
// nothing in.
type silence struct {
	unanswered float64
	clients    map[[16]byte]bool
	seconds    float64 // the span's
}

// silentIn returns the hosts that answered nothing over sp and left
// attempts unanswered there, with those attempts and their initiators.
func silentIn(sp *span) map[[16]byte]*silence {
	out := map[[16]byte]*silence{}
	for k, s := range sp.services {
		if !k.AllPorts && s.Unanswered > 0 {
			x := out[k.Addr]
			if x == nil {
				x = &silence{clients: map[[16]byte]bool{}, seconds: sp.seconds}
				out[k.Addr] = x
			}
			x.unanswered += float64(s.Unanswered)
		}
	}
	for k, s := range sp.services {
		if !k.AllPorts && s.Established+s.Refused+s.HalfOpen+s.SynAcks+s.Replies > 0 {
			delete(out, k.Addr)
		}
	}
	for k, p := range sp.pairs {
		if x := out[k.Dst]; x != nil && p.Unanswered > 0 {
			x.clients[k.Src] = true
		}
	}
	return out
}

// silentHosts returns the hosts that stopped answering, those with the
// most unanswered attempts first, with the attempts and initiators left
// unanswered in all, over seconds.
func silentHosts(e *evidence) (hosts [][16]byte, unanswered, initiators, seconds float64) {
	short := silentIn(&e.h.short)
	for a, x := range silentIn(&e.h.last) {
		if short[a] == nil {
			short[a] = x
		}
	}
	if len(short) == 0 {
		return nil, 0, 0, 0
	}
	served := map[[16]byte]float64{}
	for k, s := range e.h.long.services {
		if short[k.Addr] != nil && !k.AllPorts {
			served[k.Addr] += float64(s.Established)
		}
	}
	sending := map[[16]byte]bool{}
	for _, h := range e.w.Heavy.SourcesByPackets {
		sending[h.Addr] = true
	}
	// Sums only: the walks need no order (heaviest orders the result).
	var rs []ranked
	all := map[[16]byte]bool{}
	for a, x := range short {
		if served[a] < silentServed || x.unanswered < silentUnanswered || len(x.clients) < silentInitiators || sending[a] {
			continue
		}
		rs = append(rs, ranked{a, x.unanswered})
		unanswered += x.unanswered
		seconds = max(seconds, x.seconds)
		for c := range x.clients {
			all[c] = true
		}
	}
	return heaviest(rs, 0, 0, 0), unanswered, float64(len(all)), seconds
}

// waiting returns the initiators left unanswered over the horizon by a
// host that answers nothing now: clients waiting on a dead server are
// silent because of it, not down themselves.
func waiting(e *evidence) map[[16]byte]bool {
	answers := map[[16]byte]bool{}
	for k, s := range e.h.short.services {
		if !k.AllPorts && s.Established+s.Refused+s.HalfOpen+s.SynAcks+s.Replies > 0 {
			answers[k.Addr] = true
		}
	}
	out := map[[16]byte]bool{}
	for k, p := range e.h.long.pairs {
		if p.Unanswered > 0 && !answers[k.Dst] {
			out[k.Src] = true
		}
	}
	return out
}
