package detector

import (
	"fmt"
	"log/slog"
	"maps"
	"math"
	"os"
	"slices"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// LogEvents logs each attack start and end of a verdict, one line each,
// addresses as --privacy.ip says.
func LogEvents(logger *slog.Logger, v *Verdict, addr func([16]byte) string) {
	for _, e := range v.Events {
		args := []any{"interface", v.Interface, "type", e.Attack.Type, "confidence", math.Round(e.Attack.Confidence*100) / 100}
		if v.Group != "" {
			args = append(args, "group", v.Group)
		}
		addrs := func(as [][16]byte) []string {
			out := make([]string, len(as))
			for i, a := range as {
				out[i] = addr(a)
			}
			return out
		}
		args = append(args, "sources", addrs(e.Attack.Sources), "targets", addrs(e.Attack.Targets), "summary", e.Attack.Summary)
		if e.Kind == "attack_end" {
			logger.Info("attack ended", args...)
			continue
		}
		if r := Recommendation(e.Attack.Type); r != "" {
			args = append(args, "recommendation", r)
		}
		logger.Info("attack started", args...)
	}
}

// ReadLabels reads a labels CSV file (see ParseLabels); "" reads none.
func ReadLabels(path string) ([]LabeledEvent, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read labels: %w", err)
	}
	defer f.Close()
	ev, err := ParseLabels(f)
	if err != nil {
		return nil, fmt.Errorf("read labels %q: %w", path, err)
	}
	return ev, nil
}

// LabelOf returns the attack type of the first event a window overlaps.
func LabelOf(w *features.Window, events []LabeledEvent) (string, bool) {
	for _, e := range events {
		if w.Start < e.End && e.Start < w.End {
			return ReportType(e.Type), true
		}
	}
	return "", false
}

// TrainStats says what a training read: normal windows, windows inside
// labelled attacks, windows the capture saw only part of (left out), and
// files.
type TrainStats struct{ Normal, Attack, Partial, Files int }

// TrainWindows trains one model set on the windows of every file: the
// windows inside labelled attacks train the supervised forest only.
func TrainWindows(cfg TrainConfig, perFile map[string][]*features.Window, events []LabeledEvent) (*ModelSet, TrainStats, error) {
	names := slices.Sorted(maps.Keys(perFile)) // the order of the files must not change the model
	var normal []features.Vector
	var labeled []Labeled
	st := TrainStats{Files: len(names)}
	var last int64
	presence := newPresenceCounter()
	for _, n := range names {
		presence.gap()
		for _, w := range perFile[n] {
			last = max(last, w.End)
			if typ, ok := LabelOf(w, events); ok {
				st.Attack++
				labeled = append(labeled, Labeled{Features: w.Features, Class: typ})
				continue
			}
			if w.Partial {
				st.Partial++
				continue // rates over part of a window would teach a drop
			}
			presence.add(w)
			normal = append(normal, w.Features)
			if len(events) > 0 {
				labeled = append(labeled, Labeled{Features: w.Features, Class: "normal"})
			}
		}
	}
	st.Normal = len(normal)
	if st.Attack == 0 {
		labeled = nil
	}
	set, err := Train(cfg, normal, labeled)
	if err != nil {
		return nil, st, err
	}
	set.TrainedAt = last
	set.Presence = presence.baseline()
	return set, st, nil
}
