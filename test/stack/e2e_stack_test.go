package stack

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v2"

	"github.com/netanomaly/netanomaly_exporter/internal/stacktest"
	"github.com/netanomaly/netanomaly_exporter/internal/testutil"
)

// Helpers of TestEndToEndAlerting: a webhook receiver standing in for
// Slack, a fake SMTP server, the shipped configurations rewritten for
// loopback, and bounded HTTP queries.

// e2eClient bounds every HTTP request of the end-to-end test.
var e2eClient = &http.Client{Timeout: 10 * time.Second}

// e2eGetJSON fetches url and decodes its JSON body into v.
func e2eGetJSON(u string, v any) error {
	resp, err := e2eClient.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %v", u, err)
	}
	return nil
}

// webhookPost is one notification the fake Slack received.
type webhookPost struct {
	At   time.Time
	Body []byte
}

// webhook records every POST it receives, as Slack's incoming webhook
// would (it answers "ok").
type webhook struct {
	URL   string
	mu    sync.Mutex
	posts []webhookPost
}

func startWebhook(t *testing.T) *webhook {
	t.Helper()
	w := &webhook{}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if r.Method != http.MethodPost {
			http.Error(rw, "POST only", http.StatusMethodNotAllowed)
			return
		}
		w.mu.Lock()
		w.posts = append(w.posts, webhookPost{time.Now(), body})
		w.mu.Unlock()
		_, _ = io.WriteString(rw, "ok")
	}))
	t.Cleanup(srv.Close)
	w.URL = srv.URL + "/services/T000/B000/e2e"
	return w
}

// Posts returns the posts received from index from on.
func (w *webhook) Posts(from int) []webhookPost {
	w.mu.Lock()
	defer w.mu.Unlock()
	if from >= len(w.posts) {
		return nil
	}
	return append([]webhookPost(nil), w.posts[from:]...)
}

// slackMessage is the part of Alertmanager's Slack payload the test reads.
type slackMessage struct {
	Attachments []struct {
		Title     string `json:"title"`
		TitleLink string `json:"title_link"`
		Text      string `json:"text"`
		Color     string `json:"color"`
	} `json:"attachments"`
}

// smtpMessage is one mail the fake SMTP server accepted.
type smtpMessage struct {
	At                 time.Time
	AuthUser, AuthPass string
	From               string
	To                 []string
	Data               []byte
}

// fakeSMTP is a minimal SMTP server on 127.0.0.1: EHLO advertising AUTH
// PLAIN (Go's smtp.PlainAuth allows it without TLS on loopback), MAIL,
// RCPT, DATA, RSET, NOOP, QUIT. It keeps every message.
type fakeSMTP struct {
	Addr string
	mu   sync.Mutex
	msgs []smtpMessage
	errs []string
}

func startFakeSMTP(t *testing.T) *fakeSMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeSMTP{Addr: ln.Addr().String()}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.session(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait() // sessions end within their deadline
	})
	return s
}

func (s *fakeSMTP) session(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	reply := func(lines ...string) {
		for _, l := range lines {
			_, _ = io.WriteString(c, l+"\r\n")
		}
	}
	reply("220 127.0.0.1 ESMTP fake")
	var m smtpMessage
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		f := strings.Fields(line)
		if len(f) == 0 {
			reply("500 empty command")
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "EHLO":
			reply("250-127.0.0.1 hello", "250-AUTH PLAIN", "250 8BITMIME")
		case "HELO":
			reply("250 127.0.0.1 hello")
		case "AUTH":
			raw, err := base64.StdEncoding.DecodeString(f[len(f)-1])
			parts := strings.Split(string(raw), "\x00")
			if len(f) != 3 || !strings.EqualFold(f[1], "PLAIN") || err != nil || len(parts) != 3 {
				s.fail("bad AUTH command %q", line)
				reply("504 5.5.4 only AUTH PLAIN with an initial response")
				continue
			}
			m.AuthUser, m.AuthPass = parts[1], parts[2]
			reply("235 2.7.0 authenticated")
		case "MAIL":
			m.From = smtpArg(line)
			reply("250 2.1.0 ok")
		case "RCPT":
			m.To = append(m.To, smtpArg(line))
			reply("250 2.1.5 ok")
		case "DATA":
			reply("354 end data with <CR><LF>.<CR><LF>")
			var data bytes.Buffer
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					s.fail("connection lost in DATA: %v", err)
					return
				}
				if l == ".\r\n" || l == ".\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, ".")) // dot-stuffing
			}
			m.Data, m.At = data.Bytes(), time.Now()
			s.mu.Lock()
			s.msgs = append(s.msgs, m)
			s.mu.Unlock()
			m = smtpMessage{AuthUser: m.AuthUser, AuthPass: m.AuthPass}
			reply("250 2.0.0 queued")
		case "RSET":
			m = smtpMessage{AuthUser: m.AuthUser, AuthPass: m.AuthPass}
			reply("250 2.0.0 ok")
		case "NOOP":
			reply("250 2.0.0 ok")
		case "QUIT":
			reply("221 2.0.0 bye")
			return
		default:
			s.fail("unexpected command %q", line)
			reply("502 5.5.1 not implemented")
		}
	}
}

// smtpArg returns the address of MAIL FROM:<a> or RCPT TO:<a>.
func smtpArg(line string) string {
	_, arg, _ := strings.Cut(line, ":")
	arg, _, _ = strings.Cut(strings.TrimSpace(arg), " ") // drop parameters (BODY=8BITMIME)
	return strings.Trim(arg, "<>")
}

func (s *fakeSMTP) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, fmt.Sprintf(format, args...))
}

// Messages returns the messages received from index from on, and the
// protocol errors so far.
func (s *fakeSMTP) Messages(from int) ([]smtpMessage, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []smtpMessage
	if from < len(s.msgs) {
		out = append(out, s.msgs[from:]...)
	}
	return out, append([]string(nil), s.errs...)
}

// parsedMail is a notification email: its decoded subject and the bodies
// of its parts by media type.
type parsedMail struct {
	Subject string
	Header  mail.Header
	Parts   map[string]string
}

// parseMail decodes a MIME message as Alertmanager writes it: a
// multipart/alternative of quoted-printable text and HTML parts.
func parseMail(data []byte) (parsedMail, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return parsedMail{}, err
	}
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return parsedMail{}, fmt.Errorf("subject: %v", err)
	}
	p := parsedMail{Subject: subject, Header: msg.Header, Parts: map[string]string{}}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return p, fmt.Errorf("content type: %v", err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		body, err := io.ReadAll(msg.Body)
		p.Parts[mt] = string(body)
		return p, err
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			return p, nil
		}
		if err != nil {
			return p, err
		}
		pt, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		body, err := io.ReadAll(part)
		if err != nil {
			return p, err
		}
		p.Parts[pt] = string(body)
	}
}

// writeYAML writes a YAML document to path and returns path.
func writeYAML(t *testing.T, path string, doc any) string {
	t.Helper()
	data, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// setStaticTarget points the single static_config of a scrape or
// alertmanager configuration at addr.
func setStaticTarget(t *testing.T, cfg any, addr, where string) {
	t.Helper()
	sc := stacktest.YAMLList(t, stacktest.YAMLMap(t, cfg, where)["static_configs"], where+".static_configs")
	if len(sc) != 1 {
		t.Fatalf("%s: %d static_configs, the end-to-end test expects one", where, len(sc))
	}
	stacktest.YAMLMap(t, sc[0], where+".static_configs[0]")["targets"] = []any{addr}
}

// e2ePrometheusConfig writes prometheus/prometheus.yml with only the
// addresses changed: each scrape job and the Alertmanager point at the
// local processes, and rule_files at the repository's rules. Intervals,
// external labels and everything else are the shipped ones.
func e2ePrometheusConfig(t *testing.T, dir, promAddr, exporterAddr, amAddr string) (path string, scrape, eval string) {
	t.Helper()
	doc := stacktest.ReadRepoYAML(t, "prometheus/prometheus.yml")
	var rules []any
	for _, r := range stacktest.YAMLList(t, doc["rule_files"], "rule_files") {
		rules = append(rules, filepath.Join(stacktest.RepoRoot(t), "prometheus", r.(string)))
	}
	doc["rule_files"] = rules
	ams := stacktest.YAMLList(t, stacktest.YAMLMap(t, doc["alerting"], "alerting")["alertmanagers"], "alerting.alertmanagers")
	if len(ams) != 1 {
		t.Fatalf("prometheus.yml: %d alertmanagers, the end-to-end test expects one", len(ams))
	}
	setStaticTarget(t, ams[0], amAddr, "alerting.alertmanagers[0]")
	targets := map[string]string{"netanomaly": exporterAddr, "prometheus": promAddr, "alertmanager": amAddr}
	for i, sc := range stacktest.YAMLList(t, doc["scrape_configs"], "scrape_configs") {
		job, _ := stacktest.YAMLMap(t, sc, "scrape_configs")["job_name"].(string)
		addr, ok := targets[job]
		if !ok {
			t.Fatalf("prometheus.yml: scrape job %q is new to the end-to-end test: tell it (e2ePrometheusConfig) where to point it", job)
		}
		setStaticTarget(t, sc, addr, fmt.Sprintf("scrape_configs[%d] (%s)", i, job))
		delete(targets, job)
	}
	if len(targets) > 0 {
		t.Fatalf("prometheus.yml: scrape jobs %v missing", targets)
	}
	g := stacktest.YAMLMap(t, doc["global"], "global")
	scrape, _ = g["scrape_interval"].(string)
	eval, _ = g["evaluation_interval"].(string)
	return writeYAML(t, filepath.Join(dir, "prometheus.yml"), doc), scrape, eval
}

// e2eAlertmanagerConfig writes alertmanager/alertmanager.yml with only
// what the test needs changed: the Slack URL and SMTP password files (the
// shipped ones are Docker secrets), the SMTP server (the fake one, without
// STARTTLS) and the template paths (absolute, to the repository's).
func e2eAlertmanagerConfig(t *testing.T, dir, slackURL, smtpAddr, smtpPassword string) string {
	t.Helper()
	doc := stacktest.ReadRepoYAML(t, "alertmanager/alertmanager.yml")
	g := stacktest.YAMLMap(t, doc["global"], "global")
	for _, k := range []string{"slack_api_url_file", "smtp_auth_password_file", "smtp_smarthost", "smtp_require_tls"} {
		if _, ok := g[k]; !ok {
			t.Fatalf("alertmanager.yml: no global.%s; the end-to-end test overrides it", k)
		}
	}
	// Written as alertmanager/secrets/README.md says (printf '%s', no
	// newline): Alertmanager before 0.27 does not trim the password file.
	slackFile := filepath.Join(dir, "slack_api_url")
	pwFile := filepath.Join(dir, "smtp_auth_password")
	for f, v := range map[string]string{slackFile: slackURL, pwFile: smtpPassword} {
		if err := os.WriteFile(f, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	g["slack_api_url_file"] = slackFile
	g["smtp_auth_password_file"] = pwFile
	g["smtp_smarthost"] = smtpAddr
	g["smtp_require_tls"] = false
	var tmpls []any
	for _, p := range stacktest.YAMLList(t, doc["templates"], "templates") {
		tmpls = append(tmpls, filepath.Join(stacktest.RepoRoot(t), "alertmanager", p.(string)))
	}
	doc["templates"] = tmpls
	return writeYAML(t, filepath.Join(dir, "alertmanager.yml"), doc)
}

// startReplay starts the exporter replaying a capture in real time and
// returns when it answers. The replay starts when the process has loaded
// its model, just before it listens: between start and ready.
func startReplay(t *testing.T, bin, addr string, args ...string) (start, ready time.Time) {
	t.Helper()
	var out testutil.SyncBuffer
	cmd := exec.Command(bin, append([]string{"serve", "--web.listen-address=" + addr}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	start = time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the exporter: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("exporter output:\n%s", out.String())
		}
	})
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("exporter exited: %v\n%s", err, out.String())
		default:
		}
		resp, err := client.Get("http://" + addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return start, time.Now()
			}
		}
	}
	t.Fatalf("exporter not ready after 30s\n%s", out.String())
	return
}

// promAlert is an alert of Prometheus's /api/v1/alerts.
type promAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	ActiveAt    time.Time         `json:"activeAt"`
}

func promAlerts(promURL string) ([]promAlert, error) {
	var r struct {
		Data struct {
			Alerts []promAlert `json:"alerts"`
		} `json:"data"`
	}
	err := e2eGetJSON(promURL+"/api/v1/alerts", &r)
	return r.Data.Alerts, err
}

// amAPIAlert is an alert of Alertmanager's /api/v2/alerts.
type amAPIAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
	Status       struct {
		State       string   `json:"state"`
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
	Receivers []struct {
		Name string `json:"name"`
	} `json:"receivers"`
}

func amAlerts(amURL string) ([]amAPIAlert, error) {
	var r []amAPIAlert
	err := e2eGetJSON(amURL+"/api/v2/alerts", &r)
	return r, err
}

// promQuery runs an instant query (end zero) or a range query from start
// to end, and returns how many series came back.
func promQuery(promURL, expr string, start, end time.Time, step time.Duration) (int, error) {
	v := url.Values{"query": {expr}}
	path := "/api/v1/query"
	if !start.IsZero() {
		path = "/api/v1/query_range"
		v.Set("start", fmt.Sprintf("%.3f", float64(start.UnixMilli())/1000))
		v.Set("end", fmt.Sprintf("%.3f", float64(end.UnixMilli())/1000))
		v.Set("step", fmt.Sprint(step.Seconds()))
	}
	var r struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string            `json:"resultType"`
			Result     []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := e2eGetJSON(promURL+path+"?"+v.Encode(), &r); err != nil {
		return 0, err
	}
	return len(r.Data.Result), nil
}
