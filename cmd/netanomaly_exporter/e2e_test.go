package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
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

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/netanomaly/netanomaly_exporter/collector/capture/libpcap"
	"github.com/netanomaly/netanomaly_exporter/detector"
)

var update = flag.Bool("u", false, "update the golden files")

func TestMain(m *testing.M) { stacktest.Main(m) }

// volatile matches series whose values change from run to run.
var volatile = regexp.MustCompile(`^(go_|process_|promhttp_|netanomaly_build_info|netanomaly_feature_processing_seconds_total|netanomaly_detector_scoring_seconds_total|netanomaly_detector_last_train_timestamp_seconds|netanomaly_config_last_reload_success_timestamp_seconds)`)

// stableMetrics drops volatile series and comments about them.
func stableMetrics(text string) string {
	var b strings.Builder
	for _, line := range strings.Split(text, "\n") {
		name := strings.TrimPrefix(strings.TrimPrefix(line, "# HELP "), "# TYPE ")
		if line == "" || volatile.MatchString(name) {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

func compareGolden(t *testing.T, golden, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (create it with go test ./cmd/netanomaly_exporter -u)", err)
	}
	if string(want) == got {
		return
	}
	// Show a unified diff, as the node_exporter end-to-end test does.
	gotFile := filepath.Join(t.TempDir(), "got.prom")
	_ = os.WriteFile(gotFile, []byte(got), 0o644)
	out, _ := exec.Command("diff", "-u", golden, gotFile).CombinedOutput()
	t.Fatalf("metrics differ from %s (update with -u if the change is intended):\n%s", golden, out)
}

func promtoolCheck(t *testing.T, text string) {
	t.Helper()
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Log("promtool not installed (apt-get install prometheus): skipping promtool check metrics")
		return
	}
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return
	}
	// Entropies are in bits, as node_exporter's node_entropy_available_bits:
	// the lint for bytes as the base unit is meant for sizes of data, and
	// is the one let through (exit 3 is lint problems only).
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 && len(entropyBitsLint.ReplaceAllString(string(out), "")) == 0 {
		return
	}
	t.Fatalf("promtool check metrics: %v\n%s", err, out)
}

// entropyBitsLint matches promtool's lint of an entropy in bits.
var entropyBitsLint = regexp.MustCompile(`(?m)^netanomaly_window_[a-z_]*entropy[a-z_]*_bits use base unit "bytes" instead of "bits"\n`)

// TestEndToEnd starts the exporter on two bundled captures, waits for the
// replays to finish, and diffs /metrics against a golden file.
func TestEndToEnd(t *testing.T) {
	bin := stacktest.BuildExporter(t)
	addr := stacktest.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"--web.listen-address="+addr,
		"--capture.pcap=testdata/ftp_bruteforce.pcap",
		"--capture.pcap=testdata/wikipedia.pcap",
		"--capture.pcap.speed=0",
		"--features.top-k=3",
		"--privacy.ip=truncate",
		"--log.level=warn",
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	// After a replay that does not loop, the exporter keeps serving the
	// final values: wait until both pipelines are down and stable.
	var text string
	deadline := time.Now().Add(30 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("replay did not finish in time; last scrape:\n%s\nstderr:\n%s", text, stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		text = string(b)
		if strings.Count(text, "netanomaly_capture_up{") == 2 && !strings.Contains(text, "} 1\nnetanomaly_capture_up") && !regexp.MustCompile(`netanomaly_capture_up\{[^}]*\} 1`).MatchString(text) {
			break
		}
	}
	// One more scrape after the pipelines stopped, so the values are final.
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	promtoolCheck(t, string(b))
	compareGolden(t, "testdata/e2e.golden.prom", stableMetrics(string(b)))
	checkOpenMetrics(t, addr, string(b))

	for _, path := range []string{"/", "/-/healthy", "/-/ready"} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d", path, resp.StatusCode)
		}
	}
	if strings.Contains(stderr.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", stderr.String())
	}
}

// TestReplayCommand checks the replay contract: Prometheus text on stdout,
// exit 0, the same numbers as the tshark-checked counts, and the attacks
// logged and written to --events.file as they start.
func TestReplayCommand(t *testing.T) {
	bin := stacktest.BuildExporter(t)
	events := filepath.Join(t.TempDir(), "events.json")
	cmd := exec.Command(bin, "replay", "--capture.pcap=testdata/ftp_bruteforce.pcap", "--events.file="+events)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	if !strings.Contains(stderr.String(), `msg="attack started" interface=ftp_bruteforce type=brute_force`) {
		t.Errorf("the brute force's start is not logged:\n%s", stderr.String())
	}
	if b, err := os.ReadFile(events); err != nil || !bytes.Contains(b, []byte(`{"kind":"attack_start","interface":"ftp_bruteforce"`)) {
		t.Errorf("--events.file holds no attack start (%v):\n%s", err, b)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("replay output is not the Prometheus text format: %v", err)
	}
	get := func(name string, labels map[string]string) float64 {
		mf, ok := mfs[name]
		if !ok {
			t.Fatalf("%s missing from replay output", name)
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
		t.Fatalf("%s%v missing", name, labels)
		return 0
	}
	// tshark: 606 TCP packets, 30 logins to port 21.
	if got := get("netanomaly_packets_total", map[string]string{"protocol": "tcp"}); got != 606 {
		t.Errorf("tcp packets = %v, want 606", got)
	}
	if got := get("netanomaly_capture_packets_received_total", nil); got != 606 {
		t.Errorf("received = %v, want 606", got)
	}
	if got := get("netanomaly_windows_total", nil); got < 6 {
		t.Errorf("windows = %v, want at least 6 for 59 s at 10 s", got)
	}
	promtoolCheck(t, string(out))
}

// TestBadInput checks that bad input gives one clear error line and a
// non-zero exit, before anything starts.
func TestBadInput(t *testing.T) {
	bin := stacktest.BuildExporter(t)
	dir := t.TempDir()
	notCapture := filepath.Join(dir, "page.html")
	_ = os.WriteFile(notCapture, []byte("<!DOCTYPE html><html></html>"), 0o644)
	truncated := filepath.Join(dir, "cut.pcap")
	full, _ := os.ReadFile("testdata/ftp_bruteforce.pcap")
	_ = os.WriteFile(truncated, full[:len(full)/2], 0o644)
	unknownLink := filepath.Join(dir, "fddi.pcap")
	hdr := append([]byte{}, full[:24]...)
	hdr[20] = 10 // LINKTYPE_FDDI
	_ = os.WriteFile(unknownLink, append(hdr, full[24:200]...), 0o644)

	badWeb := filepath.Join(dir, "web.yml")
	_ = os.WriteFile(badWeb, []byte("tls_server_config:\n  cert_file: /nonexistent.crt\n  key_file: /nonexistent.key\n"), 0o644)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad web config", []string{"--web.config.file=" + badWeb}, 2, "--web.config.file=" + badWeb},
		{"missing web config", []string{"--web.config.file=" + filepath.Join(dir, "nope.yml")}, 2, "no such file"},
		{"missing file", []string{"replay", "--capture.pcap=" + filepath.Join(dir, "nope.pcap")}, 1, "no such file"},
		{"not a capture", []string{"replay", "--capture.pcap=" + notCapture}, 1, "not a pcap or pcapng"},
		{"missing interface", []string{"--capture.interface=nonexistent0"}, 1, "list the interfaces with --capture.list-interfaces"},
		{"bad flag value", []string{"--window.length=abc"}, 2, "window.length"},
		{"window too short", []string{"--window.length=10ms"}, 2, "--window.length=10ms out of range"},
		{"unknown flag", []string{"--capture.nope"}, 2, "unknown long flag"},
		{"bad method", []string{"--capture.method=dpdk"}, 2, "capture.method"},
		{"top-k cap", []string{"--features.top-k=51"}, 2, "out of range"},
		{"horizon too long", []string{"--detector.horizon=2h"}, 2, "use 3 to 360 windows"},
		{"bad privacy", []string{"--privacy.ip=none"}, 2, "privacy.ip"},
		{"replay without file", []string{"replay"}, 2, "this command needs --capture.pcap"},
		{"train without model file", []string{"train", "--capture.pcap=testdata/ftp_bruteforce.pcap"}, 2, "--detector.model-file"},
		{"evaluate without labels", []string{"evaluate", "--capture.pcap=testdata/ftp_bruteforce.pcap", "--detector.model-file=x"}, 2, "--labels"},
		{"bad allow", []string{"--detector.allow=10.0.0.0/33"}, 2, "not a CIDR"},
		{"unknown model", []string{"--detector.models=iforest,svm"}, 2, "unknown model \"svm\""},
		{"bad contamination", []string{"--detector.contamination=0.9"}, 2, "contamination"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(bin, c.args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if code != c.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, c.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), c.want) {
				t.Errorf("stderr does not mention %q:\n%s", c.want, stderr.String())
			}
			if n := strings.Count(strings.TrimSpace(stderr.String()), "\n"); n > 0 {
				t.Errorf("want one error line, got %d:\n%s", n+1, stderr.String())
			}
		})
	}

	// A bad BPF expression is reported with libpcap's message before any
	// socket is opened.
	if err := libpcap.Load(); err != nil {
		t.Logf("libpcap not installed: skipping the bad-filter case (%v)", err)
	} else {
		cmd := exec.Command(bin, "--capture.interface=lo", "--capture.filter=tcp prot 80")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), `"tcp prot 80"`) || !strings.Contains(stderr.String(), "syntax error") {
			t.Errorf("bad filter: err %v, stderr:\n%s", err, stderr.String())
		}
	}

	// Without CAP_NET_RAW, live capture names the capability.
	if os.Geteuid() != 0 {
		t.Log("not root: skipping the missing-capability case (it runs the binary as nobody)")
	} else {
		cmd := exec.Command(bin, "--capture.interface=lo")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "CAP_NET_RAW") {
			t.Errorf("unprivileged capture: err %v, stderr:\n%s", err, stderr.String())
		}
	}

	// A truncated capture keeps what was read, warns once and exits 0.
	cmd := exec.Command(bin, "replay", "--capture.pcap="+truncated)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("truncated capture: %v\n%s", err, stderr.String())
	}
	if n := len(regexp.MustCompile(`(?m)^.*truncated.*$`).FindAllString(stderr.String(), -1)); n != 1 {
		t.Errorf("want one truncation warning, got:\n%s", stderr.String())
	}
	if !regexp.MustCompile(`netanomaly_packets_total\{interface="cut",protocol="tcp"\} [1-9]`).Match(out) {
		t.Errorf("packets before the cut were lost:\n%s", out)
	}

	// A capture corrupt in the middle: every offline command keeps what
	// came before, names the file and the offset, and exits 3.
	corrupt := filepath.Join(dir, "damaged.pcap")
	bad, offset := corruptMidway(t, full)
	_ = os.WriteFile(corrupt, bad, 0o644)
	model := filepath.Join(dir, "m.model")
	labels := filepath.Join(dir, "labels.csv")
	_ = os.WriteFile(labels, []byte("start,end,type\n"), 0o644)
	for _, args := range [][]string{
		{"replay", "--capture.pcap=" + corrupt},
		{"train", "--capture.pcap=" + corrupt, "--detector.model-file=" + model},
		{"evaluate", "--capture.pcap=" + corrupt, "--detector.model-file=" + model, "--labels=" + labels},
	} {
		cmd := exec.Command(bin, args...)
		stderr.Reset()
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Errorf("%s on a corrupt capture: %v, want exit 3\n%s", args[0], err, stderr.String())
		}
		if want := fmt.Sprintf("at offset %d", offset); !strings.Contains(stderr.String(), corrupt) || !strings.Contains(stderr.String(), want) {
			t.Errorf("%s on a corrupt capture: stderr does not name the file and %q:\n%s", args[0], want, stderr.String())
		}
		if args[0] == "replay" && !regexp.MustCompile(`netanomaly_packets_total\{interface="damaged",protocol="tcp"\} [1-9]`).Match(out) {
			t.Errorf("packets before the damage were lost:\n%s", out)
		}
		if args[0] == "train" && !strings.Contains(string(out), "wrote "+model) {
			t.Errorf("train did not write the model from the packets before the damage:\n%s", out)
		}
	}

	// An unknown link type is skipped, counted and warned about once.
	cmd = exec.Command(bin, "replay", "--capture.pcap="+unknownLink)
	stderr.Reset()
	cmd.Stderr = &stderr
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("unknown link type: %v\n%s", err, stderr.String())
	}
	if strings.Count(stderr.String(), "unsupported link type") != 1 {
		t.Errorf("want one warning about the link type, got:\n%s", stderr.String())
	}
	if !regexp.MustCompile(`netanomaly_decode_unsupported_link_total\{interface="fddi"\} [1-9]`).Match(out) {
		t.Errorf("unsupported frames not counted:\n%s", out)
	}
}

// corruptMidway returns a copy of a little-endian pcap whose record in the
// middle claims an impossible length, and that record's offset.
func corruptMidway(t *testing.T, pcap []byte) ([]byte, int) {
	t.Helper()
	var offs []int
	for off := 24; off+16 <= len(pcap); {
		offs = append(offs, off)
		off += 16 + int(binary.LittleEndian.Uint32(pcap[off+8:]))
	}
	if len(offs) < 4 {
		t.Fatalf("capture has %d records", len(offs))
	}
	bad := bytes.Clone(pcap)
	off := offs[len(offs)/2]
	binary.LittleEndian.PutUint32(bad[off+8:], 1<<30)
	return bad, off
}

// TestREADMEUpToDate checks that README.md documents every metric the
// exporter emits and every flag it accepts.
func TestREADMEUpToDate(t *testing.T) {
	bin := stacktest.BuildExporter(t)
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "replay", "--capture.pcap=testdata/ftp_bruteforce.pcap", "--features.top-k=2").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+)`).FindAllStringSubmatch(string(out), -1) {
		if !bytes.Contains(readme, []byte("`"+m[1]+"`")) {
			t.Errorf("README.md metrics table lacks %s", m[1])
		}
	}
	// The attack types table is generated from the detector's registry.
	const begin, end = "<!-- attack types: generated from the detector's registry; go test ./cmd/netanomaly_exporter -run TestREADMEUpToDate -u -->\n", "<!-- end of attack types -->"
	i, j := bytes.Index(readme, []byte(begin)), bytes.Index(readme, []byte(end))
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the attack types section between %q and %q", begin, end)
	}
	if want := detector.TypesMarkdown(); string(readme[i+len(begin):j]) != want {
		if *update {
			readme = append(append(append([]byte{}, readme[:i+len(begin)]...), want...), readme[j:]...)
			if err := os.WriteFile("../../README.md", readme, 0o644); err != nil {
				t.Fatal(err)
			}
		} else {
			t.Errorf("README.md's attack types table is out of date: go test ./cmd/netanomaly_exporter -run TestREADMEUpToDate -u")
		}
	}
	var help []byte
	for _, cmd := range []string{"serve", "train", "evaluate"} {
		out, _ := exec.Command(bin, "help", cmd).CombinedOutput()
		help = append(help, out...)
	}
	for _, m := range regexp.MustCompile(`(?m)^\s+--(?:\[no-\])?([a-z][a-z.-]*[a-z])`).FindAllStringSubmatch(string(help), -1) {
		switch m[1] {
		case "help", "help-long", "help-man", "version":
			continue
		}
		if !bytes.Contains(readme, []byte("--"+m[1])) {
			t.Errorf("README.md flags table lacks --%s", m[1])
		}
	}
}

// TestCorruptLoop checks that serving a looping replay of a capture corrupt
// in the middle counts the damage and goes on looping, and that a replay
// that ends is finished, not down.
func TestCorruptLoop(t *testing.T) {
	bin := stacktest.BuildExporter(t)
	full, _ := os.ReadFile("testdata/ftp_bruteforce.pcap")
	bad, _ := corruptMidway(t, full)
	path := filepath.Join(t.TempDir(), "damaged.pcap")
	_ = os.WriteFile(path, bad, 0o644)
	for _, loop := range []bool{true, false} {
		addr := stacktest.FreeAddr(t)
		args := []string{"--web.listen-address=" + addr, "--capture.pcap=" + path, "--capture.pcap.speed=100", "--log.level=warn"}
		// Regular expressions over the exposition.
		want := []string{`netanomaly_capture_file_errors_total\{interface="damaged"\} [2-9]`, `netanomaly_capture_state\{interface="damaged",state="capturing"\} 1`}
		if loop {
			args = append(args, "--capture.pcap.loop")
		} else {
			want = []string{`netanomaly_capture_state\{interface="damaged",state="finished"\} 1`, `netanomaly_capture_file_errors_total\{interface="damaged"\} 1\n`}
		}
		cmd := exec.Command(bin, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var once sync.Once
		stop := func() { once.Do(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }) }
		t.Cleanup(stop)
		text := scrapeUntil(t, addr, want[0])
		stop()
		for _, w := range want[1:] {
			if !regexp.MustCompile(w).MatchString(text) {
				t.Errorf("loop=%v: /metrics lacks %s", loop, w)
			}
		}
	}
}
