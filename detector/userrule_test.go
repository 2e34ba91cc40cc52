package detector

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

func TestParseRuleExpr(t *testing.T) {
	for _, c := range []struct {
		expr  string
		f     features.Index
		mode  RuleMode
		op    string
		value float64
		err   string
	}{
		{expr: "tcp_syn_packets_per_window > 5000", f: features.TCPSyn, mode: RuleAbsolute, op: ">", value: 5000},
		{expr: "  dns_queries_per_window   >=  5 x typical ", f: features.DNSQueries, mode: RuleTypical, op: ">=", value: 5},
		{expr: "z(destination_port_entropy_bits) > 6", f: features.DestinationPortEntropy, mode: RuleZ, op: ">", value: 6},
		{expr: "z(packets_per_second) < -4", f: features.PacketsPerSecond, mode: RuleZ, op: "<", value: -4},
		{expr: "packets_per_second <= 0.5 x typical", f: features.PacketsPerSecond, mode: RuleTypical, op: "<=", value: 0.5},
		{expr: "bytes_per_second < 1e3", f: features.BytesPerSecond, mode: RuleAbsolute, op: "<", value: 1000},
		// The names before they said their unit.
		{expr: "tcp_syn_packets > 5000", f: features.TCPSyn, mode: RuleAbsolute, op: ">", value: 5000},
		{expr: "z(source_address_entropy) > 6", f: features.SourceEntropy, mode: RuleZ, op: ">", value: 6},
		{expr: "top_source_share >= 0.5 x typical", f: features.TopSourceShare, mode: RuleTypical, op: ">=", value: 0.5},
		{expr: "", err: "write FEATURE OP NUMBER"},
		{expr: "tcp_syn_packets_per_window > ", err: "write FEATURE OP NUMBER"},
		{expr: "tcp_syns > 5000", err: `unknown feature "tcp_syns"`},
		{expr: "tcp_syn_packets_per_window => 5000", err: `unknown operator "=>"`},
		{expr: "tcp_syn_packets_per_window == 5000", err: `unknown operator "=="`},
		{expr: "tcp_syn_packets_per_window > lots", err: `"lots" is not a finite number`},
		{expr: "tcp_syn_packets_per_window > NaN", err: `"NaN" is not a finite number`},
		{expr: "tcp_syn_packets_per_window > +Inf", err: `"+Inf" is not a finite number`},
		{expr: "dns_queries_per_window > 0 x typical", err: "multiple of typical must be above 0"},
		{expr: "dns_queries_per_window > 5 x median", err: "write FEATURE OP NUMBER"},
		{expr: "z(dns_queries_per_window > 5", err: "write z(FEATURE) OP NUMBER"},
		{expr: "z(dns_queries_per_window) > 5 x typical", err: "write z(FEATURE) OP NUMBER"},
	} {
		f, mode, op, value, err := ParseRuleExpr(c.expr)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want one containing %q", c.expr, err, c.err)
			}
			continue
		}
		if err != nil || f != c.f || mode != c.mode || op != c.op || value != c.value {
			t.Errorf("%q: got %v %v %q %g %v, want %v %v %q %g", c.expr, f, mode, op, value, err, c.f, c.mode, c.op, c.value)
		}
	}
}

// TestRenamedRuleFeature: a condition with a feature's old name is
// rewritten with its name, the rest as written; any other is left alone.
func TestRenamedRuleFeature(t *testing.T) {
	for _, c := range []struct{ expr, old, want string }{
		{"tcp_syn_packets > 5000", "tcp_syn_packets", "tcp_syn_packets_per_window > 5000"},
		{"  dns_queries   >=  5 x typical ", "dns_queries", "  dns_queries_per_window   >=  5 x typical "},
		{"z(destination_port_entropy) > 6", "destination_port_entropy", "z(destination_port_entropy_bits) > 6"},
		{"dns_query_name_entropy_mean > 3.5", "dns_query_name_entropy_mean", "dns_query_name_entropy_mean_bits > 3.5"},
		{"top_destination_share > 0.9", "top_destination_share", "top_destination_share_ratio > 0.9"},
		{"tcp_syn_packets_per_window > 5000", "", "tcp_syn_packets_per_window > 5000"},
		{"packets_per_second > 5000", "", "packets_per_second > 5000"},
		{"tcp_syns > 5000", "", "tcp_syns > 5000"},
		{"", "", ""},
	} {
		old, expr := RenamedRuleFeature(c.expr)
		if old != c.old || expr != c.want {
			t.Errorf("RenamedRuleFeature(%q) = %q, %q; want %q, %q", c.expr, old, expr, c.old, c.want)
		}
		if old == "" {
			continue
		}
		f1, m1, op1, v1, err1 := ParseRuleExpr(c.expr)
		f2, m2, op2, v2, err2 := ParseRuleExpr(expr)
		if err1 != nil || err2 != nil || f1 != f2 || m1 != m2 || op1 != op2 || v1 != v2 {
			t.Errorf("%q and %q parse differently: %v %v", c.expr, expr, err1, err2)
		}
	}
}

// userRule compiles a rule for a test.
func userRule(t *testing.T, name, expr string, hold int) UserRule {
	t.Helper()
	f, mode, op, value, err := ParseRuleExpr(expr)
	if err != nil {
		t.Fatal(err)
	}
	return UserRule{Name: name, Expr: expr, Feature: f, Mode: mode, Op: op, Value: value, For: hold, Severity: 2, Recommendation: "Check " + name + "."}
}

func withUserRules(t *testing.T, rules ...UserRule) {
	t.Helper()
	SetUserRules(rules)
	t.Cleanup(func() { SetUserRules(nil) })
}

// TestUserRuleHeldForWindows: a rule fires from the For-th window its
// condition holds in a row, names the busiest senders and receivers, and
// is an attack like the built-in ones: one start and one end event, its
// recommendation in the registry.
func TestUserRuleHeldForWindows(t *testing.T) {
	withUserRules(t, userRule(t, "syn-storm", "tcp_syn_packets_per_window > 4000", 3))
	d := New(testConfig(), "eth0", nil)
	g := newGen(3)
	var starts, ends []Event
	fired := []int{}
	for i := range 12 {
		w := g.benign()
		if i >= 2 && i < 7 || i == 9 {
			w.Features[features.TCPSyn] = 6000
			w.Heavy.SourcesByPackets = []features.HeavyHitter{{Addr: attacker, Count: 50000}, {Addr: lanAddr(7), Count: 300}}
			w.Heavy.DestinationsByPackets = []features.HeavyHitter{{Addr: victim, Count: 50000}}
		}
		v := d.Observe(w)
		if slices.Contains(types(v.Attacks), "rule:syn-storm") {
			fired = append(fired, i)
			a := v.Attacks[slices.IndexFunc(v.Attacks, func(a Attack) bool { return a.Type == "rule:syn-storm" })]
			if !slices.Equal(a.Sources, [][16]byte{attacker}) || !slices.Equal(a.Targets, [][16]byte{victim}) {
				t.Errorf("window %d: sources %v targets %v, want the attacker and the victim", i, addrs(a.Sources), addrs(a.Targets))
			}
			if len(a.Evidence) != 1 || a.Evidence[0].Feature != "tcp_syn_packets_per_window" || a.Evidence[0].Value != 6000 || a.Evidence[0].Threshold != 4000 {
				t.Errorf("window %d: evidence %+v", i, a.Evidence)
			}
			if !v.Anomalous || v.Threat < ThreatMedium {
				t.Errorf("window %d: anomalous %v threat %d", i, v.Anomalous, v.Threat)
			}
		}
		for _, e := range v.Events {
			if e.Attack.Type != "rule:syn-storm" {
				continue
			}
			if e.Kind == "attack_start" {
				starts = append(starts, e)
			} else {
				ends = append(ends, e)
			}
		}
	}
	// Held from window 2: fires at 4, 5, 6; window 9 alone is not held.
	if !slices.Equal(fired, []int{4, 5, 6}) {
		t.Errorf("fired in windows %v, want [4 5 6]", fired)
	}
	if len(starts) != 1 || len(ends) != 1 {
		t.Errorf("%d starts and %d ends, want one of each", len(starts), len(ends))
	}
	if got := Recommendation("rule:syn-storm"); got != "Check syn-storm." {
		t.Errorf("recommendation %q", got)
	}
	if !slices.Contains(TypesInForce(), "rule:syn-storm") || Type("rule:gone") != nil {
		t.Errorf("types in force %v", TypesInForce())
	}
}

// TestUserRuleBaselineModes: rules against the typical value or the
// z-score wait for the trained baseline; then they judge against it.
func TestUserRuleBaselineModes(t *testing.T) {
	withUserRules(t,
		userRule(t, "dns-burst", "dns_queries_per_window > 5 x typical", 1),
		userRule(t, "port-spread", "z(unique_destination_ports_per_window) > 8", 1),
	)
	// Before training: the same burst names nothing.
	d := New(testConfig(), "eth0", nil)
	g := newGen(5)
	w := g.benign()
	w.Features[features.DNSQueries] = 1e6
	if v := d.Observe(w); len(v.Attacks) != 0 {
		t.Fatalf("untrained: %v", types(v.Attacks))
	}

	d, g = newTrained(t, testConfig(), 6)
	typical := d.Models().Scaler.Typical(int(features.DNSQueries))
	w = g.benign()
	w.Features[features.DNSQueries] = 4 * typical
	if v := d.Observe(w); slices.Contains(types(v.Attacks), "rule:dns-burst") {
		t.Errorf("4x typical DNS fired a 5x rule")
	}
	w = g.benign()
	w.Features[features.DNSQueries] = 6 * typical
	w.Features[features.UniqueDestinationPorts] = 60000
	v := d.Observe(w)
	if got := types(v.Attacks); !slices.Contains(got, "rule:dns-burst") || !slices.Contains(got, "rule:port-spread") {
		t.Fatalf("6x typical DNS and 60000 ports: %v", got)
	}
	for _, a := range v.Attacks {
		if a.Type == "rule:dns-burst" && (a.Evidence[0].Threshold != 5*typical || a.Evidence[0].Typical != typical) {
			t.Errorf("dns-burst evidence %+v, typical %g", a.Evidence, typical)
		}
		if a.Type == "rule:port-spread" && (a.Evidence[0].Feature != "z(unique_destination_ports_per_window)" || a.Evidence[0].Value < 8) {
			t.Errorf("port-spread evidence %+v", a.Evidence)
		}
	}
}

// TestUserRuleAllowAndInterfaces: a rule judges only its interfaces, and
// traffic sent only by allowed hosts does not fire it.
func TestUserRuleAllowAndInterfaces(t *testing.T) {
	scanner := ip("10.9.9.9")
	r := userRule(t, "fanout", "max_source_port_fanout_per_window > 500", 1)
	r.Allow = []netip.Prefix{netip.MustParsePrefix("10.9.9.0/24")}
	only := userRule(t, "other-if", "max_source_port_fanout_per_window > 500", 1)
	only.Interfaces = []string{"eth1"}
	withUserRules(t, r, only)
	d := New(testConfig(), "eth0", nil)
	g := newGen(8)
	for _, c := range []struct {
		senders []features.HeavyHitter
		want    []string
	}{
		{[]features.HeavyHitter{{Addr: scanner, Count: 9000}}, nil},
		{[]features.HeavyHitter{{Addr: scanner, Count: 9000}, {Addr: attacker, Count: 8000}}, []string{"rule:fanout"}},
	} {
		w := g.benign()
		w.Features[features.MaxSourcePortFanout] = 1000
		w.Heavy.SourcesByPackets = c.senders
		v := d.Observe(w)
		var got []string
		for _, a := range v.Attacks {
			if strings.HasPrefix(a.Type, UserRulePrefix) {
				got = append(got, a.Type)
				if slices.Contains(a.Sources, scanner) {
					t.Errorf("the allowed scanner is named: %v", addrs(a.Sources))
				}
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("senders %d: user rule attacks %v, want %v", len(c.senders), got, c.want)
		}
	}
}

// TestUserRuleRemoved: an attack of a rule the configuration no longer
// has ends as a quiet one does, and does not start again.
func TestUserRuleRemoved(t *testing.T) {
	withUserRules(t, userRule(t, "syn-storm", "tcp_syn_packets_per_window > 4000", 1))
	cfg := testConfig()
	d := New(cfg, "eth0", nil)
	g := newGen(4)
	w := g.benign()
	w.Features[features.TCPSyn] = 9000
	if v := d.Observe(w); len(v.Events) != 1 || v.Events[0].Kind != "attack_start" {
		t.Fatalf("events %+v", v.Events)
	}
	SetUserRules(nil)
	var ended bool
	for range cfg.EndAfter + 1 {
		w := g.benign()
		w.Features[features.TCPSyn] = 9000
		v := d.Observe(w)
		for _, e := range v.Events {
			ended = ended || e.Kind == "attack_end" && e.Attack.Type == "rule:syn-storm"
			if e.Kind == "attack_start" {
				t.Errorf("a removed rule started an attack")
			}
		}
	}
	if !ended {
		t.Error("the removed rule's attack did not end")
	}
}

// TestDisabledTypes: a built-in type turned off on an interface names
// nothing there, and still does elsewhere.
func TestDisabledTypes(t *testing.T) {
	SetTypeSettings(map[string]TypeSetting{SynFlood: {Where: Where{Interfaces: []string{"eth0"}}, Disabled: true}})
	t.Cleanup(func() { SetTypeSettings(nil) })
	for _, c := range []struct {
		iface string
		want  bool
	}{{"eth0", false}, {"eth1", true}} {
		d := New(testConfig(), c.iface, nil)
		w := newGen(2).benign()
		w.Interface = c.iface
		synFlood(w, victim)
		v := d.Observe(w)
		if got := slices.Contains(types(v.Attacks), SynFlood); got != c.want {
			t.Errorf("%s: SYN flood named %v, want %v", c.iface, got, c.want)
		}
	}
}

// TestGroupLimits: a rule or a turned-off type limited to host groups
// applies to those groups' views only, not to the whole interface's.
func TestGroupLimits(t *testing.T) {
	r := userRule(t, "office-syns", "tcp_syn_packets_per_window > 4000", 1)
	r.Groups = []string{"office"}
	withUserRules(t, r)
	SetTypeSettings(map[string]TypeSetting{SynFlood: {Where: Where{Groups: []string{"office"}}, Disabled: true}})
	t.Cleanup(func() { SetTypeSettings(nil) })
	for _, c := range []struct {
		group          string
		rule, synFlood bool
	}{{"", false, true}, {"office", true, false}, {"web", false, true}} {
		d := New(testConfig(), "eth0", nil).ForGroup(c.group)
		w := newGen(2).benign()
		synFlood(w, victim)
		w.Features[features.TCPSyn] = 9000
		v := d.Observe(w)
		got := types(v.Attacks)
		if slices.Contains(got, "rule:office-syns") != c.rule || slices.Contains(got, SynFlood) != c.synFlood || v.Group != c.group {
			t.Errorf("group %q: attacks %v, verdict group %q", c.group, got, v.Group)
		}
	}
}

// TestFloorFactor: a type's floors scaled for a group judge that group's
// view by the higher bars, the rest as before; before training the
// scaled floor is the bar.
func TestFloorFactor(t *testing.T) {
	SetTypeSettings(map[string]TypeSetting{SynFlood: {Where: Where{Groups: []string{"dmz-web"}}, FloorFactor: 1000}})
	t.Cleanup(func() { SetTypeSettings(nil) })
	for _, c := range []struct {
		group string
		want  bool
	}{{"", true}, {"dmz-web", false}, {"office", true}} {
		d := New(testConfig(), "eth0", nil).ForGroup(c.group)
		w := newGen(2).benign()
		synFlood(w, victim)
		v := d.Observe(w)
		if got := slices.Contains(types(v.Attacks), SynFlood); got != c.want {
			t.Errorf("group %q: SYN flood named %v, want %v", c.group, got, c.want)
		}
	}
}

// TestGroupOwnBaseline: a host group's view is judged against its own
// training. On an interface whose training saw a busy proxy fail hundreds
// of first contacts a window, a 300-port scan stays under the bar; the
// office group's view, trained on the office alone, names it.
func TestGroupOwnBaseline(t *testing.T) {
	trained, _ := newTrained(t, testConfig(), 1)
	office, err := trained.Models().Clone()
	if err != nil {
		t.Fatal(err)
	}
	whole, err := trained.Models().Clone()
	if err != nil {
		t.Fatal(err)
	}
	whole.Scaler.Max[features.MaxSourceFailedContacts] = 400 // the proxy
	scan := func(d *Detector) *Verdict {
		w := newGen(11).benign()
		w.Behaviour.Hosts = []features.HostActivity{{Addr: attacker, NewPorts: 300, NewHosts: 1, FailedFirst: 300, Target: lanAddr(9), TargetPorts: 300}}
		return d.Observe(w)
	}
	if v := scan(New(testConfig(), "eth0", whole)); hasAttack(v.Attacks, PortScan) {
		t.Errorf("the whole interface named the scan under its busy baseline: %v", types(v.Attacks))
	}
	if v := scan(New(testConfig(), "eth0", office).ForGroup("office")); !hasAttack(v.Attacks, PortScan) || v.Group != "office" {
		t.Errorf("the office view did not name the scan: %v (group %q)", types(v.Attacks), v.Group)
	}
}
