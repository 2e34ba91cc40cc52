package detector

import (
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// UserRulePrefix starts the type of every attack a user rule names:
// rule:<name>.
const UserRulePrefix = "rule:"

// MaxUserRules caps the rules of a configuration: each is a value of the
// type label.
const MaxUserRules = 64

// RuleMode says what a user rule compares a feature's value with.
type RuleMode int

// The modes of a user rule's condition.
const (
	// RuleAbsolute compares the value with a number:
	// tcp_syn_packets_per_window > 5000.
	RuleAbsolute RuleMode = iota
	// RuleTypical compares the value with a multiple of its trained
	// typical value: dns_queries_per_window > 5 x typical.
	RuleTypical
	// RuleZ compares the value's robust z-score against the trained
	// baseline with a number: z(unique_destination_ports_per_window) > 6.
	RuleZ
)

// UserRule is an operator's rule from the configuration file: a condition
// on one window feature that must hold for For windows in a row. A rule
// that fires is an attack of type rule:<Name>, with the metrics, events
// and alerts of a built-in type.
type UserRule struct {
	Name    string
	Expr    string // the condition as written
	Feature features.Index
	Mode    RuleMode
	Op      string // >, >=, < or <=
	Value   float64
	For     int // windows in a row, at least 1
	// Interfaces the rule judges; empty for all. Groups, when set, limits
	// it to those host groups' views (OtherGroup included), leaving out
	// the whole interfaces'.
	Interfaces []string
	Groups     []string
	Severity   int // 3 high, 2 medium
	// Recommendation is what the page says to do.
	Recommendation string
	// Allow lists the hosts whose traffic may trip the rule: when every
	// host the rule names is on it, it does not fire.
	Allow []netip.Prefix
}

// Type is the attack type the rule names.
func (r *UserRule) Type() string { return UserRulePrefix + r.Name }

var ruleNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)

// ValidRuleName tells whether name can name a user rule: lower case
// letters, digits, _ and -, at most 40 characters.
func ValidRuleName(name string) bool { return ruleNameRE.MatchString(name) }

// ParseRuleExpr reads a user rule's condition. Three forms:
//
//	tcp_syn_packets_per_window > 5000    the window's value against a number
//	dns_queries_per_window > 5 x typical against a multiple of the trained typical value
//	z(destination_port_entropy_bits) > 6 its robust z-score against a number
//
// The operator is one of >, >=, < and <=; the feature any name of the
// feature schema, or the name it had before it said its unit (see
// RenamedRuleFeature).
func ParseRuleExpr(s string) (f features.Index, mode RuleMode, op string, value float64, err error) {
	fields := strings.Fields(s)
	if len(fields) != 3 && !(len(fields) == 5 && fields[3] == "x" && fields[4] == "typical") {
		return 0, 0, "", 0, fmt.Errorf("expression %q: write FEATURE OP NUMBER, FEATURE OP NUMBER x typical or z(FEATURE) OP NUMBER", s)
	}
	name := fields[0]
	mode = RuleAbsolute
	if len(fields) == 5 {
		mode = RuleTypical
	}
	if inner, ok := strings.CutPrefix(name, "z("); ok {
		inner, ok = strings.CutSuffix(inner, ")")
		if !ok || mode == RuleTypical {
			return 0, 0, "", 0, fmt.Errorf("expression %q: write z(FEATURE) OP NUMBER", s)
		}
		name, mode = inner, RuleZ
	}
	i, _, ok := features.Lookup(name)
	if !ok {
		return 0, 0, "", 0, fmt.Errorf("expression %q: unknown feature %q (the README's feature table lists them; for example tcp_syn_packets_per_window)", s, name)
	}
	op = fields[1]
	if op != ">" && op != ">=" && op != "<" && op != "<=" {
		return 0, 0, "", 0, fmt.Errorf("expression %q: unknown operator %q: use >, >=, < or <=", s, op)
	}
	value, err = strconv.ParseFloat(fields[2], 64)
	if err != nil || math.IsNaN(value) || math.IsInf(value, 0) {
		return 0, 0, "", 0, fmt.Errorf("expression %q: %q is not a finite number", s, fields[2])
	}
	if mode == RuleTypical && value <= 0 {
		return 0, 0, "", 0, fmt.Errorf("expression %q: the multiple of typical must be above 0", s)
	}
	return i, mode, op, value, nil
}

// RenamedRuleFeature says whether a user rule's condition names its
// feature by the name it had before it said its unit: old is that name,
// expr the condition with the feature's name instead. old is "" for a
// condition with a current name or none.
func RenamedRuleFeature(s string) (old, expr string) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return "", s
	}
	name := fields[0]
	if inner, ok := strings.CutPrefix(name, "z("); ok {
		name = strings.TrimSuffix(inner, ")")
	}
	i, renamed, _ := features.Lookup(name)
	if !renamed {
		return "", s
	}
	// Only blanks and "z(" come before the name.
	return name, strings.Replace(s, name, features.Schema[i].Name, 1)
}

// userRules holds the rules of the configuration in force: the detectors
// of every interface read it at each window, the configuration reload
// swaps it.
var userRules atomic.Pointer[[]UserRule]

// SetUserRules puts rules in force from the next window on, for every
// detector. Attacks of rules that are gone end as quiet ones do.
func SetUserRules(rules []UserRule) {
	rs := slices.Clone(rules)
	userRules.Store(&rs)
}

// UserRules returns the rules in force.
func UserRules() []UserRule {
	if p := userRules.Load(); p != nil {
		return *p
	}
	return nil
}

// userType returns the attack type of a rule in force, nil for none.
func userType(name string) *AttackType {
	rule, ok := strings.CutPrefix(name, UserRulePrefix)
	if !ok {
		return nil
	}
	for i := range UserRules() {
		r := &UserRules()[i]
		if r.Name == rule {
			return &AttackType{
				Name: r.Type(), Title: "Rule " + r.Name, Alert: "NetAnomalyUserRule", Severity: r.Severity,
				Recommendation: r.Recommendation,
				Behaviour:      fmt.Sprintf("The configuration's rule: %s for %d windows.", r.Expr, r.For),
				Names:          "Sources: the window's busiest senders; targets: its busiest receivers.",
			}
		}
	}
	return nil
}

// ruleHolds tells whether rule r's condition holds on window w, with the
// value compared and the bar it was compared with. Rules relative to the
// baseline hold only once it is trained.
func ruleHolds(r *UserRule, w *features.Window, set *ModelSet) (holds bool, value, bar, typical float64) {
	value = w.Features[r.Feature]
	bar = r.Value
	if set != nil {
		typical = set.Scaler.Typical(int(r.Feature))
	}
	switch r.Mode {
	case RuleTypical:
		if set == nil {
			return false, value, 0, 0
		}
		bar = r.Value * typical
	case RuleZ:
		if set == nil {
			return false, value, 0, 0
		}
		value = set.Scaler.Z(int(r.Feature), value)
	}
	switch r.Op {
	case ">":
		holds = value > bar
	case ">=":
		holds = value >= bar
	case "<":
		holds = value < bar
	case "<=":
		holds = value <= bar
	}
	return holds, value, bar, typical
}

// userAttacks judges the rules in force on a window. held counts, per
// rule, the windows in a row its condition held; a rule fires from its
// For-th. A window the capture saw only part of does not count for or
// against a rule on a rate's fall: its rates are over the part it saw,
// but a drop rule would read the missing part as silence.
func (d *Detector) userAttacks(w *features.Window, set *ModelSet) []Attack {
	rules := UserRules()
	if d.held == nil {
		d.held = map[string]int{}
	}
	var out []Attack
	for i := range rules {
		r := &rules[i]
		if !applies(r.Interfaces, r.Groups, d.iface, d.group) {
			continue
		}
		holds, value, bar, typical := ruleHolds(r, w, set)
		if w.Partial && (r.Op == "<" || r.Op == "<=") {
			holds = d.held[r.Name] > 0 // neither a start nor an end
		}
		if !holds {
			delete(d.held, r.Name)
			continue
		}
		d.held[r.Name]++
		if d.held[r.Name] < r.For {
			continue
		}
		srcs := heavyAddrs(w.Heavy.SourcesByPackets, r.Allow)
		dsts := heavyAddrs(w.Heavy.DestinationsByPackets, nil)
		if len(r.Allow) > 0 && len(srcs) == 0 && len(w.Heavy.SourcesByPackets) > 0 {
			continue // only allowed hosts sent it
		}
		name := features.Schema[r.Feature].Name
		if r.Mode == RuleZ {
			name = "z(" + name + ")"
		}
		conf := 0.8
		if r.Op[0] == '>' && bar > 0 && value > 0 {
			conf = confidence(value, bar)
		} else if r.Op[0] == '<' && value > 0 && bar > 0 {
			conf = confidence(bar, value)
		}
		out = append(out, Attack{
			Type:       r.Type(),
			Confidence: conf,
			Evidence:   []Evidence{ev(name, value, bar, typical)},
			Sources:    srcs,
			Targets:    dsts,
			Summary:    fmt.Sprintf("rule %s: %s was %s (%s %s) for %d windows", r.Name, name, fmtValue(value), r.Op, fmtValue(bar), d.held[r.Name]),
		})
	}
	// Rules no longer in force start over if they come back.
	for name := range d.held {
		if !slices.ContainsFunc(rules, func(r UserRule) bool { return r.Name == name }) {
			delete(d.held, name)
		}
	}
	return out
}

// heavyAddrs returns the addresses of a heavy-hitter list with a real
// share of its total (as the built-in rules name sources), leaving out
// allowed ones.
func heavyAddrs(hs []features.HeavyHitter, allow []netip.Prefix) [][16]byte {
	total := uint64(0)
	for _, h := range hs {
		total += h.Count
	}
	var out [][16]byte
	for _, h := range hs {
		if len(out) == maxNamed || float64(h.Count) < 0.05*float64(total) {
			break
		}
		a := netip.AddrFrom16(h.Addr).Unmap()
		if slices.ContainsFunc(allow, func(p netip.Prefix) bool { return p.Contains(a) }) {
			continue
		}
		out = append(out, h.Addr)
	}
	return out
}

func fmtValue(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

// Where says on which views a setting applies: the interfaces listed (all
// when none), and of them the host groups listed (the whole interfaces
// and every group when none).
type Where struct {
	Interfaces, Groups []string
}

// applies tells whether a setting limited to interfaces and groups
// applies to the view of iface and group ("" for the whole interface).
func applies(ifaces, groups []string, iface, group string) bool {
	return (len(ifaces) == 0 || slices.Contains(ifaces, iface)) && (len(groups) == 0 || slices.Contains(groups, group))
}

// TypeSetting changes a built-in attack type where Where says: turns it
// off, or multiplies its absolute floors (the bars it judges by before
// training, and the least bars after) by FloorFactor.
type TypeSetting struct {
	Where
	Disabled    bool
	FloorFactor float64 // 0 or 1: unchanged
}

// typeSettings holds the configuration's settings of built-in types, by
// type.
var typeSettings atomic.Pointer[map[string]TypeSetting]

// SetTypeSettings puts settings of built-in types in force from the next
// window on. A type turned off keeps its series, at 0.
func SetTypeSettings(settings map[string]TypeSetting) {
	m := make(map[string]TypeSetting, len(settings))
	for typ, st := range settings {
		st.Interfaces, st.Groups = slices.Clone(st.Interfaces), slices.Clone(st.Groups)
		m[typ] = st
	}
	typeSettings.Store(&m)
}

// typeSetting returns the setting of typ on the view of iface and group,
// and whether there is one.
func typeSetting(typ, iface, group string) (TypeSetting, bool) {
	p := typeSettings.Load()
	if p == nil {
		return TypeSetting{}, false
	}
	st, ok := (*p)[typ]
	if !ok || !applies(st.Interfaces, st.Groups, iface, group) {
		return TypeSetting{}, false
	}
	return st, true
}
