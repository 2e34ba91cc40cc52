package detector

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
)

// LabeledEvent is one labelled attack: [Start, End) in Unix nanoseconds.
type LabeledEvent struct {
	Start, End int64
	Type       string
	Source     string
}

// ReportType maps a label type to the attack type the detector names:
// the amplification variants other than DNS are all reflection.
func ReportType(label string) string {
	switch label {
	case "ntp_amplification", "ssdp_amplification", "memcached_amplification", "cldap_amplification", "snmp_amplification", "chargen_amplification":
		return Reflection
	}
	return label
}

// TypeResult is the event-level result for one attack type.
type TypeResult struct {
	Type       string    `json:"type"`
	Events     int       `json:"events"`
	Detected   int       `json:"detected"`
	Recall     float64   `json:"recall"`
	DelaysSecs []float64 `json:"detection_delays_seconds"`
}

// Evaluation is what evaluate prints.
type Evaluation struct {
	Windows           int          `json:"windows"`
	AttackWindows     int          `json:"attack_windows"`
	TrainedWindows    int          `json:"scored_windows"`
	Precision         float64      `json:"precision"`
	Recall            float64      `json:"recall"`
	F1                float64      `json:"f1"`
	PRAUC             float64      `json:"pr_auc"`
	TruePositives     int          `json:"true_positives"`
	FalsePositives    int          `json:"false_positives"`
	FalseNegatives    int          `json:"false_negatives"`
	Types             []TypeResult `json:"event_recall"`
	EventsDetected    int          `json:"events_detected"`
	Events            int          `json:"events"`
	MeanDelaySecs     float64      `json:"mean_detection_delay_seconds"`
	MaxDelaySecs      float64      `json:"max_detection_delay_seconds"`
	MaxDelayWindows   float64      `json:"max_detection_delay_windows"`
	BenignHours       float64      `json:"benign_hours"`
	FalseAlarms       int          `json:"false_alarms"`
	FalseAlarmsPerHr  float64      `json:"false_alarms_per_hour"`
	FalseAlarmsPerDay float64      `json:"false_alarms_per_day"`
}

// Evaluate scores verdicts against labelled events. A window is an attack
// window when it overlaps an event. Window-level precision, recall and F1
// use the anomalous verdict; PR-AUC (average precision) ranks windows by
// the larger of the ensemble score and the best attack confidence. An
// event is detected when a window overlapping it is anomalous with the
// event's type; the delay runs from the event's start to the end of that
// window. False alarms are anomalous windows outside every event. Windows
// scored before training are left out: the detector gives no verdict then.
func Evaluate(verdicts []*Verdict, events []LabeledEvent) Evaluation {
	var ev Evaluation
	type scored struct {
		score float64
		pos   bool
	}
	var ranked []scored
	benignNanos := int64(0)
	windowNanos := int64(0)
	for _, v := range verdicts {
		ev.Windows++
		if !v.Trained {
			continue
		}
		ev.TrainedWindows++
		windowNanos = v.End - v.Start
		pos := false
		for _, e := range events {
			if v.Start < e.End && e.Start < v.End {
				pos = true
				break
			}
		}
		s := v.Score
		for _, a := range v.Attacks {
			s = math.Max(s, a.Confidence)
		}
		if !v.Anomalous {
			s = math.Min(s, 0.999999*math.Max(v.Threshold, 0)) // below every anomalous window
		}
		ranked = append(ranked, scored{s, pos})
		switch {
		case pos:
			ev.AttackWindows++
			if v.Anomalous {
				ev.TruePositives++
			} else {
				ev.FalseNegatives++
			}
		case v.Anomalous:
			ev.FalsePositives++
			benignNanos += v.End - v.Start
		default:
			benignNanos += v.End - v.Start
		}
	}
	if ev.TruePositives+ev.FalsePositives > 0 {
		ev.Precision = float64(ev.TruePositives) / float64(ev.TruePositives+ev.FalsePositives)
	}
	if ev.AttackWindows > 0 {
		ev.Recall = float64(ev.TruePositives) / float64(ev.AttackWindows)
	}
	if ev.Precision+ev.Recall > 0 {
		ev.F1 = 2 * ev.Precision * ev.Recall / (ev.Precision + ev.Recall)
	}
	sort.SliceStable(ranked, func(i, j int) bool { return ranked[i].score > ranked[j].score })
	tp, ap := 0, 0.0
	for i, r := range ranked {
		if r.pos {
			tp++
			ap += float64(tp) / float64(i+1)
		}
	}
	if ev.AttackWindows > 0 {
		ev.PRAUC = ap / float64(ev.AttackWindows)
	}
	ev.FalseAlarms = ev.FalsePositives
	ev.BenignHours = float64(benignNanos) / 3.6e12
	if ev.BenignHours > 0 {
		ev.FalseAlarmsPerHr = float64(ev.FalseAlarms) / ev.BenignHours
		ev.FalseAlarmsPerDay = ev.FalseAlarmsPerHr * 24
	}

	byType := map[string]*TypeResult{}
	var delays []float64
	for _, e := range events {
		typ := ReportType(e.Type)
		tr := byType[typ]
		if tr == nil {
			tr = &TypeResult{Type: typ, DelaysSecs: []float64{}}
			byType[typ] = tr
		}
		tr.Events++
		ev.Events++
		for _, v := range verdicts {
			if !v.Anomalous || v.End <= e.Start || v.Start >= e.End {
				continue
			}
			if slices.ContainsFunc(v.Attacks, func(a Attack) bool { return a.Type == typ }) {
				tr.Detected++
				ev.EventsDetected++
				d := float64(v.End-e.Start) / 1e9
				tr.DelaysSecs = append(tr.DelaysSecs, d)
				delays = append(delays, d)
				break
			}
		}
	}
	for _, tr := range byType {
		tr.Recall = float64(tr.Detected) / float64(tr.Events)
		ev.Types = append(ev.Types, *tr)
	}
	sort.Slice(ev.Types, func(i, j int) bool { return ev.Types[i].Type < ev.Types[j].Type })
	for _, d := range delays {
		ev.MeanDelaySecs += d / float64(len(delays))
		ev.MaxDelaySecs = math.Max(ev.MaxDelaySecs, d)
	}
	if windowNanos > 0 {
		ev.MaxDelayWindows = ev.MaxDelaySecs / (float64(windowNanos) / 1e9)
	}
	return ev
}

// WriteText prints an evaluation for people.
func (ev Evaluation) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "windows\t%d (%d scored, %d overlapping an attack)\n", ev.Windows, ev.TrainedWindows, ev.AttackWindows)
	fmt.Fprintf(tw, "window precision\t%.4f\n", ev.Precision)
	fmt.Fprintf(tw, "window recall\t%.4f\n", ev.Recall)
	fmt.Fprintf(tw, "window F1\t%.4f\n", ev.F1)
	fmt.Fprintf(tw, "PR-AUC\t%.4f\n", ev.PRAUC)
	fmt.Fprintf(tw, "events detected\t%d of %d\n", ev.EventsDetected, ev.Events)
	fmt.Fprintf(tw, "detection delay\tmean %.1f s, max %.1f s (%.1f windows)\n", ev.MeanDelaySecs, ev.MaxDelaySecs, ev.MaxDelayWindows)
	fmt.Fprintf(tw, "false alarms\t%d in %.2f benign hours (%.2f per hour, %.2f per day)\n", ev.FalseAlarms, ev.BenignHours, ev.FalseAlarmsPerHr, ev.FalseAlarmsPerDay)
	fmt.Fprintln(tw, "event recall by type\t")
	for _, t := range ev.Types {
		var ds []string
		for _, d := range t.DelaysSecs {
			ds = append(ds, fmt.Sprintf("%.0fs", d))
		}
		fmt.Fprintf(tw, "  %s\t%d/%d (%.2f) delays %s\n", t.Type, t.Detected, t.Events, t.Recall, strings.Join(ds, " "))
	}
	return tw.Flush()
}

// WriteJSON prints an evaluation as JSON.
func (ev Evaluation) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(ev)
}
