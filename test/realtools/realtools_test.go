package realtools

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/detector"
)

const (
	script     = "scripts/record-attacks.sh"
	labLibrary = "scripts/lab.sh" // the test network, sourced by script
)

// Bars the detector must clear on the real-tool recording.
const (
	minF1           = 0.95
	maxDelayWindows = 2
)

// tools are the commands the recording needs, and the Debian packages
// that have them.
var tools = [][2]string{
	{"ip", "iproute2"}, {"tcpdump", "tcpdump"}, {"nmap", "nmap"}, {"hping3", "hping3"},
	{"hydra", "hydra"}, {"slowhttptest", "slowhttptest"}, {"sshd", "openssh-server"},
	{"ssh", "openssh-client"}, {"ssh-keygen", "openssh-client"}, {"dnsmasq", "dnsmasq-base"},
	{"nginx", "nginx-light"}, {"curl", "curl"}, {"dig", "dnsutils"}, {"python3", "python3"},
	{"timeout", "coreutils"},
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, script)); err != nil {
		t.Fatalf("%s not found from %s: %v", script, root, err)
	}
	return root
}

func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// TestRecordScriptSyntax is the fast check that always runs: the script
// parses, passes shellcheck when it is installed, and rejects bad
// arguments before touching anything.
func TestRecordScriptSyntax(t *testing.T) {
	root := repoRoot(t)
	path := filepath.Join(root, script)
	sc, scErr := exec.LookPath("shellcheck")
	if scErr != nil {
		t.Log("shellcheck not installed (apt-get install shellcheck): only bash -n was checked")
	}
	// The script sources the lab (scripts/.shellcheckrc lets shellcheck follow it).
	for _, f := range []string{script, labLibrary} {
		p := filepath.Join(root, f)
		if out, err := exec.Command("bash", "-n", p).CombinedOutput(); err != nil {
			t.Fatalf("bash -n %s: %v\n%s", f, err, out)
		}
		if scErr == nil {
			if out, err := exec.Command(sc, p).CombinedOutput(); err != nil {
				t.Errorf("shellcheck %s: %v\n%s", f, err, out)
			}
		}
	}

	run := func(args ...string) (string, int) {
		cmd := exec.Command("bash", append([]string{path}, args...)...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("run %s %v: %v", script, args, err)
		}
		return string(out), 0
	}
	if out, code := run(); code != 2 || !strings.Contains(out, "OUTDIR") {
		t.Errorf("no arguments: exit %d, want 2 with a usage line; output:\n%s", code, out)
	}
	for _, bad := range []string{"0", "-1", "abc", "11"} {
		if out, code := run(t.TempDir(), "--duration-scale", bad); code != 2 || !strings.Contains(out, "--duration-scale must be") {
			t.Errorf("--duration-scale %s: exit %d, want 2 naming the flag; output:\n%s", bad, code, out)
		}
	}
	if out, code := run("--bogus", t.TempDir()); code != 2 || !strings.Contains(out, "unknown option --bogus") {
		t.Errorf("unknown option: exit %d, want 2 naming it; output:\n%s", code, out)
	}
	if out, code := run("-h"); code != 0 || !strings.Contains(out, "realtools.labels.csv") {
		t.Errorf("-h: exit %d, want 0 and the description; output:\n%s", code, out)
	}
	out, code := run("--plan", "--duration-scale", "0.3")
	if code != 0 {
		t.Fatalf("--plan: exit %d\n%s", code, out)
	}
	if secs, err := plannedSeconds(out); err != nil || secs < 300 || secs > 600 {
		t.Errorf("--plan --duration-scale 0.3: %d s (%v), want the CI run between 5 and 10 minutes; output:\n%s", secs, err, out)
	}
}

func plannedSeconds(out string) (int, error) {
	for line := range strings.SplitSeq(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "planned_seconds="); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, fmt.Errorf("no planned_seconds= line")
}

type recording struct {
	dir, pcap, labels string
	meta              map[string]float64
}

func haveRecording(dir string) bool {
	for _, f := range []string{"realtools.pcap", "realtools.labels.csv", "realtools.meta"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}

func readMeta(path string) (map[string]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]float64{}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %s=%q is not a number", path, k, v)
		}
		m[k] = f
	}
	for _, k := range []string{"background_start", "train_end", "capture_end"} {
		if _, ok := m[k]; !ok {
			return nil, fmt.Errorf("%s: no %s", path, k)
		}
	}
	return m, nil
}

// TestRealToolsDetected records benign traffic and ten real attacks with
// scripts/record-attacks.sh (about 8 minutes at --duration-scale 0.3),
// trains the exporter on the benign warm-up only, evaluates it on the rest
// of the recording, and requires every attack found with its type, window
// F1 >= 0.95 and detection within 2 windows.
func TestRealToolsDetected(t *testing.T) {
	if os.Getenv("NETANOMALY_REALTOOLS") != "1" {
		t.Skip("slow (about 9 minutes, root): set NETANOMALY_REALTOOLS=1 to record real attack tools in network namespaces and check the detector on them")
	}
	root := repoRoot(t)
	editcap, err := exec.LookPath("editcap")
	if err != nil {
		t.Skip("editcap not installed (apt-get install wireshark-common or tshark): it splits the recording into training and test parts")
	}

	dir := os.Getenv("NETANOMALY_REALTOOLS_DIR")
	reuse := dir != "" && haveRecording(dir)
	var built chan error
	bin := filepath.Join(t.TempDir(), "netanomaly_exporter")
	build := func() chan error {
		ch := make(chan error, 1)
		go func() {
			cmd := exec.Command("go", "build", "-o", bin, "./cmd/netanomaly_exporter")
			cmd.Dir = root
			out, err := cmd.CombinedOutput()
			if err != nil {
				err = fmt.Errorf("go build ./cmd/netanomaly_exporter: %v\n%s", err, out)
			}
			ch <- err
		}()
		return ch
	}

	if reuse {
		t.Logf("reusing the recording in %s (NETANOMALY_REALTOOLS_DIR)", dir)
		built = build()
	} else {
		if os.Geteuid() != 0 {
			t.Skip("needs root: the recording creates network namespaces and runs packet tools (or point NETANOMALY_REALTOOLS_DIR at an existing recording)")
		}
		var missing, pkgs []string
		for _, tl := range tools {
			if _, err := lookPath(tl[0]); err != nil {
				missing = append(missing, tl[0])
				if !slices.Contains(pkgs, tl[1]) {
					pkgs = append(pkgs, tl[1])
				}
			}
		}
		if len(missing) > 0 {
			t.Skipf("missing tools %s: apt-get install %s (or run %s once by hand as root: it installs them)",
				strings.Join(missing, ", "), strings.Join(pkgs, " "), script)
		}
		scale := os.Getenv("NETANOMALY_REALTOOLS_SCALE")
		if scale == "" {
			scale = "0.3"
		}
		out, err := exec.Command("bash", filepath.Join(root, script), "--plan", "--duration-scale", scale).CombinedOutput()
		if err != nil {
			t.Fatalf("%s --plan: %v\n%s", script, err, out)
		}
		planned, err := plannedSeconds(string(out))
		if err != nil {
			t.Fatalf("%s --plan: %v\n%s", script, err, out)
		}
		need := time.Duration(planned)*time.Second + time.Minute // training, evaluation, slack
		deadline, hasDeadline := t.Deadline()
		if hasDeadline && time.Until(deadline) < need {
			t.Skipf("the recording takes about %s at --duration-scale %s and this test needs about %s in all, but go test's -timeout leaves %s: run with -timeout 30m",
				time.Duration(planned)*time.Second, scale, need.Round(time.Second), time.Until(deadline).Round(time.Second))
		}
		if dir == "" {
			dir = t.TempDir()
		} else if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		built = build() // meanwhile
		ctx := context.Background()
		if hasDeadline {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline.Add(-20*time.Second))
			defer cancel()
		}
		cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, script), dir, "--duration-scale", scale)
		cmd.Dir = root
		// On timeout the script gets TERM: its trap removes the namespaces.
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		cmd.WaitDelay = 45 * time.Second
		var outBuf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &outBuf, &outBuf
		t.Logf("recording with %s --duration-scale %s into %s (about %s)", script, scale, dir, time.Duration(planned)*time.Second)
		start := time.Now()
		err = cmd.Run()
		t.Logf("record-attacks.sh took %s:\n%s", time.Since(start).Round(time.Second), outBuf.String())
		if err != nil {
			t.Fatalf("%s: %v", script, err)
		}
	}
	if err := <-built; err != nil {
		t.Fatal(err)
	}

	rec := recording{dir: dir, pcap: filepath.Join(dir, "realtools.pcap"), labels: filepath.Join(dir, "realtools.labels.csv")}
	if rec.meta, err = readMeta(filepath.Join(dir, "realtools.meta")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "realtools.summary.txt")); err == nil && reuse {
		t.Logf("recording summary:\n%s", b)
	}
	lf, err := os.Open(rec.labels)
	if err != nil {
		t.Fatal(err)
	}
	labels, err := detector.ParseLabels(lf)
	lf.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(labels) == 0 {
		t.Fatalf("%s has no attacks", rec.labels)
	}
	labelsText, _ := os.ReadFile(rec.labels)
	t.Logf("labels:\n%s", labelsText)

	// Split on window boundaries (10 s): train on the benign warm-up only,
	// test on everything after it, so no test window was seen in training.
	const win = 10.0
	trainStart := math.Ceil(rec.meta["background_start"]/win) * win
	trainEnd := math.Floor(rec.meta["train_end"]/win) * win
	testEnd := math.Floor(rec.meta["capture_end"]/win) * win
	for _, e := range labels {
		if float64(e.Start)/1e9 < trainEnd {
			t.Fatalf("label %s at %s starts inside the training part (before %s)", e.Type, clock(float64(e.Start)/1e9), clock(trainEnd))
		}
		if float64(e.End)/1e9 > testEnd {
			t.Fatalf("label %s ends at %s, after the end of the test part %s", e.Type, clock(float64(e.End)/1e9), clock(testEnd))
		}
	}
	work := t.TempDir()
	trainPcap, testPcap := filepath.Join(work, "train.pcap"), filepath.Join(work, "test.pcap")
	epoch := func(f float64) string { return strconv.FormatFloat(f, 'f', 0, 64) }
	runOK(t, editcap, "-A", epoch(trainStart), "-B", epoch(trainEnd), rec.pcap, trainPcap)
	runOK(t, editcap, "-A", epoch(trainEnd), "-B", epoch(testEnd), rec.pcap, testPcap)
	t.Logf("training part %s-%s (%.0f s of benign traffic), test part %s-%s (%.0f s)",
		clock(trainStart), clock(trainEnd), trainEnd-trainStart, clock(trainEnd), clock(testEnd), testEnd-trainEnd)

	model := filepath.Join(work, "model.json")
	out := runOK(t, bin, "train", "--capture.pcap="+trainPcap, "--labels="+rec.labels, "--detector.model-file="+model)
	t.Logf("train:\n%s", out)
	verdictsPath := filepath.Join(work, "verdicts.jsonl")
	out = runOK(t, bin, "evaluate", "--capture.pcap="+testPcap, "--labels="+rec.labels,
		"--detector.model-file="+model, "--format=json", "--verdicts="+verdictsPath)
	var ev detector.Evaluation
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatalf("evaluate --format=json: %v\n%s", err, out)
	}
	var text bytes.Buffer
	_ = ev.WriteText(&text)
	t.Logf("evaluate (test part):\n%s", text.String())
	verdicts := readVerdicts(t, verdictsPath)
	if os.Getenv("NETANOMALY_REALTOOLS_DIR") != "" {
		// Keep the results beside the recording for a look later.
		_ = os.WriteFile(filepath.Join(dir, "realtools.evaluation.txt"), text.Bytes(), 0o644)
		if b, err := os.ReadFile(verdictsPath); err == nil {
			_ = os.WriteFile(filepath.Join(dir, "realtools.verdicts.jsonl"), b, 0o644)
		}
	}

	// Every labelled event must be found with its type.
	if ev.Events != len(labels) {
		t.Errorf("evaluate counted %d events, the labels have %d", ev.Events, len(labels))
	}
	for _, tr := range ev.Types {
		if tr.Recall < 1 {
			t.Errorf("%s: %d of %d events detected (event recall %.2f, want 1)", tr.Type, tr.Detected, tr.Events, tr.Recall)
		}
	}
	for _, e := range labels {
		if !detected(verdicts, e) {
			t.Errorf("missed %s %s-%s (%.1f s, source %s); verdicts around it:\n%s", e.Type,
				clock(float64(e.Start)/1e9), clock(float64(e.End)/1e9), float64(e.End-e.Start)/1e9, e.Source,
				around(verdicts, labels, float64(e.Start)/1e9-30, float64(e.End)/1e9+30))
		}
	}
	if ev.F1 < minF1 {
		t.Errorf("window F1 %.4f (precision %.4f, recall %.4f: %d true positives, %d false positives, %d false negatives), want >= %.2f\nwrong windows:\n%s",
			ev.F1, ev.Precision, ev.Recall, ev.TruePositives, ev.FalsePositives, ev.FalseNegatives, minF1, wrongWindows(verdicts, labels))
	}
	if ev.MaxDelayWindows > maxDelayWindows {
		t.Errorf("detection delay up to %.1f windows (%.1f s), want <= %d", ev.MaxDelayWindows, ev.MaxDelaySecs, maxDelayWindows)
		for _, e := range labels {
			if d, ok := delay(verdicts, e); ok && d > maxDelayWindows*win {
				t.Errorf("%s %s-%s detected after %.1f s; verdicts around it:\n%s", e.Type,
					clock(float64(e.Start)/1e9), clock(float64(e.End)/1e9), d,
					around(verdicts, labels, float64(e.Start)/1e9-30, float64(e.End)/1e9+30))
			}
		}
	}
	t.Logf("false alarms: %d in %.2f benign hours (%.1f per hour)", ev.FalseAlarms, ev.BenignHours, ev.FalseAlarmsPerHr)
	if ev.FalseAlarms > 0 {
		t.Logf("false alarm windows:\n%s", falseAlarms(verdicts, labels))
	}
}

func runOK(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func readVerdicts(t *testing.T, path string) []detector.VerdictJSON {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []detector.VerdictJSON
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var v detector.VerdictJSON
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		vs = append(vs, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return vs
}

func clock(sec float64) string {
	return time.Unix(0, int64(sec*1e9)).UTC().Format("15:04:05.0")
}

func overlaps(v detector.VerdictJSON, e detector.LabeledEvent) bool {
	return v.Start < float64(e.End)/1e9 && float64(e.Start)/1e9 < v.End
}

// detected is evaluate's rule: an anomalous window overlapping the event
// names its type.
func detected(vs []detector.VerdictJSON, e detector.LabeledEvent) bool {
	typ := detector.ReportType(e.Type)
	for _, v := range vs {
		if v.Anomalous && overlaps(v, e) && slices.Contains(v.Attacks, typ) {
			return true
		}
	}
	return false
}

// delay is evaluate's detection delay: from the event's start to the end
// of the first window that detects it.
func delay(vs []detector.VerdictJSON, e detector.LabeledEvent) (float64, bool) {
	typ := detector.ReportType(e.Type)
	for _, v := range vs {
		if v.Anomalous && overlaps(v, e) && slices.Contains(v.Attacks, typ) {
			return v.End - float64(e.Start)/1e9, true
		}
	}
	return 0, false
}

func labelOf(v detector.VerdictJSON, labels []detector.LabeledEvent) string {
	for _, e := range labels {
		if overlaps(v, e) {
			return e.Type
		}
	}
	return ""
}

// line is one verdict for people: window, label, verdict, and why.
func line(v detector.VerdictJSON, labels []detector.LabeledEvent) string {
	lab := labelOf(v, labels)
	if lab == "" {
		lab = "-"
	}
	verdict := "normal"
	if v.Anomalous {
		verdict = "ANOMALOUS"
	}
	var feats []string
	for _, f := range v.TopFeatures {
		feats = append(feats, fmt.Sprintf("%s=%.4g (z %.1f, expected %.4g-%.4g)", f.Feature, f.Value, f.Z, f.ExpectedLow, f.ExpectedHigh))
	}
	var ev []string
	for _, d := range v.Details {
		for _, e := range d.Evidence {
			ev = append(ev, fmt.Sprintf("%s:%s=%.4g>=%.4g", d.Type, e.Feature, e.Value, e.Threshold))
		}
	}
	s := fmt.Sprintf("  %s-%s label=%-17s %-9s score=%.3f threshold=%.3f attacks=%v", clock(v.Start), clock(v.End), lab, verdict, v.Score, v.Threshold, v.Attacks)
	if len(ev) > 0 {
		s += " evidence=" + strings.Join(ev, ",")
	}
	return s + "\n      top: " + strings.Join(feats, "; ")
}

func around(vs []detector.VerdictJSON, labels []detector.LabeledEvent, from, to float64) string {
	var b strings.Builder
	for _, v := range vs {
		if v.End > from && v.Start < to {
			b.WriteString(line(v, labels) + "\n")
		}
	}
	return b.String()
}

// wrongWindows lists the false negatives and false positives.
func wrongWindows(vs []detector.VerdictJSON, labels []detector.LabeledEvent) string {
	var b strings.Builder
	for _, v := range vs {
		if !v.Trained {
			continue
		}
		if isAttack := labelOf(v, labels) != ""; isAttack != v.Anomalous {
			b.WriteString(line(v, labels) + "\n")
		}
	}
	return b.String()
}

func falseAlarms(vs []detector.VerdictJSON, labels []detector.LabeledEvent) string {
	var b strings.Builder
	for _, v := range vs {
		if v.Trained && v.Anomalous && labelOf(v, labels) == "" {
			b.WriteString(line(v, labels) + "\n")
		}
	}
	return b.String()
}
