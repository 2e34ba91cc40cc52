package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/internal/stacktest"

	"github.com/netanomaly/netanomaly_exporter/collector/capture/pcapfile"
	"github.com/netanomaly/netanomaly_exporter/detector"
	"github.com/netanomaly/netanomaly_exporter/internal/synth"
	"github.com/netanomaly/netanomaly_exporter/internal/testpcap"
	"github.com/netanomaly/netanomaly_exporter/internal/testutil"
)

// mergeCaptures writes the packets of several pcaps, sorted by time, to
// path. Each input is shifted by its offset.
func mergeCaptures(t *testing.T, path string, inputs [][]byte, offsets []time.Duration) {
	t.Helper()
	var all []testpcap.Packet
	for i, in := range inputs {
		r, err := pcapfile.NewReader(bytes.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		for {
			p, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, testpcap.Packet{Time: p.TimeNanos + int64(offsets[i]), Data: bytes.Clone(p.Data), WireLen: p.WireLength})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(testpcap.WriteSorted(f, all), f.Close()); err != nil {
		t.Fatal(err)
	}
}

func genTraffic(t *testing.T, n int, seed uint64, gap time.Duration, sources int) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	if sources > 0 {
		err = synth.WriteTraffic(&b, n, seed, int64(gap), sources)
	} else {
		err = synth.WriteFlood(&b, n, seed, int64(gap))
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestTrainEvaluate trains on one hour of benign traffic and evaluates a
// second hour with a flood in it, through the commands users run.
func TestTrainEvaluate(t *testing.T) {
	if testing.Short() {
		t.Skip("trains models: skipped with -short")
	}
	bin := stacktest.BuildExporter(t)
	dir := t.TempDir()
	// 20 packets/s from 200 hosts for an hour (the generator's epoch is
	// 2023-11-14 22:13:20 UTC).
	benign := filepath.Join(dir, "benign.pcap")
	if err := os.WriteFile(benign, genTraffic(t, 72000, 1, 50*time.Millisecond, 200), 0o644); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "m.model")
	out, err := exec.Command(bin, "train", "--capture.pcap="+benign, "--detector.model-file="+model).CombinedOutput()
	if err != nil {
		t.Fatalf("train: %v\n%s", err, out)
	}
	// The file ends with its last packet, 50 ms before its last window
	// does: that window is partial and left out.
	if !strings.Contains(string(out), "read 360 windows") || !strings.Contains(string(out), "359 normal") || !strings.Contains(string(out), "1 partial") {
		t.Errorf("train output does not report 360 windows read, 359 normal and 1 partial:\n%s", out)
	}

	// The test hour: other benign traffic, and 20 s of a random-source
	// flood (60% SYN, 30% UDP, 10% ICMP) at 5000 packets/s 30 minutes in.
	test := filepath.Join(dir, "test.pcap")
	mergeCaptures(t, test, [][]byte{genTraffic(t, 72000, 2, 50*time.Millisecond, 200), genTraffic(t, 100000, 3, 200*time.Microsecond, 0)},
		[]time.Duration{0, 30 * time.Minute})
	const epoch = 1_700_000_000
	labels := filepath.Join(dir, "labels.csv")
	os.WriteFile(labels, []byte(fmt.Sprintf("start,end,type,source\n%d,%d,syn_flood,\n", epoch+1800, epoch+1820)), 0o644)
	verdicts := filepath.Join(dir, "v.jsonl")
	if d := os.Getenv("KEEP_E2E_DIR"); d != "" {
		defer exec.Command("cp", "-r", dir, d).Run()
	}
	out, err = exec.Command(bin, "evaluate", "--capture.pcap="+test, "--labels="+labels, "--detector.model-file="+model, "--verdicts="+verdicts, "--format=json").Output()
	if err != nil {
		t.Fatalf("evaluate: %v\n%s", err, out)
	}
	var ev struct {
		Windows        int     `json:"windows"`
		F1             float64 `json:"f1"`
		FalseAlarms    int     `json:"false_alarms"`
		EventsDetected int     `json:"events_detected"`
		MaxDelay       float64 `json:"max_detection_delay_windows"`
	}
	if err := json.Unmarshal(out, &ev); err != nil {
		t.Fatalf("evaluate --format=json: %v\n%s", err, out)
	}
	t.Logf("evaluate: %s", out)
	if ev.Windows != 360 || ev.EventsDetected != 1 || ev.F1 < 0.95 || ev.FalseAlarms > 0 || ev.MaxDelay > 2 {
		t.Errorf("evaluation %+v, want 360 windows, the flood detected as syn_flood within 2 windows, F1 >= 0.95, no false alarm", ev)
	}

	// The verdicts file has one object per window with the contract fields.
	f, err := os.Open(verdicts)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	lines, anomalous := 0, 0
	for sc.Scan() {
		var v map[string]any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("verdict line %d: %v", lines+1, err)
		}
		for _, k := range []string{"interface", "start", "end", "score", "anomalous", "threat_level", "confidence", "attacks", "top_features"} {
			if _, ok := v[k]; !ok {
				t.Fatalf("verdict line %d lacks %q: %s", lines+1, k, sc.Text())
			}
		}
		if v["anomalous"] == true {
			anomalous++
			if !strings.Contains(sc.Text(), `"syn_flood"`) && lines < 185 {
				t.Errorf("anomalous window without syn_flood: %s", sc.Text())
			}
		}
		lines++
	}
	if lines != 360 || anomalous < 2 {
		t.Errorf("%d verdict lines, %d anomalous; want 360 and the flood's windows", lines, anomalous)
	}

	// Same capture, same model, same seed: the same verdicts.
	again := filepath.Join(dir, "v2.jsonl")
	if out, err := exec.Command(bin, "evaluate", "--capture.pcap="+test, "--labels="+labels, "--detector.model-file="+model, "--verdicts="+again).CombinedOutput(); err != nil {
		t.Fatalf("evaluate again: %v\n%s", err, out)
	}
	a, _ := os.ReadFile(verdicts)
	b, _ := os.ReadFile(again)
	if !bytes.Equal(a, b) {
		t.Error("two evaluations of the same capture gave different verdicts")
	}

	// The exporter serving with the model reports verdicts and model state.
	addr := stacktest.FreeAddr(t)
	cmd := exec.Command(bin, "--web.listen-address="+addr, "--capture.pcap="+test, "--capture.pcap.speed=0", "--detector.model-file="+model, "--detector.attack-sources=2", "--log.level=warn")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	text := scrapeUntil(t, addr, `netanomaly_capture_up\{[^}]*\} 0`)
	for _, want := range []string{
		`netanomaly_detector_model_load_success 1`,
		`netanomaly_detector_trained{interface="test"} 1`,
		`netanomaly_attacks_total{interface="test",type="syn_flood"} 1`,
		`netanomaly_anomaly_threshold{interface="test"}`,
		`netanomaly_model_score{interface="test",model="lstm"}`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("serving with the model: /metrics lacks %s", want)
		}
	}

	// A damaged model file is set aside; the exporter warms up instead.
	data, _ := os.ReadFile(model)
	data[len(data)-10] ^= 0xff
	os.WriteFile(model, data, 0o644)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	addr = stacktest.FreeAddr(t)
	cmd = exec.Command(bin, "--web.listen-address="+addr, "--capture.pcap="+test, "--capture.pcap.speed=0", "--detector.model-file="+model)
	stderr.Reset()
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	text = scrapeUntil(t, addr, `netanomaly_capture_up\{[^}]*\} 0`)
	if !strings.Contains(text, "netanomaly_detector_model_load_success 0") {
		t.Error("damaged model file: model_load_success is not 0")
	}
	if !strings.Contains(stderr.String(), "checksum mismatch") {
		t.Errorf("damaged model file: no clear error logged:\n%s", stderr.String())
	}
	if m, _ := filepath.Glob(model + ".bad-*"); len(m) != 1 {
		t.Errorf("damaged model file not set aside: %v", m)
	}
}

// waitListening waits until addr answers HTTP, whatever the answer.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/-/healthy"); err == nil {
			resp.Body.Close()
			return
		}
	}
	t.Fatalf("%s never answered", addr)
}

// scrapeUntil polls /metrics until it matches re, and returns the text.
func scrapeUntil(t *testing.T, addr, re string) string {
	t.Helper()
	pattern := regexp.MustCompile(re)
	deadline := time.Now().Add(60 * time.Second)
	var text string
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		text = string(b)
		if pattern.MatchString(text) {
			// One more scrape: the final snapshot follows the source's end.
			time.Sleep(300 * time.Millisecond)
			if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				text = string(b)
			}
			return text
		}
	}
	t.Fatalf("/metrics never matched %s; last:\n%s", re, text)
	return ""
}

// TestAdminAPI checks the admin endpoints: off by default, refused without
// authentication, POST with JSON only, retrain, and capture stop/start
// (which a capture file refuses).
func TestAdminAPI(t *testing.T) {
	bin := stacktest.BuildExporter(t)
	start := func(args ...string) (string, *bytes.Buffer, func()) {
		addr := stacktest.FreeAddr(t)
		// Benign traffic: a retrain trains on the windows judged normal.
		cmd := exec.Command(bin, append([]string{"--web.listen-address=" + addr, "--capture.pcap=testdata/wikipedia.pcap", "--capture.pcap.loop", "--capture.pcap.speed=10", "--log.level=warn"}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var once sync.Once
		stop := func() { once.Do(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }) }
		t.Cleanup(stop) // also when a check below fails the test
		waitListening(t, addr)
		return addr, &stderr, stop
	}
	post := func(url, contentType string, header ...string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader("{}"))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const jsonType = "application/json"

	addr, _, stop := start()
	if code, _ := post("http://"+addr+"/api/v1/admin/retrain", jsonType); code == http.StatusOK {
		t.Error("admin API answers without --web.enable-admin-api")
	}
	stop()

	// Without authentication in the web config, the admin API is refused
	// before anything starts.
	out, err := exec.Command(bin, "--capture.pcap=testdata/wikipedia.pcap", "--web.enable-admin-api").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "--web.admin-api.allow-unauthenticated") || strings.Contains(string(out), "started") {
		t.Errorf("admin API without authentication: err %v, output:\n%s", err, out)
	}

	// With basic auth: no credentials, no call; credentials and JSON, a call.
	webConfig := filepath.Join(t.TempDir(), "web.yml")
	_ = os.WriteFile(webConfig, []byte("basic_auth_users:\n  admin: $2y$04$D.7wl7aFtJ7tUNNzzWabt.AGzE0F1383ff3OD.nWiDheB7prf/78a\n"), 0o600)
	addr, _, stop = start("--web.enable-admin-api", "--web.config.file="+webConfig)
	base := "http://" + addr + "/api/v1/admin/"
	if code, _ := post(base+"retrain", jsonType); code != http.StatusUnauthorized {
		t.Errorf("retrain without credentials: %d, want 401", code)
	}
	if code, body := post(base+"retrain", jsonType, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("admin:s3cret-admin"))); code != http.StatusOK {
		t.Errorf("retrain with credentials: %d %s", code, body)
	}
	stop()

	addr, stderr, stop := start("--web.enable-admin-api", "--web.admin-api.allow-unauthenticated")
	defer stop()
	if !strings.Contains(stderr.String(), "without authentication") {
		t.Errorf("no warning logged for an unauthenticated admin API:\n%s", stderr.String())
	}
	base = "http://" + addr + "/api/v1/admin/"
	// What a cross-site form or fetch without preflight can send.
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"} {
		if code, body := post(base+"capture/stop", ct); code != http.StatusUnsupportedMediaType {
			t.Errorf("POST with Content-Type %q: %d %s, want 415", ct, code, body)
		}
	}
	if code, body := post(base+"retrain", "text/plain", "X-Netanomaly-Admin", "1"); code != http.StatusOK {
		t.Errorf("retrain with the custom header: %d %s", code, body)
	}
	if code, body := post(base+"retrain", jsonType); code != http.StatusOK || !strings.Contains(body, `"wikipedia"`) {
		t.Errorf("retrain: %d %s", code, body)
	}
	if code, body := post(base+"retrain?interface=eth9", jsonType); code != http.StatusNotFound {
		t.Errorf("retrain of an unknown interface: %d %s", code, body)
	}
	if code, body := post(base+"capture/stop", jsonType); code != http.StatusConflict || !strings.Contains(body, "only live interfaces") {
		t.Errorf("stopping a capture file: %d %s", code, body)
	}
	resp, err := http.Get(base + "retrain")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET retrain: %d, want 405", resp.StatusCode)
	}
	// The retrain request trains at the next window even during warm-up.
	text := scrapeUntil(t, addr, `netanomaly_detector_trained\{interface="wikipedia"\} 1`)
	if !strings.Contains(text, `netanomaly_detector_retrains_total{interface="wikipedia"} 1`) {
		t.Errorf("no retrain counted after the request")
	}
}

// TestSignals checks that SIGHUP reloads without stopping and writes the
// models trained so far, that SIGTERM saves them and exits 0, and that the
// temporary files an interrupted save left are removed at start.
func TestSignals(t *testing.T) {
	bin := stacktest.BuildExporter(t)
	dir := t.TempDir()
	model := filepath.Join(dir, "m.model")
	stale := filepath.Join(dir, ".model-4242")
	_ = os.WriteFile(stale, []byte("half a model"), 0o600)
	old := time.Now().Add(-time.Hour)
	_ = os.Chtimes(stale, old, old)

	addr := stacktest.FreeAddr(t)
	cmd := exec.Command(bin, "--web.listen-address="+addr, "--capture.pcap=testdata/wikipedia.pcap", "--capture.pcap.loop", "--capture.pcap.speed=50",
		"--detector.warmup=30s", "--detector.model-file="+model)
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	scrapeUntil(t, addr, `netanomaly_detector_trained\{interface="wikipedia"\} 1`)
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary model file not removed at start: %v", err)
	}
	_ = os.Remove(model) // written after the training: SIGHUP must write it again

	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "SIGHUP: reloaded") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(stderr.String(), "SIGHUP: reloaded") {
		t.Fatalf("no reload logged after SIGHUP:\n%s", stderr.String())
	}
	if _, err := os.Stat(model); err != nil {
		t.Errorf("SIGHUP did not write the model file: %v", err)
	}
	if resp, err := http.Get("http://" + addr + "/-/healthy"); err != nil {
		t.Fatalf("exporter gone after SIGHUP: %v\n%s", err, stderr.String())
	} else {
		resp.Body.Close()
	}

	_ = os.Remove(model)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("SIGTERM: %v, want exit 0\n%s", err, stderr.String())
	}
	if _, err := detector.LoadModelFile(model, 10*time.Second); err != nil {
		t.Errorf("SIGTERM did not save a loadable model file: %v", err)
	}
}
