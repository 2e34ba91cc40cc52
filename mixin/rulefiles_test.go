package mixin

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v2"

	"github.com/netanomaly/netanomaly_exporter/internal/stacktest"
)

func TestMain(m *testing.M) { stacktest.Main(m) }

// Prometheus rule file format, as far as the tests read it.
type ruleFile struct {
	Groups []ruleGroup `yaml:"groups"`
}

type ruleGroup struct {
	Name     string      `yaml:"name"`
	Interval string      `yaml:"interval,omitempty"`
	Rules    []ruleEntry `yaml:"rules"`
}

type ruleEntry struct {
	Record      string            `yaml:"record,omitempty"`
	Alert       string            `yaml:"alert,omitempty"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// readYAML strictly decodes a repository file into v.
func readYAML(t testing.TB, rel string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(stacktest.RepoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

// ruleFiles returns every rule file of prometheus/rules, parsed, by path
// relative to the repository root.
func ruleFiles(t testing.TB) map[string]ruleFile {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(stacktest.RepoRoot(t), "prometheus/rules/*.yml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no rule files in prometheus/rules (%v)", err)
	}
	files := map[string]ruleFile{}
	for _, p := range paths {
		rel, _ := filepath.Rel(stacktest.RepoRoot(t), p)
		var f ruleFile
		readYAML(t, rel, &f)
		files[rel] = f
	}
	return files
}

// allRules returns every rule of every rule file, with where it is.
func allRules(t testing.TB) []located {
	t.Helper()
	var rules []located
	for path, f := range ruleFiles(t) {
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				rules = append(rules, located{path, g.Name, r})
			}
		}
	}
	return rules
}

type located struct {
	File, Group string
	ruleEntry
}

func (l located) String() string {
	name := l.Alert
	if name == "" {
		name = l.Record
	}
	return fmt.Sprintf("%s (%s, group %s)", name, l.File, l.Group)
}
