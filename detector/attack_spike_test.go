package detector

import "testing"

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
