package detector

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
)

// win returns the verdict of window k ([t0+10k s, t0+10k+10 s)).
func win(k int, trained, anomalous bool, score float64, attacks ...Attack) *Verdict {
	return &Verdict{Start: t0 + int64(k)*10*sec, End: t0 + int64(k+1)*10*sec, Trained: trained, Anomalous: anomalous,
		Score: score, Threshold: 0.8, Attacks: attacks}
}

func at(s float64) int64 { return t0 + int64(s*float64(sec)) }

func TestEvaluate(t *testing.T) {
	events := []LabeledEvent{
		{Start: at(20), End: at(50), Type: SynFlood},             // windows 2, 3, 4
		{Start: at(95), End: at(105), Type: "ntp_amplification"}, // windows 9, 10
		{Start: at(150), End: at(160), Type: PortScan},           // window 15
		{Start: at(5), End: at(15), Type: TrafficDrop},           // windows 0, 1: before training
	}
	vs := []*Verdict{
		win(0, false, false, 0.99), // untrained: not a false negative
		win(1, false, false, 0.99),
		win(2, true, true, 0.95, Attack{Type: SynFlood, Confidence: 0.9}),  // TP, detects the flood: delay 30-20 = 10 s
		win(3, true, true, 0.92, Attack{Type: SynFlood, Confidence: 0.85}), // TP
		win(4, true, false, 0.5),                                           // FN
		win(5, true, true, 0.99),                                           // FP
		win(6, true, false, 0.1),
		win(7, true, false, 0.2),
		win(8, true, false, 0.3),
		win(9, true, false, 0.4),                                            // FN
		win(10, true, true, 0.9, Attack{Type: Reflection, Confidence: 0.8}), // TP, detects the NTP event: delay 110-95 = 15 s
		win(11, true, false, 0.05),
		win(12, true, false, 0.05),
		win(13, true, false, 0.05),
		win(14, true, false, 0.05),
		win(15, true, true, 0.97, Attack{Type: TrafficSpike, Confidence: 0.7}), // TP, but the wrong type for the scan
		win(16, true, true, 0.85, Attack{Type: PortScan, Confidence: 0.93}),    // FP: the scan was over
		win(17, true, false, 0.15),
		win(18, true, false, 0.25),
		win(19, true, false, 0.35),
	}
	ev := Evaluate(vs, events)
	eq := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %.10g, want %.10g", name, got, want)
		}
	}
	if ev.Windows != 20 || ev.TrainedWindows != 18 || ev.AttackWindows != 6 {
		t.Errorf("windows %d, scored %d, attack %d; want 20, 18, 6", ev.Windows, ev.TrainedWindows, ev.AttackWindows)
	}
	if ev.TruePositives != 4 || ev.FalsePositives != 2 || ev.FalseNegatives != 2 {
		t.Errorf("TP %d FP %d FN %d, want 4 2 2", ev.TruePositives, ev.FalsePositives, ev.FalseNegatives)
	}
	eq("precision", ev.Precision, 4.0/6)
	eq("recall", ev.Recall, 4.0/6)
	eq("F1", ev.F1, 4.0/6)
	// Ranked: .99 (FP), .97 TP, .95 TP, .93 FP, .92 TP, .90 TP, .50 FN, .40 FN, then negatives.
	eq("average precision", ev.PRAUC, (1.0/2+2.0/3+3.0/5+4.0/6+5.0/7+6.0/8)/6)
	// False alarms per hour over the 12 scored benign windows (2 minutes).
	if ev.FalseAlarms != 2 {
		t.Errorf("false alarms %d", ev.FalseAlarms)
	}
	eq("benign hours", ev.BenignHours, 120.0/3600)
	eq("false alarms per hour", ev.FalseAlarmsPerHr, 60)
	eq("false alarms per day", ev.FalseAlarmsPerDay, 1440)

	if ev.Events != 4 || ev.EventsDetected != 2 {
		t.Errorf("%d of %d events detected, want 2 of 4", ev.EventsDetected, ev.Events)
	}
	want := []TypeResult{
		{Type: PortScan, Events: 1, Detected: 0, Recall: 0, DelaysSecs: []float64{}},
		{Type: Reflection, Events: 1, Detected: 1, Recall: 1, DelaysSecs: []float64{15}},
		{Type: SynFlood, Events: 1, Detected: 1, Recall: 1, DelaysSecs: []float64{10}},
		{Type: TrafficDrop, Events: 1, Detected: 0, Recall: 0, DelaysSecs: []float64{}},
	}
	if len(ev.Types) != len(want) {
		t.Fatalf("types %+v", ev.Types)
	}
	for i := range want {
		g, w := ev.Types[i], want[i]
		if g.Type != w.Type || g.Events != w.Events || g.Detected != w.Detected || g.Recall != w.Recall || !slices.Equal(g.DelaysSecs, w.DelaysSecs) {
			t.Errorf("type %d: %+v, want %+v", i, g, w)
		}
	}
	eq("mean delay", ev.MeanDelaySecs, 12.5)
	eq("max delay", ev.MaxDelaySecs, 15)
	eq("max delay windows", ev.MaxDelayWindows, 1.5)

	var b bytes.Buffer
	if err := ev.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(b.String()), " ")
	for _, s := range []string{"window precision 0.6667", "PR-AUC 0.6496", "events detected 2 of 4", "false alarms 2 in 0.03 benign hours (60.00 per hour, 1440.00 per day)", "reflection 1/1 (1.00) delays 15s", "mean 12.5 s, max 15.0 s (1.5 windows)"} {
		if !strings.Contains(text, s) {
			t.Errorf("text report lacks %q:\n%s", s, b.String())
		}
	}
	b.Reset()
	if err := ev.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Evaluation
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || back.F1 != ev.F1 || len(back.Types) != 4 {
		t.Errorf("JSON report: %v %+v", err, back)
	}
}

func TestEvaluateEdges(t *testing.T) {
	// Nothing scored: no division by zero.
	ev := Evaluate([]*Verdict{win(0, false, false, 0)}, []LabeledEvent{{Start: at(0), End: at(5), Type: SynFlood}})
	for name, v := range map[string]float64{"precision": ev.Precision, "recall": ev.Recall, "F1": ev.F1, "AP": ev.PRAUC, "FA/h": ev.FalseAlarmsPerHr, "delay": ev.MeanDelaySecs} {
		if v != 0 || math.IsNaN(v) {
			t.Errorf("%s = %g", name, v)
		}
	}
	// An event is detected by an anomalous window of its type anywhere in
	// it, not only the first; a window touching the event's end is not in
	// it.
	ev = Evaluate([]*Verdict{
		win(0, true, true, 0.9, Attack{Type: PortScan, Confidence: 0.9}),
		win(1, true, false, 0.1),
		win(2, true, true, 0.9, Attack{Type: UDPFlood, Confidence: 0.9}),
		win(3, true, true, 0.9, Attack{Type: UDPFlood, Confidence: 0.9}),
	}, []LabeledEvent{{Start: at(10), End: at(30), Type: UDPFlood}})
	if ev.EventsDetected != 1 || ev.Types[0].DelaysSecs[0] != 20 || ev.AttackWindows != 2 || ev.FalsePositives != 2 {
		t.Errorf("%+v", ev)
	}
	// A perfect ranking has average precision 1 even with non-anomalous
	// attack windows scored below the threshold.
	ev = Evaluate([]*Verdict{
		win(0, true, true, 0.95),
		win(1, true, false, 0.79),
		win(2, true, false, 0.2),
	}, []LabeledEvent{{Start: at(0), End: at(20), Type: SynFlood}})
	if ev.PRAUC != 1 {
		t.Errorf("AP %g, want 1", ev.PRAUC)
	}
}
