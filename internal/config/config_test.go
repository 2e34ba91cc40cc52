package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/detector"
)

func TestParseRules(t *testing.T) {
	cfg, err := Parse("netanomaly.yml", []byte(`
# An operator's rules.
rules:
  - name: syn-storm
    expr: tcp_syn_packets_per_window > 5000
    for_windows: 3
    severity: high
    interfaces: [eth0]
    recommendation: Call the upstream provider.
  - name: dns_burst
    expr: dns_queries_per_window > 5 x typical
    allowlist: [10.0.0.53, "2001:db8::/32", "::ffff:192.0.2.1"]
`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Rules) != 2 {
		t.Fatalf("%d rules", len(cfg.Rules))
	}
	r := cfg.Rules[0]
	if r.Name != "syn-storm" || r.Feature != features.TCPSyn || r.Mode != detector.RuleAbsolute || r.Op != ">" || r.Value != 5000 ||
		r.For != 3 || r.Severity != 3 || len(r.Interfaces) != 1 || r.Recommendation != "Call the upstream provider." {
		t.Errorf("rule 1: %+v", r)
	}
	r = cfg.Rules[1]
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.53/32"), netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("192.0.2.1/32")}
	if r.Mode != detector.RuleTypical || r.For != 1 || r.Severity != 2 || !strings.Contains(r.Recommendation, "dns_burst") || len(r.Allow) != 3 {
		t.Fatalf("rule 2: %+v", r)
	}
	for i := range want {
		if r.Allow[i] != want[i] {
			t.Errorf("allowlist %d: %v, want %v", i, r.Allow[i], want[i])
		}
	}
	if cfg, err := Parse("empty.yml", nil, Options{}); err != nil || len(cfg.Rules) != 0 {
		t.Errorf("empty file: %v %v", cfg, err)
	}
}

// TestParseOldFeatureName: a rule with a feature's name from before it
// said its unit loads, with a warning at its line saying what to write;
// the rule shows the current name (user_rule_info, alerts, events).
func TestParseOldFeatureName(t *testing.T) {
	cfg, err := Parse("x.yml", []byte("rules:\n  - name: a\n    expr: dns_queries_per_window > 5\n  - name: b\n    expr: z(tcp_syn_packets) > 6\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Rules) != 2 || len(cfg.Warnings) != 1 {
		t.Fatalf("%d rules, warnings %v", len(cfg.Rules), cfg.Warnings)
	}
	want := `x.yml:5: rule "b": feature tcp_syn_packets is now called tcp_syn_packets_per_window: write "z(tcp_syn_packets_per_window) > 6"`
	if got := cfg.Warnings[0].Error(); got != want {
		t.Errorf("warning\n\t%s\nwant\n\t%s", got, want)
	}
	r := cfg.Rules[1]
	if r.Feature != features.TCPSyn || r.Mode != detector.RuleZ || r.Expr != "z(tcp_syn_packets_per_window) > 6" || !strings.Contains(r.Recommendation, "(z(tcp_syn_packets_per_window) > 6)") {
		t.Errorf("rule %+v", r)
	}
	if cfg.Rules[0].Expr != "dns_queries_per_window > 5" {
		t.Errorf("rule a: expression %q", cfg.Rules[0].Expr)
	}
}

// TestParseErrors: every problem names the file and its line, all of
// them at once, in words that say what to write instead.
func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		name, file string
		want       []string
	}{
		{"unknown top-level key", "rules: []\nrulez: []\n", []string{`x.yml:2: unknown key "rulez" in the top level`}},
		{"unknown rule key", "rules:\n  - name: a\n    expr: dns_queries_per_window > 5\n    for: 3\n", []string{`x.yml:4: unknown key "for" in a rule (known: name, expr, for_windows`}},
		// The YAML parser gives a syntax error the line of the block it
		// was reading, not always the line of the mistake.
		{"syntax", "rules:\n  - name: a\n   expr: b\n", []string{"x.yml:1: did not find expected '-' indicator"}},
		{"unterminated string", "rules:\n  - name: a\n    expr: \"x\n", []string{"x.yml:3: found unexpected end of stream"}},
		{"wrong type", "rules:\n  - name: a\n    expr: dns_queries_per_window > 5\n    for_windows: three\n", []string{"x.yml:4: cannot unmarshal !!str `three` into int"}},
		{"bad expr", "rules:\n  - name: a\n    expr: dns_queries_per_window >> 5\n", []string{`x.yml:3: rule "a": expression "dns_queries_per_window >> 5": unknown operator ">>"`}},
		{"unknown feature", "rules:\n  - name: a\n    expr: syns > 5\n", []string{`x.yml:3: rule "a": expression "syns > 5": unknown feature "syns"`}},
		{"no name", "rules:\n  - expr: dns_queries_per_window > 5\n", []string{"x.yml:2: rule 1 has no name"}},
		{"bad name", "rules:\n  - name: Big Rule\n    expr: dns_queries_per_window > 5\n", []string{`x.yml:2: rule name "Big Rule": use lower case letters`}},
		{"duplicate name", "rules:\n  - name: a\n    expr: dns_queries_per_window > 5\n  - name: a\n    expr: dns_queries_per_window > 6\n", []string{`x.yml:4: rule name "a" used twice`}},
		{"no expr", "rules:\n  - name: a\n", []string{`x.yml:2: rule "a" has no expr`}},
		{"severity", "rules:\n  - name: a\n    expr: dns_queries_per_window > 5\n    severity: critical\n", []string{`x.yml:4: rule "a": severity "critical": use high or medium`}},
		{"for_windows", "rules:\n  - name: a\n    expr: dns_queries_per_window > 5\n    for_windows: -2\n", []string{`x.yml:4: rule "a": for_windows -2`}},
		{"allowlist", "rules:\n  - name: a\n    expr: dns_queries_per_window > 5\n    allowlist:\n      - 10.0.0.0/8\n      - 10.0.0.300\n", []string{`x.yml:6: rule "a": allowlist entry "10.0.0.300"`}},
		{"two problems in order", "rules:\n  - name: a\n    expr: x > 1\n  - name: b\n    expr: dns_queries_per_window > 5\n    severity: low\n",
			[]string{`x.yml:3: rule "a"`, `x.yml:6: rule "b": severity "low"`}},
	} {
		_, err := Parse("x.yml", []byte(c.file), Options{})
		var es Errors
		if !errors.As(err, &es) {
			t.Errorf("%s: error %v, want Errors", c.name, err)
			continue
		}
		if len(es) != len(c.want) {
			t.Errorf("%s: %d errors, want %d:\n%v", c.name, len(es), len(c.want), err)
			continue
		}
		for i, w := range c.want {
			if !strings.HasPrefix(es[i].Error(), w) {
				t.Errorf("%s: error %d is\n\t%s\nwant it to start with\n\t%s", c.name, i, es[i], w)
			}
		}
	}

	var many strings.Builder
	many.WriteString("rules:\n")
	for i := range detector.MaxUserRules + 1 {
		many.WriteString("  - name: r" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + "\n    expr: dns_queries_per_window > 5\n")
	}
	if _, err := Parse("x.yml", []byte(many.String()), Options{}); err == nil || !strings.Contains(err.Error(), "at most 64") {
		t.Errorf("65 rules: %v", err)
	}
}

// TestExampleFile: the README's example is valid.
func TestExampleFile(t *testing.T) {
	cfg, err := Load("../../examples/netanomaly.yml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Rules) != 3 {
		t.Errorf("%d rules, want 3", len(cfg.Rules))
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.yml"), Options{}); err == nil || !strings.Contains(err.Error(), "missing.yml: cannot read the configuration file: no such file") {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(dir, "big.yml")
	if err := os.WriteFile(big, make([]byte, MaxFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big, Options{}); err == nil || !strings.Contains(err.Error(), "larger than 4 MiB") {
		t.Errorf("big file: %v", err)
	}
	ok := filepath.Join(dir, "ok.yml")
	if err := os.WriteFile(ok, []byte("rules:\n  - name: a\n    expr: dns_queries_per_window > 5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err := Load(ok, Options{}); err != nil || len(cfg.Rules) != 1 || cfg.Path != ok {
		t.Errorf("ok file: %+v %v", cfg, err)
	}
}

func TestBlocklistsAndSyslog(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "drop.txt"), "; Spamhaus DROP\n198.51.100.0/24 ; SBL1\n")
	writeFile(t, filepath.Join(dir, "c2.netset"), "# FireHOL\n203.0.113.7\n2001:db8:bad::/48\n")
	writeFile(t, filepath.Join(dir, "broken.txt"), "198.51.100.0/24\nnot-an-address\n")
	good := filepath.Join(dir, "good.yml")
	writeFile(t, good, `
blocklists:
  - name: drop
    path: drop.txt   # relative to this file
  - name: c2
    path: `+filepath.Join(dir, "c2.netset")+`
syslog:
  address: 127.0.0.1:514
  transport: tcp
evidence:
  dir: evidence
  ring_bytes: 4MiB
  before: 5s
`)
	cfg, err := Load(good, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Evidence == nil || cfg.Evidence.Dir != filepath.Join(dir, "evidence") || cfg.Evidence.RingBytes != 4<<20 || cfg.Evidence.Before != 5*time.Second {
		t.Errorf("evidence %+v", cfg.Evidence)
	}
	if cfg.Blocklists == nil || cfg.Syslog == nil || cfg.Syslog.Transport != "tcp" {
		t.Fatalf("%+v", cfg)
	}
	if m := cfg.Blocklists.Lookup(netip.MustParseAddr("198.51.100.9").As16()); m != 1 {
		t.Errorf("198.51.100.9 in lists %b, want drop (bit 0)", m)
	}
	if m := cfg.Blocklists.Lookup(netip.MustParseAddr("2001:db8:bad::1").As16()); m != 2 {
		t.Errorf("2001:db8:bad::1 in lists %b, want c2 (bit 1)", m)
	}

	for _, c := range []struct{ name, file, want string }{
		{"bad list line", "blocklists:\n  - name: broken\n    path: broken.txt\n", `x.yml:3: blocklist "broken": ` + filepath.Join(dir, "broken.txt") + `:2: "not-an-address"`},
		{"missing list", "blocklists:\n  - name: gone\n    path: gone.txt\n", `x.yml:3: blocklist "gone": `},
		{"list name", "blocklists:\n  - name: Spam House\n    path: drop.txt\n", `x.yml:2: blocklist name "Spam House"`},
		{"duplicate list", "blocklists:\n  - name: a\n    path: drop.txt\n  - name: a\n    path: drop.txt\n", `x.yml:1: `},
		{"unknown list key", "blocklists:\n  - name: a\n    file: drop.txt\n", `x.yml:3: unknown key "file" in a blocklist (known: name, path)`},
		{"syslog transport", "syslog:\n  address: 127.0.0.1:514\n  transport: relp\n", `x.yml:1: unknown syslog.transport "relp"`},
		{"syslog key", "syslog:\n  adress: 127.0.0.1:514\n", `x.yml:2: unknown key "adress" in syslog (known: address`}, //nolint:misspell // the misspelt key is the test
		{"evidence snaplen", "evidence:\n  dir: ev\n  snaplen: 10\n", `x.yml:1: evidence`},
		{"evidence key", "evidence:\n  directory: ev\n", `x.yml:2: unknown key "directory" in evidence (known: dir`},
		{"syslog tls key", "syslog:\n  address: h:6514\n  transport: tls\n  tls:\n    ca: x\n", `x.yml:5: unknown key "ca" in syslog.tls (known: ca_file`},
	} {
		path := filepath.Join(dir, "x.yml")
		writeFile(t, path, c.file)
		_, err := Load(path, Options{})
		if err == nil || !strings.Contains(err.Error(), strings.Replace(c.want, "x.yml", path, 1)) {
			t.Errorf("%s: error\n\t%v\nwant one containing\n\t%s", c.name, err, strings.Replace(c.want, "x.yml", path, 1))
		}
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestAttackTypes(t *testing.T) {
	cfg, err := Parse("x.yml", []byte("attack_types:\n  traffic_spike:\n    disabled: true\n  port_scan:\n    disabled: true\n    interfaces: [eth1]\n  syn_flood:\n    disabled: false\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := Parse("x.yml", []byte("attack_types:\n  syn_flood:\n    floor_factor: 4\n    groups: []\n"), Options{}); err != nil || st.Types["syn_flood"].FloorFactor != 4 {
		t.Errorf("floor_factor: %+v %v", st, err)
	}
	if len(cfg.Types) != 2 || !cfg.Types["traffic_spike"].Disabled || cfg.Types["traffic_spike"].Interfaces != nil || len(cfg.Types["port_scan"].Interfaces) != 1 {
		t.Errorf("types %v", cfg.Types)
	}
	for _, c := range []struct{ file, want string }{
		{"attack_types:\n  port_scans:\n    disabled: true\n", `x.yml:2: unknown attack type "port_scans": the built-in types are arp_spoofing, `},
		{"attack_types:\n  port_scan:\n    interfaces: [eth0]\n", `x.yml:2: attack type "port_scan": interfaces or groups without disabled: true or a floor_factor say nothing`},
		{"attack_types:\n  syn_flood:\n    floor_factor: 500\n", `x.yml:3: attack type "syn_flood": floor_factor 500: use 0.1 to 100`},
		{"attack_types:\n  arp_spoofing:\n    floor_factor: 2\n", `x.yml:3: attack type "arp_spoofing" has no absolute floor to scale`},
		{"attack_types:\n  syn_flood:\n    floor_factor: 2\n    disabled: true\n", `x.yml:2: attack type "syn_flood": disabled and floor_factor together`},
		{"attack_types:\n  port_scan:\n    off: true\n", `x.yml:3: unknown key "off" in an attack type (known: disabled, floor_factor, interfaces, groups)`},
	} {
		if _, err := Parse("x.yml", []byte(c.file), Options{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error\n\t%v\nwant\n\t%s", err, c.want)
		}
	}
}

func TestGroups(t *testing.T) {
	cfg, err := Parse("x.yml", []byte("groups:\n  - name: dmz-web\n    cidrs: [192.0.2.0/24, \"2001:db8:1::/48\"]\n  - name: office\n    cidrs: [10.1.0.0/16]\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	names := cfg.Groups.Names()
	if len(names) != 3 || names[0] != "dmz-web" || names[2] != "other" {
		t.Fatalf("groups %v", names)
	}
	if g := names[cfg.Groups.Group(netip.MustParseAddr("10.1.2.3").As16())]; g != "office" {
		t.Errorf("10.1.2.3 in %s", g)
	}
	var many strings.Builder
	many.WriteString("groups:\n")
	for i := range 33 {
		fmt.Fprintf(&many, "  - name: g%d\n    cidrs: [10.%d.0.0/16]\n", i, i)
	}
	for _, c := range []struct{ file, want string }{
		{"groups:\n  - name: other\n    cidrs: [10.0.0.0/8]\n", `x.yml:2: group name "other" is the group of the hosts in no group`},
		{"groups:\n  - name: a\n    cidrs: [10.0.0.0/8]\n  - name: a\n    cidrs: [10.1.0.0/16]\n", `x.yml:4: group name "a" used twice`},
		{"groups:\n  - name: a\n", `x.yml:2: group "a" has no cidrs`},
		{"groups:\n  - name: a\n    cidrs:\n      - 10.0.0.0/33\n", `x.yml:4: group "a": "10.0.0.0/33" is not an address or a CIDR`},
		{"groups:\n  - name: a\n    networks: [10.0.0.0/8]\n", `x.yml:3: unknown key "networks" in a host group (known: name, cidrs)`},
		{many.String(), `x.yml:1: 33 host groups: at most 32`},
	} {
		if _, err := Parse("x.yml", []byte(c.file), Options{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error\n\t%v\nwant\n\t%s", err, c.want)
		}
	}
}

func TestGroupReferences(t *testing.T) {
	groups := "groups:\n  - name: office\n    cidrs: [10.1.0.0/16]\n"
	cfg, err := Parse("x.yml", []byte(groups+"rules:\n  - name: a\n    expr: dns_queries_per_window > 5\n    groups: [office, other]\nattack_types:\n  port_scan:\n    disabled: true\n    groups: [office]\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Rules[0].Groups) != 2 || cfg.Types["port_scan"].Groups[0] != "office" {
		t.Errorf("%+v %+v", cfg.Rules, cfg.Types)
	}
	for _, c := range []struct{ file, want string }{
		{groups + "rules:\n  - name: a\n    expr: dns_queries_per_window > 5\n    groups: [ofice]\n", `x.yml:7: unknown group "ofice" (groups: office, other)`},
		{"attack_types:\n  port_scan:\n    disabled: true\n    groups: [office]\n", `x.yml:4: unknown group "office" (groups: none: add a groups section)`},
	} {
		if _, err := Parse("x.yml", []byte(c.file), Options{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error\n\t%v\nwant\n\t%s", err, c.want)
		}
	}
}
