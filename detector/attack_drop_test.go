package detector

import (
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

func TestTrafficDrop(t *testing.T) {
	d, g := newTrained(t, testConfig(), 42)
	for range 40 {
		d.Observe(g.benign())
	}
	w := g.benign()
	drop(w, 10)
	v := d.Observe(w)
	checkVerdict(t, v)
	if !hasAttack(v.Attacks, TrafficDrop) {
		t.Fatalf("a drop to 10 packets a second: attacks %v", types(v.Attacks))
	}
	if a := attackOf(v.Attacks, TrafficDrop); len(a.Sources) != 0 || len(a.Targets) != 0 {
		t.Errorf("a drop names %v and %v", addrs(a.Sources), addrs(a.Targets))
	}
	// The capture started, stopped or reopened inside the window: it saw
	// part of it, and its count says nothing of the link.
	for range 5 {
		d.Observe(g.benign())
	}
	w = g.benign()
	drop(w, 10)
	w.Partial, w.Seconds = true, 0.5
	if v := d.Observe(w); hasAttack(v.Attacks, TrafficDrop) || v.Anomalous {
		t.Errorf("a partial window was judged a drop: %v", types(v.Attacks))
	}
	// A lull, not an outage: a window at a sixth of the usual 300
	// packets a second (under the bar of a fifth, over half of it) is
	// named only when the next one is as quiet.
	for range 5 {
		d.Observe(g.benign())
	}
	quiet := func() *features.Window {
		w := g.benign()
		drop(w, 50)
		return w
	}
	if v := d.Observe(quiet()); hasAttack(v.Attacks, TrafficDrop) {
		t.Errorf("one window at 50 packets a second named a drop")
	}
	if v := d.Observe(quiet()); !hasAttack(v.Attacks, TrafficDrop) {
		t.Errorf("the second window in a row at 50 packets a second: attacks %v, want a drop", types(v.Attacks))
	}
	// Before training nothing says what normal is.
	u := New(testConfig(), "eth0", nil)
	for range 40 {
		u.Observe(g.benign())
	}
	w = g.benign()
	drop(w, 1)
	if v := u.Observe(w); hasAttack(v.Attacks, TrafficDrop) {
		t.Errorf("drop named without a baseline")
	}
}
