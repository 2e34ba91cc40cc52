package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime/debug"
	"strings"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/capture"
	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/collector/pipeline"
	"github.com/netanomaly/netanomaly_exporter/detector"
	"github.com/netanomaly/netanomaly_exporter/internal/synth"
)

// The demo: started without a source, the exporter replays a synthesized
// office network (internal/synth's DemoScenario) at real speed, pass
// after pass, with a port scan, a SYN flood, an SSH brute force and a
// slowloris in turn, and judges it with models trained at start on benign
// traffic of a network of the same shape. Both captures are made in
// memory: nothing large is in the repository.

// demoName is the demo source's interface label.
const demoName = "demo"

// demoAttackSources is --detector.attack-sources for the demo when the
// flag is not given: its addresses are made up, and who attacks whom is
// what it is there to show.
const demoAttackSources = 3

// demoCapture synthesizes one pass of the demo, its scenario starting at
// start, and returns the pcap and its labels.
func demoCapture(start time.Time, pass int) ([]byte, []synth.Label, error) {
	s := synth.DemoScenario(synth.DemoSeed, pass)
	s.Start = start
	var buf bytes.Buffer
	labels, err := synth.Write(&buf, s)
	if err != nil {
		return nil, nil, fmt.Errorf("synthesize pass %d of the demo: %w", pass+1, err)
	}
	return buf.Bytes(), labels, nil
}

// demoSource replays the demo, pass after pass. Each pass is synthesized
// when the one before ends, in the packet time that follows it: the same
// network with other attackers. A file source looping over one pass would
// bring the same scanner back to the same ports within the hour the
// detector remembers first contacts for: it would see no new contacts,
// and name the second scan a SYN flood.
type demoSource struct {
	logger *slog.Logger
	start  time.Time // of the first pass
	speed  float64   // as --capture.pcap.speed; 0, as fast as possible, for tests
	pass   int
	cur    *capture.FileSource
	before capture.Stats // of the passes before the current one
}

// openDemo synthesizes the first pass of the demo and opens it.
func openDemo(start time.Time, speed float64, logger *slog.Logger) (*demoSource, error) {
	d := &demoSource{logger: logger, start: start, speed: speed}
	if err := d.open(); err != nil {
		return nil, err
	}
	return d, nil
}

// open synthesizes and opens the current pass.
func (d *demoSource) open() error {
	t0 := time.Now()
	start := d.start.Add(time.Duration(d.pass) * synth.DemoDuration)
	data, labels, err := demoCapture(start, d.pass)
	if err != nil {
		return err
	}
	cur, err := capture.OpenFile(capture.FileConfig{Path: fmt.Sprintf("synthesized demo, pass %d", d.pass+1), Data: data, Speed: d.speed}, d.logger)
	if err != nil {
		return err
	}
	d.cur = cur
	plan := make([]string, len(labels))
	for i, l := range labels {
		plan[i] = fmt.Sprintf("%s at %s from %s", l.Type, minutes(l.Start.Sub(start)), cmp.Or(l.Source, "forged addresses"))
	}
	d.logger.Info("demo: no --capture.interface or --capture.pcap given, replaying a synthesized network", "pass", d.pass+1, "attacks", strings.Join(plan, ", "),
		"pass_length", minutes(synth.DemoDuration), "speed", d.speed, "capture_bytes", len(data), "synthesized_in", time.Since(t0).Round(time.Millisecond))
	return nil
}

// minutes renders an offset into a pass as m:ss.
func minutes(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%d:%02d", int(d/time.Minute), int(d%time.Minute/time.Second))
}

// Next returns the next packet, going on with the next pass at the end
// of one.
func (d *demoSource) Next() (capture.Packet, error) {
	p, err := d.cur.Next()
	if !errors.Is(err, io.EOF) {
		return p, err
	}
	st := d.cur.Stats()
	d.before.Received += st.Received
	d.before.FileErrors += st.FileErrors
	_ = d.cur.Close()
	d.pass++
	if err := d.open(); err != nil {
		return capture.Packet{}, err
	}
	return d.cur.Next()
}

// Clock returns the replayed time.
func (d *demoSource) Clock() (int64, bool) { return d.cur.Clock() }

// Stats counts every pass.
func (d *demoSource) Stats() capture.Stats {
	st := d.cur.Stats()
	st.Received += d.before.Received
	st.FileErrors += d.before.FileErrors
	return st
}

// Close closes the current pass.
func (d *demoSource) Close() error { return d.cur.Close() }

// demoTraining says what the demo's models were trained on.
type demoTraining struct {
	windows, captureBytes int
}

// demoModels trains the models the demo judges with: it synthesizes
// benign traffic of a network of the demo's shape that ends at end,
// replays it through the pipeline as fast as possible and trains on its
// windows, as the train command does.
func demoModels(o options, end time.Time, logger *slog.Logger) (*detector.ModelSet, demoTraining, error) {
	s := synth.DemoTraining(synth.DemoTrainingSeed)
	s.Start = end.Add(-s.Duration)
	var buf bytes.Buffer
	if _, err := synth.Write(&buf, s); err != nil {
		return nil, demoTraining{}, fmt.Errorf("synthesize the demo's training traffic: %w", err)
	}
	tr := demoTraining{captureBytes: buf.Len()}
	src, err := capture.OpenFile(capture.FileConfig{Path: "synthesized demo training", Data: buf.Bytes()}, logger)
	if err != nil {
		return nil, tr, err
	}
	fc := o.window
	// Training traffic is not the network's: nothing of it is exported,
	// listed or located.
	fc.FlowExport, fc.Blocklists, fc.Countries = nil, nil, nil
	var windows []*features.Window
	p := pipeline.NewPipeline(pipeline.PipelineConfig{Interface: demoName, Features: fc, Lossless: true, OnWindow: func(w *features.Window) {
		// The first and last windows saw part of their span; the live
		// detector never trains on such windows either.
		if !w.Partial {
			windows = append(windows, w)
		}
	}}, src, logger)
	p.Run(context.Background())
	set, st, err := detector.TrainWindows(o.det.Train, map[string][]*features.Window{demoName: windows}, nil)
	tr.windows = st.Normal
	if err != nil {
		return nil, tr, fmt.Errorf("train the demo's models: %w", err)
	}
	return set, tr, nil
}

// trainDemo trains the demo's models on traffic that ends at end and says
// how long it took. On failure the rules judge alone while the detector
// warms up on the demo itself.
func trainDemo(o options, end time.Time, logger *slog.Logger) *detector.ModelSet {
	t0 := time.Now()
	set, tr, err := demoModels(o, end, logger)
	if err != nil {
		logger.Error("demo: cannot train the models; the behaviour rules judge alone until the warm-up ends", "err", err)
		return nil
	}
	logger.Info("demo: models trained on synthesized normal traffic of a network like the demo's", "traffic", synth.DemoTrainingDuration,
		"capture_bytes", tr.captureBytes, "windows", tr.windows, "members", set.Members(), "threshold", math.Round(set.Threshold*1e4)/1e4,
		"took", time.Since(t0).Round(time.Millisecond))
	// The training capture and its windows, several times the demo's
	// steady heap, are garbage now: give the memory back rather than let
	// the process carry it until the heap grows into it.
	debug.FreeOSMemory()
	return set
}
