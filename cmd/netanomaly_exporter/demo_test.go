package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/collector/pipeline"
	"github.com/netanomaly/netanomaly_exporter/detector"
	"github.com/netanomaly/netanomaly_exporter/internal/synth"
)

// defaultOptions are the options the flags give by default, as far as the
// demo uses them.
func defaultOptions(t *testing.T) options {
	t.Helper()
	def := detector.DefaultConfig()
	o := options{window: features.DefaultConfig(), contamination: def.Train.Contamination, members: strings.Join(detector.AllMembers, ","),
		seed: 1, warmup: time.Hour, horizon: 5 * time.Minute, retrain: 6 * time.Hour, endAfter: def.EndAfter}
	if err := o.validateDetector(); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestDemoScenario is the demo as a newcomer meets it, replayed offline
// as fast as possible: the models trained at start on benign traffic of a
// network like the demo's, then every pass of the demo (they repeat after
// synth.DemoPasses) through the pipeline and detector. Each scripted
// attack must be named with its type during its interval, within a few
// windows of its start and with the scripted attacker among the sources
// where it has one, and no attack may be named in the normal stretches
// between them, the seams between passes included.
func TestDemoScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("synthesizes and replays two hours of traffic: skipped with -short")
	}
	logger := slog.New(slog.DiscardHandler)
	o := defaultOptions(t)
	window := o.window.Window
	start := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)

	t0 := time.Now()
	set, tr, err := demoModels(o, start, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("trained on %d windows (%d bytes of capture) in %v, threshold %.4f, members %v", tr.windows, tr.captureBytes, time.Since(t0).Round(time.Millisecond), set.Threshold, set.Members())

	// The labels of every pass, as the demo source will synthesize them.
	var all []synth.Label
	for pass := range synth.DemoPasses {
		t0 := time.Now()
		data, labels, err := demoCapture(start.Add(time.Duration(pass)*synth.DemoDuration), pass)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("pass %d: %d bytes in %v", pass+1, len(data), time.Since(t0).Round(time.Millisecond))
		if limit := 24 << 20; len(data) > limit {
			t.Errorf("pass %d is %d bytes, more than the %d a pass should stay under", pass+1, len(data), limit)
		}
		if len(labels) != len(synth.DemoAttacks) {
			t.Fatalf("pass %d: %d labels, want %d", pass+1, len(labels), len(synth.DemoAttacks))
		}
		all = append(all, labels...)
	}

	stop := start.Add(synth.DemoPasses * synth.DemoDuration).UnixNano()
	src, err := openDemo(start, 0, logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var verdicts []*detector.Verdict
	p := pipeline.NewPipeline(pipeline.PipelineConfig{Interface: demoName, Features: o.window, Lossless: true,
		Detector: detector.New(offlineDetector(o), demoName, set),
		OnVerdict: func(v *detector.Verdict) {
			if v.End > stop {
				cancel()
				return
			}
			verdicts = append(verdicts, v)
		}}, src, logger)
	p.Run(ctx)
	if want := int(synth.DemoPasses * synth.DemoDuration / window); len(verdicts) < want-2 {
		t.Fatalf("%d verdicts, want about %d", len(verdicts), want)
	}

	named := func(v *detector.Verdict) []string {
		var out []string
		for _, a := range v.Active {
			out = append(out, a.Type)
		}
		return out
	}
	// An attack stays named until EndAfter quiet windows have passed;
	// held connections outlive a slowloris' last packet by their timeout.
	tail := time.Duration(o.det.EndAfter+2) * window
	for i, l := range all {
		var first *detector.Verdict
		var sources [][16]byte
		for _, v := range verdicts {
			if v.End <= l.Start.UnixNano() || v.Start >= l.End.UnixNano() {
				continue
			}
			for _, a := range v.Active {
				if a.Type != l.Type {
					continue
				}
				if first == nil {
					first = v
				}
				sources = append(sources, a.Sources...)
			}
			for _, typ := range named(v) {
				if typ != l.Type {
					t.Errorf("%s at %s: %s named too, in the window at %s", l.Type, l.Start.Format(time.TimeOnly), typ, time.Unix(0, v.Start).UTC().Format(time.TimeOnly))
				}
			}
		}
		if first == nil {
			t.Errorf("pass %d: %s from %s to %s was never named", i/len(synth.DemoAttacks)+1, l.Type, l.Start.Format(time.TimeOnly), l.End.Format(time.TimeOnly))
			continue
		}
		delay := float64(first.End-l.Start.UnixNano()) / float64(window)
		t.Logf("pass %d: %-11s %s to %s named %.1f windows after its start, source %q", i/len(synth.DemoAttacks)+1, l.Type, l.Start.Format(time.TimeOnly), l.End.Format(time.TimeOnly), delay, l.Source)
		if delay > 3 {
			t.Errorf("%s named %.1f windows after its start, want at most 3", l.Type, delay)
		}
		if l.Source != "" {
			want := netip.MustParseAddr(l.Source).As16()
			if !slices.Contains(sources, want) {
				t.Errorf("%s: the scripted attacker %s is not among the sources named", l.Type, l.Source)
			}
		}
	}
	// The normal stretches: nothing named outside the attacks and their
	// tails, and few anomalous windows.
	benign, anomalous := 0, 0
	for _, v := range verdicts {
		inside := slices.ContainsFunc(all, func(l synth.Label) bool {
			return v.End > l.Start.UnixNano() && v.Start < l.End.Add(tail).UnixNano()
		})
		if inside {
			continue
		}
		benign++
		if v.Anomalous {
			anomalous++
		}
		if n := named(v); len(n) > 0 || len(v.Attacks) > 0 {
			t.Errorf("window at %s, between the attacks: %v named (%s)", time.Unix(0, v.Start).UTC().Format(time.TimeOnly), n, summaries(v))
		}
	}
	t.Logf("%d windows between the attacks, %d of them anomalous to the model", benign, anomalous)
	if anomalous > benign/20 {
		t.Errorf("%d of %d windows between the attacks are anomalous, want at most 5%%", anomalous, benign)
	}
}

func summaries(v *detector.Verdict) string {
	var s []string
	for _, a := range v.Attacks {
		s = append(s, fmt.Sprintf("%s: %s", a.Type, a.Summary))
	}
	return strings.Join(s, "; ")
}
