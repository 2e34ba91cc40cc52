package main

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/internal/stacktest"

	"github.com/netanomaly/netanomaly_exporter/detector"
	"github.com/netanomaly/netanomaly_exporter/internal/testutil"
)

// TestDemoStarts starts the exporter as a newcomer does, without a source:
// within seconds the demo's models are trained and judge beside the rules,
// and the models are saved to --detector.model-file on exit. Started again
// on that file, it loads the models instead of training, and at 20 times
// real speed the first scripted attack, the port scan, is named with its
// scanner in the metrics and in the log, with a recommendation.
func TestDemoStarts(t *testing.T) {
	bin := stacktest.BuildExporter(t)
	model := filepath.Join(t.TempDir(), "demo.model")
	start := func(args ...string) (*exec.Cmd, string, *testutil.SyncBuffer) {
		addr := stacktest.FreeAddr(t)
		cmd := exec.Command(bin, append([]string{"--web.listen-address=" + addr, "--detector.model-file=" + model}, args...)...)
		var stderr testutil.SyncBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd, addr, &stderr
	}
	stop := func(cmd *exec.Cmd, stderr *testutil.SyncBuffer) {
		t.Helper()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("SIGTERM: %v, want exit 0\n%s", err, stderr.String())
		}
		if strings.Contains(stderr.String(), "level=ERROR") {
			t.Errorf("errors logged:\n%s", stderr.String())
		}
	}

	t0 := time.Now()
	cmd, addr, stderr := start()
	text := scrapeUntil(t, addr, `netanomaly_detector_trained\{interface="demo"\} 1`)
	t.Logf("trained and serving %v after the start", time.Since(t0).Round(100*time.Millisecond))
	for _, want := range []string{
		`netanomaly_detection_active{interface="demo",method="model"} 1`,
		`netanomaly_detection_active{interface="demo",method="rules"} 1`,
		`netanomaly_capture_state{interface="demo",state="capturing"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if m := regexp.MustCompile(`netanomaly_detector_training_windows\{interface="demo"\} (\d+)`).FindStringSubmatch(text); m == nil || len(m[1]) < 3 {
		t.Errorf("trained on %v windows, want the demo's training traffic (hundreds)", m)
	}
	stop(cmd, stderr)
	for _, want := range []string{"demo: no --capture.interface or --capture.pcap given", "port_scan at 1:30", "demo: models trained"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, stderr.String())
		}
	}
	if _, err := detector.LoadModelFile(model, 10*time.Second); err != nil {
		t.Fatalf("the demo's models were not saved on exit: %v\n%s", err, stderr.String())
	}

	_, labels, err := demoCapture(time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	scanner := labels[0].Source
	cmd, addr, stderr = start("--capture.pcap.speed=20")
	text = scrapeUntil(t, addr, `netanomaly_attack\{interface="demo",type="port_scan"\} 1`)
	// The demo names attackers in labels unless --detector.attack-sources says otherwise.
	source := regexp.MustCompile(`netanomaly_attack_source_info\{address="` + regexp.QuoteMeta(scanner) + `",interface="demo",rank="1",type="port_scan"\} 1`)
	if !source.MatchString(text) {
		t.Errorf("/metrics does not name the scanner %s:\n%s", scanner, grepLines(text, "netanomaly_attack"))
	}
	stop(cmd, stderr)
	log := stderr.String()
	if strings.Contains(log, "demo: models trained") || !strings.Contains(log, "models loaded") {
		t.Errorf("with a model file the demo should load its models, not train:\n%s", log)
	}
	started := regexp.MustCompile(`msg="attack started" interface=demo type=port_scan .*sources=\[` + regexp.QuoteMeta(scanner) + `\] .*recommendation=`)
	if !started.MatchString(log) {
		t.Errorf("no attack started line with the scanner and a recommendation:\n%s", log)
	}
}
