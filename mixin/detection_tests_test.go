package mixin

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v2"
)

// promtool unit test file format (promtool test rules), as far as these
// tests write and read it.
type promTestFile struct {
	RuleFiles          []string        `yaml:"rule_files"`
	EvaluationInterval string          `yaml:"evaluation_interval"`
	GroupEvalOrder     []string        `yaml:"group_eval_order,omitempty"`
	Tests              []promTestGroup `yaml:"tests"`
}

type promTestGroup struct {
	Name            string            `yaml:"name"`
	Interval        string            `yaml:"interval"`
	ExternalLabels  map[string]string `yaml:"external_labels,omitempty"`
	InputSeries     []inputSeries     `yaml:"input_series"`
	AlertRuleTests  []alertTest       `yaml:"alert_rule_test,omitempty"`
	PromqlExprTests []struct {
		Expr string `yaml:"expr"`
	} `yaml:"promql_expr_test,omitempty"`
}

type inputSeries struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

type alertTest struct {
	EvalTime  string     `yaml:"eval_time"`
	Alertname string     `yaml:"alertname"`
	ExpAlerts []expAlert `yaml:"exp_alerts"`
}

type expAlert struct {
	ExpLabels      map[string]string `yaml:"exp_labels"`
	ExpAnnotations map[string]string `yaml:"exp_annotations,omitempty"`
}

// The sensor every generated test runs on.
const (
	testInstance = "sensor-1:9957"
	testIface    = "eth0"
	testGrafana  = "http://localhost:3000"
)

func series(metric string, labels ...string) string {
	l := []string{`job="netanomaly"`, fmt.Sprintf("instance=%q", testInstance), fmt.Sprintf("interface=%q", testIface)}
	for i := 0; i+1 < len(labels); i += 2 {
		l = append(l, fmt.Sprintf("%s=%q", labels[i], labels[i+1]))
	}
	return metric + "{" + strings.Join(l, ",") + "}"
}

// explanationSeries are the explanation series of four features, one per
// feature: the port fan-out and the half-open ratio far above their
// ranges, the packet rate below its range, and the destination ports, in
// the series since an earlier window but no longer among the top three.
// The annotations name the three largest by absolute z-score, largest
// first, with the sign.
func explanationSeries() []inputSeries {
	var out []inputSeries
	for _, f := range []struct{ feature, z, value, low, high string }{
		{"unique_destination_ports_per_window", "2.5", "40", "5", "60"},
		{"packets_per_second", "-4.2", "12", "150", "900"},
		{"tcp_half_open_ratio", "9.87", "0.95", "0", "0.2"},
		{"max_source_port_fanout_per_window", "25.14", "1234", "3", "12"},
	} {
		out = append(out,
			inputSeries{series("netanomaly_explanation_zscore", "feature", f.feature), f.z + "x30"},
			inputSeries{series("netanomaly_explanation_value", "feature", f.feature), f.value + "x30"},
			inputSeries{series("netanomaly_explanation_expected_low", "feature", f.feature), f.low + "x30"},
			inputSeries{series("netanomaly_explanation_expected_high", "feature", f.feature), f.high + "x30"},
		)
	}
	return out
}

const (
	wantTopFeatures  = "max_source_port_fanout_per_window = 1.234k (expected 3 to 12, z 25.1); tcp_half_open_ratio = 0.95 (expected 0 to 0.2, z 9.9); packets_per_second = 12 (expected 150 to 900, z -4.2)"
	wantFeatureNames = " Top features: max_source_port_fanout_per_window (z 25.1), tcp_half_open_ratio (z 9.9), packets_per_second (z -4.2)."
	wantScore        = "0.93 (threshold 0.70)"
	wantDashboard    = testGrafana + "/d/" + OverviewUID + "?var-instance=sensor-1%3A9957&var-interface=eth0"
)

func alertLabels(severity, attackType string) map[string]string {
	return map[string]string{
		"job": "netanomaly", "instance": testInstance, "interface": testIface,
		"severity": severity, "attack_type": attackType,
	}
}

// detectionTests returns prometheus/tests/detection_generated_test.yml: for
// NetAnomalyDetected and every attack alert, both sides of for:, both
// severities, every label and every annotation. The expected annotations
// are written out here independently of the templates in alerts.go, so a
// template that renders wrong fails promtool.
func detectionTests() []byte {
	f := promTestFile{
		RuleFiles:          []string{"../rules/netanomaly-detection.yml"},
		EvaluationInterval: "5s",
	}

	// NetAnomalyDetected: score above threshold from 10s to 90s, threat
	// level medium until 40s then high: the warning fires at 40s (10s +
	// for 30s), the critical twin at 75s (45s + 30s).
	detected := func(severity, threat string) expAlert {
		return expAlert{
			ExpLabels: alertLabels(severity, "unknown"),
			ExpAnnotations: map[string]string{
				"summary": "Anomalous traffic on eth0 (sensor-1:9957).",
				"description": "The anomaly score of eth0 on sensor-1:9957 has been above its threshold for 30s: score " + wantScore +
					", threat level " + threat + ", confidence 81%." + wantFeatureNames +
					" Top sources by bytes: 192.168.56.1, 192.168.56.101.",
				"threat_level":   threat,
				"confidence":     "81%",
				"score":          wantScore,
				"top_features":   wantTopFeatures,
				"top_sources":    "192.168.56.1, 192.168.56.101",
				"recommendation": detectedRecommendation,
				"runbook_url":    RunbookBase + "netanomalydetected",
				"dashboard_url":  wantDashboard,
			},
		}
	}
	f.Tests = append(f.Tests, promTestGroup{
		Name:           detectedAlert,
		Interval:       "5s",
		ExternalLabels: map[string]string{"grafana_url": testGrafana},
		InputSeries: append([]inputSeries{
			{series("netanomaly_anomaly_score"), "0.2 0.2 0.93x16 0.2x5"},
			{series("netanomaly_anomaly_threshold"), "0.7x24"},
			{series("netanomaly_threat_level"), "0 0 2x6 3x9 0x6"},
			{series("netanomaly_confidence"), "0.81x24"},
			{series("netanomaly_top_source_bytes", "rank", "2", "address", "192.168.56.101"), "1778x24"},
			{series("netanomaly_top_source_bytes", "rank", "1", "address", "192.168.56.1"), "1862x24"},
		}, explanationSeries()...),
		AlertRuleTests: []alertTest{
			{"35s", detectedAlert, []expAlert{}},
			{"40s", detectedAlert, []expAlert{detected("warning", "medium")}},
			{"70s", detectedAlert, []expAlert{detected("warning", "high")}},
			{"75s", detectedAlert, []expAlert{detected("warning", "high"), detected("critical", "high")}},
			{"95s", detectedAlert, []expAlert{}},
		},
	})

	// Attack alerts: the attack is active from 10s to 20s while another
	// type stays active throughout; threat level medium at 10s, high at 15s
	// and 20s. for: 0s, so the alert fires on the first evaluation that sees
	// the attack and not on the one before.
	for i, a := range AttackTypes {
		other := AttackTypes[(i+1)%len(AttackTypes)].Type
		attack := func(severity, threat string) expAlert {
			return expAlert{
				ExpLabels: alertLabels(severity, a.Type),
				ExpAnnotations: map[string]string{
					"summary": a.Name + " on eth0 (sensor-1:9957).",
					"description": a.Name + " active on eth0 (sensor-1:9957): threat level " + threat +
						", attack confidence 87%, anomaly score " + wantScore + "." + wantFeatureNames +
						" Top sources: 203.0.113.7, 198.51.100.23. Evidence capture: eth0-" + a.Type + "-20261206T221501Z.pcap.",
					"threat_level":   threat,
					"confidence":     "87%",
					"score":          wantScore,
					"top_features":   wantTopFeatures,
					"top_sources":    "203.0.113.7, 198.51.100.23",
					"recommendation": a.Recommendation(),
					"runbook_url":    RunbookBase + strings.ToLower(a.Alert),
					"dashboard_url":  wantDashboard,
				},
			}
		}
		f.Tests = append(f.Tests, promTestGroup{
			Name:           a.Alert,
			Interval:       "5s",
			ExternalLabels: map[string]string{"grafana_url": testGrafana},
			InputSeries: append([]inputSeries{
				{series("netanomaly_attack", "type", a.Type), "0 0 1 1 1 0 0"},
				{series("netanomaly_attack", "type", other), "1x6"},
				{series("netanomaly_attack_confidence", "type", a.Type), "0.87x6"},
				{series("netanomaly_attack_confidence", "type", other), "0.55x6"},
				{series("netanomaly_threat_level"), "0 0 2 3 3 0 0"},
				{series("netanomaly_anomaly_score"), "0.93x6"},
				{series("netanomaly_anomaly_threshold"), "0.7x6"},
				{series("netanomaly_attack_source_info", "type", a.Type, "rank", "2", "address", "198.51.100.23"), "1x6"},
				{series("netanomaly_attack_source_info", "type", a.Type, "rank", "1", "address", "203.0.113.7"), "1x6"},
				{series("netanomaly_attack_source_info", "type", other, "rank", "1", "address", "192.0.2.99"), "1x6"},
				{series("netanomaly_attack_evidence_info", "type", a.Type, "file", "eth0-"+a.Type+"-20261206T221501Z.pcap"), "1x6"},
			}, explanationSeries()...),
			AlertRuleTests: []alertTest{
				{"5s", a.Alert, []expAlert{}},
				{"10s", a.Alert, []expAlert{attack("warning", "medium")}},
				{"15s", a.Alert, []expAlert{attack("warning", "high"), attack("critical", "high")}},
				{"20s", a.Alert, []expAlert{attack("warning", "high"), attack("critical", "high")}},
				{"25s", a.Alert, []expAlert{}},
			},
		})
	}

	out, err := yaml.Marshal(f)
	if err != nil {
		panic(err)
	}
	return append([]byte("# Generated by mixin/detection_tests_test.go; do not edit. Regenerate with\n"+
		"#   go test ./mixin -run TestGeneratedFiles -u\n"), out...)
}
