package detector

import (
	"slices"
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

// TestTrafficDropSilentHost: a server that served its clients and then
// leaves several clients' attempts unanswered, answering none, is down;
// one client's timeouts, a server that refuses, one never heard answering
// or one still sending are not.
func TestTrafficDropSilentHost(t *testing.T) {
	srv := lanAddr(100) // the benign windows' web server
	// outage turns a benign window into one where srv answers nothing:
	// clients' attempts to it are unanswered (or refused).
	outage := func(w *features.Window, clients int, refused, sending bool) {
		b := &w.Behaviour
		b.Pairs = slices.DeleteFunc(b.Pairs, func(p features.PairActivity) bool { return p.Key.Dst == srv })
		b.Services = slices.DeleteFunc(b.Services, func(s features.ServiceActivity) bool { return s.Key.Addr == srv })
		s := features.ServiceActivity{Key: features.ServiceKey{Addr: srv, Port: 80, Proto: features.ProtoTCP}}
		for c := range clients {
			p := pairTo(lanAddr(1+c), srv, 80)
			p.Attempts, p.Syns = 2, 4
			if refused {
				p.Refused = 2
			} else {
				p.Unanswered = 2
			}
			b.Pairs = append(b.Pairs, p)
			s.Attempts += p.Attempts
			s.Syns += p.Syns
			s.Refused += p.Refused
			s.Unanswered += p.Unanswered
		}
		b.Services = append(b.Services, s)
		if sending {
			w.Heavy.SourcesByPackets = append(w.Heavy.SourcesByPackets, features.HeavyHitter{Addr: srv, Count: 40})
		}
	}
	for _, c := range []struct {
		name             string
		clients          int
		refused, sending bool
		want             bool
	}{
		{"three clients unanswered", 3, false, false, true},
		{"one client's timeouts", 1, false, false, false},
		{"refused: the host is up", 3, true, false, false},
		{"still sending", 3, false, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, g := newTrained(t, testConfig(), 42)
			for range 40 {
				d.Observe(g.benign())
			}
			var v *Verdict
			for range 2 {
				w := g.benign()
				outage(w, c.clients, c.refused, c.sending)
				v = d.Observe(w)
				checkVerdict(t, v)
			}
			a := attackOf(v.Attacks, TrafficDrop)
			if (a != nil) != c.want {
				t.Fatalf("drop named: %v, want %v (attacks %v)", a != nil, c.want, types(v.Attacks))
			}
			if a != nil && (len(a.Sources) != 0 || !slices.Equal(a.Targets, [][16]byte{srv})) {
				t.Errorf("sources %v, targets %v; want none and the server", addrs(a.Sources), addrs(a.Targets))
			}
		})
	}
	// A host that went silent within the short span is named at its first
	// silent window: it answered the window before, which says nothing of
	// the attempts since.
	t.Run("first silent window", func(t *testing.T) {
		d, g := newTrained(t, testConfig(), 42)
		for range 40 {
			d.Observe(g.benign())
		}
		w := g.benign()
		outage(w, 3, false, false)
		v := d.Observe(w)
		checkVerdict(t, v)
		if a := attackOf(v.Attacks, TrafficDrop); a == nil || !slices.Equal(a.Targets, [][16]byte{srv}) {
			t.Fatalf("first window of the outage: attacks %v, want a drop naming the server", types(v.Attacks))
		}
	})
	// A host never heard answering (a scan of dead addresses, a client's
	// typo) has not stopped: it never served.
	d, g := newTrained(t, testConfig(), 42)
	for range 40 {
		d.Observe(g.benign())
	}
	var v *Verdict
	for range 2 {
		w := g.benign()
		for c := range 3 {
			p := pairTo(lanAddr(1+c), lanAddr(200), 80)
			p.Attempts, p.Syns, p.Unanswered = 2, 4, 2
			w.Behaviour.Pairs = append(w.Behaviour.Pairs, p)
		}
		w.Behaviour.Services = append(w.Behaviour.Services, features.ServiceActivity{Key: features.ServiceKey{Addr: lanAddr(200), Port: 80, Proto: features.ProtoTCP}, Conns: features.Conns{Attempts: 6, Syns: 12, Unanswered: 6}})
		v = d.Observe(w)
	}
	if hasAttack(v.Attacks, TrafficDrop) {
		t.Errorf("a host that never answered was named a drop")
	}
}
