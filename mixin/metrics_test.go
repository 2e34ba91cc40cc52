package mixin

import (
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/netanomaly/netanomaly_exporter/internal/geoip/geoiptest"
	"github.com/netanomaly/netanomaly_exporter/internal/stacktest"
)

// detectorMetrics are the detector's metrics, which rules and dashboards
// already use while the detector is being written. The detector issue makes
// them real: from then on the exporter's replay output has them and
// TestMetricNamesExist checks them there (it logs the ones still missing);
// delete this list once they are all real.
var detectorMetrics = []string{
	"netanomaly_anomaly_score",
	"netanomaly_anomaly_threshold",
	"netanomaly_model_score",
	"netanomaly_anomalous",
	"netanomaly_threat_level",
	"netanomaly_confidence",
	"netanomaly_attack",
	"netanomaly_attack_confidence",
	"netanomaly_attacks_total",
	"netanomaly_anomalies_total",
	"netanomaly_explanation_zscore",
	"netanomaly_explanation_value",
	"netanomaly_explanation_expected_low",
	"netanomaly_explanation_expected_high",
	"netanomaly_attack_source_info",
	// Only while an attack is in progress: with an evidence capture,
	// with named sources in a country database, with opt-in paths.
	"netanomaly_attack_evidence_info",
	"netanomaly_attack_source_country_info",
	"netanomaly_attack_path_info",
	// Only while flows are open at a window's close (the replay's last
	// window has none); test/stack sees it.
	"netanomaly_top_pair_packets",
	"netanomaly_detector_trained",
	"netanomaly_detector_warmup_progress",
	"netanomaly_detector_training_windows",
	"netanomaly_detector_last_train_timestamp_seconds",
	"netanomaly_detector_retrains_total",
	"netanomaly_detector_model_load_success",
	"netanomaly_detector_scoring_seconds_total",
}

// internalMetric matches series that Prometheus itself makes or scrapes
// from itself and Alertmanager.
var internalMetric = regexp.MustCompile(`^(ALERTS|ALERTS_FOR_STATE|up|scrape_.+|prometheus_.+|alertmanager_.+)$`)

var (
	exporterOnce    sync.Once
	exporterMetrics map[string]bool
	exporterErr     string
)

// exporterMetricNames returns the metric names of a replay of the bundled
// FTP brute-force capture with the top-k series on and the example
// configuration's user rules: the exporter's real output.
func exporterMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	bin := stacktest.BuildExporter(t)
	exporterOnce.Do(func() {
		cmd := exec.Command(bin, "replay", "--capture.pcap=cmd/netanomaly_exporter/testdata/ftp_bruteforce.pcap", "--features.top-k=3",
			"--config.file=examples/netanomaly.yml",
			"--geoip.database="+geoiptest.CountryFile(t, t.TempDir(), map[string]string{"192.168.56.0/24": "NL"}))
		cmd.Dir = stacktest.RepoRoot(t)
		out, err := cmd.Output()
		if err != nil {
			exporterErr = "replay: " + err.Error()
			return
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(strings.NewReader(string(out)))
		if err != nil {
			exporterErr = "parse the replay output: " + err.Error()
			return
		}
		exporterMetrics = map[string]bool{}
		for name, mf := range families {
			exporterMetrics[name] = true
			if mf.GetType().String() == "HISTOGRAM" || mf.GetType().String() == "SUMMARY" {
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					exporterMetrics[name+suffix] = true
				}
			}
		}
	})
	if exporterErr != "" {
		t.Fatal(exporterErr)
	}
	return exporterMetrics
}

var (
	stringLit   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	braces      = regexp.MustCompile(`\{[^}]*\}`)
	brackets    = regexp.MustCompile(`\[[^\]]*\]`)
	grouping    = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	identifier  = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	promqlWords = map[string]bool{
		"and": true, "or": true, "unless": true, "by": true, "without": true, "on": true, "ignoring": true,
		"group_left": true, "group_right": true, "offset": true, "bool": true, "atan2": true,
		"inf": true, "Inf": true, "nan": true, "NaN": true,
	}
)

// metricNames returns the metric names a PromQL expression selects: every
// identifier left once strings, label matchers, ranges and grouping
// clauses are removed, that is not a keyword, a function or part of a
// number. A small lexer rather than the PromQL parser, whose module the
// project does not depend on; promtool checks that the expression parses.
func metricNames(expr string) []string {
	s := stringLit.ReplaceAllString(expr, `""`)
	s = braces.ReplaceAllString(s, "{}")
	s = brackets.ReplaceAllString(s, "[]")
	s = grouping.ReplaceAllString(s, " ")
	var names []string
	for _, loc := range identifier.FindAllStringIndex(s, -1) {
		word := s[loc[0]:loc[1]]
		if loc[0] > 0 && strings.ContainsAny(s[loc[0]-1:loc[0]], "0123456789.") {
			continue // 5m, 1e-6
		}
		if promqlWords[word] {
			continue
		}
		if rest := strings.TrimLeft(s[loc[1]:], " \t\n"); strings.HasPrefix(rest, "(") {
			continue // function or aggregation
		}
		names = append(names, word)
	}
	return names
}

// templateQuery finds the metrics that alert annotations query.
var templateQuery = regexp.MustCompile(`printf "([A-Za-z_:][A-Za-z0-9_:]*)\{`)

func TestMetricNamesLexer(t *testing.T) {
	for expr, want := range map[string]string{
		`sum by (job, instance) (rate(netanomaly_packets_total{protocol=~"tcp|udp"}[5m]))`:                         "netanomaly_packets_total",
		`a:b:rate5m / on (instance) group_left (version) netanomaly_build_info > 0.001`:                            "a:b:rate5m netanomaly_build_info",
		`time() - x > 24 * 3600 and on (job) y == 1`:                                                               "x y",
		`round(interface:r:rate5m, 1e-6)`:                                                                          "interface:r:rate5m",
		`count by (instance) ({__name__=~"netanomaly_.+", instance=~"$instance"}) or vector(0)`:                    "",
		`histogram_quantile(0.9, sum by (le) (rate(netanomaly_packet_size_bytes_bucket[1m]))) offset 5m`:           "netanomaly_packet_size_bytes_bucket",
		`max without (type) (netanomaly_attack{type="port_scan"}) == 1 unless ignoring (x) ALERTS{a="b(c)"}`:       "netanomaly_attack ALERTS",
		`sum by (protocol) (avg_over_time(interface_protocol:netanomaly_bytes:rate1m{instance=~"$instance"}[1h]))`: "interface_protocol:netanomaly_bytes:rate1m",
	} {
		if got := strings.Join(metricNames(expr), " "); got != want {
			t.Errorf("metricNames(%s) = %q, want %q", expr, got, want)
		}
	}
}

// usedMetrics returns every metric name the rules (expressions and
// annotation queries) and the dashboards use, with where.
func usedMetrics(t *testing.T) map[string][]string {
	t.Helper()
	used := map[string][]string{}
	add := func(where string, names ...string) {
		for _, n := range names {
			used[n] = append(used[n], where)
		}
	}
	for _, r := range allRules(t) {
		add(r.String(), metricNames(r.Expr)...)
		for _, text := range r.Annotations {
			for _, m := range templateQuery.FindAllStringSubmatch(text, -1) {
				add(r.String()+" annotations", m[1])
			}
		}
	}
	for _, q := range dashboardQueries(t) {
		add(q.Where, metricNames(q.Expr)...)
	}
	return used
}

// TestMetricNamesExist checks that every metric a rule or a dashboard uses
// exists: in the exporter's real output, in detectorMetrics until the
// detector is merged, as a recording rule, or as a Prometheus internal.
func TestMetricNamesExist(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the exporter")
	}
	real := exporterMetricNames(t)
	known := map[string]string{}
	for n := range real {
		known[n] = "exporter"
	}
	var pending []string
	for _, n := range detectorMetrics {
		if !real[n] {
			known[n] = "detector (pending)"
			pending = append(pending, n)
		}
	}
	for _, r := range allRules(t) {
		if r.Record != "" {
			known[r.Record] = "recording rule"
		}
	}
	used := usedMetrics(t)
	var names []string
	for n := range used {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if known[n] == "" && !internalMetric.MatchString(n) {
			t.Errorf("%s does not exist (not in the exporter's output, detectorMetrics or a recording rule); used by %s", n, strings.Join(used[n], ", "))
		}
	}
	if len(pending) > 0 {
		t.Logf("detector metrics not in the exporter's output yet (allowed by detectorMetrics): %s", strings.Join(pending, " "))
	}
	// Every recording rule reads a metric that exists too.
	for _, r := range allRules(t) {
		if r.Record == "" {
			continue
		}
		for _, n := range metricNames(r.Expr) {
			if known[n] == "" {
				t.Errorf("recording rule %s reads %s, which does not exist", r, n)
			}
		}
	}
}
