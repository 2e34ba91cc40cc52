// Package config reads the exporter's configuration file
// (--config.file): what flags cannot say, such as the operator's own
// rules. It sits beside the flags, below cmd/netanomaly_exporter, which
// loads it at start and again on SIGHUP and POST /-/reload; the detector
// and the outputs receive what it compiles.
//
// The file is strict YAML: an unknown key is an error naming its line,
// as is every value that does not make sense, so a typo never passes as
// a default.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/collector/pipeline"
	"github.com/netanomaly/netanomaly_exporter/detector"
	"github.com/netanomaly/netanomaly_exporter/internal/blocklist"
	"github.com/netanomaly/netanomaly_exporter/internal/evidence"
	"github.com/netanomaly/netanomaly_exporter/internal/ipfix"
	"github.com/netanomaly/netanomaly_exporter/internal/siem"
)

// MaxFileSize caps the configuration file: it is read whole.
const MaxFileSize = 4 << 20

// File is the configuration file as written.
type File struct {
	Rules       []Rule                    `yaml:"rules"`
	AttackTypes map[string]AttackTypeFile `yaml:"attack_types"`
	Groups      []GroupFile               `yaml:"groups"`
	Blocklists  []BlocklistFile           `yaml:"blocklists"`
	Syslog      *siem.Config              `yaml:"syslog"`
	Evidence    *evidence.Config          `yaml:"evidence"`
	IPFIX       *ipfix.Config             `yaml:"ipfix"`
}

// GroupFile is a host group: a name (the group label) and its networks.
type GroupFile struct {
	Name  string   `yaml:"name"`
	CIDRs []string `yaml:"cidrs"`
}

// AttackTypeFile changes a built-in attack type on the interfaces and
// host groups listed, or everywhere: turns it off, or scales its absolute
// floors.
type AttackTypeFile struct {
	Disabled    bool     `yaml:"disabled"`
	FloorFactor float64  `yaml:"floor_factor"`
	Interfaces  []string `yaml:"interfaces"`
	Groups      []string `yaml:"groups"`
}

// BlocklistFile is one threat-intel list: a name for its metrics and
// pages, and the file (plain addresses and CIDRs, FireHOL netset,
// Spamhaus DROP text or JSON lines).
type BlocklistFile struct {
	Name string `yaml:"name"`
	Path string `yaml:"path"`
}

// Rule is one user rule as written: a condition on a window feature
// (see detector.ParseRuleExpr), held for ForWindows windows in a row.
type Rule struct {
	Name           string   `yaml:"name"`
	Expr           string   `yaml:"expr"`
	ForWindows     int      `yaml:"for_windows"`
	Severity       string   `yaml:"severity"` // high or medium (the default)
	Interfaces     []string `yaml:"interfaces"`
	Groups         []string `yaml:"groups"`
	Recommendation string   `yaml:"recommendation"`
	Allowlist      []string `yaml:"allowlist"`
}

// Config is a configuration file compiled: what the exporter puts in
// force.
type Config struct {
	Path  string
	Rules []detector.UserRule
	// Groups are the host groups, nil without any. A reload may change
	// their CIDRs; adding, removing or renaming groups takes a restart.
	Groups *pipeline.GroupTable
	// Types holds the settings of built-in types: turned off, or with
	// their floors scaled, and where.
	Types map[string]detector.TypeSetting
	// Blocklists holds the lists, loaded; nil without any. Watch it
	// for changed files.
	Blocklists *blocklist.Blocklists
	// Syslog is the syslog output's configuration, validated; nil when
	// off.
	Syslog *siem.Config
	// Evidence is the evidence captures' configuration, validated; nil
	// when off. It takes effect at start.
	Evidence *evidence.Config
	// IPFIX is the flow records' output, validated; nil when off.
	IPFIX *ipfix.Config
	// Warnings are what loads but should be rewritten: a user rule that
	// names its feature by its old name. check-config prints them; Parse
	// logs them to Options.Logger.
	Warnings Errors
}

// Error is a problem in the configuration file, at a line when it has
// one.
type Error struct {
	Path string
	Line int // 0 when the problem has no line (the file cannot be read)
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

// Errors is every problem found in a file, in line order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Load reads and compiles the configuration file at path. Its error,
// when there are problems, is an Errors listing them all.
func Load(path string, opts Options) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Errors{{Path: path, Msg: fmt.Sprintf("cannot read the configuration file: %v", unwrapPath(err))}}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, Errors{{Path: path, Msg: fmt.Sprintf("cannot read the configuration file: %v", err)}}
	}
	if len(b) > MaxFileSize {
		return nil, Errors{{Path: path, Msg: fmt.Sprintf("larger than %d MiB: is this the right file?", MaxFileSize>>20)}}
	}
	return Parse(path, b, opts)
}

// Options are what loading needs beyond the file.
type Options struct {
	Logger *slog.Logger // for the lists' loading and the warnings; nil discards
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Parse compiles a configuration file's contents; path names it in
// errors.
func Parse(path string, b []byte, opts Options) (*Config, error) {
	var file File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var c compiler
	if err := dec.Decode(&file); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, yamlErrors(path, err) // not YAML: nothing more to check
		}
		// Unknown keys and wrong types: the rest decoded, and is
		// checked too, so that one run lists every problem.
		c.errs = yamlErrors(path, err)
	}
	var root yaml.Node
	_ = yaml.Unmarshal(b, &root) // it decoded above
	c.path, c.root = path, &root
	cfg := &Config{Path: path}
	cfg.Rules = c.rules(file.Rules)
	cfg.Types = c.attackTypes(file.AttackTypes)
	cfg.Groups = c.groups(file.Groups)
	c.groupRefs(&file, cfg.Groups)
	cfg.Blocklists = c.blocklists(file.Blocklists, opts.Logger)
	if file.Evidence != nil {
		if file.Evidence.Dir != "" && !filepath.IsAbs(file.Evidence.Dir) {
			file.Evidence.Dir = filepath.Join(filepath.Dir(path), file.Evidence.Dir)
		}
		if err := file.Evidence.Validate(); err != nil {
			c.errorf([]any{"evidence"}, "%v", err)
		} else {
			cfg.Evidence = file.Evidence
		}
	}
	if file.IPFIX != nil {
		if err := file.IPFIX.Validate(); err != nil {
			c.errorf([]any{"ipfix"}, "%v", err)
		} else {
			cfg.IPFIX = file.IPFIX
		}
	}
	if file.Syslog != nil {
		if err := file.Syslog.Validate(); err != nil {
			c.errorf([]any{"syslog"}, "%v", err)
		} else {
			cfg.Syslog = file.Syslog
		}
	}
	if len(c.errs) > 0 {
		slices.SortStableFunc(c.errs, func(a, b *Error) int { return a.Line - b.Line })
		return nil, c.errs
	}
	cfg.Warnings = c.warns
	if opts.Logger != nil {
		for _, w := range c.warns {
			opts.Logger.Warn("configuration file", "warning", w.Error())
		}
	}
	return cfg, nil
}

var (
	yamlLineRE  = regexp.MustCompile(`^line (\d+): (.*)$`)
	yamlFieldRE = regexp.MustCompile(`^field (\S+) not found in type (\w+\.\w+)$`)
)

// yamlErrors turns the YAML decoder's errors into ones naming the file
// and line in words a user can act on.
func yamlErrors(path string, err error) Errors {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
			n, _ := strconv.Atoi(m[1])
			return Errors{{Path: path, Line: n, Msg: m[2]}}
		}
		return Errors{{Path: path, Msg: msg}}
	}
	var es Errors
	for _, e := range te.Errors {
		m := yamlLineRE.FindStringSubmatch(e)
		if m == nil {
			es = append(es, &Error{Path: path, Msg: e})
			continue
		}
		n, _ := strconv.Atoi(m[1])
		msg := m[2]
		if f := yamlFieldRE.FindStringSubmatch(msg); f != nil {
			msg = fmt.Sprintf("unknown key %q in %s", f[1], sectionNames[f[2]])
		}
		es = append(es, &Error{Path: path, Line: n, Msg: msg})
	}
	return es
}

// sectionNames names the file's types in errors.
var sectionNames = map[string]string{
	"config.File":           "the top level (known: groups, rules, attack_types, blocklists, syslog, evidence, ipfix)",
	"config.AttackTypeFile": "an attack type (known: disabled, floor_factor, interfaces, groups)",
	"config.GroupFile":      "a host group (known: name, cidrs)",
	"ipfix.Config":          "ipfix (known: address, transport, mtu, template_refresh, observation_domain, queue_size)",
	"config.Rule":           "a rule (known: name, expr, for_windows, severity, interfaces, groups, recommendation, allowlist)",
	"config.BlocklistFile":  "a blocklist (known: name, path)",
	"siem.Config":           "syslog (known: address, transport, facility, hostname, max_message_bytes, queue_size, timeout, max_backoff, tls)",
	"siem.TLSConfig":        "syslog.tls (known: ca_file, cert_file, key_file, server_name)",
	"evidence.Config":       "evidence (known: dir, snaplen, ring_bytes, before, max_packets, max_bytes, max_duration, max_files_open, total_bytes)",
}

// compiler checks a decoded file and finds the lines of what it
// reports.
type compiler struct {
	path  string
	root  *yaml.Node
	errs  Errors
	warns Errors
}

// errorf records a problem at the node path leads to (keys and sequence
// indexes from the top), or at the nearest ancestor there is.
func (c *compiler) errorf(path []any, format string, args ...any) {
	c.errs = append(c.errs, &Error{Path: c.path, Line: c.line(path), Msg: fmt.Sprintf(format, args...)})
}

// warnf records what loads but should be rewritten, as errorf does.
func (c *compiler) warnf(path []any, format string, args ...any) {
	c.warns = append(c.warns, &Error{Path: c.path, Line: c.line(path), Msg: fmt.Sprintf(format, args...)})
}

func (c *compiler) line(path []any) int {
	n := c.root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, step := range path {
		var next *yaml.Node
		switch s := step.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == s {
						line, next = n.Content[i].Line, n.Content[i+1]
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && s < len(n.Content) {
				next = n.Content[s]
				line = next.Line
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return line
}

func (c *compiler) rules(rs []Rule) []detector.UserRule {
	if len(rs) > detector.MaxUserRules {
		c.errorf([]any{"rules"}, "%d rules: at most %d (each is a value of the type label)", len(rs), detector.MaxUserRules)
		return nil
	}
	var out []detector.UserRule
	seen := map[string]bool{}
	for i, r := range rs {
		at := func(key string) []any { return []any{"rules", i, key} }
		ok := true
		bad := func(key, format string, args ...any) {
			c.errorf(at(key), format, args...)
			ok = false
		}
		switch {
		case r.Name == "":
			bad("", "rule %d has no name", i+1)
		case !detector.ValidRuleName(r.Name):
			bad("name", "rule name %q: use lower case letters, digits, _ and -, at most 40 characters (its attack type is rule:NAME)", r.Name)
		case seen[r.Name]:
			bad("name", "rule name %q used twice", r.Name)
		}
		seen[r.Name] = true
		u := detector.UserRule{Name: r.Name, Expr: r.Expr, For: r.ForWindows, Interfaces: r.Interfaces, Groups: r.Groups, Recommendation: r.Recommendation, Severity: 2}
		var err error
		if r.Expr == "" {
			bad("", "rule %q has no expr", r.Name)
		} else if u.Feature, u.Mode, u.Op, u.Value, err = detector.ParseRuleExpr(r.Expr); err != nil {
			bad("expr", "rule %q: %v", r.Name, err)
		} else if old, expr := detector.RenamedRuleFeature(r.Expr); old != "" {
			// The old name still works; the series, alerts and events
			// show the one current name.
			c.warnf(at("expr"), "rule %q: feature %s is now called %s: write %q", r.Name, old, features.Schema[u.Feature].Name, expr)
			u.Expr = expr
		}
		switch {
		case r.ForWindows == 0:
			u.For = 1
		case r.ForWindows < 0 || r.ForWindows > 1000:
			bad("for_windows", "rule %q: for_windows %d: use 1 to 1000 windows", r.Name, r.ForWindows)
		}
		switch r.Severity {
		case "", "medium":
		case "high":
			u.Severity = 3
		default:
			bad("severity", "rule %q: severity %q: use high or medium", r.Name, r.Severity)
		}
		if u.Recommendation == "" {
			u.Recommendation = fmt.Sprintf("Rule %s fired (%s): check the named sources and targets.", r.Name, u.Expr)
		}
		for j, s := range r.Interfaces {
			if s == "" {
				bad("interfaces", "rule %q: interface %d is empty", r.Name, j+1)
			}
		}
		for j, s := range r.Allowlist {
			p, err := parsePrefix(s)
			if err != nil {
				c.errorf([]any{"rules", i, "allowlist", j}, "rule %q: allowlist entry %q: use an address or a CIDR (10.0.0.0/8, 2001:db8::/32)", r.Name, s)
				ok = false
				continue
			}
			u.Allow = append(u.Allow, p)
		}
		if ok {
			out = append(out, u)
		}
	}
	return out
}

// groups checks the host groups and builds their table.
func (c *compiler) groups(gs []GroupFile) *pipeline.GroupTable {
	if len(gs) == 0 {
		return nil
	}
	if len(gs) > pipeline.MaxGroups {
		c.errorf([]any{"groups"}, "%d host groups: at most %d (each multiplies the window and detector series)", len(gs), pipeline.MaxGroups)
		return nil
	}
	var names []string
	var prefixes [][]netip.Prefix
	ok := true
	for i, g := range gs {
		switch {
		case !detector.ValidRuleName(g.Name):
			c.errorf([]any{"groups", i, "name"}, "group name %q: use lower case letters, digits, _ and -, at most 40 characters (it labels series)", g.Name)
			ok = false
		case g.Name == pipeline.OtherGroup:
			c.errorf([]any{"groups", i, "name"}, "group name %q is the group of the hosts in no group: choose another", g.Name)
			ok = false
		case slices.Contains(names, g.Name):
			c.errorf([]any{"groups", i, "name"}, "group name %q used twice", g.Name)
			ok = false
		}
		if len(g.CIDRs) == 0 {
			c.errorf([]any{"groups", i}, "group %q has no cidrs", g.Name)
			ok = false
		}
		var ps []netip.Prefix
		for j, s := range g.CIDRs {
			p, err := parsePrefix(s)
			if err != nil {
				c.errorf([]any{"groups", i, "cidrs", j}, "group %q: %q is not an address or a CIDR (10.1.0.0/16, 2001:db8::/48)", g.Name, s)
				ok = false
				continue
			}
			ps = append(ps, p)
		}
		names, prefixes = append(names, g.Name), append(prefixes, ps)
	}
	if !ok {
		return nil
	}
	t, err := pipeline.NewGroupTable(names, prefixes)
	if err != nil {
		c.errorf([]any{"groups"}, "%v", err)
		return nil
	}
	return t
}

// groupRefs checks that the groups rules and attack types name exist.
func (c *compiler) groupRefs(file *File, t *pipeline.GroupTable) {
	var names []string
	if t != nil {
		names = t.Names()
	}
	check := func(path []any, groups []string) {
		for j, g := range groups {
			if !slices.Contains(names, g) {
				known := "none: add a groups section"
				if len(names) > 0 {
					known = strings.Join(names, ", ")
				}
				c.errorf(append(path, "groups", j), "unknown group %q (groups: %s)", g, known)
			}
		}
	}
	for i, r := range file.Rules {
		check([]any{"rules", i}, r.Groups)
	}
	for name, a := range file.AttackTypes {
		check([]any{"attack_types", name}, a.Groups)
	}
}

// attackTypes checks the changes to built-in types.
func (c *compiler) attackTypes(types map[string]AttackTypeFile) map[string]detector.TypeSetting {
	out := map[string]detector.TypeSetting{}
	for name, t := range types {
		if detector.Type(name) == nil || strings.HasPrefix(name, detector.UserRulePrefix) {
			c.errorf([]any{"attack_types", name}, "unknown attack type %q: the built-in types are %s", name, strings.Join(detector.AttackTypes, ", "))
			continue
		}
		st := detector.TypeSetting{Where: detector.Where{Interfaces: t.Interfaces, Groups: t.Groups}, Disabled: t.Disabled, FloorFactor: t.FloorFactor}
		switch {
		case t.FloorFactor != 0 && (t.FloorFactor < 0.1 || t.FloorFactor > 100 || math.IsNaN(t.FloorFactor)):
			c.errorf([]any{"attack_types", name, "floor_factor"}, "attack type %q: floor_factor %g: use 0.1 to 100 (2 doubles the floors)", name, t.FloorFactor)
		case t.FloorFactor != 0 && !detector.Type(name).Floors:
			c.errorf([]any{"attack_types", name, "floor_factor"}, "attack type %q has no absolute floor to scale (it is judged against the trained baseline or a fixed count of claims): turn it off instead", name)
		case t.FloorFactor != 0 && t.Disabled:
			c.errorf([]any{"attack_types", name}, "attack type %q: disabled and floor_factor together: choose one", name)
		case t.FloorFactor == 0 && !t.Disabled && len(t.Interfaces)+len(t.Groups) > 0:
			c.errorf([]any{"attack_types", name}, "attack type %q: interfaces or groups without disabled: true or a floor_factor say nothing", name)
		case t.FloorFactor == 0 && !t.Disabled:
			// disabled: false alone: the type as built.
		default:
			out[name] = st
		}
	}
	return out
}

// blocklists loads the lists: a file that cannot be read or has a line
// that is not an address is an error at its path's line.
func (c *compiler) blocklists(files []BlocklistFile, logger *slog.Logger) *blocklist.Blocklists {
	if len(files) == 0 {
		return nil
	}
	lists := make([]blocklist.List, len(files))
	for i, f := range files {
		lists[i] = blocklist.List{Name: f.Name, Path: f.Path}
		if !detector.ValidRuleName(f.Name) {
			c.errorf([]any{"blocklists", i, "name"}, "blocklist name %q: use lower case letters, digits, _ and -, at most 40 characters (it labels metrics)", f.Name)
			return nil
		}
		if f.Path != "" && !filepath.IsAbs(f.Path) {
			lists[i].Path = filepath.Join(filepath.Dir(c.path), f.Path)
		}
	}
	b, err := blocklist.New(lists, blocklist.Options{Logger: logger})
	if err != nil {
		c.errorf([]any{"blocklists"}, "%v", err)
		return nil
	}
	if err := b.Reload(); err != nil {
		for i, st := range b.Status().Lists {
			if st.Err != nil {
				c.errorf([]any{"blocklists", i, "path"}, "%v", st.Err)
			}
		}
		return nil
	}
	return b
}

// parsePrefix reads an address or a CIDR; an IPv4 one as IPv4, masked.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return p.Masked(), nil
}
