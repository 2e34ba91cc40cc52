package stack

import (
	"encoding/json"
	"fmt"
	"html"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/detector"
	"github.com/netanomaly/netanomaly_exporter/internal/geoip/geoiptest"
	"github.com/netanomaly/netanomaly_exporter/internal/stacktest"
	"github.com/netanomaly/netanomaly_exporter/mixin"
)

// The end-to-end scenario: 90 s of benign traffic (synth.WriteTraffic, 20
// packets/s from 200 hosts, the traffic the model is trained on) with two
// attacks.
const (
	e2eLength = 90 * time.Second
	e2eIface  = "e2e" // the capture file's base name is the interface label
	// e2eTarget is the delay from an attack's onset to its Slack
	// notification that prometheus/RUNBOOK.md ("Alert latency") promises;
	// e2eLimit the one beyond which the test fails.
	e2eTarget = 30 * time.Second
	e2eLimit  = 45 * time.Second
)

// detectedAlert is the rules' generic anomaly alert, which Alertmanager
// mutes while a named attack's alert fires (alertFor checks that the
// shipped rules have it).
const detectedAlert = "NetAnomalyDetected"

// e2eAttack is one attack of the replayed capture.
type e2eAttack struct {
	mixin.AttackType
	Offset, Duration time.Duration // from the first packet
}

// alertFor returns the for: of the alert name in the shipped rules of
// prometheus/rules, failing the test when no rule has that name.
func alertFor(t *testing.T, name string) string {
	t.Helper()
	root := stacktest.RepoRoot(t)
	paths, err := filepath.Glob(filepath.Join(root, "prometheus/rules/*.yml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no rule files in prometheus/rules (%v)", err)
	}
	for _, p := range paths {
		rel, _ := filepath.Rel(root, p)
		doc := stacktest.ReadRepoYAML(t, rel)
		for _, g := range stacktest.YAMLList(t, doc["groups"], rel+" groups") {
			for _, r := range stacktest.YAMLList(t, stacktest.YAMLMap(t, g, rel+" group")["rules"], rel+" rules") {
				if r := stacktest.YAMLMap(t, r, rel+" rule"); r["alert"] == name {
					f, _ := r["for"].(string)
					return f
				}
			}
		}
	}
	t.Fatalf("no alert %s in prometheus/rules", name)
	return ""
}

func attackType(t *testing.T, typ string) mixin.AttackType {
	t.Helper()
	for _, a := range mixin.AttackTypes {
		if a.Type == typ {
			return a
		}
	}
	t.Fatalf("no attack type %s", typ)
	return mixin.AttackType{}
}

// TestEndToEndAlerting runs the whole alert path on loopback: it trains a
// model on benign traffic, replays in real time a capture with a SYN flood
// and a port scan through the exporter, scraped by a real Prometheus with
// the shipped configuration and rules, which alerts a real Alertmanager
// with the shipped routes and templates, which notifies a webhook
// receiver standing in for Slack and a fake SMTP server. It checks that
// each attack's alert fires, reaches Slack within the RUNBOOK's latency
// budget with the attack type and its recommendation, that critical ones
// are also mailed, that NetAnomalyDetected is muted by the named attack,
// and that every dashboard query returns data.
func TestEndToEndAlerting(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: replays 90s of traffic in real time through the exporter, Prometheus and Alertmanager; skipped with -short")
	}
	stacktest.NeedTool(t, "prometheus")
	stacktest.NeedTool(t, "prometheus-alertmanager")
	detectedFor := alertFor(t, detectedAlert)
	began := time.Now()
	bin := stacktest.BuildExporter(t)
	dir := t.TempDir()

	// 1. The model, trained on an hour of benign traffic, and the capture.
	benign := filepath.Join(dir, "benign.pcap")
	writeCapture(t, benign, benignPackets(t, 72000, 1, 50*time.Millisecond))
	model := filepath.Join(dir, "e2e.model")
	if out := stacktest.Run(t, dir, bin, "train", "--capture.pcap="+benign, "--detector.model-file="+model); !strings.Contains(out, "359 normal") {
		// The file's last window ends after its last packet: partial, left out.
		t.Fatalf("train did not report 359 normal windows:\n%s", out)
	}
	// The SYN flood starts on a window boundary (the worst case: a whole
	// window passes before it closes); the scan in the middle of one.
	attacks := []e2eAttack{
		{attackType(t, detector.SynFlood), 20 * time.Second, 25 * time.Second},
		{attackType(t, detector.PortScan), 55 * time.Second, 10 * time.Second},
	}
	victim, scanner, scanned := net.IPv4(10, 0, 0, 5), net.IPv4(203, 0, 113, 7), net.IPv4(10, 0, 0, 9)
	capture := filepath.Join(dir, e2eIface+".pcap")
	writeCapture(t, capture,
		benignPackets(t, int(e2eLength/(50*time.Millisecond)), 2, 50*time.Millisecond),
		synFlood(t, attacks[0].Offset, attacks[0].Duration, 2000, victim, 80, 3),
		portScan(t, attacks[1].Offset, attacks[1].Duration, scanner, scanned, 1000, map[uint16]bool{22: true, 80: true, 443: true}, 4))
	t.Logf("capture: %s of benign traffic at 20 packets/s; SYN flood at 2000/s to %s:80 at %s for %s; SYN scan of ports 1-1000 of %s from %s at %s for %s",
		e2eLength, victim, attacks[0].Offset, attacks[0].Duration, scanned, scanner, attacks[1].Offset, attacks[1].Duration)

	// 2. Slack and SMTP stand-ins; 3. Alertmanager; 4. Prometheus.
	hook := startWebhook(t)
	smtp := startFakeSMTP(t)
	const smtpPassword = "e2e-secret"
	amURL := stacktest.StartAlertmanager(t, e2eAlertmanagerConfig(t, dir, hook.URL, smtp.Addr, smtpPassword))
	promAddr, exporterAddr := stacktest.FreeAddr(t), stacktest.FreeAddr(t)
	promConfig, scrapeInterval, evalInterval := e2ePrometheusConfig(t, dir, promAddr, exporterAddr, strings.TrimPrefix(amURL, "http://"))
	promURL := stacktest.StartPrometheusAt(t, promAddr, promConfig)
	t.Logf("Prometheus %s (scrape %s, evaluation %s), Alertmanager %s, Slack webhook %s, SMTP %s",
		promURL, scrapeInterval, evalInterval, amURL, hook.URL, smtp.Addr)

	// 5. The exporter replays the capture in real time from its start.
	replayStart, ready := startReplay(t, bin, exporterAddr,
		"--capture.pcap="+capture, "--capture.pcap.speed=1", "--detector.model-file="+model,
		"--features.top-k=5", "--detector.attack-sources=3",
		// Every address has a country: the map and the attack's countries.
		"--geoip.database="+geoiptest.CountryFile(t, dir, map[string]string{"0.0.0.0/1": "US", "128.0.0.0/1": "DE", "203.0.113.0/24": "AU"}))
	instance := exporterAddr
	t.Logf("exporter %s started; replay started within %s of the process start (delays below count from the process start)",
		exporterAddr, ready.Sub(replayStart).Round(time.Millisecond))
	rel := func(at time.Time) string {
		if at.IsZero() {
			return "never"
		}
		return fmt.Sprintf("+%.1fs", at.Sub(replayStart).Seconds())
	}

	// 6. Follow Prometheus, Alertmanager, Slack and the mailbox until every
	// attack is notified (and mailed when critical), or too late.
	type fired struct {
		First    time.Time // first poll that saw it firing
		ActiveAt time.Time
	}
	type notice struct {
		At       time.Time
		Severity string
		Title    string
		Text     string
	}
	type mailed struct {
		At   time.Time
		Msg  smtpMessage
		Mail parsedMail
	}
	var (
		firing    = map[string]*fired{}     // alertname/severity -> when it fired in Prometheus
		firingRaw = map[string]promAlert{}  // alertname/severity -> the alert
		amSeen    = map[string]amAPIAlert{} // alertname/severity -> last state in Alertmanager
		inhibited = map[string]bool{}       // alertname/severity -> ever inhibited
		slack     = map[string]*notice{}    // alertname -> first FIRING notification
		mails     = map[string]*mailed{}    // alertname -> first email
		posts     []string                  // every notification, for the log
		nposts    int
		nmails    int
		nerrs     int
		lastErr   error
	)
	title := regexp.MustCompile(`^\[(FIRING|RESOLVED)(?::\d+)?\] (\w+)(?: \((\w+)\))?`)
	key := func(l map[string]string) string { return l["alertname"] + "/" + l["severity"] }
	done := func() bool {
		for _, a := range attacks {
			n := slack[a.Alert]
			if n == nil || n.Severity == "critical" && mails[a.Alert] == nil {
				return false
			}
		}
		return true
	}
	deadline := replayStart.Add(attacks[len(attacks)-1].Offset + e2eLimit + 5*time.Second)
	for !done() && time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		now := time.Now()
		if alerts, err := promAlerts(promURL); err != nil {
			lastErr = err
		} else {
			for _, a := range alerts {
				if a.State == "firing" && a.Labels["instance"] == instance && firing[key(a.Labels)] == nil {
					firing[key(a.Labels)] = &fired{now, a.ActiveAt}
					firingRaw[key(a.Labels)] = a
				}
			}
		}
		if alerts, err := amAlerts(amURL); err != nil {
			lastErr = err
		} else {
			for _, a := range alerts {
				amSeen[key(a.Labels)] = a
				if len(a.Status.InhibitedBy) > 0 {
					inhibited[key(a.Labels)] = true
				}
			}
		}
		for _, p := range hook.Posts(nposts) {
			nposts++
			var m slackMessage
			if err := json.Unmarshal(p.Body, &m); err != nil || len(m.Attachments) == 0 {
				t.Errorf("Slack webhook got a body that is not a Slack message with attachments (%v): %s", err, p.Body)
				continue
			}
			for _, at := range m.Attachments {
				posts = append(posts, fmt.Sprintf("%s %s", rel(p.At), at.Title))
				mt := title.FindStringSubmatch(at.Title)
				if mt == nil {
					t.Errorf("Slack title %q is not [STATUS] alertname (severity) ...", at.Title)
					continue
				}
				if mt[1] == "FIRING" && slack[mt[2]] == nil {
					slack[mt[2]] = &notice{p.At, mt[3], at.Title, at.Text}
				}
			}
		}
		msgs, errs := smtp.Messages(nmails)
		for ; nerrs < len(errs); nerrs++ {
			t.Errorf("fake SMTP server: %s", errs[nerrs])
		}
		for _, m := range msgs {
			nmails++
			pm, err := parseMail(m.Data)
			if err != nil {
				t.Errorf("email %d does not parse: %v\n%s", nmails, err, m.Data)
				continue
			}
			posts = append(posts, fmt.Sprintf("%s email %s", rel(m.At), pm.Subject))
			if mt := title.FindStringSubmatch(pm.Subject); mt != nil && mt[1] == "FIRING" && mails[mt[2]] == nil {
				mails[mt[2]] = &mailed{m.At, m, pm}
			}
		}
	}
	polled := time.Now()
	t.Logf("notifications:\n  %s", strings.Join(posts, "\n  "))
	if !done() && lastErr != nil {
		t.Logf("last query error: %v", lastErr)
	}

	// Each attack: fired in Prometheus, notified on Slack in time with the
	// attack type and the recommendation, mailed when critical.
	for _, a := range attacks {
		start := replayStart.Add(a.Offset)
		var sevs []string
		for _, sev := range []string{"warning", "critical"} {
			if f := firing[a.Alert+"/"+sev]; f != nil {
				sevs = append(sevs, fmt.Sprintf("%s active %s, seen firing %s", sev, rel(f.ActiveAt), rel(f.First)))
			}
		}
		if len(sevs) == 0 {
			t.Errorf("%s: attack at %s, but %s never fired in Prometheus", a.Type, rel(start), a.Alert)
		}
		n := slack[a.Alert]
		if n == nil {
			t.Errorf("%s: attack at %s; %s (%s) never reached Slack", a.Type, rel(start), a.Alert, strings.Join(sevs, "; "))
			continue
		}
		delay := n.At.Sub(start)
		verdict := "within the 30s target"
		if delay > e2eTarget {
			verdict = "OVER the 30s target"
		}
		t.Logf("%s: attack at %s; %s %s; Slack (%s) at %s: delay %.1fs, %s", a.Type, rel(start), a.Alert,
			strings.Join(sevs, "; "), n.Severity, rel(n.At), delay.Seconds(), verdict)
		if delay > e2eLimit {
			t.Errorf("%s: %s reached Slack %.1fs after the attack started, more than %s", a.Type, a.Alert, delay.Seconds(), e2eLimit)
		}
		wantTitle := fmt.Sprintf("] %s (%s) on %s at %s", a.Alert, n.Severity, e2eIface, instance)
		if !strings.Contains(n.Title, wantTitle) {
			t.Errorf("%s: Slack title %q lacks %q", a.Type, n.Title, wantTitle)
		}
		want := []string{
			fmt.Sprintf("*%s on %s (%s).*", a.Name, e2eIface, instance),
			"*Attack type:* `" + a.Type + "`",
			"*Recommendation:* " + a.Recommendation(),
			"*Top features:* ",
		}
		if n.Severity == "critical" {
			want = append(want, "*Threat level:* high")
		}
		for _, w := range want {
			if !strings.Contains(n.Text, w) {
				t.Errorf("%s: Slack text lacks %q:\n%s", a.Type, w, n.Text)
			}
		}
		if strings.Contains(n.Text, "<no value>") || strings.Contains(n.Text, "unknown") {
			t.Errorf("%s: Slack text has an empty or unknown value:\n%s", a.Type, n.Text)
		}
		t.Logf("%s: Slack text:\n%s", a.Type, n.Text)

		if n.Severity == "critical" {
			m := mails[a.Alert]
			if m == nil {
				t.Errorf("%s: critical %s never mailed", a.Type, a.Alert)
			} else {
				t.Logf("%s: email at %s: delay %.1fs, subject %q", a.Type, rel(m.At), m.At.Sub(start).Seconds(), m.Mail.Subject)
				checkMail(t, a, instance, m.Mail.Subject, m.Mail.Parts["text/plain"], m.Mail.Parts["text/html"])
				if m.Msg.AuthPass != smtpPassword || m.Msg.AuthUser == "" || len(m.Msg.To) == 0 {
					t.Errorf("%s: email sent as %q with password %q to %v; want the configured user, the password file's %q, a recipient",
						a.Type, m.Msg.AuthUser, m.Msg.AuthPass, m.Msg.To, smtpPassword)
				}
			}
		}
		// The email template, rendered by amtool with the alert as
		// Alertmanager holds it (the warning is not mailed).
		if amtool, err := exec.LookPath("amtool"); err != nil {
			t.Logf("amtool not installed: email template not rendered for %s", a.Alert)
		} else if am, ok := amSeen[a.Alert+"/"+n.Severity]; !ok {
			t.Errorf("%s: %s (%s) not seen in Alertmanager's API", a.Type, a.Alert, n.Severity)
		} else {
			data := stacktest.TemplateData{
				Receiver: map[string]string{"critical": "critical", "warning": "slack-warning"}[n.Severity], Status: "firing",
				Alerts:       []stacktest.TemplateAlert{{Status: "firing", Labels: am.Labels, Annotations: am.Annotations, StartsAt: am.StartsAt, GeneratorURL: am.GeneratorURL, Fingerprint: am.Fingerprint}},
				GroupLabels:  map[string]string{"alertname": a.Alert, "instance": instance, "interface": e2eIface},
				CommonLabels: am.Labels, CommonAnnotations: am.Annotations, ExternalURL: amURL,
			}
			raw, _ := json.Marshal(data)
			file := filepath.Join(dir, a.Type+".json")
			if err := os.WriteFile(file, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			checkMail(t, a, instance, stacktest.AmtoolRender(t, amtool, file, "netanomaly.email.subject"),
				stacktest.AmtoolRender(t, amtool, file, "netanomaly.email.text"), stacktest.AmtoolRender(t, amtool, file, "netanomaly.email.html"))
		}
	}

	// NetAnomalyDetected: the ensemble score stays above the threshold
	// through both attacks, but the named attacks explain it, so
	// Alertmanager mutes it (inhibit_rules) and it never reaches Slack.
	var detected []string
	for k, f := range firing {
		if strings.HasPrefix(k, detectedAlert+"/") {
			detected = append(detected, fmt.Sprintf("%s active %s, seen firing %s, in Alertmanager %v, inhibited %v",
				k, rel(f.ActiveAt), rel(f.First), amSeen[k].Labels != nil, inhibited[k]))
			if amSeen[k].Labels != nil && !inhibited[k] {
				t.Errorf("%s fired during named attacks but Alertmanager never inhibited it", k)
			}
		}
	}
	if n := slack[detectedAlert]; n != nil {
		t.Errorf("%s reached Slack at %s although named attacks were firing: %s", detectedAlert, rel(n.At), n.Title)
	}
	if len(detected) == 0 {
		t.Logf("%s did not fire before %s (its for: is %s)", detectedAlert, rel(polled), detectedFor)
	} else {
		sort.Strings(detected)
		t.Logf("%s: %s", detectedAlert, strings.Join(detected, "; "))
	}

	// No other attack alert: anything else the rules named during the
	// capture is a false alarm.
	expected := map[string]bool{"unknown": true}
	for _, a := range attacks {
		expected[a.Type] = true
	}
	var other []string
	for k, a := range firingRaw {
		typ, ok := a.Labels["attack_type"]
		if ok && !expected[typ] && a.ActiveAt.Before(replayStart.Add(e2eLength)) {
			t.Errorf("unexpected attack alert %s (attack_type %s) active %s", k, typ, rel(a.ActiveAt))
		}
		if !ok {
			other = append(other, k)
		}
	}
	if len(other) > 0 {
		sort.Strings(other)
		t.Logf("health alerts firing: %v", other)
	}

	// 7. Every dashboard query returns data after the attacks.
	checkDashboardData(t, promURL, instance, replayStart)
	t.Logf("total %s (replay %s)", time.Since(began).Round(time.Second), time.Since(replayStart).Round(time.Second))
}

// checkMail checks a rendered notification email (subject, text and HTML
// bodies) for an attack alert.
func checkMail(t *testing.T, a e2eAttack, instance, subject, text, htmlBody string) {
	t.Helper()
	if want := fmt.Sprintf("%s (", a.Alert); !strings.Contains(subject, want) || !strings.Contains(subject, " on "+e2eIface+" at "+instance) {
		t.Errorf("%s: email subject %q does not name %s on %s at %s", a.Type, subject, a.Alert, e2eIface, instance)
	}
	for _, w := range []string{"Attack type:    " + a.Type, "Recommendation: " + a.Recommendation(), a.Name + " on " + e2eIface} {
		if !strings.Contains(text, w) {
			t.Errorf("%s: email text lacks %q:\n%s", a.Type, w, text)
		}
	}
	for _, w := range []string{`<th align="left">Attack type</th><td>` + a.Type + `</td>`} {
		if !strings.Contains(htmlBody, w) {
			t.Errorf("%s: email HTML lacks %q:\n%s", a.Type, w, htmlBody)
		}
	}
	if !strings.Contains(html.UnescapeString(htmlBody), a.Recommendation()) {
		t.Errorf("%s: email HTML lacks the recommendation %q:\n%s", a.Type, a.Recommendation(), htmlBody)
	}
	for _, body := range []string{subject, text, htmlBody} {
		if strings.Contains(body, "<no value>") {
			t.Errorf("%s: email renders <no value>:\n%s", a.Type, body)
		}
	}
}

// checkDashboardData runs every query of the dashboards (panels,
// annotations, variables) against Prometheus, with Grafana's variables set
// to the test's sensor and interface, as Grafana does: panels over the
// replay as a range query, instant ones (tables) now.
func checkDashboardData(t *testing.T, promURL, instance string, from time.Time) {
	t.Helper()
	vars := strings.NewReplacer("$instance", instance, "$interface", e2eIface)
	now := time.Now()
	type dq struct {
		where, expr string
		instant     bool
	}
	var qs []dq
	files := mixin.Dashboards()
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, file := range names {
		var d map[string]any
		if err := json.Unmarshal(files[file], &d); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, p := range list(d["panels"]) {
			for _, tg := range list(obj(p)["targets"]) {
				tg := obj(tg)
				qs = append(qs, dq{fmt.Sprintf("%s panel %q %v", file, obj(p)["title"], tg["refId"]), str(tg["expr"]), tg["instant"] == true})
			}
		}
		for _, a := range list(obj(d["annotations"])["list"]) {
			if expr := str(obj(a)["expr"]); expr != "" {
				qs = append(qs, dq{fmt.Sprintf("%s annotation %q", file, obj(a)["name"]), expr, false})
			}
		}
		for _, v := range list(obj(d["templating"])["list"]) {
			if m := labelValues.FindStringSubmatch(str(obj(v)["definition"])); m != nil {
				qs = append(qs, dq{fmt.Sprintf("%s variable %v", file, obj(v)["name"]), m[1], true})
			}
		}
	}
	var empty, withData []string
	for _, q := range qs {
		expr := grafanaVars.Replace(vars.Replace(q.expr))
		var n int
		var err error
		if q.instant {
			n, err = promQuery(promURL, expr, time.Time{}, time.Time{}, 0)
		} else {
			n, err = promQuery(promURL, expr, from, now, 5*time.Second)
		}
		switch {
		case err != nil:
			t.Errorf("%s: %v\n%s", q.where, err, expr)
		case n == 0:
			empty = append(empty, q.where)
			t.Errorf("%s returns no data: %s", q.where, expr)
		default:
			withData = append(withData, fmt.Sprintf("%s: %d series", q.where, n))
		}
	}
	t.Logf("dashboard queries with data: %d of %d\n  %s", len(withData), len(qs), strings.Join(withData, "\n  "))
	if len(empty) > 0 {
		t.Logf("dashboard queries without data:\n  %s", strings.Join(empty, "\n  "))
	}
}

// labelValues matches a variable's label_values(selector, label) query.
var labelValues = regexp.MustCompile(`^label_values\((.*),\s*\w+\)$`)

// grafanaVars are concrete values for the variables Grafana sets itself,
// as mixin's TestDashboardQueriesParse replaces them.
var grafanaVars = strings.NewReplacer(
	"${datasource}", mixin.DatasourceUID,
	"$__rate_interval", "1m",
	"$__interval", "15s",
	"$__range", "1h",
)

// Access to a dashboard decoded as generic JSON: the zero value when v is
// of another type.

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func obj(v any) map[string]any {
	o, _ := v.(map[string]any)
	return o
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
