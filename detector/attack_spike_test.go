package detector

import (
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// TestTrafficSpike judges volume against a model trained on the office
// generator (about 300 packets a second, ±20%).
func TestTrafficSpike(t *testing.T) {
	cases := []struct {
		name string
		load []float64 // load of each window after 40 normal ones
		want bool      // spike named in the last window
	}{
		{"five times the load, suddenly", []float64{5}, true},
		{"twice the load, suddenly: a busy hour", []float64{2}, false},
		{"a busier day reached slowly", ramp(1, 4, 60), false},
		{"a spike on top of a busier day", append(ramp(1, 2, 40), 9), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, g := newTrained(t, testConfig(), 41)
			for range 40 {
				d.Observe(g.benign())
			}
			var v *Verdict
			for _, k := range c.load {
				v = d.Observe(g.benignScaled(k))
				checkVerdict(t, v)
			}
			if got := hasAttack(v.Attacks, TrafficSpike); got != c.want {
				t.Errorf("spike %v, want %v (attacks %v)", got, c.want, types(v.Attacks))
			}
		})
	}
	t.Run("a window the capture saw a tenth of", func(t *testing.T) {
		d, g := newTrained(t, testConfig(), 41)
		for range 40 {
			d.Observe(g.benign())
		}
		w := g.benignScaled(5)
		w.Seconds, w.Partial = 1, true
		if v := d.Observe(w); hasAttack(v.Attacks, TrafficSpike) {
			t.Errorf("spike named on a window seen 1 s of 10")
		}
	})
	t.Run("a download spike names the clients, not the server", func(t *testing.T) {
		d, g := newTrained(t, testConfig(), 41)
		for range 40 {
			d.Observe(g.benign())
		}
		w := g.benignScaled(6)
		srv, c1, c2, pusher := ip("10.0.0.10"), ip("10.0.0.101"), ip("10.0.0.102"), ip("10.0.0.103")
		n := uint64(w.Features[features.PacketsPerSecond] * w.Seconds)
		w.Heavy.SourcesByPackets = []features.HeavyHitter{{Addr: srv, Count: n / 2}, {Addr: pusher, Count: n / 4}}
		w.Heavy.DestinationsByPackets = []features.HeavyHitter{{Addr: c1, Count: n / 4}, {Addr: srv, Count: n / 4}, {Addr: c2, Count: n / 5}, {Addr: ip("10.0.0.104"), Count: n / 8}}
		w.Behaviour.Pairs = []features.PairActivity{
			tcp(c1, srv, 80, features.Conns{Attempts: 4, Syns: 4, Established: 4, Requests: 4}),
			tcp(c2, srv, 80, features.Conns{Attempts: 2, Syns: 2, Established: 2, Requests: 2}),
			tcp(pusher, srv, 9000, features.Conns{Attempts: 1, Syns: 1, Established: 1}),
			tcp(srv, ip("10.0.0.53"), 53, features.Conns{Attempts: 1, Replies: 1}),                   // the server's own lookups
			tcp(ip("10.0.0.105"), srv, 443, features.Conns{Attempts: 30, Syns: 30, Established: 30}), // a busy client that gets little back
		}
		v := d.Observe(w)
		a := attackOf(v.Attacks, TrafficSpike)
		if a == nil || !sameSet(a.Sources, srcs(c1, c2, pusher)) {
			t.Fatalf("spike %+v, want sources the two downloading clients and the pusher", a)
		}
	})
	t.Run("a client's share is of the surge, not of the window", func(t *testing.T) {
		d, g := newTrained(t, testConfig(), 41)
		for range 40 {
			d.Observe(g.benign())
		}
		// The window holds the surge's tail: a third of the busiest
		// window-long span's packets. c2 got 3% of the window, 1% of the
		// surge: a straggler, named or not by where the grid fell.
		w := g.benignScaled(3)
		w.Features[features.SustainedPacketsPerSecond] = 3 * w.Features[features.PacketsPerSecond]
		w.Features[features.SustainedBytesPerSecond] = 3 * w.Features[features.BytesPerSecond]
		srv, c1, c2 := ip("10.0.0.10"), ip("10.0.0.101"), ip("10.0.0.102")
		n := uint64(w.Features[features.PacketsPerSecond] * w.Seconds)
		w.Heavy.SourcesByPackets = []features.HeavyHitter{{Addr: srv, Count: n * 3 / 4}}
		w.Heavy.DestinationsByPackets = []features.HeavyHitter{{Addr: c1, Count: n * 7 / 10}, {Addr: c2, Count: n * 3 / 100}}
		w.Behaviour.Pairs = []features.PairActivity{
			tcp(c1, srv, 80, features.Conns{Attempts: 4, Syns: 4, Established: 4, Requests: 4}),
			tcp(c2, srv, 80, features.Conns{Attempts: 1, Syns: 1, Established: 1, Requests: 1}),
		}
		v := d.Observe(w)
		a := attackOf(v.Attacks, TrafficSpike)
		if a == nil || !sameSet(a.Sources, srcs(c1)) {
			t.Fatalf("spike %+v, want the one client with a share of the surge", a)
		}
	})
	t.Run("a surge split by the window grid counts whole, once", func(t *testing.T) {
		d, g := newTrained(t, testConfig(), 41)
		for range 40 {
			d.Observe(g.benign())
		}
		// Each window's own rate is usual; the busiest window-long span
		// ending in it, which reaches back into the window before, is not.
		split := func() *features.Window {
			w := g.benign()
			w.Features[features.SustainedPacketsPerSecond] = 6 * w.Features[features.PacketsPerSecond]
			w.Features[features.SustainedBytesPerSecond] = 6 * w.Features[features.BytesPerSecond]
			return w
		}
		if v := d.Observe(split()); attackOf(v.Attacks, TrafficSpike) == nil {
			t.Errorf("surge over the grid line: attacks %v, want a traffic spike", types(v.Attacks))
		}
		// The next window's span reaches back into the surge just named.
		if v := d.Observe(split()); len(v.Attacks) > 0 {
			t.Errorf("the window after: attacks %v, want none (the surge was named)", types(v.Attacks))
		}
	})
	t.Run("not before training", func(t *testing.T) {
		d, g := New(testConfig(), "eth0", nil), newGen(41)
		for range 40 {
			d.Observe(g.benign())
		}
		if v := d.Observe(g.benignScaled(10)); hasAttack(v.Attacks, TrafficSpike) {
			t.Errorf("spike named without a baseline")
		}
	})
}

func ramp(from, to float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = from + (to-from)*float64(i+1)/float64(n)
	}
	return out
}
