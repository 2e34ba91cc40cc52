package detector

import (
	"fmt"
	"math"

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
			"it completed 5 or more over the horizon, then left 4 or more attempts from 2 or more initiators unanswered over the last two windows, " +
			"answering none and sending nothing (a server or gateway down, its link cut). Never judged on a window the capture saw only part of (a start, a restart, " +
			"an interface that went away, the end of a file).",
		Names:      "No sources: a drop has none. Targets: the hosts that stopped answering.",
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
	silent, unanswered, clients := silentHosts(e)
	typical := e.typical(features.PacketsPerSecond)
	if typical < 5 && len(silent) == 0 {
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
			Targets:    silent,
			Summary:    fmt.Sprintf("%.1f packets a second against %.0f typically", v, typical),
		}}
	}
	if len(silent) == 0 {
		return nil
	}
	return []Attack{{
		Confidence: confidence(unanswered, silentUnanswered),
		Evidence: []Evidence{
			ev("unanswered_attempts", unanswered, silentUnanswered, 0),
			ev("initiators_unanswered", clients, silentInitiators, 0),
		},
		Targets: silent,
		Summary: fmt.Sprintf("%s stopped answering: %.0f attempts from %.0f initiators unanswered over the last %s, after serving connections",
			plural(float64(len(silent)), "host", "hosts"), unanswered, clients, dur(e.h.short.seconds)),
	}}
}

// Bars of a host that stopped answering: it completed silentServed
// connections or more over the horizon, then left silentUnanswered
// attempts or more from silentInitiators initiators or more unanswered
// over the short span, answering none (no handshake, no refusal, no
// SYN-ACK) and sending nothing in the latest window. One client's
// timeouts are its own trouble; several clients' to a host that served
// them a minute ago are the host's.
const (
	silentServed     = 5
	silentUnanswered = 4
	silentInitiators = 2
)

// silentHosts returns the hosts that stopped answering, those with the
// most unanswered attempts first, with the attempts and initiators left
// unanswered in all.
func silentHosts(e *evidence) (hosts [][16]byte, unanswered, initiators float64) {
	type tally struct{ served, unanswered, answered float64 }
	t := map[[16]byte]*tally{}
	get := func(a [16]byte) *tally {
		x := t[a]
		if x == nil {
			x = &tally{}
			t[a] = x
		}
		return x
	}
	// Sums only: the walks need no order (heaviest orders the result).
	for k, s := range e.h.short.services {
		if !k.AllPorts && s.Unanswered > 0 {
			get(k.Addr).unanswered += float64(s.Unanswered)
		}
	}
	if len(t) == 0 {
		return nil, 0, 0
	}
	for k, s := range e.h.short.services {
		if x := t[k.Addr]; x != nil && !k.AllPorts {
			x.answered += float64(s.Established + s.Refused + s.HalfOpen + s.SynAcks + s.Replies)
		}
	}
	for k, s := range e.h.long.services {
		if x := t[k.Addr]; x != nil && !k.AllPorts {
			x.served += float64(s.Established)
		}
	}
	sending := map[[16]byte]bool{}
	for _, h := range e.w.Heavy.SourcesByPackets {
		sending[h.Addr] = true
	}
	clients := map[[16]byte]map[[16]byte]bool{}
	for k, p := range e.h.short.pairs {
		if p.Unanswered == 0 {
			continue
		}
		if x := t[k.Dst]; x != nil && x.served >= silentServed && x.answered == 0 {
			if clients[k.Dst] == nil {
				clients[k.Dst] = map[[16]byte]bool{}
			}
			clients[k.Dst][k.Src] = true
		}
	}
	var rs []ranked
	all := map[[16]byte]bool{}
	for a, cs := range clients {
		x := t[a]
		if x.unanswered < silentUnanswered || len(cs) < silentInitiators || sending[a] {
			continue
		}
		rs = append(rs, ranked{a, x.unanswered})
		unanswered += x.unanswered
		for c := range cs {
			all[c] = true
		}
	}
	return heaviest(rs, 0, 0, 0), unanswered, float64(len(all))
}
