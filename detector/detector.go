package detector

import (
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/detector/models"
)

// Config configures a Detector.
type Config struct {
	Train        TrainConfig
	Warmup       int // windows observed before the first training
	RetrainEvery int // windows between retrains; 0 never retrains
	Reservoir    int // recent normal windows kept for retraining
	EndAfter     int // quiet windows that end an attack
	// Horizon is how many windows per-host behaviour is summed over:
	// slow scans, guessers and tunnels add up within it.
	Horizon int
	Allow   []netip.Prefix
	// Synchronous installs each training's models before the next window
	// is judged, so that replays give the same verdicts every run; the
	// training itself runs on another goroutine while the features of that
	// next window add up. Live capture trains in the background and keeps
	// scoring with the previous models meanwhile.
	Synchronous bool
	// Now is the wall clock, for the last-training timestamp.
	Now func() time.Time
}

// DefaultConfig returns the defaults the exporter's flags use for 10 s
// windows.
func DefaultConfig() Config {
	return Config{
		Train:        TrainConfig{Members: slices.Clone(AllMembers), Contamination: 0.001, Seed: 1},
		Warmup:       360,  // 1 hour
		RetrainEvery: 2160, // 6 hours
		Reservoir:    8640, // 1 day
		EndAfter:     3,
		Horizon:      30, // 5 minutes
		Now:          time.Now,
	}
}

// Detector judges the windows of one interface and manages its models:
// warm-up, retraining on recent normal windows, online learning.
type Detector struct {
	cfg   Config
	iface string
	group string // the host group judged, "" for a whole interface
	set   *ModelSet

	seen          int // windows observed
	sinceTrain    int
	normal        []features.Vector // ring of recent normal windows, in order
	normalNext    int
	normalTraffic int // windows of the ring that carried traffic
	training      bool
	trained       chan trainResult
	lastEnd       int64
	prev          prevWindow // the window before, zero after a gap
	active        map[string]*attackState
	held          map[string]int // user rules: windows in a row their condition held
	hz            *horizon
	presence      *presenceCounter // who sent in the windows training learns from
	watch         presenceWatch    // the model's regular hosts in the windows judged
	retrains      int
	lastTrainWall time.Time
	lastTrainErr  error

	row          []float64
	explained    [features.NumFeatures]bool // features among the Explanations since start
	retrainAsked atomic.Bool
}

// New returns a detector for one interface, with set as its trained
// models or nil to start with a warm-up.
func New(cfg Config, iface string, set *ModelSet) *Detector {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Reservoir = max(cfg.Reservoir, cfg.Warmup, 2)
	cfg.EndAfter = max(cfg.EndAfter, 1)
	if cfg.Horizon <= 0 {
		cfg.Horizon = DefaultConfig().Horizon
	}
	d := &Detector{
		cfg:      cfg,
		iface:    iface,
		set:      set,
		normal:   make([]features.Vector, 0, min(cfg.Reservoir, 1024)),
		trained:  make(chan trainResult, 1),
		active:   map[string]*attackState{},
		hz:       newHorizon(cfg.Horizon),
		presence: newPresenceCounter(),
	}
	if set != nil {
		d.lastTrainWall = cfg.Now()
	}
	return d
}

// ForGroup makes d the detector of a host group's view of its
// interface: user rules and turned-off types limited to groups apply.
func (d *Detector) ForGroup(name string) *Detector {
	d.group = name
	return d
}

// Models returns the current model set, nil during warm-up.
func (d *Detector) Models() *ModelSet { return d.set }

// State reports the training state for metrics.
func (d *Detector) State() (trained bool, progress float64, windows, retrains int, lastTrain time.Time) {
	progress = 1
	if d.set == nil && d.cfg.Warmup > 0 {
		progress = d.warmupProgress()
	}
	if d.set != nil {
		windows = d.set.Windows
	}
	return d.set != nil, progress, windows, d.retrains, d.lastTrainWall
}

// LastTrainError is the error of the last failed training, if any. The
// members a successful training skipped are in ModelSet.Skipped.
func (d *Detector) LastTrainError() error { return d.lastTrainErr }

// RequestRetrain asks for a training on the recent normal windows at the
// next window. It is safe to call from any goroutine (the admin API).
func (d *Detector) RequestRetrain() { d.retrainAsked.Store(true) }

// Observe judges one window and learns from it. The behaviour rules run
// from the first window; the models join once trained.
func (d *Detector) Observe(w *features.Window) *Verdict {
	if d.cfg.Synchronous {
		d.Settle()
	}
	d.collectTraining()
	d.seen++
	d.sinceTrain++
	v := &Verdict{Interface: d.iface, Group: d.group, Start: w.Start, End: w.End, Partial: w.Partial}
	gap := d.lastEnd != 0 && w.Start != d.lastEnd
	d.lastEnd = w.End
	d.hz.add(w)
	set := d.set
	if gap {
		d.prev = prevWindow{}
		d.presence.gap()
	}
	var base *Presence
	if set != nil {
		base = set.Presence
	}
	ev := &evidence{w: w, h: d.hz, set: set, group: d.group, scale: 1, recentPPS: d.recentLevel(features.PacketsPerSecond), recentBPS: d.recentLevel(features.BytesPerSecond),
		prev: d.prev, claimed: map[[16]byte]string{}, silent: d.watch.observe(base, w, gap), regulars: d.watch.seen}
	attacks := append(detectAll(ev), d.userAttacks(w, set)...)

	agree := 0.0
	if set != nil {
		v.Trained, v.WarmupProgress, v.Threshold = true, 1, set.Threshold
		var forestClass string
		var forestProb float64
		agree, forestClass, forestProb = d.score(set, v, w, gap)
		v.Explanations = explain(set.Scaler, &w.Features, d.row)
		v.Explained = d.explainedSince(set.Scaler, &w.Features, v.Explanations)
		v.Protocols = protocolDeviations(d.row)
		if !w.Partial {
			v.Extremes = extremes(set.Scaler, &w.Features, d.row)
		}
		attacks = crossCheck(attacks, forestClass, forestProb)
	} else {
		v.WarmupProgress = d.warmupProgress()
	}
	v.Attacks, v.Suppressed = d.allow(attacks)
	// A window the capture saw only part of (a start, a restart, a
	// reopen, the end of a file) holds part of a window's counts: the
	// models, trained on whole windows, would see a drop in it. The rules
	// alone judge it; its scores are still reported.
	modelSays, scoreHigh := d.modelSays(v, w, set)
	d.prev = prevWindow{named: len(v.Attacks) > 0, scoreHigh: scoreHigh, whole: !w.Partial, pps: w.Features[features.PacketsPerSecond]}
	v.Anomalous = len(v.Attacks) > 0 || len(v.Extremes) > 0 || modelSays
	if len(v.Suppressed) > 0 && len(v.Attacks) == 0 {
		// The only thing abnormal is traffic the operator allowed.
		v.Anomalous = false
	}
	v.Threat, v.Confidence = threat(v, agree)
	d.hysteresis(v, w)

	// Normal windows train the models; a window the capture saw only
	// part of would teach them rates of a partial span.
	if !v.Anomalous && !w.Partial && !scoreHigh {
		d.addNormal(&w.Features)
		d.presence.add(w)
		if set != nil {
			for _, m := range set.members {
				if o, ok := m.model.(models.Online); ok {
					o.Learn(d.row)
				}
			}
		}
	}
	asked := d.normalLen() >= 2 && d.retrainAsked.Swap(false)
	switch {
	case set == nil && (asked || d.warmedUp()):
		d.startTraining(w.End)
	case set != nil && (asked || d.cfg.RetrainEvery > 0 && d.sinceTrain >= d.cfg.RetrainEvery) && d.normalLen() >= 2:
		d.startTraining(w.End)
	}
	return v
}
