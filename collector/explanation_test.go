package collector

import (
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/collector/pipeline"
	"github.com/netanomaly/netanomaly_exporter/detector"
)

// TestExplanationSeries: the explanation series are one per feature, with
// no rank, for the features the detector has explained since start, and
// the four metrics have the same features.
func TestExplanationSeries(t *testing.T) {
	cfg := detector.DefaultConfig()
	cfg.Warmup, cfg.Synchronous = 6, true
	p := filePipeline(t, "scan", "../test/corpus/testdata/port_scan-syn-slow.pcap.gz", detector.New(cfg, "scan", nil))
	v := p.Snapshot().Detector.Verdict
	if v == nil || !v.Trained || len(v.Explanations) != 3 {
		t.Fatalf("the capture did not train the detector: %+v", v)
	}
	anon, _ := pipeline.NewAnonymizer(pipeline.PrivacyTruncate, nil)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewExporter([]*pipeline.Pipeline{p}, anon, 5))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, x := range v.Explained {
		want = append(want, x.Feature)
	}
	for _, x := range v.Explanations {
		if !slices.Contains(want, x.Feature) {
			t.Errorf("top feature %s has no series", x.Feature)
		}
	}
	n := 0
	for _, mf := range mfs {
		switch mf.GetName() {
		case "netanomaly_explanation_zscore", "netanomaly_explanation_value", "netanomaly_explanation_expected_low", "netanomaly_explanation_expected_high":
		default:
			continue
		}
		n++
		var got []string
		for _, m := range mf.GetMetric() {
			got = append(got, label(m, "feature"))
			if len(m.GetLabel()) != 2 || label(m, "interface") != "scan" {
				t.Errorf("%s: labels %v, want interface and feature", mf.GetName(), m.GetLabel())
			}
			if _, renamed, ok := features.Lookup(label(m, "feature")); !ok || renamed {
				t.Errorf("%s: feature %q is not a feature's name", mf.GetName(), label(m, "feature"))
			}
		}
		slices.Sort(got)
		w := slices.Sorted(slices.Values(want))
		if !slices.Equal(got, w) {
			t.Errorf("%s: features %v, want %v", mf.GetName(), got, w)
		}
	}
	if n != 4 {
		t.Errorf("%d explanation metrics, want 4", n)
	}
	t.Logf("%d features explained since start: %v", len(want), want)
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
