package detector

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func plainAddr(a [16]byte) string { return netip.AddrFrom16(a).Unmap().String() }

// anomalyVerdict is a flood window that also starts the flood.
func anomalyVerdict(k int) *Verdict {
	start := t0 + int64(k)*10*sec
	src := [][16]byte{attacker}
	return &Verdict{
		Interface: "eth0", Start: start, End: start + 10*sec, Trained: true, Score: 0.9991234567, Threshold: 0.9986,
		Anomalous: true, Threat: ThreatHigh, Confidence: 0.97,
		Models:       []ModelScore{{Model: MemberBaseline, Score: 1}},
		Attacks:      []Attack{{Type: SynFlood, Confidence: 0.95, Evidence: []Evidence{{Feature: "tcp_syn_packets_per_window", Value: 50000, Threshold: 1000, Typical: 30}}, Sources: src, Targets: [][16]byte{victim}}},
		Explanations: []Explanation{{Feature: "tcp_syn_packets_per_window", Value: 50000, Z: 50, ExpectedLow: 10, ExpectedHigh: 90}},
		Events:       []Event{{Kind: "attack_start", Time: start, Since: start, Attack: Attack{Type: SynFlood, Confidence: 0.95, Sources: src}}},
	}
}

// endVerdict is a quiet window that ends an attack started at since.
func endVerdict(k int, since int64) *Verdict {
	start := t0 + int64(k)*10*sec
	return &Verdict{
		Interface: "eth0", Start: start, End: start + 10*sec, Trained: true, Score: 0.3, Threshold: 0.9986, Confidence: 0.8,
		Explanations: []Explanation{{Feature: "packets_per_second", Value: 300, Z: 0.1, ExpectedLow: 200, ExpectedHigh: 450}},
		Events:       []Event{{Kind: "attack_end", Time: start + 10*sec, Since: since, Attack: Attack{Type: SynFlood, Confidence: 0.99, Sources: [][16]byte{attacker}}}},
	}
}

func TestEventLogJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	l, err := OpenEventLog(EventLogConfig{Path: path, Format: "json"}, plainAddr)
	if err != nil {
		t.Fatal(err)
	}
	quiet := &Verdict{Interface: "eth0", Trained: true, Score: 0.2}
	for _, v := range []*Verdict{quiet, anomalyVerdict(3), quiet, endVerdict(9, t0+30*sec)} {
		if err := l.Record(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want anomaly, start, end:\n%s", len(lines), data)
	}
	var recs []VerdictJSON
	for _, line := range lines {
		var r VerdictJSON
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		recs = append(recs, r)
	}
	a, s, e := recs[0], recs[1], recs[2]
	if a.Kind != "anomaly" || a.Interface != "eth0" || a.Start != 1_700_000_030 || a.End != 1_700_000_040 || a.Score != 0.999123 ||
		a.ThreatLevel != "high" || !a.Anomalous || a.Confidence != 0.97 || len(a.TopFeatures) != 1 || a.TopFeatures[0].Feature != "tcp_syn_packets_per_window" {
		t.Errorf("anomaly record %+v", a)
	}
	if len(a.Attacks) != 1 || a.Attacks[0] != SynFlood || len(a.Details) != 1 {
		t.Fatalf("anomaly attacks %+v", a)
	}
	d := a.Details[0]
	if d.Recommendation != Recommendation(SynFlood) || strings.Join(d.Sources, ",") != "203.0.113.66" || strings.Join(d.Targets, ",") != "10.0.0.10" || len(d.Evidence) != 1 {
		t.Errorf("anomaly details %+v", d)
	}
	if s.Kind != "attack_start" || s.Start != 1_700_000_030 || s.End != 1_700_000_030 || len(s.Attacks) != 1 || s.Attacks[0] != SynFlood ||
		s.Details[0].Sources[0] != "203.0.113.66" || s.Details[0].Recommendation == "" {
		t.Errorf("start record %+v", s)
	}
	if e.Kind != "attack_end" || e.Start != 1_700_000_030 || e.End != 1_700_000_100 || e.Anomalous || e.Attacks[0] != SynFlood || e.Details[0].Confidence != 0.99 {
		t.Errorf("end record %+v", e)
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs
}

func TestEventLogCSV(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.csv")
	l, err := OpenEventLog(EventLogConfig{Path: path, Format: "csv"}, plainAddr)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Record(anomalyVerdict(3)); err != nil {
		t.Fatal(err)
	}
	if err := l.Record(endVerdict(9, t0+30*sec)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	// Reopening appends without a second header.
	l, err = OpenEventLog(EventLogConfig{Path: path, Format: "csv"}, plainAddr)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Record(anomalyVerdict(20)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	recs := readCSV(t, path)
	if len(recs) != 1+3+2 {
		t.Fatalf("%d records:\n%v", len(recs), recs)
	}
	if strings.Join(recs[0], ",") != strings.Join(csvHeader, ",") {
		t.Errorf("header %v", recs[0])
	}
	row := func(r []string) map[string]string {
		m := map[string]string{}
		for i, h := range csvHeader {
			m[h] = r[i]
		}
		return m
	}
	a, s, e := row(recs[1]), row(recs[2]), row(recs[3])
	if a["kind"] != "anomaly" || a["interface"] != "eth0" || a["start"] != "1700000030.000" || a["end"] != "1700000040.000" || a["score"] != "0.9991" ||
		a["confidence"] != "0.9700" || a["threat_level"] != "high" || a["attacks"] != SynFlood || a["sources"] != "203.0.113.66" ||
		a["top_features"] != "tcp_syn_packets_per_window=50000 (expected 10-90)" || a["recommendation"] != Recommendation(SynFlood) {
		t.Errorf("anomaly row %v", a)
	}
	if s["kind"] != "attack_start" || s["start"] != "1700000030.000" || s["end"] != "1700000030.000" || s["attacks"] != SynFlood {
		t.Errorf("start row %v", s)
	}
	if e["kind"] != "attack_end" || e["start"] != "1700000030.000" || e["end"] != "1700000100.000" || e["sources"] != "203.0.113.66" {
		t.Errorf("end row %v", e)
	}
	for _, r := range recs {
		if len(r) != len(csvHeader) {
			t.Errorf("row of %d fields", len(r))
		}
	}
	if _, err := OpenEventLog(EventLogConfig{Path: path, Format: "xml"}, plainAddr); err == nil {
		t.Error("unknown format accepted")
	}
	if _, err := OpenEventLog(EventLogConfig{Path: filepath.Join(path, "sub", "x"), Format: "csv"}, plainAddr); err == nil {
		t.Error("unwritable path accepted")
	}
}

func TestEventLogRotation(t *testing.T) {
	for _, format := range []string{"csv", "json"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "events")
			const maxBytes, keep = 2000, 3
			l, err := OpenEventLog(EventLogConfig{Path: path, Format: format, MaxBytes: maxBytes, Keep: keep}, plainAddr)
			if err != nil {
				t.Fatal(err)
			}
			for k := range 60 {
				if err := l.Record(anomalyVerdict(k)); err != nil {
					t.Fatal(err)
				}
			}
			l.Close()
			entries, _ := os.ReadDir(dir)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if strings.Join(names, " ") != "events events.1 events.2 events.3" {
				t.Fatalf("files %v, want events and %d rotated", names, keep)
			}
			// Newest first: path, path.1, path.2, path.3 hold ever older
			// windows, each file at most MaxBytes, each CSV with a header.
			prevFirst := 1e18
			for _, name := range []string{"events", "events.1", "events.2", "events.3"} {
				p := filepath.Join(dir, name)
				st, _ := os.Stat(p)
				if st.Size() > maxBytes {
					t.Errorf("%s: %d bytes > %d", name, st.Size(), maxBytes)
				}
				var starts []float64
				if format == "csv" {
					recs := readCSV(t, p)
					if strings.Join(recs[0], ",") != strings.Join(csvHeader, ",") {
						t.Errorf("%s starts with %v, want the header", name, recs[0])
					}
					for _, r := range recs[1:] {
						x, _ := strconv.ParseFloat(r[2], 64)
						starts = append(starts, x)
					}
				} else {
					f, _ := os.Open(p)
					sc := bufio.NewScanner(f)
					for sc.Scan() {
						var r VerdictJSON
						if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						starts = append(starts, r.Start)
					}
					f.Close()
				}
				if len(starts) == 0 {
					t.Fatalf("%s holds no records", name)
				}
				if last := starts[len(starts)-1]; last > prevFirst {
					t.Errorf("%s: last window %v is not older than the next file's first %v", name, last, prevFirst)
				}
				prevFirst = starts[0]
			}
		})
	}
}

// The pipelines of several interfaces write to one log.
func TestEventLogConcurrent(t *testing.T) {
	for _, maxBytes := range []int64{0, 20_000} {
		dir := t.TempDir()
		path := filepath.Join(dir, "events.jsonl")
		l, err := OpenEventLog(EventLogConfig{Path: path, Format: "json", MaxBytes: maxBytes, Keep: 1000}, plainAddr)
		if err != nil {
			t.Fatal(err)
		}
		const writers, each = 8, 50
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Go(func() {
				for k := range each {
					v := anomalyVerdict(k)
					v.Interface = fmt.Sprintf("eth%d", w)
					errs <- l.Record(v)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		l.Close()
		entries, _ := os.ReadDir(dir)
		perIface := map[string]int{}
		for _, e := range entries {
			data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			for _, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
				var r VerdictJSON
				if err := json.Unmarshal(line, &r); err != nil {
					t.Fatalf("%s: interleaved or cut line %q: %v", e.Name(), line, err)
				}
				perIface[r.Interface]++
			}
		}
		for w := range writers {
			if n := perIface[fmt.Sprintf("eth%d", w)]; n != 2*each {
				t.Errorf("max bytes %d: eth%d has %d records, want %d", maxBytes, w, n, 2*each)
			}
		}
		if maxBytes > 0 && len(entries) < 2 {
			t.Errorf("no rotation with %d bytes", maxBytes)
		}
	}
}

func TestWriteVerdicts(t *testing.T) {
	var b bytes.Buffer
	untrained := &Verdict{Interface: "eth0", WarmupProgress: 0.5}
	if err := WriteVerdicts(&b, []*Verdict{untrained, anomalyVerdict(1)}, plainAddr); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	// Empty lists are [] rather than null, for jq and spreadsheets.
	if !strings.Contains(lines[0], `"attacks":[]`) || !strings.Contains(lines[0], `"top_features":[]`) || strings.Contains(lines[0], `"kind"`) {
		t.Errorf("untrained line %s", lines[0])
	}
	var r VerdictJSON
	if err := json.Unmarshal([]byte(lines[1]), &r); err != nil || r.Attacks[0] != SynFlood || r.Details[0].Sources[0] != "203.0.113.66" {
		t.Errorf("%v %+v", err, r)
	}
	if err := WriteVerdicts(failWriter{}, []*Verdict{untrained}, plainAddr); err == nil {
		t.Error("write error lost")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
