package mixin

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"

	"github.com/netanomaly/netanomaly_exporter/internal/stacktest"
)

var update = flag.Bool("u", false, "rewrite the generated files instead of comparing them")

// generatedFiles maps each generated file, relative to the repository root,
// to its generator.
func generatedFiles(t testing.TB) map[string][]byte {
	t.Helper()
	files := map[string][]byte{
		"prometheus/rules/netanomaly-detection.yml":     DetectionRules(),
		"prometheus/tests/detection_generated_test.yml": detectionTests(),
	}
	for name, data := range Dashboards() {
		files[filepath.Join("grafana/dashboards", name)] = data
	}
	// The PrometheusRule holds every rule file as it is on disk, except the
	// generated ones, taken as their generator writes them now: one -u
	// brings both up to date.
	paths, err := filepath.Glob(filepath.Join(stacktest.RepoRoot(t), "prometheus/rules/*.yml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no rule files in prometheus/rules (%v)", err)
	}
	rules := map[string][]byte{}
	for _, p := range paths {
		name := filepath.Base(p)
		data, ok := files["prometheus/rules/"+name]
		if !ok {
			if data, err = os.ReadFile(p); err != nil {
				t.Fatal(err)
			}
		}
		rules[name] = data
	}
	pr, err := PrometheusRule(rules)
	if err != nil {
		t.Fatal(err)
	}
	files["deploy/kubernetes/prometheusrule.yaml"] = pr
	return files
}

// TestGeneratedFiles fails when a committed generated file differs from
// what its generator writes now; -u rewrites them.
func TestGeneratedFiles(t *testing.T) {
	root := stacktest.RepoRoot(t)
	for name, want := range generatedFiles(t) {
		path := filepath.Join(root, name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v (go test ./mixin -run TestGeneratedFiles -u writes it)", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is out of date: go test ./mixin -run TestGeneratedFiles -u", name)
		}
	}
}

// TestDetectionRulesRoundTrip parses the generated YAML back and checks
// that every expression, label and annotation reads as the exact string the
// generator meant, up to the line breaks wrapTemplate puts inside actions
// (block scalars and line wrapping are easy to get wrong).
func TestDetectionRulesRoundTrip(t *testing.T) {
	var f ruleFile
	if err := yaml.UnmarshalStrict(DetectionRules(), &f); err != nil {
		t.Fatal(err)
	}
	want := detectionRules()
	got := f.Groups[0].Rules
	if len(got) != len(want) {
		t.Fatalf("%d rules, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Alert != w.Alert || g.Expr != w.Expr || g.For != w.For {
			t.Errorf("rule %d: got %q %q %q, want %q %q %q", i, g.Alert, g.Expr, g.For, w.Alert, w.Expr, w.For)
		}
		for _, l := range w.Labels {
			if g.Labels[l[0]] != l[1] {
				t.Errorf("%s label %s = %q, want %q", w.Alert, l[0], g.Labels[l[0]], l[1])
			}
		}
		for _, a := range w.Annotations {
			if got := strings.ReplaceAll(g.Annotations[a[0]], "{{\n", "{{ "); got != a[1] {
				t.Errorf("%s annotation %s:\n got %q\nwant %q", w.Alert, a[0], got, a[1])
			}
		}
	}
}

func TestWrap(t *testing.T) {
	s := "abc {{ x }} def {{ y }}{{ z }} end"
	lines := wrapTemplate(s, 8)
	want := []string{"abc {{", "x }} def {{", "y }}{{", "z }} end"}
	// Segments pack up to the width; a long one gets a line of its own.
	if len(lines) != len(want) {
		t.Fatalf("wrapTemplate = %q, want %q", lines, want)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Fatalf("wrapTemplate = %q, want %q", lines, want)
		}
	}
	if got := wrapWords("one two three four", 10); len(got) != 2 || got[0] != "one two" || got[1] != "three four" {
		t.Errorf("wrapWords = %q", got)
	}
}
