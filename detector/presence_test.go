package detector

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// TestPresenceCounter: a host's windows, presences and silences in a row
// are counted on whole windows with complete sender lists only; a gap
// ends a silence; a baseline keeps the hosts present in half the windows
// or more, counted long enough, the most present first.
func TestPresenceCounter(t *testing.T) {
	a, b, c := lanAddr(1), lanAddr(2), lanAddr(3)
	win := func(hs ...[16]byte) *features.Window {
		w := &features.Window{}
		for _, h := range hs {
			w.Senders = append(w.Senders, features.Sender{Addr: h})
		}
		return w
	}
	cn := newPresenceCounter()
	// a: present, present, silent x3, present. Partial windows and
	// windows with senders left out say nothing.
	for i, w := range []*features.Window{win(a, b), win(a, b), win(b), win(b), win(b), win(a, b)} {
		cn.add(w)
		if i == 2 {
			p := win(a, b)
			p.Partial = true
			cn.add(p)
			f := win()
			f.SendersDropped = 1
			cn.add(f)
		}
	}
	got := cn.hosts[a].HostPresence
	if got.Windows != 6 || got.Present != 3 || got.Silent != [presenceRuns]uint32{3, 2, 1} {
		t.Errorf("a: %+v, want 6 windows, 3 present, silences [3 2 1 0 0 0]", got)
	}
	// A gap: the silence after it starts over.
	cn.add(win(b))
	cn.gap()
	cn.add(win(b))
	if got := cn.hosts[a].Silent; got != [presenceRuns]uint32{5, 2, 1} {
		t.Errorf("a's silences across a gap: %v, want [5 2 1 0 0 0]", got)
	}

	// Baseline: b always, a in 3 of 4 windows, c in a third; 40 windows.
	cn = newPresenceCounter()
	for i := range 40 {
		hs := [][16]byte{b}
		if i%4 != 0 {
			hs = append(hs, a)
		}
		if i%3 == 0 {
			hs = append(hs, c)
		}
		cn.add(win(hs...))
	}
	base := cn.baseline()
	if base == nil || len(base.Hosts) != 2 || base.Hosts[0].Addr != b || base.Hosts[1].Addr != a {
		t.Fatalf("baseline %+v, want b then a", base)
	}
	if err := base.validate(); err != nil {
		t.Errorf("a counted baseline does not validate: %v", err)
	}
	// Past maxRegulars regular hosts, the rest are left out and counted.
	many := newPresenceCounter()
	for range minPresenceWindows {
		w := &features.Window{}
		for i := range maxRegulars + 6 {
			w.Senders = append(w.Senders, features.Sender{Addr: [16]byte{0xfd, 14: byte(i >> 8), 15: byte(i)}})
		}
		many.add(w)
	}
	if base := many.baseline(); len(base.Hosts) != maxRegulars || base.Left != 6 {
		t.Errorf("%d regular hosts kept and %d left, want %d and 6", len(base.Hosts), base.Left, maxRegulars)
	}
	short := newPresenceCounter()
	for range minPresenceWindows - 1 {
		short.add(win(a))
	}
	if base := short.baseline(); base != nil {
		t.Errorf("%d windows made a baseline: %+v", minPresenceWindows-1, base)
	}
}

// TestPresenceCounterBounded: a stream of one-off senders (a scan's
// answers, a spoofed flood under the cap) never holds more than
// maxCounted hosts, and the regular host stays counted.
func TestPresenceCounterBounded(t *testing.T) {
	cn := newPresenceCounter()
	regular := lanAddr(1)
	next := uint32(0)
	for range 200 {
		w := &features.Window{Senders: []features.Sender{{Addr: regular}}}
		for range 1000 {
			next++
			w.Senders = append(w.Senders, features.Sender{Addr: [16]byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(next >> 24), byte(next >> 16), byte(next >> 8), byte(next)}})
		}
		cn.add(w)
		if len(cn.hosts) > maxCounted {
			t.Fatalf("%d hosts counted, at most %d", len(cn.hosts), maxCounted)
		}
	}
	if h := cn.hosts[regular]; h == nil || h.Present != 200 {
		t.Fatalf("the regular host: %+v, want present in all 200 windows", h)
	}
	if base := cn.baseline(); base == nil || len(base.Hosts) != 1 || base.Hosts[0].Addr != regular {
		t.Errorf("baseline %+v, want the regular host alone", base)
	}
}

// presenceLab is a network of regular machines, each with one address
// and its own MAC, each silent in a window with odds 1 in 5.
type presenceLab struct {
	r     *rand.Rand
	hosts int
	mac   func(i int) [6]byte // host i's machine; hostMAC when nil
}

func hostMAC(i int) [6]byte { return [6]byte{2, 0, 0, 0, 0, byte(i)} }

// senders fills w's senders: every host but those down, each silent with
// odds 1 in 5.
func (l *presenceLab) senders(w *features.Window, down ...int) {
	w.Senders = nil
	for i := 1; i <= l.hosts; i++ {
		if slices.Contains(down, i) || l.r.IntN(5) == 0 {
			continue
		}
		mac := hostMAC(i)
		if l.mac != nil {
			mac = l.mac(i)
		}
		w.Senders = append(w.Senders, features.Sender{Addr: lanAddr(i), MAC: mac})
	}
}

// TestTrafficDropRegularHosts: regular hosts falling silent together are
// a drop naming them; one host, hosts whose machines are still heard,
// windows whose lists are incomplete, hosts not seen since the start and
// clients waiting on a dead server are not.
func TestTrafficDropRegularHosts(t *testing.T) {
	const hosts = 12
	down := []int{3, 5, 8, 11}
	var downAddrs [][16]byte
	for _, i := range down {
		downAddrs = append(downAddrs, lanAddr(i))
	}
	// The baseline: an hour of windows of the lab.
	g := newGen(1)
	lab := &presenceLab{r: rand.New(rand.NewPCG(1, 2)), hosts: hosts}
	cn := newPresenceCounter()
	for range 360 {
		w := g.benign()
		lab.senders(w)
		cn.add(w)
	}
	base := cn.baseline()
	if base == nil || len(base.Hosts) != hosts {
		t.Fatalf("baseline of %d regular hosts, want %d", len(base.Hosts), hosts)
	}

	for _, c := range []struct {
		name string
		// during alters a window while the hosts are down.
		during func(w *features.Window)
		down   []int
		seen   bool // the hosts sent in this run before going down
		want   bool
	}{
		{"four machines down", nil, down, true, true},
		{"one machine down", nil, down[:1], true, false},
		{"one machine down, with four addresses", nil, down, true, false},
		{"their machines still heard", func(w *features.Window) {
			for _, i := range down {
				w.Senders = append(w.Senders, features.Sender{Addr: ip(fmt.Sprintf("fd00::%x", i)), MAC: hostMAC(i)})
			}
		}, down, true, false},
		{"sender lists incomplete", func(w *features.Window) { w.SendersDropped = 100 }, down, true, false},
		{"not seen since the start", nil, down, false, false},
		{"waiting on a dead server", func(w *features.Window) {
			for _, i := range down {
				p := pairTo(lanAddr(i), lanAddr(200), 80)
				p.Attempts, p.Syns, p.Unanswered = 1, 1, 1
				w.Behaviour.Pairs = append(w.Behaviour.Pairs, p)
			}
		}, down, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, g := newTrained(t, testConfig(), 42)
			d.set.Presence = base
			lab := &presenceLab{r: rand.New(rand.NewPCG(3, 4)), hosts: hosts}
			if c.name == "one machine down, with four addresses" {
				lab.mac = func(i int) [6]byte {
					if slices.Contains(down, i) {
						return hostMAC(99)
					}
					return hostMAC(i)
				}
			}
			for range 10 {
				w := g.benign()
				if c.seen {
					lab.senders(w)
				} else {
					lab.senders(w, c.down...)
				}
				d.Observe(w)
			}
			named := -1
			for i := range 10 {
				w := g.benign()
				lab.senders(w, c.down...)
				if c.during != nil {
					c.during(w)
				}
				v := d.Observe(w)
				checkVerdict(t, v)
				a := attackOf(v.Attacks, TrafficDrop)
				if a == nil {
					continue
				}
				if named < 0 {
					named = i
				}
				if len(a.Sources) != 0 || !sameSet(a.Targets, downAddrs) {
					t.Errorf("window %d: sources %v, targets %v; want none and %v", i, addrs(a.Sources), addrs(a.Targets), addrs(downAddrs))
				}
			}
			switch {
			case c.want && named < 0:
				t.Fatal("not named in 10 windows")
			case c.want && named < minSilentRun-1:
				t.Errorf("named after %d silent windows, want %d or more: one quiet window is a lull", named+1, minSilentRun)
			case !c.want && named >= 0:
				t.Errorf("named at silent window %d", named+1)
			}
			if c.want {
				t.Logf("named at silent window %d", named+1)
			}
		})
	}
}

// TestPresenceTrainedAndStored: a detector's training keeps the presence
// of the windows it learned from, and the model set stores it.
func TestPresenceTrainedAndStored(t *testing.T) {
	cfg := testConfig()
	cfg.Warmup = 60
	d := New(cfg, "eth0", nil)
	g := newGen(1)
	lab := &presenceLab{r: rand.New(rand.NewPCG(5, 6)), hosts: 6}
	for range 61 {
		w := g.benign()
		lab.senders(w)
		d.Observe(w)
	}
	d.Settle()
	set := d.Models()
	if set == nil || set.Presence == nil || len(set.Presence.Hosts) != 6 {
		t.Fatalf("trained set's presence: %+v, want the 6 hosts", set)
	}
	c, err := set.Clone()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Presence, set.Presence) {
		t.Errorf("stored presence %+v, want %+v", c.Presence, set.Presence)
	}
}
