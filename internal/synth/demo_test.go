package synth

import (
	"io"
	"slices"
	"testing"
	"time"
)

// countingWriter counts the bytes written to it.
type countingWriter struct{ n int }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// TestDemoScenario checks the exporter's demo: every pass valid and small,
// its attacks in the scripted order at the scripted times, each pass of a
// cycle with attackers of its own, and the cycle repeating after
// DemoPasses. (cmd/netanomaly_exporter's TestDemoScenario replays it
// through the detector.)
func TestDemoScenario(t *testing.T) {
	want := []string{PortScan, SYNFlood, BruteForce, Slowloris}
	var first []Label
	sources := map[string]int{} // attacker, pass
	for pass := range DemoPasses + 1 {
		s := DemoScenario(DemoSeed, pass)
		if err := s.Validate(); err != nil {
			t.Fatalf("pass %d: %v", pass+1, err)
		}
		var w countingWriter
		t0 := time.Now()
		labels, err := Write(&w, s)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("pass %d: %d bytes in %v", pass+1, w.n, time.Since(t0).Round(time.Millisecond))
		if w.n > 16<<20 {
			t.Errorf("pass %d is %d bytes: the exporter holds it in memory, keep it under 16 MiB", pass+1, w.n)
		}
		var types []string
		for i, l := range labels {
			types = append(types, l.Type)
			a := DemoAttacks[i]
			if off := l.Start.Sub(DefaultStart); off < a.Start || off > a.Start+time.Second || l.End.Sub(DefaultStart) > a.Start+a.Duration+5*time.Second {
				t.Errorf("pass %d: %s from %v to %v, scripted from %v to %v", pass+1, l.Type, off, l.End.Sub(DefaultStart), a.Start, a.Start+a.Duration)
			}
			if l.Source == "" {
				continue
			}
			if p, ok := sources[l.Source]; ok && pass < DemoPasses {
				t.Errorf("pass %d: %s comes from %s, as in pass %d: the detector remembers first contacts for up to an hour", pass+1, l.Type, l.Source, p+1)
			}
			sources[l.Source] = pass
		}
		if !slices.Equal(types, want) {
			t.Errorf("pass %d: attacks %v, want %v", pass+1, types, want)
		}
		switch pass {
		case 0:
			first = labels
		case DemoPasses:
			if !slices.Equal(labels, first) {
				t.Errorf("pass %d does not repeat pass 1:\n%v\n%v", pass+1, labels, first)
			}
		}
	}
	if DemoPasses*DemoDuration <= 60*time.Minute {
		t.Errorf("the demo repeats after %v: a scanner back within the hour scans nothing new", DemoPasses*DemoDuration)
	}
	if _, err := Write(io.Discard, DemoTraining(DemoTrainingSeed)); err != nil {
		t.Fatal(err)
	}
	if tr := DemoTraining(DemoTrainingSeed); len(tr.Attacks) != 0 || tr.Clients != demoClients || tr.BaseRate != demoBaseRate {
		t.Errorf("the training traffic is not benign traffic of the demo's network: %+v", tr)
	}
}

// TestAttackSeed checks that an attack's own seed changes the attack and
// nothing else: the network and the background stay the same.
func TestAttackSeed(t *testing.T) {
	s := Scenario{Seed: 42, Duration: 2 * time.Minute, BaseRate: 50, Attacks: []Attack{{Type: BruteForce, Start: 30 * time.Second, Duration: 30 * time.Second}}}
	_, l1 := generate(t, s)
	s.Attacks[0].Seed = 7
	data2, l2 := generate(t, s)
	if l1[0].Source == l2[0].Source {
		t.Errorf("the attack's seed did not change the attacker (%s)", l1[0].Source)
	}
	s.Attacks = nil
	bg, _ := generate(t, s)
	if atk := attackRecords(t, records(t, data2), records(t, bg)); len(atk) == 0 {
		t.Error("no attack packets")
	}
}
