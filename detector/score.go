package detector

import (
	"slices"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/detector/models"
)

// calibratedHigh is the calibrated score from which a member counts as
// alarmed: about the largest score it saw in training.
const calibratedHigh = 0.99

// ModelScore is one member's calibrated score.
type ModelScore struct {
	Model string  `json:"model"`
	Score float64 `json:"score"`
}

// score runs the ensemble on a window: each member's calibrated score,
// their mean, and the supervised forest's class when there is one. It
// returns the share of members that found the window beyond their
// training range.
func (d *Detector) score(set *ModelSet, v *Verdict, w *features.Window, gap bool) (agree float64, class string, prob float64) {
	d.row = set.Scaler.Transform(&w.Features, d.row)
	alarmed := 0
	for _, m := range set.members {
		seq, _ := m.model.(models.Sequential)
		if seq != nil && gap {
			seq.Reset()
		}
		c := m.cal.Score(m.model.Score(d.row))
		v.Models = append(v.Models, ModelScore{Model: m.name, Score: c})
		v.Score += c
		if c >= calibratedHigh {
			alarmed++
		}
		if seq != nil {
			seq.Observe(d.row)
		}
	}
	if set.Forest != nil {
		probs := set.Forest.Predict(d.row, nil)
		best := 0
		for i, p := range probs {
			if p > probs[best] {
				best = i
			}
		}
		class, prob = set.Classes[best], probs[best]
		c := 1 - probs[0]
		v.Models = append(v.Models, ModelScore{Model: MemberForest, Score: c})
		v.Score += c
		if c >= 0.5 {
			alarmed++
		}
	}
	v.Score /= float64(len(v.Models))
	return float64(alarmed) / float64(len(v.Models)), class, prob
}

// crossCheck combines the rules with the supervised forest: agreement
// raises a rule's confidence, and a type only the forest sees is added
// when the forest is sure.
func crossCheck(attacks []Attack, class string, prob float64) []Attack {
	if class == "" || class == "normal" {
		return attacks
	}
	for i := range attacks {
		if attacks[i].Type == class {
			attacks[i].Confidence = 1 - (1-attacks[i].Confidence)*(1-prob)
			return attacks
		}
	}
	if prob >= 0.6 {
		attacks = append(attacks, Attack{Type: class, Confidence: 0.8 * prob, Evidence: []Evidence{{Feature: "forest_probability", Value: prob, Threshold: 0.6}}})
	}
	return attacks
}

// modelSays judges the models' part of verdict v: whether the score makes
// the window anomalous, and whether it reached the threshold at all (such
// a window does not train the models). It drops the extremes that allowed
// hosts explain.
func (d *Detector) modelSays(v *Verdict, w *features.Window, set *ModelSet) (says, high bool) {
	high = set != nil && !w.Partial && v.Score >= set.Threshold
	if len(d.cfg.Allow) > 0 && len(v.Attacks) == 0 {
		// An allowed host's own activity (the nightly scanner's fan-out)
		// is no anomaly either: not as an extreme feature, nor as the
		// feature the models found most unusual.
		v.Extremes = slices.DeleteFunc(v.Extremes, func(x Explanation) bool { return d.allowedDriver(w, x.Feature) })
		if high && len(v.Explanations) > 0 && d.allowedDriver(w, v.Explanations[0].Feature) {
			high = false
		}
	}
	// The score alone, with no type named and no feature beyond anything
	// trained, must hold for two windows in a row or reach halfway from
	// the threshold to 1: one window just over it (a backup's burst, a
	// late answer) is no anomaly; what no rule names and lasts (a tunnel,
	// a slow flood), or is far off, is.
	strong := set != nil && v.Score >= (set.Threshold+1)/2
	says = high && (strong || d.prev.scoreHigh || len(v.Attacks) > 0 || len(v.Extremes) > 0)
	return says, high
}
