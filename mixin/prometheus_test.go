package mixin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v2"

	"github.com/netanomaly/netanomaly_exporter/internal/stacktest"
)

func TestPromtoolCheckConfig(t *testing.T) {
	promtool := stacktest.NeedTool(t, "promtool")
	// Run from prometheus/: rule_files are relative to the config file.
	out := stacktest.Run(t, filepath.Join(stacktest.RepoRoot(t), "prometheus"), promtool, "check", "config", "prometheus.yml")
	for _, f := range []string{"netanomaly-recording.yml", "netanomaly-detection.yml", "netanomaly-health.yml"} {
		if !strings.Contains(out, f) {
			t.Errorf("promtool check config did not check %s:\n%s", f, out)
		}
	}
}

func TestPromtoolCheckRules(t *testing.T) {
	promtool := stacktest.NeedTool(t, "promtool")
	files, _ := filepath.Glob(filepath.Join(stacktest.RepoRoot(t), "prometheus/rules/*.yml"))
	t.Log(stacktest.Run(t, stacktest.RepoRoot(t), promtool, append([]string{"check", "rules"}, files...)...))
}

// TestPromtoolTestRules runs the promtool unit tests of every alert and
// recording rule.
func TestPromtoolTestRules(t *testing.T) {
	promtool := stacktest.NeedTool(t, "promtool")
	dir := filepath.Join(stacktest.RepoRoot(t), "prometheus")
	files, _ := filepath.Glob(filepath.Join(dir, "tests/*.yml"))
	if len(files) == 0 {
		t.Fatal("no promtool tests in prometheus/tests")
	}
	for i, f := range files {
		files[i], _ = filepath.Rel(dir, f)
	}
	t.Log(stacktest.Run(t, dir, promtool, append([]string{"test", "rules"}, files...)...))
}

var (
	recordName = regexp.MustCompile(`^([a-z]+(?:_[a-z]+)*):(netanomaly_[a-z0-9_]+):([a-z0-9_]+)$`)
	alertName  = regexp.MustCompile(`^NetAnomaly[A-Z][A-Za-z]+$`)
	uidInURL   = regexp.MustCompile(`/d/([a-z0-9-]+)\?`)
)

// TestRuleConventions checks the node-mixin and kubernetes-mixin
// conventions and this stack's own: recording rules named
// level:metric:operation keeping job and instance; alerts in CamelCase with
// for:, severity, summary, description, recommendation, runbook_url and
// dashboard_url; one rule per attack type and severity.
func TestRuleConventions(t *testing.T) {
	attackTypes := map[string]bool{"unknown": true}
	for _, a := range AttackTypes {
		attackTypes[a.Type] = true
	}
	uids := map[string]bool{OverviewUID: true, DetectorUID: true, CaptureUID: true}
	severities := map[string]map[string]bool{} // alert -> severities
	records := map[string]bool{}
	for _, r := range allRules(t) {
		if r.Record != "" {
			if records[r.Record] {
				t.Errorf("%s: recorded twice", r)
			}
			records[r.Record] = true
			m := recordName.FindStringSubmatch(r.Record)
			if m == nil {
				t.Errorf("%s: not named level:netanomaly_metric:operation", r)
				continue
			}
			// The level names the labels kept below the sensor; by () keeps
			// them plus job and instance.
			kept := "job, instance, " + strings.ReplaceAll(m[1], "_", ", ")
			if strings.HasPrefix(r.Expr, "sum by") && !strings.HasPrefix(r.Expr, "sum by ("+kept+")") {
				t.Errorf("%s: aggregates by something else than (%s)", r, kept)
			}
			continue
		}
		if !alertName.MatchString(r.Alert) {
			t.Errorf("%s: alert name not NetAnomaly + CamelCase", r)
		}
		if r.For == "" {
			t.Errorf("%s: no for:", r)
		}
		sev := r.Labels["severity"]
		if sev != "warning" && sev != "critical" {
			t.Errorf("%s: severity %q, want warning or critical", r, sev)
		}
		if severities[r.Alert] == nil {
			severities[r.Alert] = map[string]bool{}
		}
		if severities[r.Alert][sev] {
			t.Errorf("%s: two rules with severity %s", r, sev)
		}
		severities[r.Alert][sev] = true
		for _, a := range []string{"summary", "description", "recommendation", "runbook_url", "dashboard_url"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("%s: no %s annotation", r, a)
			}
		}
		if want := RunbookBase + strings.ToLower(r.Alert); r.Annotations["runbook_url"] != want {
			t.Errorf("%s: runbook_url %q, want %q", r, r.Annotations["runbook_url"], want)
		}
		dash := strings.ReplaceAll(r.Annotations["dashboard_url"], "\n", " ")
		if !strings.HasPrefix(dash, "{{ $externalLabels.grafana_url }}/d/") {
			t.Errorf("%s: dashboard_url does not start with the grafana_url external label: %q", r, dash)
		}
		if m := uidInURL.FindStringSubmatch(dash); m == nil || !uids[m[1]] {
			t.Errorf("%s: dashboard_url links to no known dashboard uid: %q", r, dash)
		}
		if at, ok := r.Labels["attack_type"]; ok {
			if !attackTypes[at] && !(r.Alert == UserRuleAlert && at == "{{ $labels.type }}") {
				t.Errorf("%s: attack_type %q is not a type of netanomaly_attack", r, at)
			}
			for _, a := range []string{"threat_level", "confidence", "score", "top_features", "top_sources"} {
				if r.Annotations[a] == "" {
					t.Errorf("%s: detection alert without %s annotation", r, a)
				}
			}
			if at != "unknown" {
				if d, err := time.ParseDuration(r.For); err != nil || d > 10*time.Second {
					t.Errorf("%s: for: %s; attack alerts must fire within seconds (at most 10s)", r, r.For)
				}
			}
		}
	}
	// Every detection alert has its critical twin; every attack type has an alert.
	for _, r := range allRules(t) {
		if _, ok := r.Labels["attack_type"]; ok && !(severities[r.Alert]["warning"] && severities[r.Alert]["critical"]) {
			t.Errorf("%s: detection alert without both a warning and a critical rule", r)
		}
	}
	for _, a := range AttackTypes {
		if len(severities[a.Alert]) != 2 {
			t.Errorf("attack type %s: no alert %s", a.Type, a.Alert)
		}
	}
	for _, name := range []string{"NetAnomalyDetected", "NetAnomalyCaptureDown", "NetAnomalyCaptureDropping",
		"NetAnomalyDecodeErrorSurge", "NetAnomalyExporterDown", "NetAnomalyModelUntrained", "NetAnomalyModelStale"} {
		if severities[name] == nil {
			t.Errorf("no alert %s", name)
		}
	}
}

// TestAlertsAreTested checks that the promtool tests cover every alert on
// both sides of its for: (an evaluation with no alert before one where it
// fires, in the same test group), with each of its severities, with every
// annotation checked; and every recording rule's value.
func TestAlertsAreTested(t *testing.T) {
	type coverage struct {
		quiet, firing bool
		severities    map[string]bool
	}
	cov := map[string]*coverage{}
	exprs := ""
	paths, _ := filepath.Glob(filepath.Join(stacktest.RepoRoot(t), "prometheus/tests/*.yml"))
	rulesByAlert := map[string]ruleEntry{}
	for _, r := range allRules(t) {
		if r.Alert != "" {
			rulesByAlert[r.Alert] = r.ruleEntry
		}
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var f promTestFile
		if err := yaml.Unmarshal(data, &f); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, g := range f.Tests {
			for _, e := range g.PromqlExprTests {
				exprs += e.Expr + "\n"
			}
			quietAt := map[string]time.Duration{}
			for _, a := range g.AlertRuleTests {
				c := cov[a.Alertname]
				if c == nil {
					c = &coverage{severities: map[string]bool{}}
					cov[a.Alertname] = c
				}
				at, err := time.ParseDuration(a.EvalTime)
				if err != nil {
					t.Fatalf("%s: eval_time %q: %v", p, a.EvalTime, err)
				}
				if len(a.ExpAlerts) == 0 {
					if _, seen := quietAt[a.Alertname]; !seen {
						quietAt[a.Alertname] = at
					}
					continue
				}
				if q, seen := quietAt[a.Alertname]; seen && q < at {
					c.quiet = true
				}
				c.firing = true
				for _, e := range a.ExpAlerts {
					c.severities[e.ExpLabels["severity"]] = true
					for name := range rulesByAlert[a.Alertname].Annotations {
						if _, ok := e.ExpAnnotations[name]; !ok {
							t.Errorf("%s, group %q, %s at %s: annotation %s not checked", filepath.Base(p), g.Name, a.Alertname, a.EvalTime, name)
						}
					}
				}
			}
		}
	}
	var names []string
	for name := range rulesByAlert {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := cov[name]
		switch {
		case c == nil || !c.firing:
			t.Errorf("%s: no promtool test where it fires", name)
		case !c.quiet:
			t.Errorf("%s: no promtool test where it does not fire yet before it fires", name)
		}
		for _, r := range allRules(t) {
			if r.Alert == name && c != nil && !c.severities[r.Labels["severity"]] {
				t.Errorf("%s: its %s rule never fires in a test", name, r.Labels["severity"])
			}
		}
	}
	for _, r := range allRules(t) {
		if r.Record != "" && !strings.Contains(exprs, r.Record) {
			t.Errorf("%s: no promql_expr_test", r)
		}
	}
}

var heading = regexp.MustCompile(`(?m)^#{2,3} (.+)$`)

// TestRunbook checks that every alert's runbook_url points to a section of
// prometheus/RUNBOOK.md, and that every NetAnomaly section is an alert.
func TestRunbook(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(stacktest.RepoRoot(t), "prometheus/RUNBOOK.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(string(data), -1) {
		anchors[githubAnchor(m[1])] = true
	}
	alerts := map[string]bool{}
	for _, r := range allRules(t) {
		if r.Alert == "" {
			continue
		}
		alerts[strings.ToLower(r.Alert)] = true
		anchor := strings.TrimPrefix(r.Annotations["runbook_url"], RunbookBase)
		if !anchors[anchor] {
			t.Errorf("%s: runbook_url anchor #%s is not a heading of RUNBOOK.md", r, anchor)
		}
	}
	for a := range anchors {
		if strings.HasPrefix(a, "netanomaly") && !alerts[a] {
			t.Errorf("RUNBOOK.md has a section #%s for no alert", a)
		}
	}
}

// githubAnchor is the anchor GitHub gives a Markdown heading.
func githubAnchor(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// getJSON fetches url and decodes its JSON body into v.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// TestPrometheusLoadsConfig starts a real Prometheus on the shipped
// configuration and checks that it loaded every rule and every target.
func TestPrometheusLoadsConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus")
	}
	url := stacktest.StartPrometheus(t, filepath.Join(stacktest.RepoRoot(t), "prometheus/prometheus.yml"))
	var rules struct {
		Data struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []struct {
					Name   string `json:"name"`
					Health string `json:"health"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	getJSON(t, url+"/api/v1/rules", &rules)
	loaded := 0
	for _, g := range rules.Data.Groups {
		loaded += len(g.Rules)
	}
	if want := len(allRules(t)); loaded != want {
		t.Errorf("Prometheus loaded %d rules, the rule files have %d", loaded, want)
	}
	var targets struct {
		Data struct {
			ActiveTargets []struct {
				ScrapePool string `json:"scrapePool"`
				ScrapeURL  string `json:"scrapeUrl"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	// Service discovery settles shortly after the start.
	var got []string
	for deadline := time.Now().Add(10 * time.Second); len(got) < 3 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		getJSON(t, url+"/api/v1/targets", &targets)
		got = got[:0]
		for _, tg := range targets.Data.ActiveTargets {
			got = append(got, fmt.Sprintf("%s %s", tg.ScrapePool, tg.ScrapeURL))
		}
	}
	sort.Strings(got)
	want := []string{
		"alertmanager http://alertmanager:9093/metrics",
		"netanomaly http://host.docker.internal:9957/metrics",
		"prometheus http://localhost:9090/metrics",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("targets:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
