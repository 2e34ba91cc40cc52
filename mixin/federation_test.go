package mixin

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"

	"github.com/netanomaly/netanomaly_exporter/internal/stacktest"
)

const (
	federationConfig = "prometheus/federation/prometheus.yml"
	fleetRulesGlob   = "prometheus/federation/rules/*.yml"
)

// fleetRules returns every rule of prometheus/federation/rules.
func fleetRules(t *testing.T) []located {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(stacktest.RepoRoot(t), fleetRulesGlob))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no rule files in %s (%v)", fleetRulesGlob, err)
	}
	var rules []located
	for _, p := range paths {
		rel, _ := filepath.Rel(stacktest.RepoRoot(t), p)
		var f ruleFile
		readYAML(t, rel, &f)
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				rules = append(rules, located{rel, g.Name, r})
			}
		}
	}
	return rules
}

// TestFederationConfig checks the global Prometheus configuration with
// promtool, as shipped and with its commented remote_write example
// uncommented.
func TestFederationConfig(t *testing.T) {
	promtool := stacktest.NeedTool(t, "promtool")
	dir := filepath.Join(stacktest.RepoRoot(t), "prometheus/federation")
	out := stacktest.Run(t, dir, promtool, "check", "config", "prometheus.yml")
	if !strings.Contains(out, "netanomaly-fleet.yml") {
		t.Errorf("promtool check config did not check the fleet rules:\n%s", out)
	}

	data, err := os.ReadFile(filepath.Join(stacktest.RepoRoot(t), federationConfig))
	if err != nil {
		t.Fatal(err)
	}
	rw := uncommentedRemoteWrite(t, string(data))
	// Absolute rule paths: the copy is checked from a temporary folder.
	withRW := strings.Replace(string(data), "  - rules/*.yml", "  - "+filepath.Join(dir, "rules/*.yml"), 1) + "\n" + rw
	path := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(path, []byte(withRW), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Log(stacktest.Run(t, "", promtool, "check", "config", path))

	var doc struct {
		RemoteWrite []struct {
			URL                 string            `yaml:"url"`
			Headers             map[string]string `yaml:"headers"`
			WriteRelabelConfigs []struct {
				SourceLabels []string `yaml:"source_labels"`
				Regex        string   `yaml:"regex"`
				Action       string   `yaml:"action"`
			} `yaml:"write_relabel_configs"`
		} `yaml:"remote_write"`
	}
	if err := yaml.Unmarshal([]byte(rw), &doc); err != nil {
		t.Fatal(err)
	}
	receivers := map[string]bool{}
	for _, r := range doc.RemoteWrite {
		switch {
		case strings.HasSuffix(r.URL, "/api/v1/receive"):
			receivers["Thanos Receive"] = true
		case strings.HasSuffix(r.URL, "/api/v1/push") && r.Headers["X-Scope-OrgID"] != "":
			receivers["Mimir"] = true
		}
		// What is written is what the fleet reads.
		var keep *regexp.Regexp
		for _, wr := range r.WriteRelabelConfigs {
			if wr.Action == "keep" && strings.Join(wr.SourceLabels, ",") == "__name__" {
				keep = regexp.MustCompile("^(?:" + wr.Regex + ")$")
			}
		}
		if keep == nil {
			t.Errorf("remote_write %s: no keep of the series the fleet reads", r.URL)
			continue
		}
		for name, where := range fleetReads(t) {
			if !keep.MatchString(name) {
				t.Errorf("remote_write %s does not write %s, which %s reads", r.URL, name, where)
			}
		}
	}
	if !receivers["Thanos Receive"] || !receivers["Mimir"] {
		t.Errorf("remote_write example: want a Thanos Receive and a Mimir (with X-Scope-OrgID) receiver, got %v", receivers)
	}
}

// uncommentedRemoteWrite returns the commented remote_write example at the
// end of the federation config, uncommented: from the "# remote_write:"
// line, every following "# " line.
func uncommentedRemoteWrite(t *testing.T, config string) string {
	t.Helper()
	var out []string
	in := false
	for _, line := range strings.Split(config, "\n") {
		if line == "# remote_write:" {
			in = true
		}
		if !in {
			continue
		}
		rest, ok := strings.CutPrefix(line, "# ")
		if !ok {
			break
		}
		out = append(out, rest)
	}
	if len(out) < 2 {
		t.Fatalf("%s: no commented remote_write example", federationConfig)
	}
	return strings.Join(out, "\n") + "\n"
}

// federationMatchers returns the metric-name patterns of the federation
// job's match[] selectors.
func federationMatchers(t *testing.T) []*regexp.Regexp {
	t.Helper()
	doc := stacktest.ReadRepoYAML(t, federationConfig)
	var out []*regexp.Regexp
	nameRe := regexp.MustCompile(`__name__(=~?)"([^"]+)"`)
	for _, sc := range stacktest.YAMLList(t, doc["scrape_configs"], "scrape_configs") {
		sc := stacktest.YAMLMap(t, sc, "scrape_configs")
		if sc["metrics_path"] != "/federate" {
			continue
		}
		if sc["honor_labels"] != true {
			t.Errorf("%s: federation job %v without honor_labels: the sites' job and instance labels would be renamed", federationConfig, sc["job_name"])
		}
		params := stacktest.YAMLMap(t, sc["params"], "params")
		for _, sel := range stacktest.YAMLList(t, params["match[]"], "match[]") {
			m := nameRe.FindStringSubmatch(sel.(string))
			if m == nil {
				t.Fatalf("%s: match[] %q has no __name__ matcher", federationConfig, sel)
			}
			pat := regexp.QuoteMeta(m[2])
			if m[1] == "=~" {
				pat = m[2]
			}
			out = append(out, regexp.MustCompile("^(?:"+pat+")$"))
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no /federate job with match[] selectors", federationConfig)
	}
	return out
}

// fleetReads returns the metrics that the global Prometheus needs from the
// sites: those the fleet rules and the fleet dashboard read, less what the
// fleet rules record themselves.
func fleetReads(t *testing.T) map[string]string {
	t.Helper()
	recorded := map[string]bool{}
	rules := fleetRules(t)
	for _, r := range rules {
		recorded[r.Record] = true
	}
	reads := map[string]string{}
	for _, r := range rules {
		for _, n := range metricNames(r.Expr) {
			if !recorded[n] {
				reads[n] = r.String()
			}
		}
	}
	for _, q := range dashboardQueries(t) {
		if strings.HasPrefix(q.Where, "fleet.json ") {
			for _, n := range metricNames(q.Expr) {
				reads[n] = q.Where
			}
		}
	}
	return reads
}

// TestFleetRules checks the fleet recording rules: named level:metric:
// operation with the level naming exactly the labels kept (sensor standing
// for site, job and instance), reading only series that exist at the sites
// and that federation brings, each with a promtool test.
func TestFleetRules(t *testing.T) {
	rules := fleetRules(t)
	byClause := regexp.MustCompile(`^(?:sum|min|max|count|avg) by \(([a-z_, ]+)\)`)
	for _, r := range rules {
		if r.Alert != "" {
			t.Errorf("%s: an alert in the fleet rules; alerts stay with each site's Prometheus and Alertmanager", r)
			continue
		}
		m := recordName.FindStringSubmatch(r.Record)
		if m == nil {
			t.Errorf("%s: not named level:netanomaly_metric:operation", r)
			continue
		}
		var kept []string
		for _, part := range strings.Split(m[1], "_") {
			if part == "sensor" {
				kept = append(kept, "site", "job", "instance")
			} else {
				kept = append(kept, part)
			}
		}
		b := byClause.FindStringSubmatch(r.Expr)
		if b == nil {
			t.Errorf("%s: does not start with an aggregation by the level's labels (%s)", r, strings.Join(kept, ", "))
		} else if b[1] != strings.Join(kept, ", ") {
			t.Errorf("%s: aggregates by (%s), the level %s keeps (%s)", r, b[1], m[1], strings.Join(kept, ", "))
		}
	}

	// What the fleet reads exists at the sites and is federated.
	federated := federationMatchers(t)
	siteRecords := map[string]bool{}
	for _, r := range allRules(t) {
		if r.Record != "" {
			siteRecords[r.Record] = true
		}
	}
	var exported map[string]bool
	if !testing.Short() {
		exported = exporterMetricNames(t)
	}
	reads := fleetReads(t)
	names := make([]string, 0, len(reads))
	for n := range reads {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if exported != nil && !exported[n] && !siteRecords[n] && !internalMetric.MatchString(n) {
			t.Errorf("%s reads %s, which no sensor exports and no site records", reads[n], n)
		}
		ok := false
		for _, re := range federated {
			ok = ok || re.MatchString(n)
		}
		if !ok {
			t.Errorf("%s reads %s, which %s does not federate (match[])", reads[n], n, federationConfig)
		}
	}

	// Every fleet rule has a promtool test, in a file that
	// TestPromtoolTestRules runs.
	exprs := ""
	loaded := false
	paths, _ := filepath.Glob(filepath.Join(stacktest.RepoRoot(t), "prometheus/tests/*.yml"))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var f promTestFile
		if err := yaml.Unmarshal(data, &f); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, rf := range f.RuleFiles {
			loaded = loaded || strings.HasPrefix(rf, "../federation/rules/")
		}
		for _, g := range f.Tests {
			for _, e := range g.PromqlExprTests {
				exprs += e.Expr + "\n"
			}
		}
	}
	if !loaded {
		t.Error("no promtool test file in prometheus/tests loads prometheus/federation/rules")
	}
	for _, r := range rules {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(r.Record) + `$`).MatchString(exprs) {
			t.Errorf("%s: no promql_expr_test", r)
		}
	}
}
