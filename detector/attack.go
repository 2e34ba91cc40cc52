package detector

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// AttackType is one kind of attack the detector names: how it is
// recognised, how bad it is, what to do about it, and who it names. Each
// lives in a file of its own (attack_<name>.go, with its table test) and
// registers itself; the type list, the metrics' type label, the alerts,
// the Alertmanager templates and the README table all come from the
// registry.
type AttackType struct {
	Name           string // the type label: snake_case
	Title          string // what a page calls it
	Alert          string // the alert's name, CamelCase
	Severity       int    // 3 high, 2 medium: a confident high one makes the threat high
	Recommendation string // what to check or do, one line
	// Technique is the MITRE ATT&CK technique the type is an instance
	// of (T1046), with its name; empty for volume changes that are not
	// attacks by themselves. SIEM outputs carry it as threat.technique.
	Technique, TechniqueName string
	// Behaviour says in a sentence or two what the detector looks for,
	// and Names who it reports as sources and targets; the README's
	// table shows both.
	Behaviour string
	Names     string
	// NeedsModel is set for types judged against the trained baseline
	// only: before training they are not looked for.
	NeedsModel bool
	// Floors is set for types judged by absolute floors (before training,
	// and as the least bar after it) that a configuration's floor_factor
	// may scale.
	Floors bool
	// order is when the rule runs: earlier types claim the hosts they
	// name (a flood's sender is no scanner).
	order  int
	detect func(*evidence) []Attack
}

var registry = map[string]*AttackType{}

// AttackTypes lists every attack type name, sorted: the values of the
// type label.
var AttackTypes []string

// register adds an attack type; each type's file calls it from init.
func register(t *AttackType) {
	if t.Name == "" || t.detect == nil || registry[t.Name] != nil {
		panic("detector: bad or duplicate attack type " + t.Name)
	}
	registry[t.Name] = t
	AttackTypes = append(AttackTypes, t.Name)
	sort.Strings(AttackTypes)
}

// Types returns the attack types sorted by name.
func Types() []*AttackType {
	out := make([]*AttackType, 0, len(registry))
	for _, n := range AttackTypes {
		out = append(out, registry[n])
	}
	return out
}

// Type returns the attack type of that name, built in or a user rule's
// in force, or nil.
func Type(name string) *AttackType {
	if t := registry[name]; t != nil {
		return t
	}
	return userType(name)
}

// TypesInForce lists the values of the type label: the built-in types,
// sorted, then the user rules' in force in the configuration's order.
func TypesInForce() []string {
	rules := UserRules()
	if len(rules) == 0 {
		return AttackTypes
	}
	out := slices.Clone(AttackTypes)
	for i := range rules {
		out = append(out, rules[i].Type())
	}
	return out
}

// Recommendation returns the recommendation of an attack type, "" for an
// unknown one.
func Recommendation(name string) string {
	if t := Type(name); t != nil {
		return t.Recommendation
	}
	return ""
}

// Evidence is one measured value that made a rule fire.
type Evidence struct {
	Feature   string  `json:"feature"`
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"` // the value above (or below) which the rule fires
	Typical   float64 `json:"typical"`   // the trained typical value, 0 before training
}

// Attack is an attack type recognised in a window, with who sends it and
// who receives it.
type Attack struct {
	Type       string     `json:"type"`
	Confidence float64    `json:"confidence"`
	Evidence   []Evidence `json:"evidence"`
	// Sources are the hosts that send the attack, heaviest first and at
	// most maxNamed; a victim's answers never make it one. Targets are
	// the hosts it is aimed at. IPv4 as IPv4-mapped.
	Sources [][16]byte `json:"-"`
	Targets [][16]byte `json:"-"`
	// MACs are the hardware addresses behind an ARP attack.
	MACs [][6]byte `json:"-"`
	// Spoofed is set when the senders are too many, each too small, to
	// name: forged or distributed sources.
	Spoofed bool `json:"spoofed,omitempty"`
	// Summary says in one line what was seen, for logs and pages. It
	// names no address: those go through the privacy mode.
	Summary string `json:"summary"`
	// EvidenceFile is the evidence capture of the attack, when one is
	// written (set by the pipeline on its start and end events).
	EvidenceFile string `json:"-"`
	// SourceCountries are the ISO codes of the named sources' countries,
	// when a country database is configured (set by the pipeline).
	SourceCountries []string `json:"-"`
	// shared leaves the sources to later rules too: a sweep at a flood's
	// pace is a scan as well.
	shared bool
}

// prevWindow is what the detector keeps of the window before the one it
// judges; zero when there was none or a gap since.
type prevWindow struct {
	named     bool    // it named an attack
	scoreHigh bool    // its ensemble score reached the threshold
	whole     bool    // the capture saw all of it
	pps       float64 // its packets a second
}

// maxNamed is how many sources or targets an attack names: enough for a
// flood from a handful of hosts to be named whole in every window (with
// more equal senders than this, which of them a window names depends on
// its counts), few enough for one event line.
const maxNamed = 10

// manySources is how many senders an attack must have, none of them
// carrying much of it, for its sources to count as forged or distributed.
const manySources = 50

// evidence is what the rules judge a window by: the window itself, the
// behaviour summed over the horizon, and the trained baseline once there
// is one.
type evidence struct {
	w     *features.Window
	group string // the host group judged, "" for a whole interface
	// scale multiplies the absolute floors of the type being judged (a
	// floor_factor of the configuration).
	scale float64
	h     *horizon
	set   *ModelSet // nil before training
	// recentPPS and recentBPS are the median packet and byte rates of the
	// recent normal windows, 0 when there are too few.
	recentPPS, recentBPS float64
	prev                 prevWindow
	// claimed holds the senders a rule that ran earlier named, with its
	// type: what floods is not also scanning. fired lists the types named.
	claimed map[[16]byte]string
	fired   []string
	// silent are the model's regular hosts silent now, the least likely
	// silence first, of regulars seen in this run.
	silent   []silentHost
	regulars int
}

func (e *evidence) trained() bool { return e.set != nil }

// trainedMax is the largest value of feature f in the training windows,
// 0 before training.
func (e *evidence) trainedMax(f features.Index) float64 {
	if e.set == nil {
		return 0
	}
	return e.set.Scaler.Max[f]
}

// typical is feature f's training median, 0 before training.
func (e *evidence) typical(f features.Index) float64 {
	if e.set == nil {
		return 0
	}
	return e.set.Scaler.Typical(int(f))
}

// bar is the value a rule must reach: untrained before training; after
// it, k times the busiest window of training for per-window feature f,
// times the windows the value spans, and at least floor. A network whose
// normal is busy raises the bar; a quiet one lowers it to the floor.
func (e *evidence) bar(untrained, floor float64, f features.Index, k, windows float64) float64 {
	untrained, floor = untrained*e.scale, floor*e.scale
	if e.set == nil {
		return untrained
	}
	return math.Max(floor, k*e.trainedMax(f)*windows)
}

// confidence grows with the margin over the bar: 0.6 at it, 0.9 at four
// times it, towards 0.99.
func confidence(value, bar float64) float64 {
	if bar <= 0 {
		return 0.99
	}
	return math.Max(0.6, math.Min(0.99, 0.6+0.15*math.Log2(value/bar)))
}

// claim records the senders of an attack so that later rules leave them.
func (e *evidence) claim(typ string, srcs [][16]byte) {
	for _, s := range srcs {
		if _, ok := e.claimed[s]; !ok {
			e.claimed[s] = typ
		}
	}
}

// detectAll runs every rule in order.
func detectAll(e *evidence) []Attack {
	types := Types()
	slices.SortStableFunc(types, func(a, b *AttackType) int { return cmp.Compare(a.order, b.order) })
	var out []Attack
	for _, t := range types {
		if t.NeedsModel && !e.trained() {
			continue
		}
		st, _ := typeSetting(t.Name, e.w.Interface, e.group)
		if st.Disabled {
			continue
		}
		e.scale = 1
		if t.Floors && st.FloorFactor > 0 {
			e.scale = st.FloorFactor
		}
		as := t.detect(e)
		for i := range as {
			as[i].Type = t.Name
			if !as[i].shared {
				e.claim(t.Name, as[i].Sources)
			}
		}
		if len(as) > 0 {
			e.fired = append(e.fired, t.Name)
		}
		out = append(out, as...)
	}
	// One attack per type and window, the most confident: the page names
	// the type; the others' sources and targets join it.
	slices.SortStableFunc(out, func(a, b Attack) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(b.Confidence, a.Confidence))
	})
	merged := out[:0]
	more := 0
	also := func() {
		if more > 0 {
			merged[len(merged)-1].Summary += fmt.Sprintf("; and %s more", plural(float64(more), "attack of this type", "attacks of this type"))
			more = 0
		}
	}
	for _, a := range out {
		if n := len(merged); n > 0 && merged[n-1].Type == a.Type {
			m := &merged[n-1]
			m.Sources = appendNew(m.Sources, a.Sources...)
			m.Targets = appendNew(m.Targets, a.Targets...)
			m.MACs = appendNewMAC(m.MACs, a.MACs...)
			m.Spoofed = m.Spoofed || a.Spoofed
			more++
			continue
		}
		also()
		merged = append(merged, a)
	}
	also()
	return merged
}

func appendNew(dst [][16]byte, src ...[16]byte) [][16]byte {
	for _, s := range src {
		if len(dst) < maxNamed && !slices.Contains(dst, s) {
			dst = append(dst, s)
		}
	}
	return dst
}

func appendNewMAC(dst [][6]byte, src ...[6]byte) [][6]byte {
	for _, s := range src {
		if len(dst) < maxNamed && !slices.Contains(dst, s) {
			dst = append(dst, s)
		}
	}
	return dst
}

// ranked is a key with its weight, for naming the heaviest.
type ranked struct {
	addr   [16]byte
	weight float64
}

// heaviest returns the addresses with at least share of total (and at
// least min), heaviest first, at most maxNamed; ties by address.
func heaviest(rs []ranked, total, share, least float64) [][16]byte {
	slices.SortFunc(rs, func(a, b ranked) int {
		return cmp.Or(cmp.Compare(b.weight, a.weight), compareAddr(a.addr, b.addr))
	})
	var out [][16]byte
	for _, r := range rs {
		if r.weight < math.Max(share*total, least) || len(out) == maxNamed {
			break
		}
		out = appendNew(out, r.addr)
	}
	return out
}

func compareAddr(a, b [16]byte) int {
	return bytes.Compare(a[:], b[:])
}

// sortedPairs returns a span's pairs that keep, sorted by key: rules
// iterate in a fixed order, so replays give the same verdicts.
func sortedPairs(s *span, keep func(*pairSum) bool) []*pairSum {
	if s.pairList == nil {
		s.pairList = slices.AppendSeq(make([]*pairSum, 0, len(s.pairs)), maps.Values(s.pairs))
	}
	out := filter(s.pairList, keep)
	slices.SortFunc(out, func(a, b *pairSum) int { return comparePair(&a.Key, &b.Key) })
	return out
}

func sortedServices(s *span, keep func(*serviceSum) bool) []*serviceSum {
	if s.serviceList == nil {
		s.serviceList = slices.AppendSeq(make([]*serviceSum, 0, len(s.services)), maps.Values(s.services))
	}
	out := filter(s.serviceList, keep)
	slices.SortFunc(out, func(a, b *serviceSum) int {
		return cmp.Or(compareAddr(a.Key.Addr, b.Key.Addr), cmp.Compare(a.Key.Port, b.Key.Port), cmp.Compare(a.Key.Proto, b.Key.Proto), cmpBool(a.Key.AllPorts, b.Key.AllPorts))
	})
	return out
}

func sortedHosts(s *span, keep func(*hostSum) bool) []*hostSum {
	if s.hostList == nil {
		s.hostList = slices.AppendSeq(make([]*hostSum, 0, len(s.hosts)), maps.Values(s.hosts))
	}
	out := filter(s.hostList, keep)
	slices.SortFunc(out, func(a, b *hostSum) int { return compareAddr(a.Addr, b.Addr) })
	return out
}

// filter returns the elements keep accepts, in a new slice.
// activePairs returns the horizon's long-span pairs that were active in
// the latest window and that keep, sorted by key: the pairs a rule that
// fires only on what goes on now needs, found from the latest window's
// few rather than the horizon's many.
func activePairs(h *horizon, keep func(*pairSum) bool) []*pairSum {
	var out []*pairSum
	for k := range h.last.pairs {
		if p := h.long.pairs[k]; p != nil && keep(p) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *pairSum) int { return comparePair(&a.Key, &b.Key) })
	return out
}

func filter[T any](all []T, keep func(T) bool) []T {
	var out []T
	for _, v := range all {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}

func comparePair(a, b *features.PairKey) int {
	return cmp.Or(compareAddr(a.Src, b.Src), compareAddr(a.Dst, b.Dst), cmp.Compare(a.Port, b.Port), cmp.Compare(a.Proto, b.Proto))
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func ev(name string, value, threshold, typical float64) Evidence {
	return Evidence{Feature: name, Value: value, Threshold: threshold, Typical: typical}
}

func plural(n float64, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", one)
	}
	return fmt.Sprintf("%.0f %s", n, many)
}

// senders adds up weight per source over the pairs of s that keep, and
// counts each source's pairs: who sends an attack, and to how many
// services.
func senders(s *span, keep func(*pairSum) bool, weight func(*pairSum) float64) (rs []ranked, pairs map[[16]byte]int) {
	idx := map[[16]byte]int{}
	pairs = map[[16]byte]int{}
	for _, p := range sortedPairs(s, keep) {
		w := weight(p)
		if w <= 0 {
			continue
		}
		pairs[p.Key.Src]++
		if i, ok := idx[p.Key.Src]; ok {
			rs[i].weight += w
			continue
		}
		idx[p.Key.Src] = len(rs)
		rs = append(rs, ranked{p.Key.Src, w})
	}
	return rs, pairs
}

// namedShare is the share of total that the named sources carry.
func namedShare(rs []ranked, named [][16]byte, total float64) float64 {
	if total <= 0 {
		return 0
	}
	sum := 0.0
	for _, r := range rs {
		if slices.Contains(named, r.addr) {
			sum += r.weight
		}
	}
	return sum / total
}

// isICMP reports whether a protocol is ICMP or ICMPv6.
func isICMP(p features.Protocol) bool { return p == features.ProtoICMP || p == features.ProtoICMPv6 }

// TypesMarkdown is the README's table of attack types, generated from the
// registry: what each looks for, whom it names, and what to do.
func TypesMarkdown() string {
	var b strings.Builder
	b.WriteString("| type | alert | severity | what the detector looks for | who it names | recommendation |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, t := range Types() {
		sev := "high"
		if t.Severity < 3 {
			sev = "medium"
		}
		what := t.Behaviour
		if t.NeedsModel {
			what += " (Needs a trained model.)"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s | %s | %s |\n", t.Name, t.Alert, sev, what, t.Names, t.Recommendation)
	}
	return b.String()
}
