// Package corpus judges the detector on the real-tool variant corpus:
// captures of real attack tools and benign traffic on a lab network
// (testdata/, recorded by scripts/record-corpus.sh), replayed through the
// exporter's reader, decoder, feature stage and detector. Each variant is
// replayed at four offsets on the window grid, before training (the rules
// alone) and with a model trained on the lab's own benign recording.
package corpus

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/capture/pcapfile"
	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/detector"
)

// Targets of the corpus, as the detection issue sets them.
const (
	minTypeRecall   = 0.95 // attack variants detected with their type
	minSourceRight  = 0.95 // attack windows whose named sources are all attackers
	maxDelayWindows = 1    // first detection at most one window after the onset's
)

// shifts are the offsets, in windows, each variant is replayed at.
var shifts = []float64{0, 0.25, 0.5, 0.75}

type manifest struct {
	Network struct {
		// Machines are the lab's machines with all their addresses.
		Machines []struct {
			Name      string   `json:"name"`
			Addresses []string `json:"addresses"`
		} `json:"machines"`
	} `json:"network"`
	Variants []variant `json:"variants"`
}

// machines holds each lab machine's addresses, from the manifest.
var machines [][]netip.Prefix

// sameMachines adds to ps every address of a machine one of ps holds: a
// host that went down is as rightly named by its IPv6 or link-local
// address as by the IPv4 address its variant lists.
func sameMachines(ps []netip.Prefix) []netip.Prefix {
	out := slices.Clone(ps)
	for _, m := range machines {
		if slices.ContainsFunc(m, func(a netip.Prefix) bool { return inAny(a.Addr(), ps) }) {
			out = append(out, m...)
		}
	}
	return out
}

type variant struct {
	Name        string   `json:"name"`
	File        string   `json:"file"`
	Role        string   `json:"role"`
	Type        string   `json:"type"`
	Tool        string   `json:"tool"`
	AttackStart float64  `json:"attack_start"`
	AttackEnd   float64  `json:"attack_end"`
	Attackers   []string `json:"attackers"`
	MACs        []string `json:"attacker_macs"`
	Spoofed     bool     `json:"spoofed"`
	Targets     []string `json:"targets"`
	Allow       []string `json:"allow"`
	// NeedsBaseline marks an attack too faint to call one by absolute
	// floors (20 requests a second to a web server): judged against the
	// trained baseline only.
	NeedsBaseline bool `json:"needs_baseline"`
}

func load(t *testing.T) []variant {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "manifest.json"))
	if err != nil {
		t.Fatalf("the corpus manifest: %v (record it with scripts/record-corpus.sh)", err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("testdata/manifest.json: %v", err)
	}
	machines = nil
	for _, mc := range m.Network.Machines {
		machines = append(machines, prefixes(mc.Addresses))
	}
	return m.Variants
}

var window = features.DefaultConfig().Window

// replay runs a capture, its packets shifted by shift, through a new
// aggregator into fn. From restart on (0: never), a new aggregator takes
// over, as when the exporter restarts mid-traffic.
func replay(t testing.TB, path string, shift time.Duration, restart int64, fn func(*features.Window), onRestart func()) {
	t.Helper()
	r, err := pcapfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	agg := features.NewAggregator(features.DefaultConfig(), "lab", fn)
	d := decode.NewDecoder()
	batch := make([]decode.PacketInfo, 0, 256)
	for {
		p, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		ts := p.TimeNanos + int64(shift)
		if restart != 0 && ts >= restart {
			agg.AddBatch(batch)
			batch = batch[:0]
			agg.Flush()
			onRestart()
			agg = features.NewAggregator(features.DefaultConfig(), "lab", fn)
			restart = 0
		}
		batch = batch[:len(batch)+1]
		info := &batch[len(batch)-1]
		info.Time, info.WireLen = ts, uint32(p.WireLength)
		if !d.Decode(p.LinkType, p.Data, info) {
			batch = batch[:len(batch)-1]
			continue
		}
		if len(batch) == cap(batch) {
			agg.AddBatch(batch)
			batch = batch[:0]
		}
	}
	agg.AddBatch(batch)
	agg.Flush()
}

var (
	modelOnce sync.Once
	model     *detector.ModelSet
	modelErr  error
)

// trained returns the model trained on the corpus's train recordings,
// nil when there are none.
func trained(t *testing.T, vs []variant) *detector.ModelSet {
	modelOnce.Do(func() {
		perFile := map[string][]*features.Window{}
		for _, v := range vs {
			if v.Role != "train" {
				continue
			}
			replay(t, filepath.Join("testdata", v.File), 0, 0, func(w *features.Window) {
				perFile[v.File] = append(perFile[v.File], w)
			}, nil)
		}
		if len(perFile) == 0 {
			return
		}
		// As `train` does: partial windows left out, the presence
		// baseline counted.
		model, _, modelErr = detector.TrainWindows(detector.DefaultConfig().Train, perFile, nil)
	})
	if modelErr != nil {
		t.Fatal(modelErr)
	}
	if model == nil {
		return nil
	}
	c, err := model.Clone()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// outcome is what one replay of one variant gave.
type outcome struct {
	detected      bool     // the variant's type was named during the attack
	types         []string // every type named during the attack
	delay         int      // windows from the onset's window to the first naming; -1 if none
	sourceWindows int      // windows in which the type was named
	sourcesRight  int      // of which all named sources were attackers
	targetsRight  int      // of which all named targets were targets
	sources       []string // every source named, sorted
	targets       []string
	falseAlarms   int // anomalous windows away from the attack
	alarmTypes    []string
	windows       int
}

// signature is what must not change with the window grid: the types
// named, and who they name.
func (o outcome) signature() string {
	return fmt.Sprintf("%v %v %v %v", o.detected, o.types, o.sources, o.targets)
}

func addrOf(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

func inAny(a netip.Addr, ps []netip.Prefix) bool {
	return slices.ContainsFunc(ps, func(p netip.Prefix) bool { return p.Contains(a) })
}

func prefixes(ss []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		if p, ok := addrOf(s); ok {
			out = append(out, p)
		}
	}
	return out
}

// The lab's own hosts: a forged-source attack may name forged addresses,
// never one of these.
var labNets = prefixes([]string{"10.213.0.0/16", "fd00:213::/32"})

// run replays one variant at one shift, with or without the model.
func run(t *testing.T, v variant, set *detector.ModelSet, shift float64, restart bool) outcome {
	cfg := detector.DefaultConfig()
	cfg.Synchronous = true
	cfg.RetrainEvery = 0
	cfg.Allow = prefixes(v.Allow)
	newDetector := func() *detector.Detector {
		var s *detector.ModelSet
		if set != nil {
			c, err := set.Clone()
			if err != nil {
				t.Fatal(err)
			}
			s = c
		}
		return detector.New(cfg, "lab", s)
	}
	d := newDetector()
	off := time.Duration(shift * float64(window))
	start := int64(v.AttackStart*1e9) + int64(off)
	end := int64(v.AttackEnd*1e9) + int64(off)
	attackers, macs, targets := prefixes(v.Attackers), v.MACs, sameMachines(prefixes(v.Targets))
	onset := start / int64(window)
	// Windows that overlap the attack, and the hysteresis after it, are
	// judged as attack; the others must be quiet.
	after := end + int64(cfg.EndAfter+1)*int64(window)
	o := outcome{delay: -1}
	srcs, dsts := map[string]bool{}, map[string]bool{}
	types := map[string]bool{}
	var restartAt int64
	if restart {
		restartAt = -1 // set from the first window below
	}
	first := int64(0)
	observe := func(w *features.Window) {
		o.windows++
		if first == 0 {
			first = w.Start
		}
		verdict := d.Observe(w)
		during := v.Role == "attack" && w.End > start && w.Start < after
		if trace := os.Getenv("CORPUS_TRACE"); trace != "" && strings.Contains(v.Name, trace) {
			for _, a := range verdict.Attacks {
				t.Logf("%s shift %v window %d (during %v): %s sources %s targets %s: %s", v.Name, shift, w.Start/int64(window)-onset, during, a.Type, addrs(a.Sources), addrs(a.Targets), a.Summary)
			}
		}
		if !during {
			if verdict.Anomalous {
				o.falseAlarms++
				for _, a := range verdict.Attacks {
					o.alarmTypes = append(o.alarmTypes, a.Type)
				}
				if len(verdict.Attacks) == 0 {
					o.alarmTypes = append(o.alarmTypes, "anomaly")
				}
			}
			return
		}
		for _, a := range verdict.Attacks {
			types[a.Type] = true
			if a.Type != v.Type {
				continue
			}
			if !o.detected {
				o.detected = true
				o.delay = int(w.Start/int64(window) - onset)
			}
			o.sourceWindows++
			right := len(a.Sources)+len(a.MACs) > 0 || len(attackers) == 0 && len(macs) == 0 || v.Spoofed
			for _, s := range a.Sources {
				ip := netip.AddrFrom16(s).Unmap()
				srcs[ip.String()] = true
				if !inAny(ip, attackers) && !(v.Spoofed && !inAny(ip, labNets)) {
					right = false
				}
			}
			for _, m := range a.MACs {
				mac := net.HardwareAddr(m[:]).String()
				srcs[mac] = true
				if !slices.Contains(macs, mac) {
					right = false
				}
			}
			if right {
				o.sourcesRight++
			}
			tright := true
			for _, d := range a.Targets {
				ip := netip.AddrFrom16(d).Unmap()
				dsts[ip.String()] = true
				if !inAny(ip, targets) {
					tright = false
				}
			}
			if tright {
				o.targetsRight++
			}
		}
	}
	rs := int64(0)
	if restart {
		// Restart halfway through the recording: a new aggregator and a
		// new detector (with the saved model), as after a crash.
		rs = restartPoint(t, v, off)
	}
	_ = restartAt
	replay(t, filepath.Join("testdata", v.File), off, rs, observe, func() { d = newDetector() })
	for k := range types {
		o.types = append(o.types, k)
	}
	sort.Strings(o.types)
	for k := range srcs {
		o.sources = append(o.sources, k)
	}
	sort.Strings(o.sources)
	for k := range dsts {
		o.targets = append(o.targets, k)
	}
	sort.Strings(o.targets)
	return o
}

// restartPoint is the middle of a recording's packets, off the window grid.
func restartPoint(t *testing.T, v variant, off time.Duration) int64 {
	r, err := pcapfile.Open(filepath.Join("testdata", v.File))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var first, last int64
	for {
		p, err := r.Next()
		if err != nil {
			break
		}
		if first == 0 {
			first = p.TimeNanos
		}
		last = p.TimeNanos
	}
	return (first+last)/2 + int64(off) + int64(window)/3
}

// TestCorpus replays every variant and reports, per variant and mode, what
// was detected; it requires the targets.
func TestCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("replays the whole corpus: skipped with -short")
	}
	vs := load(t)
	set := trained(t, vs)
	modes := []struct {
		name string
		set  *detector.ModelSet
	}{{"rules", nil}}
	if set != nil {
		modes = append(modes, struct {
			name string
			set  *detector.ModelSet
		}{"model", set})
	} else {
		t.Log("no train recording in the manifest: the model mode is not judged")
	}
	var report strings.Builder
	fmt.Fprintf(&report, "| variant | mode | detected (of %d shifts) | other types named | sources right | targets right | delay (windows) | same verdict at every shift | false alarms |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n", len(shifts))
	type tally struct{ variants, detected, srcWin, srcRight, benignWindows, benignAlarms, slow, unstable int }
	tallies := map[string]*tally{}
	var failures []string
	for _, m := range modes {
		tl := &tally{}
		tallies[m.name] = tl
		for _, v := range vs {
			if v.Role == "train" {
				if m.set != nil {
					continue // the model's own training data
				}
				// Ordinary traffic too: the rules alone must stay
				// quiet on it.
				v.Role = "benign"
			}
			if v.Role == "attack" && m.set == nil && (v.NeedsBaseline || detector.Type(v.Type) != nil && detector.Type(v.Type).NeedsModel) {
				continue // judged against the trained baseline only
			}
			var outs []outcome
			for _, sh := range shifts {
				outs = append(outs, run(t, v, m.set, sh, false))
			}
			if v.Role == "benign" {
				outs = append(outs, run(t, v, m.set, 0.4, true))
			}
			det, srcW, srcR, tgtR, fa := 0, 0, 0, 0, 0
			maxDelay := -1
			stable := true
			var others, alarms []string
			for _, o := range outs {
				if o.detected {
					det++
					maxDelay = max(maxDelay, o.delay)
				}
				srcW += o.sourceWindows
				srcR += o.sourcesRight
				tgtR += o.targetsRight
				fa += o.falseAlarms
				alarms = append(alarms, o.alarmTypes...)
				for _, ty := range o.types {
					if ty != v.Type && !slices.Contains(others, ty) {
						others = append(others, ty)
					}
				}
				if o.signature() != outs[0].signature() && v.Role == "attack" {
					stable = false
				}
			}
			switch v.Role {
			case "attack":
				tl.variants++
				if det == len(shifts) {
					tl.detected++
				} else {
					failures = append(failures, fmt.Sprintf("%s (%s): detected at %d of %d shifts", v.Name, m.name, det, len(shifts)))
				}
				tl.srcWin += srcW
				tl.srcRight += srcR
				if maxDelay > maxDelayWindows {
					tl.slow++
				}
				if !stable {
					tl.unstable++
				}
			case "benign":
				for _, o := range outs {
					tl.benignWindows += o.windows
				}
				tl.benignAlarms += fa
				if fa > 0 {
					failures = append(failures, fmt.Sprintf("%s (%s): %d anomalous windows: %v", v.Name, m.name, fa, alarms))
				}
			}
			delay := "-"
			if maxDelay >= 0 {
				delay = fmt.Sprint(maxDelay)
			}
			fmt.Fprintf(&report, "| %s | %s | %d | %s | %s | %s | %s | %v | %d %s |\n", v.Name, m.name, det, strings.Join(others, ", "),
				ratio(srcR, srcW), ratio(tgtR, srcW), delay, stable, fa, strings.Join(uniq(alarms), ","))
			if fa > 0 && v.Role == "attack" {
				t.Logf("%s (%s): %d anomalous windows outside the attack: %v", v.Name, m.name, fa, uniq(alarms))
			}
			if !stable {
				var sigs []string
				for i, o := range outs[:len(shifts)] {
					sigs = append(sigs, fmt.Sprintf("shift %.2f: %s", shifts[i], o.signature()))
				}
				t.Logf("%s (%s): the verdict changes with the window grid:\n  %s", v.Name, m.name, strings.Join(sigs, "\n  "))
			}
		}
	}
	t.Logf("corpus results:\n%s", report.String())
	if path := os.Getenv("CORPUS_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(report.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
	for _, m := range modes {
		tl := tallies[m.name]
		recall := float64(tl.detected) / math.Max(1, float64(tl.variants))
		srcShare := float64(tl.srcRight) / math.Max(1, float64(tl.srcWin))
		t.Logf("%s: %d of %d attack variants detected with their type at every shift (%.1f%%); sources right in %.1f%% of %d attack windows; %d variants slower than %d window; %d variants whose verdict changes with the grid; %d anomalous of %d benign windows",
			m.name, tl.detected, tl.variants, 100*recall, 100*srcShare, tl.srcWin, tl.slow, maxDelayWindows, tl.unstable, tl.benignAlarms, tl.benignWindows)
		if recall < minTypeRecall {
			t.Errorf("%s: %.1f%% of attack variants detected with their type, want at least %.0f%%", m.name, 100*recall, 100*minTypeRecall)
		}
		if srcShare < minSourceRight {
			t.Errorf("%s: sources right in %.1f%% of attack windows, want at least %.0f%%", m.name, 100*srcShare, 100*minSourceRight)
		}
		if tl.benignAlarms > 0 {
			t.Errorf("%s: %d anomalous windows on the benign variants, want 0", m.name, tl.benignAlarms)
		}
	}
	for _, f := range failures {
		t.Log("miss: " + f)
	}
}

func ratio(a, b int) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d", a, b)
}

func uniq(s []string) []string {
	m := map[string]bool{}
	var out []string
	for _, x := range s {
		if !m[x] {
			m[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

// addrs formats addresses for a trace.
func addrs(as [][16]byte) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = netip.AddrFrom16(a).Unmap().String()
	}
	return strings.Join(s, ",")
}
