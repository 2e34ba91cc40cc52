package detector

import (
	"math"
	"slices"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// Event is an attack starting or ending.
type Event struct {
	Kind   string `json:"kind"` // attack_start or attack_end
	Time   int64  `json:"-"`    // Unix nanoseconds on the packet clock
	Since  int64  `json:"-"`    // when the attack started
	Attack Attack `json:"attack"`
}

// ActiveAttack is an attack in progress: the latest window's view of it.
type ActiveAttack struct {
	Attack
	Since int64
}

type attackState struct {
	since  int64
	quiet  int
	attack Attack // the latest window's, with the highest confidence seen
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
