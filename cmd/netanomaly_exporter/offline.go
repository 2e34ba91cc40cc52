package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/expfmt"

	"github.com/netanomaly/netanomaly_exporter/collector"
	"github.com/netanomaly/netanomaly_exporter/collector/capture"
	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/collector/pipeline"
	"github.com/netanomaly/netanomaly_exporter/detector"
)

// runFiles replays every --capture.pcap file once as fast as possible
// through a pipeline configured by configure, and waits for all of them.
// damaged names the files a corrupt record cut short: the command still
// uses the packets before the damage, then exits with damagedExit.
func runFiles(o options, logger *slog.Logger, configure func(name string, cfg *pipeline.PipelineConfig) error) (ps []*pipeline.Pipeline, damaged error, err error) {
	sources, err := openSources(o, logger, true)
	if err != nil {
		return nil, nil, err
	}
	anon, err := anonymizer(o, logger)
	if err != nil {
		return nil, nil, usageError{err}
	}
	evid, err := openEvidence(o, anon, logger)
	if err != nil {
		return nil, nil, err
	}
	if evid != nil {
		defer func() { _ = evid.Close() }()
	}
	if o.window.FlowExport = force.flowExport(o.config, anon); o.window.FlowExport != nil {
		// Flow records of a capture file: the IPFIX output runs for the
		// replay and is flushed at its end.
		force.serve(o.config, logger)
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			force.close(ctx)
		}()
	}
	ps = make([]*pipeline.Pipeline, len(sources))
	for i, s := range sources {
		cfg := pipeline.PipelineConfig{Interface: s.name, Features: o.window, Lossless: true, Evidence: evid}
		if err := configure(s.name, &cfg); err != nil {
			for _, s := range sources {
				_ = s.src.Close()
			}
			return nil, nil, err
		}
		ps[i] = pipeline.NewPipeline(cfg, s.src, logger)
	}
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(func() { p.Run(context.Background()) })
	}
	wg.Wait()
	var errs []error
	for _, s := range sources {
		if f, ok := s.src.(*capture.FileSource); ok && f.Err() != nil {
			errs = append(errs, f.Err())
		}
	}
	if len(errs) > 0 {
		damaged = damagedError{errors.Join(errs...)}
	}
	return ps, damaged, nil
}

// damagedExit is the exit status of an offline command that completed on
// the packets before a corrupt record: its output is valid for them.
const damagedExit = 3

// damagedError reports capture files that a corrupt record cut short.
type damagedError struct{ error }

func (e damagedError) Error() string {
	return e.error.Error() + ": the output covers the packets before the damage; repair the file (pcapfix, or editcap to cut it before the offset) to use the rest"
}

func (e damagedError) Unwrap() error { return e.error }

// offlineDetector returns the detector configuration for replays: training
// happens in line, so every run gives the same verdicts.
func offlineDetector(o options) detector.Config {
	c := o.det
	c.Synchronous = true
	return c
}

// loadModels loads --detector.model-file for an offline command.
func loadModels(o options, required bool) (*detector.ModelFile, error) {
	if o.modelFile == "" {
		if required {
			return nil, usageError{errors.New("this command needs --detector.model-file=FILE (write one with the train command)")}
		}
		return nil, nil
	}
	mf, err := detector.LoadModelFile(o.modelFile, o.window.Window)
	if err != nil {
		return nil, fmt.Errorf("load model file %q: %w", o.modelFile, err)
	}
	return mf, nil
}

func replay(o options, logger *slog.Logger, stdout io.Writer) error {
	anon, err := anonymizer(o, logger)
	if err != nil {
		return usageError{err}
	}
	mf, err := loadModels(o, false)
	if err != nil {
		return err
	}
	// Attacks are logged as they start and end, and written to the event
	// log, as serve does: a replay tells what happened, and when.
	var events *detector.EventLog
	if o.eventsFile != "" {
		if events, err = detector.OpenEventLog(detector.EventLogConfig{Path: o.eventsFile, Format: o.eventsFormat, MaxBytes: int64(o.eventsSize), Keep: o.eventsKeep}, anon.Addr); err != nil {
			return err
		}
		defer func() { _ = events.Close() }()
	}
	onVerdict := func(v *detector.Verdict) {
		detector.LogEvents(logger, v, anon.Addr)
		if err := events.RecordJSON(detector.EventRecords(v, anon.Addr)); err != nil {
			logger.Error("cannot write the event log", "err", err)
		}
	}
	ps, damaged, err := runFiles(o, logger, func(name string, cfg *pipeline.PipelineConfig) error {
		if o.detectorOn {
			var set *detector.ModelSet
			if mf != nil {
				set = mf.Set(name)
			}
			cfg.Detector = detector.New(offlineDetector(o), name, set)
			cfg.OnVerdict = onVerdict
			if o.config != nil && o.config.Groups != nil {
				cfg.Groups = o.config.Groups
				for _, g := range o.config.Groups.Names() {
					var gset *detector.ModelSet
					if mf != nil {
						gset = mf.GroupSet(name, g)
					}
					cfg.GroupViews = append(cfg.GroupViews, pipeline.GroupConfig{Detector: detector.New(offlineDetector(o), name, gset), OnVerdict: onVerdict})
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(collector.NewExporter(ps, anon, o.attackSources), versioncollector.NewCollector("netanomaly"), force)
	mfs, err := reg.Gather()
	if err != nil {
		return fmt.Errorf("gather metrics: %w", err)
	}
	enc := expfmt.NewEncoder(stdout, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return fmt.Errorf("write metrics: %w", err)
		}
	}
	return damaged
}

func train(o options, logger *slog.Logger, stdout io.Writer) error {
	if o.modelFile == "" {
		return usageError{errors.New("train needs --detector.model-file=FILE to write the models to")}
	}
	events, err := detector.ReadLabels(o.labels)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	perFile := map[string][]*features.Window{}
	perGroup := map[string]map[string][]*features.Window{} // group, file
	t0 := time.Now()
	_, damaged, err := runFiles(o, logger, func(name string, cfg *pipeline.PipelineConfig) error {
		cfg.OnWindow = func(w *features.Window) {
			mu.Lock()
			perFile[name] = append(perFile[name], w)
			mu.Unlock()
		}
		if o.config != nil && o.config.Groups != nil {
			// Each host group trains a set of its own, on its hosts'
			// windows.
			cfg.Groups = o.config.Groups
			for _, g := range o.config.Groups.Names() {
				cfg.GroupViews = append(cfg.GroupViews, pipeline.GroupConfig{OnWindow: func(w *features.Window) {
					mu.Lock()
					if perGroup[g] == nil {
						perGroup[g] = map[string][]*features.Window{}
					}
					perGroup[g][name] = append(perGroup[g][name], w)
					mu.Unlock()
				}})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	readTime := time.Since(t0)
	t1 := time.Now()
	set, st, err := detector.TrainWindows(o.det.Train, perFile, events)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	trainTime := time.Since(t1)
	mf := detector.NewModelFile(o.window.Window, time.Now())
	mf.Sets[detector.DefaultSet] = set
	groups := slices.Sorted(maps.Keys(perGroup))
	for _, g := range groups {
		gs, gst, err := detector.TrainWindows(o.det.Train, perGroup[g], events)
		if err != nil {
			return fmt.Errorf("train host group %s: %w", g, err)
		}
		mf.Sets[detector.DefaultSet+"/"+g] = gs
		fmt.Fprintf(stdout, "host group %s: trained on %d normal windows, threshold %.4f\n", g, gst.Normal, gs.Threshold)
	}
	if err := mf.Save(o.modelFile); err != nil {
		return err
	}
	fi, _ := os.Stat(o.modelFile)
	fmt.Fprintf(stdout, "read %d windows from %d files in %.1fs: %d normal, %d inside labelled attacks, %d partial (left out)\n",
		st.Normal+st.Attack+st.Partial, st.Files, readTime.Seconds(), st.Normal, st.Attack, st.Partial)
	fmt.Fprintf(stdout, "trained %v in %.2fs, threshold %.4f", set.Members(), trainTime.Seconds(), set.Threshold)
	if set.Forest != nil {
		fmt.Fprintf(stdout, ", forest classes %v", set.Classes)
	}
	for _, s := range set.Skipped {
		fmt.Fprintf(stdout, "\nskipped %s", s)
	}
	fmt.Fprintf(stdout, "\nwrote %s (%d bytes)\n", o.modelFile, fi.Size())
	return damaged
}

func evaluate(o options, logger *slog.Logger, stdout io.Writer) (int, error) {
	anon, err := anonymizer(o, logger)
	if err != nil {
		return 0, usageError{err}
	}
	mf, err := loadModels(o, true)
	if err != nil {
		return 0, err
	}
	events, err := detector.ReadLabels(o.labels)
	if err != nil {
		return 0, err
	}
	var mu sync.Mutex
	var verdicts []*detector.Verdict
	_, damaged, err := runFiles(o, logger, func(name string, cfg *pipeline.PipelineConfig) error {
		set := mf.Set(name)
		if set == nil {
			return fmt.Errorf("model file %q has no models for %q (it has %s) and no default set: evaluate the captures the file was trained on, or train one for this capture with the train command", o.modelFile, name, strings.Join(slices.Sorted(maps.Keys(mf.Sets)), ", "))
		}
		cfg.Detector = detector.New(offlineDetector(o), name, set)
		cfg.OnVerdict = func(v *detector.Verdict) {
			mu.Lock()
			verdicts = append(verdicts, v)
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	sort.SliceStable(verdicts, func(i, j int) bool {
		if verdicts[i].Interface != verdicts[j].Interface {
			return verdicts[i].Interface < verdicts[j].Interface
		}
		return verdicts[i].Start < verdicts[j].Start
	})
	if o.verdicts != "" {
		f, err := os.Create(o.verdicts)
		if err != nil {
			return 0, fmt.Errorf("write verdicts: %w", err)
		}
		w := bufio.NewWriter(f)
		err = detector.WriteVerdicts(w, verdicts, anon.Addr)
		err = errors.Join(err, w.Flush(), f.Close())
		if err != nil {
			return 0, fmt.Errorf("write verdicts: %w", err)
		}
	}
	ev := detector.Evaluate(verdicts, events)
	if o.format == "json" {
		err = ev.WriteJSON(stdout)
	} else {
		err = ev.WriteText(stdout)
	}
	if err != nil {
		return 0, err
	}
	return 0, damaged
}
