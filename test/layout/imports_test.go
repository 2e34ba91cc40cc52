// Package layout holds the test of the rule of the road: each package
// imports only packages below it in the data flow (README, Architecture).
package layout

import (
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/netanomaly/netanomaly_exporter/"

// layers orders the runtime packages along the data flow, the lowest
// first. A package may import packages of lower layers only: the capture
// knows nothing of features, the detector nothing of Prometheus, and so
// on up to the commands.
var layers = [][]string{
	// Leaves: file formats, sketches, models, lists, lookups.
	{"collector/capture/libpcap", "collector/capture/pcapfile", "collector/decode", "collector/features/sketch",
		"detector/models", "internal/blocklist", "internal/geoip", "internal/ipfix", "internal/privilege"},
	// Packets in: live and file sources; evidence rings hold raw headers.
	{"collector/capture", "internal/evidence"},
	// Per-window features, flows and per-source behaviour.
	{"collector/features"},
	// Scoring, attack types, verdicts, models on disk.
	{"detector"},
	// One interface's flow end to end; verdicts out to a SIEM.
	{"collector/pipeline", "internal/siem"},
	// Prometheus side, configuration, the generated monitoring stack.
	{"collector", "internal/config", "mixin"},
	// Commands.
	{"cmd/netanomaly_exporter"},
}

// support are packages for tests and tools: they may import any runtime
// package, and no runtime package may import them outside its tests,
// except as toolUsers allows.
var support = []string{
	"cmd/netanomaly_synth", "collector/capture/capturetest", "internal/synth", "internal/testpcap",
	"internal/testutil", "internal/netnstest", "internal/geoip/geoiptest", "internal/stacktest",
}

// toolUsers are the support packages a command may use outside its tests.
// A command is wiring, not the runtime path: the exporter started without
// a source runs its demo on traffic the synthesizer makes in memory
// (cmd/netanomaly_exporter/demo.go). No other package may, so the
// detector, the pipeline and the collector never depend on it.
var toolUsers = map[string][]string{
	"cmd/netanomaly_exporter": {"internal/synth"},
}

// TestImportLayers fails when a package imports one of its own layer or
// above, imports a test-support package toolUsers does not allow it, or
// is in no layer yet.
func TestImportLayers(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	rank := map[string]int{}
	for i, l := range layers {
		for _, p := range l {
			rank[p] = i
		}
	}
	seen := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			return nil
		}
		pkg, err := build.ImportDir(path, 0)
		if err != nil {
			if _, ok := err.(*build.NoGoError); ok {
				return nil
			}
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(path, root+string(os.PathSeparator)))
		if strings.HasPrefix(rel, "test/") || strings.HasPrefix(rel, "scripts/") || slices.Contains(support, rel) {
			// A tool a command uses goes into its binary: it must not
			// bring other test support with it.
			for user, tools := range toolUsers {
				if !slices.Contains(tools, rel) {
					continue
				}
				for _, imp := range pkg.Imports {
					if dep, ok := strings.CutPrefix(imp, module); ok && slices.Contains(support, dep) {
						t.Errorf("%s, which %s uses, imports the test-support package %s", rel, user, dep)
					}
				}
			}
			return nil // tests, scripts and tools may import what they test
		}
		seen++
		r, ok := rank[rel]
		if !ok {
			t.Errorf("%s is in no layer: add it to layers in test/layout/imports_test.go, below every package that imports it and above those it imports", rel)
			return nil
		}
		for _, imp := range pkg.Imports {
			dep, ok := strings.CutPrefix(imp, module)
			if !ok {
				continue
			}
			if slices.Contains(support, dep) && !slices.Contains(toolUsers[rel], dep) {
				t.Errorf("%s imports the test-support package %s outside its tests", rel, dep)
				continue
			}
			if dr, ok := rank[dep]; ok && dr >= r {
				t.Errorf("%s (layer %d) imports %s (layer %d): a package imports only the layers below it", rel, r, dep, dr)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 15 {
		t.Fatalf("checked %d packages: the walk missed the tree", seen)
	}
}
