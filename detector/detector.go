package detector

import (
	"math"
	"net/netip"
	"slices"
	"sort"
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

// Threat levels.
const (
	ThreatNone = iota
	ThreatLow
	ThreatMedium
	ThreatHigh
)

// ThreatNames are the threat level labels by level.
var ThreatNames = []string{"none", "low", "medium", "high"}

// calibratedHigh is the calibrated score from which a member counts as
// alarmed: about the largest score it saw in training.
const calibratedHigh = 0.99

// ModelScore is one member's calibrated score.
type ModelScore struct {
	Model string  `json:"model"`
	Score float64 `json:"score"`
}

// Explanation is one feature behind a score: its value, its robust
// z-score and the range training makes expected (z within ±3).
type Explanation struct {
	Feature      string  `json:"feature"`
	Value        float64 `json:"value"`
	Z            float64 `json:"z"`
	ExpectedLow  float64 `json:"expected_low"`
	ExpectedHigh float64 `json:"expected_high"`
}

// Event is an attack starting or ending.
type Event struct {
	Kind   string `json:"kind"` // attack_start or attack_end
	Time   int64  `json:"-"`    // Unix nanoseconds on the packet clock
	Since  int64  `json:"-"`    // when the attack started
	Attack Attack `json:"attack"`
}

// Verdict is the detector's judgement of one window on one interface.
type Verdict struct {
	Interface      string
	Group          string // the host group judged, empty for a whole interface
	Start, End     int64  // Unix nanoseconds
	Partial        bool   // the capture saw only part of the window
	Trained        bool
	WarmupProgress float64
	Score          float64
	Threshold      float64
	Models         []ModelScore
	Anomalous      bool
	Threat         int
	Confidence     float64
	Attacks        []Attack // attack types recognised in this window
	Suppressed     []Attack // attacks dropped by the allowlist
	// Extremes are the features far beyond anything seen in training:
	// an anomaly no rule names is still one.
	Extremes     []Explanation
	Explanations []Explanation
	Protocols    []ProtocolDeviation
	Active       []ActiveAttack // attacks in progress after hysteresis
	Events       []Event
	// Explained is every feature that has been among the Explanations
	// (the three furthest from their baseline) since the detector
	// started, with this window's values, in schema order: series per
	// feature that stay, where series per rank change feature with every
	// window.
	Explained []Explanation
}

// ActiveAttack is an attack in progress: the latest window's view of it.
type ActiveAttack struct {
	Attack
	Since int64
}

// ProtocolDeviation is the largest robust z-score among one protocol's
// features: it says which protocol is abnormal.
type ProtocolDeviation struct {
	Protocol string
	Z        float64
}

var protocolGroups = []struct {
	name  string
	feats []features.Index
}{
	{"tcp", []features.Index{features.TCPPacketsPerSecond, features.TCPSyn, features.TCPSynAck, features.TCPRst, features.TCPFin, features.TCPHalfOpenRatio, features.AuthAttempts, features.MaxSourceAuthAttempts, features.HTTPIdleConnections,
		features.TCPEstablished, features.HTTPRequests, features.MaxServiceIncompleteSyns, features.MaxPairAuthConnections, features.MaxServiceHeldConnections, features.MaxPairRequests, features.MaxServiceRequests, features.MaxPairPosts}},
	{"udp", []features.Index{features.UDPPacketsPerSecond, features.DNSQueries, features.DNSResponses, features.DNSErrorResponses, features.DNSResponseSizeMean, features.ReflectionResponseBytes, features.ReflectionRequestBytes,
		features.DNSQueryNameLengthMean, features.DNSQueryNameEntropyMean, features.DNSTunnelQueries, features.MaxTargetUDPPackets, features.MaxTargetUnsolicitedBytes}},
	{"icmp", []features.Index{features.ICMPPacketsPerSecond, features.ICMPUnreachable, features.ICMPEchoRequests, features.MaxTargetICMPRequests}},
	{"arp", []features.Index{features.ARPPacketsPerSecond, features.ARPRequests, features.ARPReplies, features.ARPAddressConflicts}},
	{"other", []features.Index{features.OtherPacketsPerSecond, features.Fragments}},
}

type attackState struct {
	since  int64
	quiet  int
	attack Attack // the latest window's, with the highest confidence seen
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
	training      bool
	trained       chan trainResult
	lastEnd       int64
	prev          prevWindow // the window before, zero after a gap
	active        map[string]*attackState
	held          map[string]int // user rules: windows in a row their condition held
	hz            *horizon
	retrains      int
	lastTrainWall time.Time
	lastTrainErr  error

	row          []float64
	explained    [features.NumFeatures]bool // features among the Explanations since start
	retrainAsked atomic.Bool
}

type trainResult struct {
	set *ModelSet
	err error
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
		cfg:     cfg,
		iface:   iface,
		set:     set,
		normal:  make([]features.Vector, 0, min(cfg.Reservoir, 1024)),
		trained: make(chan trainResult, 1),
		active:  map[string]*attackState{},
		hz:      newHorizon(cfg.Horizon),
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
		progress = math.Min(1, float64(d.normalLen())/float64(d.cfg.Warmup))
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
	}
	ev := &evidence{w: w, h: d.hz, set: set, group: d.group, scale: 1, recentPPS: d.recentLevel(features.PacketsPerSecond), recentBPS: d.recentLevel(features.BytesPerSecond),
		prev: d.prev, claimed: map[[16]byte]string{}}
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
		v.WarmupProgress = math.Min(1, float64(d.normalLen())/float64(max(d.cfg.Warmup, 1)))
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
	case set == nil && (asked || d.normalLen() >= d.cfg.Warmup):
		d.startTraining(w.End)
	case set != nil && (asked || d.cfg.RetrainEvery > 0 && d.sinceTrain >= d.cfg.RetrainEvery) && d.normalLen() >= 2:
		d.startTraining(w.End)
	}
	return v
}

// score runs the ensemble on a window: each member's calibrated score,
// their mean, and the supervised forest's class when there is one. It
// returns the share of members that found the window beyond their
// training range.
func (d *Detector) score(set *ModelSet, v *Verdict, w *features.Window, gap bool) (agree float64, class string, prob float64) {
	d.row = set.Scaler.Transform(&w.Features, d.row)
	alarmed := 0
	for _, m := range set.members {
		seq, _ := m.model.(models.Sequential)
		if seq != nil && gap {
			seq.Reset()
		}
		c := m.cal.Score(m.model.Score(d.row))
		v.Models = append(v.Models, ModelScore{Model: m.name, Score: c})
		v.Score += c
		if c >= calibratedHigh {
			alarmed++
		}
		if seq != nil {
			seq.Observe(d.row)
		}
	}
	if set.Forest != nil {
		probs := set.Forest.Predict(d.row, nil)
		best := 0
		for i, p := range probs {
			if p > probs[best] {
				best = i
			}
		}
		class, prob = set.Classes[best], probs[best]
		c := 1 - probs[0]
		v.Models = append(v.Models, ModelScore{Model: MemberForest, Score: c})
		v.Score += c
		if c >= 0.5 {
			alarmed++
		}
	}
	v.Score /= float64(len(v.Models))
	return float64(alarmed) / float64(len(v.Models)), class, prob
}

// explain returns the three features furthest from their baseline.
func explain(s *Scaler, f *features.Vector, row []float64) []Explanation {
	idx := make([]int, len(row))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return math.Abs(row[idx[a]]) > math.Abs(row[idx[b]]) })
	out := make([]Explanation, 0, 3)
	for _, j := range idx[:3] {
		lo, hi := s.Expected(j, 3)
		out = append(out, Explanation{Feature: features.Schema[j].Name, Value: f[j], Z: row[j], ExpectedLow: lo, ExpectedHigh: hi})
	}
	return out
}

// explainedSince adds the features of top to those explained since start
// and returns them all with this window's values.
func (d *Detector) explainedSince(s *Scaler, f *features.Vector, top []Explanation) []Explanation {
	for _, x := range top {
		if i, _, ok := features.Lookup(x.Feature); ok {
			d.explained[i] = true
		}
	}
	var out []Explanation
	for j, ok := range d.explained {
		if ok {
			lo, hi := s.Expected(j, 3)
			out = append(out, Explanation{Feature: features.Schema[j].Name, Value: f[j], Z: d.row[j], ExpectedLow: lo, ExpectedHigh: hi})
		}
	}
	return out
}

func protocolDeviations(row []float64) []ProtocolDeviation {
	out := make([]ProtocolDeviation, len(protocolGroups))
	for i, g := range protocolGroups {
		out[i].Protocol = g.name
		for _, f := range g.feats {
			if math.Abs(row[f]) > math.Abs(out[i].Z) {
				out[i].Z = row[f]
			}
		}
	}
	return out
}

// crossCheck combines the rules with the supervised forest: agreement
// raises a rule's confidence, and a type only the forest sees is added
// when the forest is sure.
func crossCheck(attacks []Attack, class string, prob float64) []Attack {
	if class == "" || class == "normal" {
		return attacks
	}
	for i := range attacks {
		if attacks[i].Type == class {
			attacks[i].Confidence = 1 - (1-attacks[i].Confidence)*(1-prob)
			return attacks
		}
	}
	if prob >= 0.6 {
		attacks = append(attacks, Attack{Type: class, Confidence: 0.8 * prob, Evidence: []Evidence{{Feature: "forest_probability", Value: prob, Threshold: 0.6}}})
	}
	return attacks
}

// allow drops the attacks whose sources are all allowlisted, or whose
// target is. All sources, not any: a flood that spoofs one allowed address
// among its senders must not hide.
func (d *Detector) allow(attacks []Attack) (kept, dropped []Attack) {
	if len(d.cfg.Allow) == 0 {
		return attacks, nil
	}
	for _, a := range attacks {
		if d.allAllowed(a.Sources) || d.anyAllowed(a.Targets) {
			dropped = append(dropped, a)
		} else {
			kept = append(kept, a)
		}
	}
	return kept, dropped
}

// modelSays judges the models' part of verdict v: whether the score makes
// the window anomalous, and whether it reached the threshold at all (such
// a window does not train the models). It drops the extremes that allowed
// hosts explain.
func (d *Detector) modelSays(v *Verdict, w *features.Window, set *ModelSet) (says, high bool) {
	high = set != nil && !w.Partial && v.Score >= set.Threshold
	if len(d.cfg.Allow) > 0 && len(v.Attacks) == 0 {
		// An allowed host's own activity (the nightly scanner's fan-out)
		// is no anomaly either: not as an extreme feature, nor as the
		// feature the models found most unusual.
		v.Extremes = slices.DeleteFunc(v.Extremes, func(x Explanation) bool { return d.allowedDriver(w, x.Feature) })
		if high && len(v.Explanations) > 0 && d.allowedDriver(w, v.Explanations[0].Feature) {
			high = false
		}
	}
	// The score alone, with no type named and no feature beyond anything
	// trained, must hold for two windows in a row or reach halfway from
	// the threshold to 1: one window just over it (a backup's burst, a
	// late answer) is no anomaly; what no rule names and lasts (a tunnel,
	// a slow flood), or is far off, is.
	strong := set != nil && v.Score >= (set.Threshold+1)/2
	says = high && (strong || d.prev.scoreHigh || len(v.Attacks) > 0 || len(v.Extremes) > 0)
	return says, high
}

// allowedDriver says whether allowed sources explain feature: the
// window's most from one source came from one, or allowed hosts opened
// most of the window's failed connections (a scan and its answers).
func (d *Detector) allowedDriver(w *features.Window, feature string) bool {
	top := func(hs []features.HeavyHitter) bool { return len(hs) > 0 && d.allowedAddr(hs[0].Addr) }
	switch feature {
	case features.Schema[features.MaxSourcePortFanout].Name:
		return top(w.Heavy.PortFanout)
	case features.Schema[features.MaxSourceHostFanout].Name:
		return top(w.Heavy.HostFanout)
	case features.Schema[features.MaxSourceAuthAttempts].Name:
		return top(w.Heavy.AuthAttempts)
	case features.Schema[features.MaxSourceWebConnections].Name:
		return top(w.Heavy.WebConnections)
	case features.Schema[features.TopSourceShare].Name:
		return top(w.Heavy.SourcesByPackets)
	}
	if !probeFeatures[feature] {
		return false
	}
	// Probing and its answers (RSTs, unreachables, new ports) are
	// explained when allowed hosts opened most of the window's failed
	// connections.
	var allowed, all uint64
	for _, p := range w.Behaviour.Pairs {
		n := uint64(p.Refused) + uint64(p.Unanswered) + uint64(p.HalfOpen)
		all += n
		if d.allowedAddr(p.Key.Src) {
			allowed += n
		}
	}
	return all > 0 && 2*allowed >= all
}

// probeFeatures are what probing new hosts and ports raises.
var probeFeatures = map[string]bool{}

func init() {
	for _, f := range []features.Index{
		features.MaxSourceFailedContacts, features.TCPRst,
		features.RefusedConnections, features.UnansweredConnections, features.TCPSyn, features.TCPHalfOpenRatio,
		features.ICMPUnreachable, features.UniqueDestinationPorts, features.DestinationPortEntropy, features.UniqueConnections,
		features.NewFlowsPerSecond, features.MaxServiceIncompleteSyns,
	} {
		probeFeatures[features.Schema[f].Name] = true
	}
}

func (d *Detector) allowedAddr(b [16]byte) bool {
	ip := netip.AddrFrom16(b).Unmap()
	for _, p := range d.cfg.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (d *Detector) anyAllowed(addrs [][16]byte) bool {
	return slices.ContainsFunc(addrs, d.allowedAddr)
}

func (d *Detector) allAllowed(addrs [][16]byte) bool {
	return len(addrs) > 0 && !slices.ContainsFunc(addrs, func(a [16]byte) bool { return !d.allowedAddr(a) })
}

// threat sets the threat level and the confidence of the verdict.
func threat(v *Verdict, agree float64) (int, float64) {
	if !v.Anomalous {
		return ThreatNone, 1 - agree
	}
	ruleConf := 0.0
	level := ThreatLow
	if v.Score >= (v.Threshold+1)/2 {
		level = ThreatMedium
	}
	for _, a := range v.Attacks {
		ruleConf = math.Max(ruleConf, a.Confidence)
		l := ThreatMedium
		if t := Type(a.Type); t != nil && t.Severity == 3 && a.Confidence >= 0.8 {
			l = ThreatHigh
		}
		level = max(level, l)
	}
	margin := 0.0
	if v.Threshold < 1 {
		margin = math.Max(0, math.Min(1, (v.Score-v.Threshold)/(1-v.Threshold)))
	}
	conf := 1 - (1-ruleConf)*(1-agree)*(1-0.5*margin)
	return level, math.Min(conf, 0.999)
}

// types lists the attack types to carry through hysteresis: those in
// force, and active ones of user rules removed since, which end as quiet
// ones do.
func (d *Detector) types() []string {
	types := TypesInForce()
	var gone []string
	for typ := range d.active {
		if !slices.Contains(types, typ) {
			gone = append(gone, typ)
		}
	}
	slices.Sort(gone)
	return append(slices.Clone(types), gone...)
}

// hysteresis turns per-window attacks into attacks in progress: one
// attack starts at its first window and ends after EndAfter quiet windows,
// so an attack is one alert, not a flapping series.
func (d *Detector) hysteresis(v *Verdict, w *features.Window) {
	fired := map[string]Attack{}
	for _, a := range v.Attacks {
		fired[a.Type] = a
	}
	for _, typ := range d.types() {
		st := d.active[typ]
		a, ok := fired[typ]
		switch {
		case ok && st == nil:
			st = &attackState{since: w.Start, attack: a}
			d.active[typ] = st
			v.Events = append(v.Events, Event{Kind: "attack_start", Time: w.Start, Since: w.Start, Attack: a})
		case ok:
			st.quiet = 0
			conf := math.Max(st.attack.Confidence, a.Confidence)
			st.attack = a
			st.attack.Confidence = conf
		case st != nil:
			st.quiet++
			if st.quiet >= d.cfg.EndAfter {
				v.Events = append(v.Events, Event{Kind: "attack_end", Time: w.End, Since: st.since, Attack: st.attack})
				delete(d.active, typ)
				st = nil
			}
		}
		if st != nil {
			v.Active = append(v.Active, ActiveAttack{Attack: st.attack, Since: st.since})
		}
	}
}

func (d *Detector) addNormal(f *features.Vector) {
	if len(d.normal) < d.cfg.Reservoir {
		d.normal = append(d.normal, *f)
		return
	}
	d.normal[d.normalNext] = *f
	d.normalNext = (d.normalNext + 1) % len(d.normal)
}

func (d *Detector) normalLen() int { return len(d.normal) }

// recentWindows is how many recent normal windows set the recent level.
const recentWindows = 30

// recentLevel is the median of feature f over the last normal windows, 0
// with fewer than a third of them.
func (d *Detector) recentLevel(f features.Index) float64 {
	n := min(len(d.normal), recentWindows)
	if n < recentWindows/3 {
		return 0
	}
	v := make([]float64, 0, n)
	for k := 1; k <= n; k++ {
		i := (d.normalNext - k + len(d.normal)) % len(d.normal)
		v = append(v, d.normal[i][f])
	}
	return median(v)
}

// normalInOrder returns the ring's windows oldest first.
func (d *Detector) normalInOrder() []features.Vector {
	out := make([]features.Vector, 0, len(d.normal))
	out = append(out, d.normal[d.normalNext:]...)
	return append(out, d.normal[:d.normalNext]...)
}

func (d *Detector) startTraining(at int64) {
	if d.training {
		return
	}
	d.training = true
	d.sinceTrain = 0
	rows := d.normalInOrder()
	cfg := d.cfg.Train
	// Keep the supervised forest of a loaded model: live windows have no
	// labels to retrain it with.
	var forest *models.RandomForest
	var classes []string
	if d.set != nil {
		forest, classes = d.set.Forest, d.set.Classes
	}
	run := func() {
		set, err := Train(cfg, rows, nil)
		if set != nil {
			set.TrainedAt = at
			set.Forest, set.Classes = forest, classes
		}
		d.trained <- trainResult{set, err}
	}
	go run()
}

// Settle waits for a training in progress and installs its models: at the
// end of a replay, so that the models a last window started are there.
func (d *Detector) Settle() {
	if d.training {
		d.install(<-d.trained)
	}
}

// collectTraining installs a finished training's models.
func (d *Detector) collectTraining() {
	select {
	case r := <-d.trained:
		d.install(r)
	default:
	}
}

func (d *Detector) install(r trainResult) {
	d.training = false
	d.lastTrainErr = r.err
	if r.err == nil {
		d.set = r.set
		d.retrains++
		d.lastTrainWall = d.cfg.Now()
	}
}
