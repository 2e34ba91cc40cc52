// Package pipeline runs one interface's data flow: capture, decode,
// features and detector, on their own goroutines joined by bounded queues,
// and publishes a snapshot of each closed window for the collector to read.
// Host groups are views of the same packets with their own aggregators and
// detectors; evidence captures and source countries hang off the verdicts.
package pipeline

import (
	"context"
	"errors"

	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/capture"
	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/detector"
	"github.com/netanomaly/netanomaly_exporter/internal/evidence"
)

const (
	batchSize = 256
	// workerBatches is the pool of each capture worker when there are
	// several (a batch is 26 KiB): half a queue, a few milliseconds of
	// packets, as the merger hands them back within FanoutPoll.
	workerBatches = queueBatches/2 + 2
	// queueBatches bounds the queue between capture and features: 64
	// batches of 256 packets. When it is full a file source waits, a live
	// source waits up to queueWait and then drops the batch (counted).
	queueBatches = 64
	// queueWait is longer than a window close stalls the feature stage,
	// and short enough that the kernel ring does not overflow meanwhile.
	queueWait = 250 * time.Millisecond
	// detectorQueueWindows and detectorQueueBytes bound the closed windows
	// waiting for the detector (their Footprint): enough for a replay's
	// features to run on while it trains (a fifth of a second at the end
	// of the warm-up, while quiet windows take tens of kilobytes), and no
	// more memory than 20 windows of a flood with every list full.
	detectorQueueWindows = 1024
	detectorQueueBytes   = 32 << 20
	publishInterval      = 100 * time.Millisecond
	// batchSpan is the most packet time a batch covers before it is sent.
	batchSpan     = int64(100 * time.Millisecond)
	statsInterval = time.Second
	// idleGrace lets late packets in before a quiet window is closed.
	idleGrace = time.Second
	reopenMin = time.Second
	reopenMax = 30 * time.Second
)

// Opener opens (or reopens) the source of a live interface.
type Opener func() (capture.Source, error)

// PipelineConfig configures one interface's pipeline.
type PipelineConfig struct {
	Interface string
	Features  features.Config
	// Lossless makes the capture stage wait for the feature stage instead
	// of dropping: right for files, wrong for live links.
	Lossless bool
	// Reopen, if set, is used to reopen a live source that failed.
	Reopen Opener
	// Workers are more sources of the same interface: with the first,
	// the members of one AF_PACKET fanout group. Each is read and decoded
	// on a goroutine of its own, and their packets are merged in time
	// order before the feature stage.
	Workers []Worker
	// OnWindow is called from the feature goroutine for each closed window.
	OnWindow func(*features.Window)
	// Detector, if set, judges every closed window.
	Detector *detector.Detector
	// OnModels is called from the feature goroutine with a copy of the
	// detector's models each time they were (re)trained, to save them.
	OnModels func(iface string, set *detector.ModelSet)
	// OnVerdict is called from the feature goroutine with each verdict
	// (event log, verdict files).
	OnVerdict func(*detector.Verdict)
	// Evidence, if set, keeps the recent packets' headers and writes an
	// evidence capture of each attack.
	Evidence *evidence.Store
	// Groups, if set, gives every host group (and OtherGroup) a view of
	// its own: the traffic its hosts send or receive, in windows of its
	// own, judged by GroupViews[i].Detector against its own baseline.
	Groups     *GroupTable
	GroupViews []GroupConfig
	// Group names the host group of a view; empty for an interface.
	Group string
}

// DetectorSnapshot is the detector's part of a snapshot.
type DetectorSnapshot struct {
	Verdict        *detector.Verdict // last verdict, nil before the first window
	Trained        bool
	WarmupProgress float64
	Windows        int // windows the models were trained on
	Retrains       int
	LastTrain      time.Time
	Anomalies      map[string]uint64 // anomalous windows by attack type, "unknown" without one
	Attacks        map[string]uint64 // attack starts by type
	ScoringSeconds float64
	Members        []string
	// Presence is the models' presence baseline, nil without one.
	Presence *detector.Presence
	// Evidence names the evidence capture of each attack in progress
	// that has one, by type.
	Evidence map[string]string
	window   *features.Window // the window Verdict judged
}

// Snapshot is what a scrape reads: cumulative counters and the last closed
// window. It is immutable once published.
type Snapshot struct {
	Interface       string
	Group           string // the host group of a group's view
	Counters        features.Counters
	Window          *features.Window
	DecodeErrors    [decode.NumLayers]uint64
	UnsupportedLink uint64
	Source          capture.Stats
	QueueDropped    uint64
	BusySeconds     float64 // time the feature stage spent working
	Reopens         uint64
	Detector        *DetectorSnapshot // nil without a detector
}

// batch carries decoded packets and the capture stage's cumulative
// counters from the capture goroutine to the feature goroutine.
type batch struct {
	n        int
	infos    [batchSize]decode.PacketInfo
	clock    int64 // packet clock when the batch was sent, if hasClock
	hasClock bool
	eof      bool
	worker   int // the capture worker that sent it

	decodeErrors    [decode.NumLayers]uint64
	unsupportedLink uint64
	source          capture.Stats
	reopens         uint64

	// The live source went down (it failed, or capture was stopped) or
	// came back at this time, after the batch's packets: the windows
	// meanwhile saw nothing, and are partial, not quiet.
	down, up bool
	at       int64
}

// Pipeline captures, decodes and aggregates one interface.
type Pipeline struct {
	cfg    PipelineConfig
	logger *slog.Logger

	capturers []*capturer
	merger    *merger
	paused    atomic.Bool
	ended     atomic.Pointer[string] // StateFinished or StateFailed once the source ended for good
	snap      atomic.Pointer[Snapshot]
	queue     chan *batch
	free      chan *batch
	done      chan struct{}
	dropped   atomic.Uint64

	agg *features.Aggregator

	lastWindow  *features.Window
	lastVerdict *detector.Verdict
	judged      *features.Window // the detector's last window
	// The detector judges windows on a goroutine of its own, so that the
	// feature stage (and behind it capture) goes on meanwhile: a flood
	// window takes tens of milliseconds to judge, a training at the end
	// of a replay's warm-up hundreds.
	windows    *windowQueue
	detDone    chan struct{}
	detSnap    atomic.Pointer[DetectorSnapshot]
	detStopped bool
	savedSet   *detector.ModelSet
	loggedErr  error
	scoring    float64
	anomalies  map[string]uint64
	attacks    map[string]uint64
	busy       float64
	unsupWarn  sync.Once

	// Evidence: the recorder the first packet opens (read by the
	// detector goroutine), and the files of the attacks in progress
	// (detector goroutine). recMu serializes the capture workers' use
	// of the recorder when there are several.
	recMu         sync.Mutex
	rec           atomic.Pointer[evidence.Recorder]
	recLink       uint16
	recFailed     bool
	evidenceFiles map[string]string
	evidenceSnap  map[string]string

	// views are the host groups' pipelines, fed by router.
	views  []*Pipeline
	router *groupRouter
}

// NewPipeline prepares a pipeline on an opened source. Run starts it.
func NewPipeline(cfg PipelineConfig, src capture.Source, logger *slog.Logger) *Pipeline {
	p := &Pipeline{
		cfg:    cfg,
		logger: logger.With("interface", cfg.Interface),
		queue:  make(chan *batch, queueBatches),
		free:   newPool(queueBatches + 2),
		done:   make(chan struct{}),
	}
	if len(cfg.Workers) == 0 {
		p.capturers = []*capturer{newCapturer(p, 0, src, cfg.Reopen, p.queue, p.free)}
	} else {
		frees := []chan *batch{newPool(workerBatches)}
		p.capturers = []*capturer{newCapturer(p, 0, src, cfg.Reopen, nil, frees[0])}
		for i, w := range cfg.Workers {
			frees = append(frees, newPool(workerBatches))
			p.capturers = append(p.capturers, newCapturer(p, i+1, w.Source, w.Reopen, nil, frees[i+1]))
		}
		p.merger = newMerger(p, frees)
		for _, c := range p.capturers {
			c.out = p.merger.in
		}
	}
	p.agg = features.NewAggregator(cfg.Features, cfg.Interface, p.onWindow)
	p.anomalies, p.attacks = map[string]uint64{}, map[string]uint64{}
	p.evidenceFiles = map[string]string{}
	if cfg.Detector != nil {
		// Models loaded from a file are neither news nor to be saved again.
		p.savedSet = cfg.Detector.Models()
		p.windows, p.detDone = newWindowQueue(detectorQueueWindows, detectorQueueBytes), make(chan struct{})
		p.detSnap.Store(p.detectorSnapshot())
	}
	p.snap.Store(&Snapshot{Interface: cfg.Interface, Group: cfg.Group, Counters: p.agg.Counters()})
	if cfg.Groups != nil {
		p.router = &groupRouter{cached: cfg.Groups, cache: features.NewAddrCache[int]()}
		p.router.table.Store(cfg.Groups)
		for i, name := range cfg.Groups.Names() {
			p.views = append(p.views, newView(cfg, name, cfg.GroupViews[i], logger))
		}
		p.router.views, p.router.out = p.views, make([]*batch, len(p.views))
	}
	return p
}

// newView returns the pipeline of one host group of an interface: fed by
// the interface's pipeline, with no source, output or export of its own.
func newView(parent PipelineConfig, name string, g GroupConfig, logger *slog.Logger) *Pipeline {
	cfg := PipelineConfig{Interface: parent.Interface, Group: name, Features: parent.Features, Lossless: true, Detector: g.Detector, OnVerdict: g.OnVerdict, OnWindow: g.OnWindow}
	if g.Detector != nil {
		g.Detector.ForGroup(name)
	}
	cfg.Features.FlowExport, cfg.Features.Blocklists, cfg.Features.Countries = nil, nil, nil
	if g.OnModels != nil {
		key := parent.Interface + "/" + name
		cfg.OnModels = func(_ string, set *detector.ModelSet) { g.OnModels(key, set) }
	}
	return NewPipeline(cfg, nil, logger.With("group", name))
}

// Group names the host group of a group's view, "" for an interface.
func (p *Pipeline) Group() string { return p.cfg.Group }

// Views returns the host groups' pipelines of an interface.
func (p *Pipeline) Views() []*Pipeline { return p.views }

// runView runs a group's pipeline until its parent closes its queue.
func (p *Pipeline) runView() {
	if p.windows != nil {
		go p.detectorLoop()
	}
	p.featureLoop()
	p.stopDetector()
	close(p.done)
}

// Interface returns the interface label.
func (p *Pipeline) Interface() string { return p.cfg.Interface }

// newPool returns a pool of n empty batches.
func newPool(n int) chan *batch {
	free := make(chan *batch, n)
	for range n {
		free <- &batch{}
	}
	return free
}

// Up reports whether the source is open and delivering; with several
// capture workers, whether all are.
func (p *Pipeline) Up() bool {
	for _, c := range p.capturers {
		if !c.up.Load() {
			return false
		}
	}
	return true
}

// Paused reports whether capture was stopped through the admin API.
func (p *Pipeline) Paused() bool { return p.paused.Load() }

// Capture states, reported by netanomaly_capture_state. Only reopening and
// failed are outages: a capture file that ended and a capture stopped on
// purpose are not.
const (
	StateCapturing = "capturing" // the source is open and delivering
	StateReopening = "reopening" // the source failed and is being reopened
	StatePaused    = "paused"    // stopped through the admin API
	StateFinished  = "finished"  // a capture file ended (without --capture.pcap.loop)
	StateFailed    = "failed"    // the source failed and cannot be reopened
)

// CaptureStates lists the states in the order metrics report them.
var CaptureStates = []string{StateCapturing, StateReopening, StatePaused, StateFinished, StateFailed}

// State returns the capture state.
func (p *Pipeline) State() string {
	switch {
	case p.ended.Load() != nil:
		return *p.ended.Load()
	case p.paused.Load():
		return StatePaused
	case p.Up():
		return StateCapturing
	}
	return StateReopening
}

func (p *Pipeline) end(state string) { p.ended.Store(&state) }

// StopCapture closes the live source until StartCapture; windows keep
// closing, empty. A capture file cannot be stopped and resumed.
func (p *Pipeline) StopCapture() error {
	if p.cfg.Reopen == nil {
		return errors.New("only live interfaces can be stopped and started")
	}
	p.paused.Store(true)
	return nil
}

// StartCapture reopens a source stopped by StopCapture.
func (p *Pipeline) StartCapture() { p.paused.Store(false) }

// Detector returns the pipeline's detector, nil without one.
func (p *Pipeline) Detector() *detector.Detector { return p.cfg.Detector }

// Snapshot returns the last published snapshot.
func (p *Pipeline) Snapshot() *Snapshot { return p.snap.Load() }

// Done is closed when the pipeline has stopped: the file ended, or the
// context was cancelled. The last snapshot stays readable.
func (p *Pipeline) Done() <-chan struct{} { return p.done }

// Run runs both stages until ctx is cancelled or a file source ends.
func (p *Pipeline) Run(ctx context.Context) {
	if p.merger != nil {
		go p.merger.run()
	}
	for _, c := range p.capturers {
		go c.loop(ctx)
	}
	if p.windows != nil {
		go p.detectorLoop()
	}
	for _, v := range p.views {
		go v.runView()
	}
	p.featureLoop()
	for _, v := range p.views {
		close(v.queue)
		<-v.done
	}
	p.stopDetector()
	p.closeEvidence()
	close(p.done)
}

// detectorLoop judges the windows in order, publishing its state after
// each, and at the end installs a training the last window started.
func (p *Pipeline) detectorLoop() {
	defer close(p.detDone)
	for q := range p.windows.ch {
		p.judge(q.w)
		p.detSnap.Store(p.detectorSnapshot())
		p.windows.judged(q)
	}
	p.cfg.Detector.Settle()
	p.detSnap.Store(p.detectorSnapshot())
}

// stopDetector lets the detector judge every window sent and waits for it.
func (p *Pipeline) stopDetector() {
	if p.windows != nil && !p.detStopped {
		p.detStopped = true
		close(p.windows.ch)
		<-p.detDone
	}
}

// featureLoop is stage two: aggregate and publish.
func (p *Pipeline) featureLoop() {
	var lastPublish time.Time
	for b := range p.queue {
		t0 := time.Now()
		p.agg.AddBatch(b.infos[:b.n])
		if b.down {
			p.agg.SourceDown(b.at)
		}
		if b.up {
			p.agg.SourceUp(b.at)
		}
		if b.hasClock {
			p.agg.Advance(b.clock - int64(idleGrace))
		}
		if b.eof {
			p.agg.Flush()
			p.stopDetector() // the last snapshot has every verdict
		}
		if p.router != nil {
			p.router.route(b)
		}
		now := time.Now()
		p.busy += now.Sub(t0).Seconds()
		if b.eof || b.hasClock || now.Sub(lastPublish) >= publishInterval {
			lastPublish = now
			snap := &Snapshot{
				Interface:       p.cfg.Interface,
				Group:           p.cfg.Group,
				Window:          p.lastWindow,
				DecodeErrors:    b.decodeErrors,
				UnsupportedLink: b.unsupportedLink,
				Source:          b.source,
				QueueDropped:    p.dropped.Load(),
				BusySeconds:     p.busy,
				Reopens:         b.reopens,
			}
			p.agg.CountersInto(&snap.Counters)
			if ds := p.detSnap.Load(); ds != nil {
				// The window and its verdict go out together.
				snap.Detector, snap.Window = ds, ds.window
			}
			p.snap.Store(snap)
		}
		b.n, b.hasClock, b.eof, b.down, b.up = 0, false, false, false, false
		p.free <- b
	}
}

// onWindow runs in the feature goroutine when a window closes.
func (p *Pipeline) onWindow(w *features.Window) {
	p.lastWindow = w
	if p.cfg.OnWindow != nil {
		p.cfg.OnWindow(w)
	}
	if p.windows != nil && !p.detStopped {
		p.windows.put(w)
	}
}

// windowQueue takes closed windows to the detector goroutine, at most so
// many of them and so many bytes (their Footprint) at once.
type windowQueue struct {
	ch     chan queuedWindow
	budget int64
	queued atomic.Int64  // bytes of the windows in ch and in judgement
	freed  chan struct{} // a token when the detector is done with a window
}

// queuedWindow is a closed window on its way to the detector, with its
// footprint.
type queuedWindow struct {
	w     *features.Window
	bytes int64
}

func newWindowQueue(windows int, budget int64) *windowQueue {
	return &windowQueue{ch: make(chan queuedWindow, windows), budget: budget, freed: make(chan struct{}, 1)}
}

// put queues w, waiting while the windows queued and w would pass the
// budget: one window alone always goes.
func (q *windowQueue) put(w *features.Window) {
	n := int64(w.Footprint())
	for b := q.queued.Load(); b > 0 && b+n > q.budget; b = q.queued.Load() {
		<-q.freed
	}
	q.queued.Add(n)
	q.ch <- queuedWindow{w, n}
}

// judged gives back the bytes of a window the detector is done with.
func (q *windowQueue) judged(w queuedWindow) {
	q.queued.Add(-w.bytes)
	select {
	case q.freed <- struct{}{}:
	default: // a token is there already, and wakes put to look again
	}
}

// judge runs in the detector goroutine: it scores a window and keeps the
// counts a scrape reports.
func (p *Pipeline) judge(w *features.Window) {
	d := p.cfg.Detector
	p.judged = w
	t0 := time.Now()
	v := d.Observe(w)
	p.scoring += time.Since(t0).Seconds()
	if err := d.LastTrainError(); err != nil && err != p.loggedErr {
		p.loggedErr = err
		p.logger.Error("detector training failed; keeping the previous models", "err", err)
	}
	if set := d.Models(); set != nil && set != p.savedSet {
		p.logger.Info("models trained", "windows", set.Windows, "threshold", set.Threshold, "members", set.Members())
		if len(set.Skipped) > 0 {
			p.logger.Warn("some models could not train and are left out until the next training", "skipped", set.Skipped)
		}
		if p.cfg.OnModels == nil {
			p.savedSet = set
		}
	}
	if set := d.Models(); set != nil && set != p.savedSet && p.cfg.OnModels != nil {
		// A copy, made here where no window is being scored: online
		// members change the live set as they learn.
		if c, err := set.Clone(); err == nil {
			p.savedSet = set
			p.cfg.OnModels(p.cfg.Interface, c)
		} else {
			p.logger.Error("cannot copy the models to save them", "err", err)
		}
	}
	if v.Anomalous {
		if len(v.Attacks) == 0 {
			p.anomalies["unknown"]++
		}
		for _, a := range v.Attacks {
			p.anomalies[a.Type]++
		}
	}
	for _, e := range v.Events {
		if e.Kind == "attack_start" {
			p.attacks[e.Attack.Type]++
		}
	}
	p.evidenceEvents(v)
	p.attackCountries(v)
	p.lastVerdict = v
	if p.cfg.OnVerdict != nil {
		p.cfg.OnVerdict(v)
	}
}

// detectorSnapshot copies the detector's state for a scrape.
func (p *Pipeline) detectorSnapshot() *DetectorSnapshot {
	d := p.cfg.Detector
	if d == nil {
		return nil
	}
	s := &DetectorSnapshot{Verdict: p.lastVerdict, ScoringSeconds: p.scoring, Anomalies: maps.Clone(p.anomalies), Attacks: maps.Clone(p.attacks), window: p.judged,
		Evidence: p.evidenceSnap}
	s.Trained, s.WarmupProgress, s.Windows, s.Retrains, s.LastTrain = d.State()
	if set := d.Models(); set != nil {
		s.Members, s.Presence = set.Members(), set.Presence
	}
	return s
}
