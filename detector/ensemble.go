package detector

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/detector/models"
)

// Member names, in the order scores are reported.
const (
	MemberBaseline    = "baseline"
	MemberIForest     = "iforest"
	MemberHST         = "hst"
	MemberAutoencoder = "autoencoder"
	MemberKMeans      = "kmeans"
	MemberLSTM        = "lstm"
	MemberForest      = "forest" // supervised, only with labels
)

// AllMembers lists the unsupervised members in report order.
var AllMembers = []string{MemberBaseline, MemberIForest, MemberHST, MemberAutoencoder, MemberKMeans, MemberLSTM}

// newMember returns an untrained member by name.
func newMember(name string) (models.Model, error) {
	switch name {
	case MemberBaseline:
		return &Baseline{}, nil
	case MemberIForest:
		return models.NewIsolationForest(100, 256), nil
	case MemberHST:
		return models.NewHalfSpaceTrees(0, 0, 0), nil
	case MemberAutoencoder:
		return models.NewAutoencoder(0, 0), nil
	case MemberKMeans:
		return models.NewKMeans(0), nil
	case MemberLSTM:
		return models.NewLSTMForecaster(0, 0), nil
	}
	return nil, fmt.Errorf("unknown model %q: use %v", name, AllMembers)
}

// Baseline scores a row by its largest robust z-scores: the root mean
// square of the three largest absolute values. The scaler did the fitting;
// the baseline is also what explanations are made of.
type Baseline struct{}

// Name implements models.Model.
func (*Baseline) Name() string { return MemberBaseline }

// Fit implements models.Model; the scaler holds the baseline itself.
func (*Baseline) Fit(rows [][]float64, _ uint64) error {
	if len(rows) == 0 {
		return errors.New("baseline: no rows")
	}
	return nil
}

// Validate implements models.Model: the baseline has no state of its own.
func (*Baseline) Validate(int) error { return nil }

// Score implements models.Model.
func (*Baseline) Score(row []float64) float64 {
	var a, b, c float64 // three largest |z|, a >= b >= c
	for _, v := range row {
		v = math.Abs(v)
		switch {
		case v > a:
			a, b, c = v, a, b
		case v > b:
			b, c = v, b
		case v > c:
			c = v
		}
	}
	return math.Sqrt((a*a + b*b + c*c) / 3)
}

// member is one trained model with its calibration.
type member struct {
	name  string
	model models.Model
	cal   Calibrator
}

// ModelSet is everything trained: the scaler, the members with their
// calibrators, the ensemble threshold, and the optional supervised forest.
type ModelSet struct {
	Scaler    *Scaler
	members   []member
	Threshold float64 // ensemble score at and above which a window is anomalous
	// Forest classifies windows into Classes (Classes[0] is "normal")
	// when training had labels.
	Forest  *models.RandomForest
	Classes []string
	// Windows is the number of windows the set was trained on.
	Windows int
	// Skipped lists the members that could not train on these windows
	// (too few for a forecaster, say), with the reason. Not stored.
	Skipped []string
	// TrainedAt is the end of the last training window, Unix nanoseconds.
	TrainedAt int64
	// Presence is the baseline of the hosts regularly there, nil when
	// training counted none (or the file predates it).
	Presence *Presence
}

// TrainConfig says what to train and how.
type TrainConfig struct {
	Members       []string
	Contamination float64 // expected share of anomalous windows in training
	Seed          uint64
}

// Train fits a model set on windows judged normal, in time order. When
// labeled is not nil, it holds extra windows with their attack type
// ("normal" or a type of AttackTypes) for the supervised forest; they may
// include the normal windows again.
func Train(cfg TrainConfig, normal []features.Vector, labeled []Labeled) (*ModelSet, error) {
	if len(normal) < 2 {
		return nil, fmt.Errorf("training needs at least 2 normal windows, got %d", len(normal))
	}
	sc, err := FitScaler(normal)
	if err != nil {
		return nil, err
	}
	rows := make([][]float64, len(normal))
	for i := range normal {
		rows[i] = sc.Transform(&normal[i], nil)
	}
	set := &ModelSet{Scaler: sc, Windows: len(normal)}
	// Members train side by side, each on its own seed: the set is the same
	// as trained one after another, in the time of the slowest (the
	// forecaster).
	type fitted struct {
		model models.Model
		raw   []float64
		err   error
	}
	fits := make([]fitted, len(cfg.Members))
	var wg sync.WaitGroup
	for i, name := range cfg.Members {
		m, err := newMember(name)
		if err != nil {
			return nil, err
		}
		wg.Go(func() {
			if err := m.Fit(rows, cfg.Seed+uint64(i)); err != nil {
				fits[i].err = err
				return
			}
			fits[i] = fitted{model: m, raw: trainingScores(m, rows)}
		})
	}
	wg.Wait()
	ensemble := make([]float64, len(rows))
	for i, name := range cfg.Members {
		f := fits[i]
		if f.err != nil {
			// One member that cannot train (a forecaster on a few windows)
			// must not leave the network without a detector.
			set.Skipped = append(set.Skipped, fmt.Sprintf("%s: %v", name, f.err))
			continue
		}
		mem := member{name: name, model: f.model, cal: FitCalibrator(f.raw)}
		for j, r := range f.raw {
			ensemble[j] += mem.cal.Score(r)
		}
		set.members = append(set.members, mem)
	}
	if len(set.members) == 0 {
		if len(set.Skipped) > 0 {
			return nil, fmt.Errorf("no model could train: %s", strings.Join(set.Skipped, "; "))
		}
		return nil, errors.New("no model enabled: enable at least one of " + fmt.Sprint(AllMembers))
	}
	for j := range ensemble {
		ensemble[j] /= float64(len(set.members))
	}
	set.Threshold = ensembleThreshold(ensemble, cfg.Contamination)
	if len(labeled) > 0 {
		if err := set.trainForest(labeled, cfg.Seed); err != nil {
			return nil, err
		}
	}
	return set, nil
}

// trainingScores scores the training rows; a sequential member sees them
// in order, as it will see live windows.
func trainingScores(m models.Model, rows [][]float64) []float64 {
	raw := make([]float64, len(rows))
	seq, _ := m.(models.Sequential)
	if seq != nil {
		seq.Reset()
	}
	for i, r := range rows {
		raw[i] = m.Score(r)
		if seq != nil {
			seq.Observe(r)
		}
	}
	if seq != nil {
		seq.Reset()
	}
	return raw
}

// ensembleThreshold puts the threshold halfway between the training
// windows' (1-contamination) quantile and 1: members score their own
// training data optimistically, and a new benign window should not need to
// beat the training maximum of every member to stay quiet.
//
// The quantile is floored at 1-1/(n+1), the calibrated score of each
// member's own training maximum: members disagree on which training
// windows are extreme, so the average's empirical quantile can sit well
// below it (0.95 on some 360-window trainings), and the threshold would
// then flag windows that no member finds beyond its training range.
func ensembleThreshold(scores []float64, contamination float64) float64 {
	s := slices.Clone(scores)
	slices.Sort(s)
	q := max(quantile(s, 1-contamination), 1-1/float64(len(s)+1))
	return q + (1-q)/2
}

// Labeled is a window with its class for the supervised forest.
type Labeled struct {
	Features features.Vector
	Class    string // "normal" or an attack type
}

func (set *ModelSet) trainForest(labeled []Labeled, seed uint64) error {
	classes := []string{"normal"}
	index := map[string]int{"normal": 0}
	for _, l := range labeled {
		if _, ok := index[l.Class]; !ok {
			index[l.Class] = len(classes)
			classes = append(classes, l.Class)
		}
	}
	if len(classes) < 2 {
		return nil // nothing to tell apart
	}
	sort.Strings(classes[1:])
	for i, c := range classes {
		index[c] = i
	}
	rows := make([][]float64, len(labeled))
	y := make([]int, len(labeled))
	for i := range labeled {
		rows[i] = set.Scaler.Transform(&labeled[i].Features, nil)
		y[i] = index[labeled[i].Class]
	}
	f := models.NewRandomForest(0, 0, 0)
	if err := f.Fit(rows, y, len(classes), seed); err != nil {
		return fmt.Errorf("train forest: %w", err)
	}
	set.Forest, set.Classes = f, classes
	return nil
}

// Members returns the member names in report order.
func (set *ModelSet) Members() []string {
	n := make([]string, len(set.members))
	for i, m := range set.members {
		n[i] = m.name
	}
	return n
}

// memberJSON is how a member is stored in a model file.
type memberJSON struct {
	Name       string          `json:"name"`
	Calibrator Calibrator      `json:"calibrator"`
	Model      json.RawMessage `json:"model"`
}

type setJSON struct {
	Scaler    *Scaler              `json:"scaler"`
	Members   []memberJSON         `json:"members"`
	Threshold float64              `json:"threshold"`
	Forest    *models.RandomForest `json:"forest,omitempty"`
	Classes   []string             `json:"classes,omitempty"`
	Windows   int                  `json:"windows"`
	TrainedAt int64                `json:"trained_at"`
	Presence  *Presence            `json:"presence,omitempty"`
}

// MarshalJSON stores the set with each member's state.
func (set *ModelSet) MarshalJSON() ([]byte, error) {
	j := setJSON{Scaler: set.Scaler, Threshold: set.Threshold, Forest: set.Forest, Classes: set.Classes, Windows: set.Windows, TrainedAt: set.TrainedAt, Presence: set.Presence}
	for _, m := range set.members {
		b, err := json.Marshal(m.model)
		if err != nil {
			return nil, fmt.Errorf("store %s: %w", m.name, err)
		}
		j.Members = append(j.Members, memberJSON{Name: m.name, Calibrator: m.cal, Model: b})
	}
	return json.Marshal(j)
}

// UnmarshalJSON restores a set stored by MarshalJSON and validates it: a
// set that decodes scores windows without panicking.
func (set *ModelSet) UnmarshalJSON(b []byte) error {
	var j setJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*set = ModelSet{Scaler: j.Scaler, Threshold: j.Threshold, Forest: j.Forest, Classes: j.Classes, Windows: j.Windows, TrainedAt: j.TrainedAt, Presence: j.Presence}
	for _, mj := range j.Members {
		m, err := newMember(mj.Name)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(mj.Model, m); err != nil {
			return fmt.Errorf("member %s: %w", mj.Name, err)
		}
		set.members = append(set.members, member{name: mj.Name, model: m, cal: mj.Calibrator})
	}
	return set.validate()
}

// validate checks a set against the feature schema and each part against
// its own invariants (see models.Model.Validate). Errors name the part.
func (set *ModelSet) validate() error {
	n := int(features.NumFeatures)
	if set.Scaler == nil {
		return errors.New("no scaler")
	}
	if err := set.Scaler.validate(); err != nil {
		return fmt.Errorf("scaler: %w", err)
	}
	if len(set.members) == 0 {
		return errors.New("no members")
	}
	for i, m := range set.members {
		for _, o := range set.members[:i] {
			if o.name == m.name {
				return fmt.Errorf("member %s: stored twice", m.name)
			}
		}
		if err := m.model.Validate(n); err != nil {
			return fmt.Errorf("member %s: %w", m.name, err)
		}
		if err := m.cal.validate(); err != nil {
			return fmt.Errorf("member %s: calibration: %w", m.name, err)
		}
	}
	if !(set.Threshold >= 0 && set.Threshold <= 1) {
		return fmt.Errorf("threshold %v, want 0 to 1", set.Threshold)
	}
	if set.Windows < 0 {
		return fmt.Errorf("trained on %d windows", set.Windows)
	}
	if err := set.Presence.validate(); err != nil {
		return fmt.Errorf("presence: %w", err)
	}
	if set.Forest == nil {
		if len(set.Classes) > 0 {
			return fmt.Errorf("classes %q without a forest", set.Classes)
		}
		return nil
	}
	// Classes are "normal", then attack types sorted, as trainForest
	// makes them; Predict's class index picks a name from them.
	if len(set.Classes) < 2 || set.Classes[0] != "normal" {
		return fmt.Errorf("member %s: classes %q, want normal and at least one attack type", MemberForest, set.Classes)
	}
	for i, c := range set.Classes[1:] {
		if !slices.Contains(AttackTypes, c) {
			return fmt.Errorf("member %s: class %q is not an attack type of this exporter", MemberForest, c)
		}
		if i > 0 && c <= set.Classes[i] {
			return fmt.Errorf("member %s: classes %q not sorted or repeated", MemberForest, set.Classes)
		}
	}
	if err := set.Forest.Validate(n, len(set.Classes)); err != nil {
		return fmt.Errorf("member %s: %w", MemberForest, err)
	}
	return nil
}

// Clone returns an independent copy of the set, as saving needs one while
// the detector goes on learning.
func (set *ModelSet) Clone() (*ModelSet, error) {
	b, err := json.Marshal(set)
	if err != nil {
		return nil, err
	}
	c := new(ModelSet)
	return c, json.Unmarshal(b, c)
}
