package mixin

import (
	"bytes"
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

	"github.com/netanomaly/netanomaly_exporter/detector"
	"github.com/netanomaly/netanomaly_exporter/internal/stacktest"
)

const amConfigPath = "alertmanager/alertmanager.yml"

// alertmanager.yml, read strictly: a key this struct does not know fails.
type amConfig struct {
	Global       map[string]any  `yaml:"global"`
	Templates    []string        `yaml:"templates"`
	Route        amRoute         `yaml:"route"`
	InhibitRules []amInhibitRule `yaml:"inhibit_rules"`
	Receivers    []struct {
		Name         string           `yaml:"name"`
		SlackConfigs []map[string]any `yaml:"slack_configs"`
		EmailConfigs []map[string]any `yaml:"email_configs"`
	} `yaml:"receivers"`
}

type amRoute struct {
	Receiver       string    `yaml:"receiver"`
	Matchers       []string  `yaml:"matchers"`
	GroupBy        []string  `yaml:"group_by"`
	GroupWait      string    `yaml:"group_wait"`
	GroupInterval  string    `yaml:"group_interval"`
	RepeatInterval string    `yaml:"repeat_interval"`
	Continue       bool      `yaml:"continue"`
	Routes         []amRoute `yaml:"routes"`
}

type amInhibitRule struct {
	SourceMatchers []string `yaml:"source_matchers"`
	TargetMatchers []string `yaml:"target_matchers"`
	Equal          []string `yaml:"equal"`
}

func TestAmtoolCheckConfig(t *testing.T) {
	amtool := stacktest.NeedTool(t, "amtool")
	out := stacktest.Run(t, stacktest.RepoRoot(t), amtool, "check-config", amConfigPath)
	if !strings.Contains(out, "1 templates") {
		t.Errorf("amtool check-config found no template:\n%s", out)
	}
}

// alertClasses returns the labels of every alert the rules can send (one
// per rule), on a sample sensor and interface.
func alertClasses(t *testing.T) []map[string]string {
	t.Helper()
	var classes []map[string]string
	for _, r := range allRules(t) {
		if r.Alert == "" {
			continue
		}
		l := map[string]string{"alertname": r.Alert, "job": "netanomaly", "instance": testInstance, "interface": testIface}
		for k, v := range r.Labels {
			l[k] = v
		}
		classes = append(classes, l)
	}
	sort.Slice(classes, func(i, j int) bool {
		return classes[i]["alertname"]+classes[i]["severity"] < classes[j]["alertname"]+classes[j]["severity"]
	})
	return classes
}

func labelArgs(l map[string]string) []string {
	var args []string
	for k, v := range l {
		args = append(args, k+"="+v)
	}
	sort.Strings(args)
	return args
}

// TestAlertmanagerRoutes runs amtool config routes test for every alert
// class: critical alerts go to the critical receiver (Slack and email),
// warnings to Slack only, and detection alerts through the attack route
// with its 5s group_wait.
func TestAlertmanagerRoutes(t *testing.T) {
	amtool := stacktest.NeedTool(t, "amtool")
	for _, l := range alertClasses(t) {
		receiver := map[string]string{"critical": "critical", "warning": "slack-warning"}[l["severity"]]
		args := append([]string{"config", "routes", "test", "--config.file=" + amConfigPath, "--tree", "--verify.receivers=" + receiver}, labelArgs(l)...)
		out, err := stacktest.RunErr(stacktest.RepoRoot(t), nil, amtool, args...)
		name := l["alertname"] + " " + l["severity"]
		if err != nil {
			t.Errorf("%s: want receiver %s: %v\n%s", name, receiver, err, out)
			continue
		}
		_, attack := l["attack_type"]
		if viaAttack := strings.Contains(out, `{attack_type=~".+"}  receiver:`); viaAttack != attack {
			t.Errorf("%s: routed through the attack route: %v, want %v\n%s", name, viaAttack, attack, out)
		}
	}
}

// TestAlertmanagerConventions checks what amtool does not: matchers only,
// grouping and timing, inhibition rules, secrets from files.
func TestAlertmanagerConventions(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(stacktest.RepoRoot(t), amConfigPath))
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^\s*-?\s*(match|match_re|source_match|source_match_re|target_match|target_match_re):`).Find(data); m != nil {
		t.Errorf("deprecated %q: use matchers", bytes.TrimSpace(m))
	}
	for _, secret := range []string{"api_url:", "auth_password:", "smtp_auth_password:", "slack_api_url:"} {
		if regexp.MustCompile(`(?m)^\s*` + secret).Match(data) {
			t.Errorf("%s in alertmanager.yml: secrets come from files (%sfile)", secret, strings.TrimSuffix(secret, ":")+"_")
		}
	}
	var c amConfig
	readYAML(t, amConfigPath, &c)
	r := c.Route
	if strings.Join(r.GroupBy, ",") != "alertname,instance,interface,group" || r.GroupInterval != "1m" || r.RepeatInterval != "4h" {
		t.Errorf("root route: group_by %v group_interval %s repeat_interval %s, want [alertname instance interface group] 1m 4h", r.GroupBy, r.GroupInterval, r.RepeatInterval)
	}
	repeat := map[string]string{`severity="critical"`: "1h", `severity="warning"`: ""}
	for _, sr := range r.Routes {
		want, ok := repeat[strings.Join(sr.Matchers, ",")]
		if !ok {
			t.Errorf("unexpected route %v", sr.Matchers)
			continue
		}
		if sr.RepeatInterval != want {
			t.Errorf("route %v: repeat_interval %q, want %q (empty: the root's 4h)", sr.Matchers, sr.RepeatInterval, want)
		}
		if len(sr.Routes) != 1 || strings.Join(sr.Routes[0].Matchers, ",") != `attack_type=~".+"` || sr.Routes[0].GroupWait != "5s" {
			t.Errorf("route %v: want one child route for attack_type=~\".+\" with group_wait 5s, got %+v", sr.Matchers, sr.Routes)
		}
	}
	var slack, email []string
	for _, rc := range c.Receivers {
		if len(rc.SlackConfigs) > 0 {
			slack = append(slack, rc.Name)
		}
		if len(rc.EmailConfigs) > 0 {
			email = append(email, rc.Name)
		}
	}
	if strings.Join(slack, ",") != "critical,slack-warning" || strings.Join(email, ",") != "critical" {
		t.Errorf("receivers: Slack %v, email %v; want Slack for critical and warning, email for critical", slack, email)
	}
	for _, key := range []string{"slack_api_url_file", "smtp_auth_password_file"} {
		if v, _ := c.Global[key].(string); !strings.HasPrefix(v, "/run/secrets/") {
			t.Errorf("global.%s = %q, want a file under /run/secrets", key, v)
		}
	}
}

// TestAlertmanagerTemplates renders the Slack and email templates for a
// critical port scan and a health alert, and checks that each shows what
// the on-call engineer needs and nothing renders as <no value>.
func TestAlertmanagerTemplates(t *testing.T) {
	amtool := stacktest.NeedTool(t, "amtool")
	scan := stacktest.TemplateAlert{
		Status: "firing",
		Labels: map[string]string{"alertname": "NetAnomalyPortScan", "severity": "critical", "attack_type": "port_scan",
			"job": "netanomaly", "instance": testInstance, "interface": testIface},
		Annotations: map[string]string{
			"summary": "Port scan on eth0 (sensor-1:9957).", "description": "Port scan active on eth0 (sensor-1:9957): threat level high.",
			"threat_level": "high", "confidence": "87%", "score": wantScore, "top_features": wantTopFeatures,
			"top_sources": "203.0.113.7, 198.51.100.23", "recommendation": detector.Recommendation(detector.PortScan),
			"runbook_url": RunbookBase + "netanomalyportscan", "dashboard_url": wantDashboard,
		},
		StartsAt:     time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		GeneratorURL: "http://localhost:9090/graph?g0.expr=netanomaly_attack",
	}
	down := stacktest.TemplateAlert{
		Status: "resolved",
		Labels: map[string]string{"alertname": "NetAnomalyCaptureDown", "severity": "critical", "job": "netanomaly",
			"instance": testInstance, "interface": testIface},
		Annotations: map[string]string{"summary": "Capture on eth0 (sensor-1:9957) is down.", "description": "Down.",
			"recommendation": "Check ip link.", "runbook_url": RunbookBase + "netanomalycapturedown",
			"dashboard_url": "http://localhost:3000/d/" + CaptureUID},
		GeneratorURL: "http://localhost:9090/graph?g0.expr=netanomaly_capture_up",
	}
	for _, tc := range []struct {
		alert stacktest.TemplateAlert
		want  map[string][]string // template -> substrings
		not   []string
	}{
		{scan, map[string][]string{
			"netanomaly.slack.title":     {"[FIRING:1] NetAnomalyPortScan (critical) on eth0 at sensor-1:9957"},
			"netanomaly.slack.titlelink": {wantDashboard},
			"netanomaly.slack.color":     {"danger"},
			"netanomaly.slack.text": {"*Port scan on eth0 (sensor-1:9957).*", "`eth0` on `sensor-1:9957`", "*Attack type:* `port_scan`",
				"*Threat level:* high", "*Confidence:* 87%", "*Top features:* " + wantTopFeatures, "*Top sources:* 203.0.113.7",
				"*Recommendation:* Identify the scanning source", "<" + wantDashboard + "|Dashboard>",
				"<http://localhost:9090/graph?g0.expr=netanomaly_attack|Prometheus>", "|Runbook>"},
			"netanomaly.email.subject": {"[FIRING:1] NetAnomalyPortScan (critical) on eth0 at sensor-1:9957"},
			"netanomaly.email.text": {"Attack type:    port_scan", "Threat level:   high", "Confidence:     87%",
				"Top features:   " + wantTopFeatures, "Recommendation: Identify", "Dashboard:      " + wantDashboard,
				"Prometheus:     http://localhost:9090/graph", "Alertmanager: http://localhost:9093"},
			"netanomaly.email.html": {"<th align=\"left\">Attack type</th><td>port_scan</td>", "<th align=\"left\">Confidence</th><td>87%</td>",
				">Dashboard</a>", ">Prometheus</a>", ">Runbook</a>"},
		}, nil},
		{down, map[string][]string{
			"netanomaly.slack.title": {"[RESOLVED] NetAnomalyCaptureDown (critical) on eth0 at sensor-1:9957"},
			"netanomaly.slack.color": {"good"},
			"netanomaly.slack.text":  {"*Resolved: Capture on eth0 (sensor-1:9957) is down.*", "*Recommendation:* Check ip link."},
			"netanomaly.email.text":  {"RESOLVED: Capture on eth0"},
		}, []string{"Attack type", "Threat level", "Top features"}},
	} {
		data := stacktest.TemplateData{
			Receiver: "critical", Status: tc.alert.Status, Alerts: []stacktest.TemplateAlert{tc.alert},
			GroupLabels:  map[string]string{"alertname": tc.alert.Labels["alertname"], "instance": testInstance, "interface": testIface},
			CommonLabels: tc.alert.Labels, CommonAnnotations: tc.alert.Annotations,
			ExternalURL: "http://localhost:9093",
		}
		raw, _ := json.Marshal(data)
		file := filepath.Join(t.TempDir(), "data.json")
		if err := os.WriteFile(file, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"netanomaly.slack.title", "netanomaly.slack.titlelink", "netanomaly.slack.color",
			"netanomaly.slack.text", "netanomaly.email.subject", "netanomaly.email.text", "netanomaly.email.html"} {
			out := stacktest.AmtoolRender(t, amtool, file, name)
			if strings.Contains(out, "<no value>") {
				t.Errorf("%s for %s renders <no value>:\n%s", name, tc.alert.Labels["alertname"], out)
			}
			for _, w := range tc.want[name] {
				if !strings.Contains(out, w) {
					t.Errorf("%s for %s lacks %q:\n%s", name, tc.alert.Labels["alertname"], w, out)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out, n) {
					t.Errorf("%s for %s shows %q, which a health alert does not have:\n%s", name, tc.alert.Labels["alertname"], n, out)
				}
			}
		}
	}
}

// postAlerts sends alerts to Alertmanager's API as Prometheus does.
func postAlerts(t *testing.T, url string, alerts ...map[string]string) {
	t.Helper()
	var body []map[string]any
	for _, l := range alerts {
		body = append(body, map[string]any{"labels": l, "startsAt": time.Now().Add(-time.Minute).Format(time.RFC3339)})
	}
	raw, _ := json.Marshal(body)
	resp, err := http.Post(url+"/api/v2/alerts", "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/v2/alerts: %s", resp.Status)
	}
}

// TestAlertmanagerInhibition loads the shipped configuration into a real
// Alertmanager, sends it alerts and checks which ones the inhibition rules
// mute: a warning under its critical twin, detection alerts of a capture
// that is down, NetAnomalyDetected under a named attack; and nothing
// across interfaces or sensors.
func TestAlertmanagerInhibition(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Alertmanager")
	}
	url := stacktest.StartAlertmanager(t, filepath.Join(stacktest.RepoRoot(t), amConfigPath))
	alert := func(name, severity, instance, iface, attack string) map[string]string {
		l := map[string]string{"alertname": name, "severity": severity, "job": "netanomaly", "instance": instance, "interface": iface}
		if attack != "" {
			l["attack_type"] = attack
		}
		return l
	}
	alerts := map[string]map[string]string{
		// eth0: a port scan at high threat, with both twins, and the generic anomaly.
		"scan warning eth0":  alert("NetAnomalyPortScan", "warning", "s1", "eth0", "port_scan"),
		"scan critical eth0": alert("NetAnomalyPortScan", "critical", "s1", "eth0", "port_scan"),
		"detected eth0":      alert("NetAnomalyDetected", "warning", "s1", "eth0", "unknown"),
		// eth1: capture down, so its traffic-drop alert is muted.
		"capture down eth1": alert("NetAnomalyCaptureDown", "critical", "s1", "eth1", ""),
		"drop eth1":         alert("NetAnomalyTrafficDrop", "warning", "s1", "eth1", "traffic_drop"),
		"detected eth1":     alert("NetAnomalyDetected", "warning", "s1", "eth1", "unknown"),
		// Same names elsewhere: nothing mutes them.
		"scan warning eth2":   alert("NetAnomalyPortScan", "warning", "s1", "eth2", "port_scan"),
		"scan warning s2":     alert("NetAnomalyPortScan", "warning", "s2", "eth0", "port_scan"),
		"detected s2 eth1":    alert("NetAnomalyDetected", "warning", "s2", "eth1", "unknown"),
		"dropping s1 eth1":    alert("NetAnomalyCaptureDropping", "warning", "s1", "eth1", ""),
		"exporter down s3":    alert("NetAnomalyExporterDown", "critical", "s3", "", ""),
		"model untrained s3b": alert("NetAnomalyModelUntrained", "warning", "s3", "eth0", ""),
	}
	wantMuted := map[string]bool{"scan warning eth0": true, "detected eth0": true, "drop eth1": true, "detected eth1": true}
	var all []map[string]string
	for _, l := range alerts {
		if l["interface"] == "" {
			delete(l, "interface")
		}
		all = append(all, l)
	}
	postAlerts(t, url, all...)

	// The inhibitor learns of source alerts asynchronously: poll until the
	// muted set is stable and right, or time out with the last state.
	var muted map[string]bool
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got []struct {
			Labels map[string]string `json:"labels"`
			Status struct {
				InhibitedBy []string `json:"inhibitedBy"`
			} `json:"status"`
		}
		getJSON(t, url+"/api/v2/alerts", &got)
		muted = map[string]bool{}
		for _, a := range got {
			for name, l := range alerts {
				if fmt.Sprint(l) == fmt.Sprint(a.Labels) && len(a.Status.InhibitedBy) > 0 {
					muted[name] = true
				}
			}
		}
		if len(got) == len(alerts) && fmt.Sprint(muted) == fmt.Sprint(wantMuted) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for name := range alerts {
		if muted[name] != wantMuted[name] {
			t.Errorf("%s: inhibited %v, want %v", name, muted[name], wantMuted[name])
		}
	}
}
