package detector

import (
	"math"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/detector/models"
)

type trainResult struct {
	set *ModelSet
	err error
}

func (d *Detector) addNormal(f *features.Vector) {
	if carried(f) {
		d.normalTraffic++
	}
	if len(d.normal) < d.cfg.Reservoir {
		d.normal = append(d.normal, *f)
		return
	}
	if carried(&d.normal[d.normalNext]) {
		d.normalTraffic--
	}
	d.normal[d.normalNext] = *f
	d.normalNext = (d.normalNext + 1) % len(d.normal)
}

func (d *Detector) normalLen() int { return len(d.normal) }

// carried reports whether a window saw any packet. Warm-up counts only
// such windows: an idle link, or a capture file's gap (filled with up to
// an hour of empty windows), would otherwise train the models on silence,
// and the first traffic after it would be a spike many times "the busiest
// window of training".
func carried(f *features.Vector) bool { return f[features.PacketsPerSecond] > 0 }

// warmedUp reports whether the normal windows hold a warm-up's worth of
// windows with traffic, or, the ring full (a reservoir no longer than the
// warm-up on a link idle part of the time), half of them.
func (d *Detector) warmedUp() bool {
	return d.normalTraffic >= d.cfg.Warmup || len(d.normal) == d.cfg.Reservoir && 2*d.normalTraffic >= len(d.normal)
}

// warmupProgress is the share of the warm-up's windows with traffic the
// normal windows hold, in [0,1].
func (d *Detector) warmupProgress() float64 {
	return math.Min(1, float64(d.normalTraffic)/float64(max(d.cfg.Warmup, 1)))
}

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
	// The presence baseline is the windows' since the last one was made;
	// too few of them keep the one there is.
	presence := d.presence.baseline()
	if presence != nil {
		d.presence = newPresenceCounter()
	} else if d.set != nil {
		presence = d.set.Presence
	}
	run := func() {
		set, err := Train(cfg, rows, nil)
		if set != nil {
			set.TrainedAt = at
			set.Forest, set.Classes = forest, classes
			set.Presence = presence
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
