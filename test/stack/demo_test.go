package stack

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v2"

	"github.com/netanomaly/netanomaly_exporter/internal/stacktest"
)

// The stack on the exporter's demo: docker-compose.demo.yml over
// docker-compose.yml.
const demoCompose = "docker-compose.demo.yml"

// demoCommand returns the exporter's command in docker-compose.demo.yml.
func demoCommand(t *testing.T) []string {
	t.Helper()
	doc := stacktest.ReadRepoYAML(t, demoCompose)
	ex := stacktest.YAMLMap(t, stacktest.YAMLMap(t, doc["services"], "services")["exporter"], "services.exporter")
	var cmd []string
	for _, a := range stacktest.YAMLList(t, ex["command"], "services.exporter.command") {
		s, ok := a.(string)
		if !ok {
			t.Fatalf("%s: exporter command argument %v is not a string", demoCompose, a)
		}
		cmd = append(cmd, s)
	}
	return cmd
}

// TestDockerComposeDemo validates the demo's override with docker-compose
// itself, merged over the base file as the README runs it: the exporter's
// command replaces the base one and runs the demo (no capture flag, no
// model file, the attack sources named), and Alertmanager's secrets fall
// back to empty files unless given.
func TestDockerComposeDemo(t *testing.T) {
	dc := stacktest.NeedTool(t, "docker-compose")
	root := stacktest.RepoRoot(t)
	env := []string{"GF_SECURITY_ADMIN_PASSWORD=test-only-password"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NETANOMALY_") && !strings.HasPrefix(kv, "GF_SECURITY_ADMIN_PASSWORD=") {
			env = append(env, kv)
		}
	}
	merged := func(extraEnv ...string) (cmd []string, secrets map[string]string) {
		t.Helper()
		out, err := stacktest.RunEnv(root, append(env, extraEnv...), dc, "-f", "docker-compose.yml", "-f", demoCompose, "config")
		if err != nil {
			t.Fatalf("docker-compose -f docker-compose.yml -f %s config: %v\n%s", demoCompose, err, out)
		}
		var c struct {
			Services map[string]struct {
				Command []string `yaml:"command"`
			} `yaml:"services"`
			Secrets map[string]struct {
				File string `yaml:"file"`
			} `yaml:"secrets"`
		}
		// The output is combined: skip any warning before the YAML.
		if m := regexp.MustCompile(`(?m)^[a-z]+:$`).FindStringIndex(out); m != nil {
			out = out[m[0]:]
		}
		if err := yaml.Unmarshal([]byte(out), &c); err != nil {
			t.Fatalf("docker-compose config output: %v\n%s", err, out)
		}
		secrets = map[string]string{}
		for name, s := range c.Secrets {
			secrets[name] = s.File
		}
		return c.Services["exporter"].Command, secrets
	}

	cmd, secrets := merged()
	if !slices.Equal(cmd, demoCommand(t)) {
		t.Errorf("merged exporter command %q, want the demo's %q", cmd, demoCommand(t))
	}
	for _, a := range cmd {
		name, _, _ := strings.Cut(a, "=")
		switch name {
		case "--capture.interface", "--capture.pcap", "--detector.model-file":
			// A model file in the shared volume would be loaded for the
			// demo (or saved over the interface's models).
			t.Errorf("the demo's exporter command has %s", a)
		}
	}
	if !slices.ContainsFunc(cmd, func(a string) bool { return strings.HasPrefix(a, "--detector.attack-sources=") }) {
		t.Errorf("the demo's exporter command does not name attack sources (the Overview's Attack sources panel): %q", cmd)
	}
	for _, name := range []string{"slack_api_url", "smtp_auth_password"} {
		if secrets[name] != "/dev/null" {
			t.Errorf("secret %s: file %q, want /dev/null when no file is given", name, secrets[name])
		}
	}
	slack := filepath.Join(t.TempDir(), "slack_api_url")
	if _, secrets = merged("NETANOMALY_SLACK_API_URL_FILE=" + slack); secrets["slack_api_url"] != slack {
		t.Errorf("secret slack_api_url: file %q, want NETANOMALY_SLACK_API_URL_FILE's %s", secrets["slack_api_url"], slack)
	}
}

// TestDemoAlerting runs the exporter with the demo's compose command, ten
// times as fast, into a real Prometheus with the shipped configuration
// and rules and a real Alertmanager with the shipped routes, as
// docker-compose.demo.yml does: the demo's first attack, the port scan,
// must fire NetAnomalyPortScan on interface demo, reach the stand-in
// Slack, and be in the event log with its sources and recommendation.
func TestDemoAlerting(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the exporter's demo through Prometheus and Alertmanager for about half a minute; skipped with -short")
	}
	stacktest.NeedTool(t, "prometheus")
	stacktest.NeedTool(t, "prometheus-alertmanager")
	bin := stacktest.BuildExporter(t)
	dir := t.TempDir()
	events := filepath.Join(dir, "events.jsonl")

	hook := startWebhook(t)
	smtp := startFakeSMTP(t)
	amURL := stacktest.StartAlertmanager(t, e2eAlertmanagerConfig(t, dir, hook.URL, smtp.Addr, "demo-secret"))
	promAddr, exporterAddr := stacktest.FreeAddr(t), stacktest.FreeAddr(t)
	promConfig, _, _ := e2ePrometheusConfig(t, dir, promAddr, exporterAddr, strings.TrimPrefix(amURL, "http://"))
	promURL := stacktest.StartPrometheusAt(t, promAddr, promConfig)

	// The compose command, on loopback (startReplay listens on
	// exporterAddr) and with the event log in the test's directory.
	var args []string
	for _, a := range demoCommand(t) {
		switch {
		case strings.HasPrefix(a, "--web.listen-address="):
			continue
		case strings.HasPrefix(a, "--events.file="):
			a = "--events.file=" + events
		}
		args = append(args, a)
	}
	const speed = 10
	start, ready := startReplay(t, bin, exporterAddr, append(args, "--capture.pcap.speed=10")...)
	t.Logf("exporter ready %.1fs after its start (the demo's models trained)", ready.Sub(start).Seconds())

	// The port scan starts 1:30 into the demo: 9 s at ten times the speed.
	const alert = "NetAnomalyPortScan"
	var fired, notified time.Time
	for deadline := ready.Add(90*time.Second/speed + 45*time.Second); time.Now().Before(deadline) && notified.IsZero(); time.Sleep(250 * time.Millisecond) {
		if alerts, err := promAlerts(promURL); err == nil && fired.IsZero() {
			for _, a := range alerts {
				if a.Labels["alertname"] == alert && a.Labels["interface"] == "demo" && a.State == "firing" {
					fired = time.Now()
				}
			}
		}
		for _, p := range hook.Posts(0) {
			var m slackMessage
			if json.Unmarshal(p.Body, &m) != nil {
				continue
			}
			for _, at := range m.Attachments {
				if strings.HasPrefix(at.Title, "[FIRING") && strings.Contains(at.Title, alert) && strings.Contains(at.Text, "*Recommendation:*") {
					notified = p.At
				}
			}
		}
	}
	if fired.IsZero() {
		t.Fatalf("%s never fired in Prometheus", alert)
	}
	if notified.IsZero() {
		t.Fatalf("%s fired %.1fs after the replay began but never reached Slack with a recommendation", alert, fired.Sub(ready).Seconds())
	}
	t.Logf("%s firing in Prometheus %.1fs and on Slack %.1fs after the replay began (the scan starts at %.1fs)",
		alert, fired.Sub(ready).Seconds(), notified.Sub(ready).Seconds(), 90.0/speed)

	data, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var rec struct {
			Kind    string `json:"kind"`
			Details []struct {
				Type           string   `json:"type"`
				Sources        []string `json:"sources"`
				Recommendation string   `json:"recommendation"`
			} `json:"attack_details"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("event log line %q: %v", line, err)
		}
		for _, d := range rec.Details {
			if rec.Kind == "attack_start" && d.Type == "port_scan" && len(d.Sources) > 0 && d.Recommendation != "" {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("the event log has no port_scan attack_start with sources and a recommendation:\n%s", data)
	}
}
