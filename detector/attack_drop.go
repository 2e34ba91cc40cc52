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
			"(a link down, a dead span port; one quiet window of a quiet network is a lull). Never judged on a window the capture saw only part of (a start, a restart, " +
			"an interface that went away, the end of a file).",
		Names:      "No sources: a drop has none.",
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
	typical := e.typical(features.PacketsPerSecond)
	if typical < 5 {
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
	if v >= th || v >= th/2 && !(e.prev.whole && e.prev.pps < th) {
		return nil
	}
	return []Attack{{
		Confidence: math.Min(0.99, 0.6+0.15*math.Log2(th/math.Max(v, th/64))),
		Evidence:   []Evidence{ev(features.Schema[features.PacketsPerSecond].Name, v, th, typical)},
		Summary:    fmt.Sprintf("%.1f packets a second against %.0f typically", v, typical),
	}}
}
