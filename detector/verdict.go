package detector

import "math"

// Threat levels.
const (
	ThreatNone = iota
	ThreatLow
	ThreatMedium
	ThreatHigh
)

// ThreatNames are the threat level labels by level.
var ThreatNames = []string{"none", "low", "medium", "high"}

// Verdict is the detector's judgement of one window on one interface.
type Verdict struct {
	Interface      string
	Group          string // the host group judged, empty for a whole interface
	Start, End     int64  // Unix nanoseconds
	Partial        bool   // the capture saw only part of the window
	Trained        bool
	WarmupProgress float64
	Score          float64
	Threshold      float64
	Models         []ModelScore
	Anomalous      bool
	Threat         int
	Confidence     float64
	Attacks        []Attack // attack types recognised in this window
	Suppressed     []Attack // attacks dropped by the allowlist
	// Extremes are the features far beyond anything seen in training:
	// an anomaly no rule names is still one.
	Extremes     []Explanation
	Explanations []Explanation
	Protocols    []ProtocolDeviation
	Active       []ActiveAttack // attacks in progress after hysteresis
	Events       []Event
	// Explained is every feature that has been among the Explanations
	// (the three furthest from their baseline) since the detector
	// started, with this window's values, in schema order: series per
	// feature that stay, where series per rank change feature with every
	// window.
	Explained []Explanation
}

// threat sets the threat level and the confidence of the verdict.
func threat(v *Verdict, agree float64) (int, float64) {
	if !v.Anomalous {
		return ThreatNone, 1 - agree
	}
	ruleConf := 0.0
	level := ThreatLow
	if v.Score >= (v.Threshold+1)/2 {
		level = ThreatMedium
	}
	for _, a := range v.Attacks {
		ruleConf = math.Max(ruleConf, a.Confidence)
		l := ThreatMedium
		if t := Type(a.Type); t != nil && t.Severity == 3 && a.Confidence >= 0.8 {
			l = ThreatHigh
		}
		level = max(level, l)
	}
	margin := 0.0
	if v.Threshold < 1 {
		margin = math.Max(0, math.Min(1, (v.Score-v.Threshold)/(1-v.Threshold)))
	}
	conf := 1 - (1-ruleConf)*(1-agree)*(1-0.5*margin)
	return level, math.Min(conf, 0.999)
}
