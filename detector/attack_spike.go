package detector

import (
	"fmt"
	"math"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// TrafficSpike is the traffic_spike attack type.
const TrafficSpike = "traffic_spike"

func init() {
	register(&AttackType{
		Name:           TrafficSpike,
		Title:          "Traffic spike",
		Alert:          "NetAnomalyTrafficSpike",
		Severity:       2,
		Recommendation: "Find the top talkers and protocols behind the surge; if it is not a known event (backup, release, flash crowd), treat it as a volumetric attack.",
		Behaviour: "Packets or bytes a second in a window, or over the busiest window-long span ending in it (so a surge split by the window grid counts whole, unless the window before named an attack), at least twice the busiest usual level of training (its 99th percentile) and a quarter beyond its busiest window, " +
			"and three times the recent normal windows' level (a sudden surge, not a busier day), when no other type explains them; " +
			"needs a trained baseline, and a window the capture saw at least half of.",
		Names:      "Sources: the busiest senders of the window, each with at least a tenth of the surge's packets (the window's, or the busiest window-long span's when more); a server sending what its clients asked for (over connections opened within the horizon) is replaced by those of its clients that received 2% of the surge or more. No targets.",
		NeedsModel: true,
		order:      90,
		detect:     detectSpike,
	})
}

// A spike is spikeUsual times the busiest usual level of training (its
// 99th percentile) and spikeBusiest times its busiest window: not that
// window alone, since the biggest transfer of a day (a backup, an update)
// comes back a little bigger on another day.
const (
	spikeUsual      = 2
	spikeBusiest    = 1.25
	spikeMinPackets = 50 // a second: below this, no spike worth a page
	spikeRecent     = 3  // times the recent normal windows' level
)

func detectSpike(e *evidence) []Attack {
	w := e.w
	if len(e.fired) > 0 || w.Seconds < 0.5*float64(w.End-w.Start)/1e9 {
		return nil // explained by another type, or too little of the window seen
	}
	// The rates of the window, or of the busiest window-long span ending
	// in it: a surge split by the grid counts whole. Unless the window
	// before named an attack: that span's surge is already named (a
	// spike) or explained (a flood that ended).
	pps, bps := w.Features[features.PacketsPerSecond], w.Features[features.BytesPerSecond]
	if !e.prev.named {
		pps = max(pps, w.Features[features.SustainedPacketsPerSecond])
		bps = max(bps, w.Features[features.SustainedBytesPerSecond])
	}
	high := func(f, sustained features.Index) float64 {
		return math.Max(spikeUsual*math.Max(e.set.Scaler.High[f], e.set.Scaler.High[sustained]),
			spikeBusiest*math.Max(e.trainedMax(f), e.trainedMax(sustained)))
	}
	pBar := high(features.PacketsPerSecond, features.SustainedPacketsPerSecond)
	bBar := high(features.BytesPerSecond, features.SustainedBytesPerSecond)
	// A spike is sudden: a busier day raises the recent level with it.
	pBar = math.Max(pBar, spikeRecent*e.recentPPS)
	bBar = math.Max(bBar, spikeRecent*e.recentBPS)
	if pps < spikeMinPackets || (pps < pBar && bps < bBar) {
		return nil
	}
	c := max(confidence(pps, pBar), confidence(bps, bBar))
	if pps < pBar {
		c = confidence(bps, bBar)
	} else if bps < bBar {
		c = confidence(pps, pBar)
	}
	// The surge's packets: shares are of the surge, not of the window,
	// so a host's share does not grow in a window that holds only the
	// surge's tail.
	n := max(pps, w.Features[features.SustainedPacketsPerSecond]) * w.Seconds
	var heavy [][16]byte
	for _, h := range w.Heavy.SourcesByPackets {
		if float64(h.Count) >= 0.1*n {
			heavy = append(heavy, h.Addr)
		}
	}
	asked := askedOf(e, heavy)
	var srcs [][16]byte
	for _, h := range heavy {
		srcs = appendNew(srcs, askers(e, h, asked[h], n)...)
	}
	return []Attack{{
		Confidence: c,
		Evidence: []Evidence{
			ev(features.Schema[features.PacketsPerSecond].Name, pps, pBar, e.typical(features.PacketsPerSecond)),
			ev(features.Schema[features.BytesPerSecond].Name, bps, bBar, e.typical(features.BytesPerSecond)),
		},
		Sources: srcs,
		Summary: fmt.Sprintf("%.0f packets and %.0f kB a second, %.1f times the busiest window of training", pps, bps/1e3,
			max(pps/max(e.trainedMax(features.SustainedPacketsPerSecond), e.trainedMax(features.PacketsPerSecond), 1),
				bps/max(e.trainedMax(features.SustainedBytesPerSecond), e.trainedMax(features.BytesPerSecond), 1))),
	}}
}

// askedOf returns, for each of hosts, the initiators of the connections
// it answered over the horizon, in one pass over the horizon's pairs.
func askedOf(e *evidence, hosts [][16]byte) map[[16]byte]map[[16]byte]bool {
	out := map[[16]byte]map[[16]byte]bool{}
	for _, h := range hosts {
		out[h] = map[[16]byte]bool{}
	}
	for k, p := range e.h.long.pairs {
		if m := out[k.Dst]; m != nil && p.Established+p.Requests+p.Replies > 0 {
			m[k.Src] = true
		}
	}
	return out
}

// askers returns who made host send: when it answered connections of
// asked, those initiators that received most of the window's packets (a
// download's data are the server's answers: the clients asked for them;
// a pushed upload's ACKs go back to the pusher), busiest first; otherwise
// host itself.
func askers(e *evidence, host [16]byte, asked map[[16]byte]bool, packets float64) [][16]byte {
	var rs []ranked
	for _, d := range e.w.Heavy.DestinationsByPackets {
		if asked[d.Addr] {
			rs = append(rs, ranked{d.Addr, float64(d.Count)})
		}
	}
	if out := heaviest(rs, packets, 0.02, 0); len(out) > 0 {
		return out
	}
	return [][16]byte{host}
}
