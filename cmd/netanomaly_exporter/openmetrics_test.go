package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// checkOpenMetrics scrapes addr as Prometheus does when it prefers
// OpenMetrics, parses the answer line by line against the OpenMetrics
// 1.0 grammar (prometheus/common has no OpenMetrics parser), and checks
// what Prometheus's parser would refuse: a sample outside its family, a
// counter without _total, a # UNIT that is not the name's suffix, no
// final # EOF. The stable samples must equal those of text, the text
// format scrape of the same server.
func checkOpenMetrics(t *testing.T, addr, text string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text; version=1.0.0") {
		t.Fatalf("Content-Type %q, want OpenMetrics 1.0.0", ct)
	}
	om, err := parseOpenMetrics(string(b))
	if err != nil {
		t.Fatalf("OpenMetrics: %v", err)
	}
	if om.families["netanomaly_packets"] != "counter" || om.families["netanomaly_window_packets_per_second"] != "gauge" {
		t.Errorf("OpenMetrics families: netanomaly_packets %q, netanomaly_window_packets_per_second %q", om.families["netanomaly_packets"], om.families["netanomaly_window_packets_per_second"])
	}
	if u := om.units["netanomaly_window_source_address_entropy_bits"]; u != "bits" {
		t.Errorf("netanomaly_window_source_address_entropy_bits: unit %q, want bits", u)
	}
	plain, err := parseSamples(text)
	if err != nil {
		t.Fatalf("text format: %v", err)
	}
	stable := func(series string) bool { return !volatile.MatchString(series) }
	n := 0
	for series, v := range plain {
		if !stable(series) {
			continue
		}
		n++
		w, ok := om.samples[series]
		if !ok {
			t.Errorf("%s: in the text format, not in OpenMetrics", series)
		} else if w != v && !(math.IsNaN(w) && math.IsNaN(v)) {
			t.Errorf("%s: %v in the text format, %v in OpenMetrics", series, v, w)
		}
	}
	for series := range om.samples {
		if _, ok := plain[series]; !ok && stable(series) {
			t.Errorf("%s: in OpenMetrics, not in the text format", series)
		}
	}
	if n < 100 {
		t.Errorf("only %d stable samples compared", n)
	}
}

type openMetrics struct {
	families map[string]string // name (a counter's without _total) to type
	units    map[string]string
	samples  map[string]float64
}

var (
	omMeta   = regexp.MustCompile(`^# (HELP|TYPE|UNIT) ([a-zA-Z_:][a-zA-Z0-9_:]*)(?: (.*))?$`)
	omSample = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*")*)?\})? ([^ ]+)(?: (-?[0-9.e+-]+))?$`)
	// omSuffixes are the sample name suffixes each type allows.
	omSuffixes = map[string][]string{
		"counter":   {"_total", "_created"},
		"gauge":     {""},
		"unknown":   {""},
		"histogram": {"_bucket", "_count", "_sum", "_created"},
		"summary":   {"", "_count", "_sum", "_created"},
		"info":      {"_info"},
		"stateset":  {""},
	}
)

// parseOpenMetrics reads an OpenMetrics 1.0 exposition.
func parseOpenMetrics(s string) (*openMetrics, error) {
	om := &openMetrics{families: map[string]string{}, units: map[string]string{}, samples: map[string]float64{}}
	body, ok := strings.CutSuffix(s, "# EOF\n")
	if !ok {
		return nil, fmt.Errorf("does not end in # EOF: %q", s[max(0, len(s)-100):])
	}
	family := ""
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		l := sc.Text()
		if m := omMeta.FindStringSubmatch(l); m != nil {
			name := m[2]
			if name != family {
				if seen[name] {
					return nil, fmt.Errorf("line %d: family %s interleaved with another", line, name)
				}
				family, seen[name] = name, true
			}
			switch m[1] {
			case "TYPE":
				if _, ok := omSuffixes[m[3]]; !ok {
					return nil, fmt.Errorf("line %d: type %q", line, m[3])
				}
				if m[3] == "unknown" && strings.HasPrefix(name, "netanomaly_") {
					// expfmt writes a counter without _total as unknown.
					return nil, fmt.Errorf("line %d: %s is of unknown type: a counter without _total?", line, name)
				}
				om.families[name] = m[3]
			case "UNIT":
				if m[3] == "" || !strings.HasSuffix(name, "_"+m[3]) {
					return nil, fmt.Errorf("line %d: unit %q is not the suffix of %s", line, m[3], name)
				}
				om.units[name] = m[3]
			}
			continue
		}
		if strings.HasPrefix(l, "#") {
			return nil, fmt.Errorf("line %d: %q", line, l)
		}
		m := omSample.FindStringSubmatch(l)
		if m == nil {
			return nil, fmt.Errorf("line %d: not a sample: %q", line, l)
		}
		typ, ok := om.families[family]
		if !ok {
			return nil, fmt.Errorf("line %d: sample %s before its family's # TYPE", line, m[1])
		}
		in := false
		for _, suffix := range omSuffixes[typ] {
			in = in || m[1] == family+suffix
		}
		if !in {
			return nil, fmt.Errorf("line %d: sample %s is not of the %s family %s", line, m[1], typ, family)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: value %q", line, m[3])
		}
		om.samples[m[1]+bucketBounds(m[2])] = v
	}
	return om, sc.Err()
}

var bucketBound = regexp.MustCompile(`\b(le|quantile)="([^"]*)"`)

// bucketBounds writes le and quantile labels as floats: OpenMetrics
// writes le="64.0" where the text format writes le="64".
func bucketBounds(labels string) string {
	return bucketBound.ReplaceAllStringFunc(labels, func(l string) string {
		m := bucketBound.FindStringSubmatch(l)
		f, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			return l
		}
		return m[1] + `="` + strconv.FormatFloat(f, 'g', -1, 64) + `"`
	})
}

// parseSamples reads the samples of the text format.
func parseSamples(s string) (map[string]float64, error) {
	out := map[string]float64{}
	for i, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		m := omSample.FindStringSubmatch(l)
		if m == nil {
			return nil, fmt.Errorf("line %d: not a sample: %q", i+1, l)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: value %q", i+1, m[3])
		}
		out[m[1]+bucketBounds(m[2])] = v
	}
	return out, nil
}
