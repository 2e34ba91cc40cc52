package mixin

import (
	"fmt"
	"strings"

	"github.com/netanomaly/netanomaly_exporter/detector"
)

// Grafana dashboard uids. Alerts link to them and the provisioning loads
// them; they never change, so links in old notifications keep working.
const (
	OverviewUID = "netanomaly-overview"
	DetectorUID = "netanomaly-detector"
	CaptureUID  = "netanomaly-capture"
)

// RunbookBase is the runbook every alert's runbook_url points into, followed
// by the alert name in lower case (the heading's anchor).
const RunbookBase = "https://github.com/netanomaly/netanomaly_exporter/blob/main/prometheus/RUNBOOK.md#"

// AttackType is one attack class of the detector: the value of the type
// label of netanomaly_attack and the alert that reports it.
type AttackType struct {
	Type  string // type label value, one of detector.AttackTypes
	Alert string // alert name, CamelCase
	Name  string // what the summary calls it, capitalised
}

// Recommendation is the detector's one-line advice for the attack type,
// the same the event log carries.
func (a AttackType) Recommendation() string { return detector.Recommendation(a.Type) }

// AttackTypes lists every type of netanomaly_attack, from the detector's
// registry, in its order.
var AttackTypes = func() []AttackType {
	var out []AttackType
	for _, t := range detector.Types() {
		out = append(out, AttackType{Type: t.Name, Alert: t.Alert, Name: t.Title})
	}
	return out
}()

// Detected alert: the ensemble score above its threshold with no attack
// type needed. Longer for: than the attack alerts, which already come out of
// the exporter's hysteresis; this one debounces a score hovering around the
// threshold.
const (
	detectedAlert          = "NetAnomalyDetected"
	detectedFor            = "30s"
	detectedRecommendation = "Open the dashboard, compare the top features with their expected ranges and look at the top talkers and applications to find what changed; if the change is legitimate, the detector learns it at its next retrain."
	// attackFor is 0s: an attack alert must reach Slack within 30s of the
	// onset (see prometheus/RUNBOOK.md, "Alert latency").
	attackFor = "0s"
)

// tq returns a template pipeline that runs an instant query for metric on
// the alert's instance and interface, with extra matchers given as pairs of
// label name and template operand (a quoted string or a variable).
func tq(metric string, extra ...string) string {
	return tqIn("%s", metric, extra...)
}

// tqIn is tq with the selector inside an expression: expr's %s.
func tqIn(expr, metric string, extra ...string) string {
	// group="" matches the series of an interface without host groups
	// (no group label) and those of the whole interface with them.
	format := metric + "{instance=%q,interface=%q,group=%q"
	args := "$labels.instance $labels.interface $labels.group"
	for i := 0; i+1 < len(extra); i += 2 {
		format += "," + extra[i] + "=%q"
		args += " " + extra[i+1]
	}
	return fmt.Sprintf("printf %q %s | query", fmt.Sprintf(expr, format+"}"), args)
}

// Template fragments of the detection annotations. Each renders on one line.
var (
	// inGroup names the host group of a group's alert.
	inGroup = "{{ with $labels.group }} group {{ . }}{{ end }}"

	threatText = "{{ with " + tq("netanomaly_threat_level") + " }}{{ $t := . | first | value }}" +
		"{{ if ge $t 3.0 }}high{{ else if ge $t 2.0 }}medium{{ else if ge $t 1.0 }}low{{ else }}none{{ end }}" +
		"{{ else }}unknown{{ end }}"

	scoreText = "{{ with " + tq("netanomaly_anomaly_score") + " }}{{ . | first | value | printf \"%.2f\" }}{{ else }}unknown{{ end }}" +
		" (threshold {{ with " + tq("netanomaly_anomaly_threshold") + " }}{{ . | first | value | printf \"%.2f\" }}{{ else }}unknown{{ end }})"

	// numDefine formats a feature value: SI prefixes from 1 up (1.5k), three
	// significant digits below (0.95 rather than 950m).
	numDefine = `{{ define "num" }}{{ if or (ge . 1.0) (le . -1.0) }}{{ humanize . }}{{ else }}{{ printf "%.3g" . }}{{ end }}{{ end }}`

	// topFeatures are the last window's three features furthest from
	// their baseline, largest first: the explanation series are one per
	// feature, so the ranking is the query's (by absolute z-score; $z's
	// value is the absolute one).
	topFeatures = tqIn("sort_desc(topk(3, abs(%s)))", "netanomaly_explanation_zscore")

	// featuresText lists the explanation as feature = value (expected low to
	// high, z score), by rank.
	featuresText = numDefine +
		"{{ with " + topFeatures + ` }}{{ range $i, $z := . }}{{ if $i }}; {{ end }}{{ $z.Labels.feature }} = ` +
		featureValue("netanomaly_explanation_value") + " (expected " +
		featureValue("netanomaly_explanation_expected_low") + " to " +
		featureValue("netanomaly_explanation_expected_high") +
		", z " + featureZ + "){{ end }}{{ else }}none reported{{ end }}"

	// featureNamesText is the short form for the description.
	featureNamesText = "{{ with " + topFeatures + ` }} Top features: ` +
		`{{ range $i, $z := . }}{{ if $i }}, {{ end }}{{ $z.Labels.feature }} (z ` + featureZ + "){{ end }}.{{ end }}"

	// featureZ is $z's feature's z-score with its sign (below or above).
	featureZ = "{{ with " + tq("netanomaly_explanation_zscore", "feature", "$z.Labels.feature") + ` }}{{ . | first | value | printf "%.1f" }}{{ else }}?{{ end }}`

	dashboardText = "{{ $externalLabels.grafana_url }}/d/" + OverviewUID +
		"?var-instance={{ $labels.instance | urlquery }}&var-interface={{ $labels.interface | urlquery }}"
)

func featureValue(metric string) string {
	return "{{ with " + tq(metric, "feature", "$z.Labels.feature") +
		` }}{{ template "num" (. | first | value) }}{{ else }}?{{ end }}`
}

// sourcesText lists the addresses of metric by rank, or says none were
// reported; sourcesSentence is the same as an optional sentence.
func sourcesText(metric string, extra ...string) string {
	return "{{ with " + tq(metric, extra...) + ` | sortByLabel "rank" }}` + addresses + "{{ else }}none reported{{ end }}"
}

func sourcesSentence(label, metric string, extra ...string) string {
	return "{{ with " + tq(metric, extra...) + ` | sortByLabel "rank" }} ` + label + ": " + addresses + ".{{ end }}"
}

// evidenceSentence names the attack's evidence capture, when the exporter
// writes one.
func evidenceSentence(typ string) string {
	return "{{ with " + tq("netanomaly_attack_evidence_info", "type", typ) + " }} Evidence capture: {{ (. | first).Labels.file }}.{{ end }}"
}

const addresses = "{{ range $i, $s := . }}{{ if $i }}, {{ end }}{{ $s.Labels.address }}{{ end }}"

// rule is one alerting rule; labels and annotations keep their order.
type rule struct {
	Alert       string
	Expr        string
	For         string
	Labels      [][2]string
	Annotations [][2]string
}

// detectionRules returns the alerts of the netanomaly.detection group: the
// generic anomaly alert, then one per attack type, each as a warning and a
// critical twin with the same name (Alertmanager mutes the warning while
// the critical fires).
func detectionRules() []rule {
	var rules []rule
	critical := func(expr string) string {
		return expr + "\nand on (job, instance, interface, group)\nnetanomaly_threat_level == 3"
	}

	detectedExpr := "netanomaly_anomaly_score > netanomaly_anomaly_threshold"
	detectedAnn := func() [][2]string {
		return [][2]string{
			{"summary", "Anomalous traffic on {{ $labels.interface }}" + inGroup + " ({{ $labels.instance }})."},
			{"description", "The anomaly score of {{ $labels.interface }} on {{ $labels.instance }} has been above its threshold for " + detectedFor +
				": score " + scoreText + ", threat level " + threatText + ", confidence " + confidenceText("netanomaly_confidence") + "." +
				featureNamesText + sourcesSentence("Top sources by bytes", "netanomaly_top_source_bytes")},
			{"threat_level", threatText},
			{"confidence", confidenceText("netanomaly_confidence")},
			{"score", scoreText},
			{"top_features", featuresText},
			{"top_sources", sourcesText("netanomaly_top_source_bytes")},
			{"recommendation", detectedRecommendation},
			{"runbook_url", RunbookBase + strings.ToLower(detectedAlert)},
			{"dashboard_url", dashboardText},
		}
	}
	rules = append(rules,
		rule{detectedAlert, detectedExpr, detectedFor, [][2]string{{"severity", "warning"}, {"attack_type", "unknown"}}, detectedAnn()},
		rule{detectedAlert, critical("(" + detectedExpr + ")"), detectedFor, [][2]string{{"severity", "critical"}, {"attack_type", "unknown"}}, detectedAnn()},
	)

	for _, a := range AttackTypes {
		typ := fmt.Sprintf("%q", a.Type)
		expr := fmt.Sprintf("max without (type) (netanomaly_attack{type=%q}) == 1", a.Type)
		conf := confidenceText("netanomaly_attack_confidence", "type", typ)
		ann := [][2]string{
			{"summary", a.Name + " on {{ $labels.interface }}" + inGroup + " ({{ $labels.instance }})."},
			{"description", a.Name + " active on {{ $labels.interface }}" + inGroup + " ({{ $labels.instance }}): threat level " + threatText +
				", attack confidence " + conf + ", anomaly score " + scoreText + "." +
				featureNamesText + sourcesSentence("Top sources", "netanomaly_attack_source_info", "type", typ) + evidenceSentence(typ)},
			{"threat_level", threatText},
			{"confidence", conf},
			{"score", scoreText},
			{"top_features", featuresText},
			{"top_sources", sourcesText("netanomaly_attack_source_info", "type", typ)},
			{"recommendation", a.Recommendation()},
			{"runbook_url", RunbookBase + strings.ToLower(a.Alert)},
			{"dashboard_url", dashboardText},
		}
		rules = append(rules,
			rule{a.Alert, expr, attackFor, [][2]string{{"severity", "warning"}, {"attack_type", a.Type}}, ann},
			rule{a.Alert, critical(expr), attackFor, [][2]string{{"severity", "critical"}, {"attack_type", a.Type}}, ann},
		)
	}
	// The configuration file's rules: one alert for all of them, the
	// rule in its attack_type label, its recommendation from
	// netanomaly_user_rule_info.
	typ := "$labels.type"
	conf := confidenceText("netanomaly_attack_confidence", "type", typ)
	userAnn := [][2]string{
		{"summary", "User rule {{ $labels.type }} on {{ $labels.interface }}" + inGroup + " ({{ $labels.instance }})."},
		{"description", "The configuration file's {{ $labels.type }} fired on {{ $labels.interface }}" + inGroup + " ({{ $labels.instance }})" +
			"{{ with " + tq("netanomaly_user_rule_info", "type", typ) + " }}: {{ (. | first).Labels.expression }}{{ end }}" +
			"; threat level " + threatText + ", confidence " + conf + "." +
			sourcesSentence("Top sources", "netanomaly_attack_source_info", "type", typ) + evidenceSentence(typ)},
		{"threat_level", threatText},
		{"confidence", conf},
		{"score", scoreText},
		{"top_features", featuresText},
		{"top_sources", sourcesText("netanomaly_attack_source_info", "type", typ)},
		{"recommendation", "{{ with " + tq("netanomaly_user_rule_info", "type", typ) + " }}{{ (. | first).Labels.recommendation }}{{ else }}See the rule in the exporter's configuration file.{{ end }}"},
		{"runbook_url", RunbookBase + strings.ToLower(UserRuleAlert)},
		{"dashboard_url", dashboardText},
	}
	userExpr := `netanomaly_attack{type=~"rule:.+"} == 1`
	rules = append(rules,
		rule{UserRuleAlert, userExpr, attackFor, [][2]string{{"severity", "warning"}, {"attack_type", "{{ $labels.type }}"}}, userAnn},
		rule{UserRuleAlert, critical(userExpr), attackFor, [][2]string{{"severity", "critical"}, {"attack_type", "{{ $labels.type }}"}}, userAnn},
	)
	return rules
}

// UserRuleAlert is the alert of every rule of the configuration file.
const UserRuleAlert = "NetAnomalyUserRule"

func confidenceText(metric string, extra ...string) string {
	return "{{ with " + tq(metric, extra...) + " }}{{ . | first | value | humanizePercentage }}{{ else }}unknown{{ end }}"
}

// DetectionRules returns prometheus/rules/netanomaly-detection.yml.
func DetectionRules() []byte {
	var b strings.Builder
	b.WriteString(`# Generated by mixin/alerts.go; do not edit. Regenerate with
#   go test ./mixin -run TestGeneratedFiles -u
#
# Detection alerts. Every alert has a warning rule (the condition) and a
# critical twin of the same name (the condition while the interface's threat
# level is high); alertmanager.yml mutes the warning while its twin fires.
# Attack alerts have no for: the exporter's hysteresis already makes one
# attack one continuous netanomaly_attack == 1, and the alert must reach
# Slack within 30s of the onset (see RUNBOOK.md, "Alert latency").
groups:
  - name: netanomaly.detection
    rules:
`)
	for _, r := range detectionRules() {
		writeRule(&b, r)
	}
	return []byte(b.String())
}

// writeRule writes r as a YAML list item at the indentation of a group's
// rules.
func writeRule(b *strings.Builder, r rule) {
	const ind = "        "
	fmt.Fprintf(b, "      - alert: %s\n", r.Alert)
	writeScalar(b, ind, "expr", r.Expr)
	fmt.Fprintf(b, "%sfor: %s\n", ind, r.For)
	fmt.Fprintf(b, "%slabels:\n", ind)
	for _, l := range r.Labels {
		writeScalar(b, ind+"  ", l[0], l[1])
	}
	fmt.Fprintf(b, "%sannotations:\n", ind)
	for _, a := range r.Annotations {
		writeScalar(b, ind+"  ", a[0], a[1])
	}
}

// writeScalar writes key: value, as a plain scalar when that is safe and
// short, as a folded block for long prose and as a literal block for
// templates and multi-line expressions. A test parses the output back and
// compares every value.
func writeScalar(b *strings.Builder, ind, key, value string) {
	const width = 100
	switch {
	case strings.Contains(value, "\n"):
		fmt.Fprintf(b, "%s%s: |-\n", ind, key)
		for _, line := range strings.Split(value, "\n") {
			fmt.Fprintf(b, "%s  %s\n", ind, line)
		}
	case strings.Contains(value, "{{"):
		fmt.Fprintf(b, "%s%s: |-\n", ind, key)
		for _, line := range wrapTemplate(value, width) {
			fmt.Fprintf(b, "%s  %s\n", ind, line)
		}
	case !plainSafe(value) || (len(ind)+len(key)+len(value) > width && strings.Contains(value, " ")):
		fmt.Fprintf(b, "%s%s: >-\n", ind, key)
		for _, line := range wrapWords(value, width-len(ind)-2) {
			fmt.Fprintf(b, "%s  %s\n", ind, line)
		}
	default:
		fmt.Fprintf(b, "%s%s: %s\n", ind, key, value)
	}
}

// plainSafe reports whether s can be written as a plain YAML scalar.
func plainSafe(s string) bool {
	if s == "" || strings.ContainsAny(s[:1], "!&*[]{}|>'\"%@`#,?:-") {
		return false
	}
	return !strings.Contains(s, ": ") && !strings.Contains(s, " #")
}

// wrapTemplate breaks a Go template into lines of at most about width
// characters, only right after an action's opening braces: the line break
// then sits inside the action, where the template ignores it, so the
// rendered text stays on one line.
func wrapTemplate(s string, width int) []string {
	// Segments end with "{{", except the last one.
	var segs []string
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			segs = append(segs, s)
			break
		}
		segs = append(segs, s[:i+2])
		s = s[i+2:]
	}
	var lines []string
	line := ""
	for _, seg := range segs {
		if line != "" && len(line)+len(seg) > width {
			lines = append(lines, line)
			line = ""
		}
		if line == "" && len(lines) > 0 {
			seg = strings.TrimLeft(seg, " ")
		}
		line += seg
	}
	return append(lines, line)
}

// wrapWords breaks prose at spaces for a folded block scalar.
func wrapWords(s string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}
