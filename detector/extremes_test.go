package detector

import (
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// TestExtremeFeature: one behaviour feature far beyond anything seen in
// training makes the window anomalous on its own, whatever the averaged
// score says, and the verdict names it.
func TestExtremeFeature(t *testing.T) {
	cases := []struct {
		name  string
		set   func(*features.Vector)
		want  string // the extreme feature named, "" for none
		floor bool   // the value is under the feature's absolute floor
	}{
		{"DNS names of 150 characters", func(f *features.Vector) {
			f[features.DNSQueryNameLengthMean] = 150
		}, "dns_query_name_length_mean_characters", false},
		{"unsolicited answers", func(f *features.Vector) {
			f[features.MaxTargetUnsolicitedBytes] = 5e6
		}, "max_target_unsolicited_bytes_per_window", false},
		{"ten ARP conflicts where there never were any", func(f *features.Vector) {
			f[features.ARPAddressConflicts] = 10
		}, "arp_address_conflicts_per_window", false},
		{"a small rise stays under the floor", func(f *features.Vector) {
			f[features.DNSTunnelQueries] = 5
		}, "", true},
		{"volume is not judged here", func(f *features.Vector) {
			f[features.PacketsPerSecond] *= 20
		}, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, g := newTrained(t, testConfig(), 51)
			for range 20 {
				d.Observe(g.benign())
			}
			w := g.benign()
			c.set(&w.Features)
			v := d.Observe(w)
			checkVerdict(t, v)
			var names []string
			for _, e := range v.Extremes {
				names = append(names, e.Feature)
			}
			if c.want == "" {
				if len(names) > 0 {
					t.Errorf("extremes %v, want none", names)
				}
				return
			}
			if len(names) == 0 || names[0] != c.want || !v.Anomalous || v.Threat == ThreatNone {
				t.Fatalf("extremes %v anomalous %v threat %s, want %s named and the window anomalous", names, v.Anomalous, ThreatNames[v.Threat], c.want)
			}
			e := v.Extremes[0]
			if e.Z < extremeZ || e.Value <= e.ExpectedHigh {
				t.Errorf("extreme %+v: want z >= %d and the value over the expected range", e, extremeZ)
			}
		})
	}
}
