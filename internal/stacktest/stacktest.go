// Package stacktest holds what the tests of the monitoring stack share:
// the repository root, finding promtool, amtool, prometheus and
// alertmanager (or skipping with the Debian package that installs them),
// running commands, building the exporter once, free ports, starting
// Prometheus and Alertmanager, rendering the Alertmanager templates with
// amtool, and reading the shipped YAML files. mixin's tests check the
// generated and committed files with it; test/stack runs the whole stack
// with it. Only tests import it.
package stacktest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v2"
)

var (
	buildOnce   sync.Once
	exporterBin string
	buildErr    error
)

// Main runs a package's tests and removes the exporter binary
// BuildExporter built, if any: call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if exporterBin != "" {
		_ = os.RemoveAll(filepath.Dir(exporterBin))
	}
	os.Exit(code)
}

// BuildExporter builds the exporter once per test binary and returns the
// binary's path. The package's TestMain calls Main to remove it.
func BuildExporter(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "netanomaly-monitoring")
		if err != nil {
			buildErr = err
			return
		}
		// Readable by all: a test runs the binary as an unprivileged user.
		_ = os.Chmod(dir, 0o755)
		exporterBin = filepath.Join(dir, "netanomaly_exporter")
		if out, err := RunErr(RepoRoot(t), nil, "go", "build", "-o", exporterBin, "./cmd/netanomaly_exporter"); err != nil {
			buildErr = fmt.Errorf("build the exporter: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return exporterBin
}

// RepoRoot is the repository root: the nearest directory holding go.mod
// at or above the working directory (go test runs in the package's
// directory, which is mixin/ or test/stack/).
func RepoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod at or above %s", wd)
		}
		dir = parent
	}
}

// Each tool the tests need, and the Debian package that installs it.
var toolPackages = map[string]string{
	"promtool":                "prometheus",
	"prometheus":              "prometheus",
	"amtool":                  "prometheus-alertmanager",
	"prometheus-alertmanager": "prometheus-alertmanager",
	"docker-compose":          "docker-compose",
	"sshd":                    "openssh-server",
	"ssh":                     "openssh-client",
	"ssh-keygen":              "openssh-client",
	"tcpdump":                 "tcpdump",
}

// NeedTool returns the path of a command, or skips the test with a message
// saying how to install it.
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (apt-get install %s): skipping", name, toolPackages[name])
	}
	return path
}

// Run runs a command in dir and returns its combined output; a non-zero
// exit fails the test with the output.
func Run(t testing.TB, dir, name string, args ...string) string {
	t.Helper()
	out, err := RunErr(dir, nil, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// RunErr runs a command in dir with extra environment variables and
// returns its combined output and error.
func RunErr(dir string, extraEnv []string, name string, args ...string) (string, error) {
	return RunEnv(dir, append(os.Environ(), extraEnv...), name, args...)
}

// RunEnv runs a command in dir with exactly the environment env.
func RunEnv(dir string, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// FreeAddr returns a localhost address with a port nobody listens on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// ReadRepoYAML decodes a repository file, given relative to the root, as a
// generic YAML document.
func ReadRepoYAML(t testing.TB, rel string) map[any]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(RepoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[any]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return doc
}

// YAMLMap is v as a mapping of a generic YAML document; anything else
// fails the test, naming where.
func YAMLMap(t testing.TB, v any, where string) map[any]any {
	t.Helper()
	m, ok := v.(map[any]any)
	if !ok {
		t.Fatalf("%s: not a mapping (%T)", where, v)
	}
	return m
}

// YAMLList is v as a list of a generic YAML document; anything else fails
// the test, naming where.
func YAMLList(t testing.TB, v any, where string) []any {
	t.Helper()
	l, ok := v.([]any)
	if !ok {
		t.Fatalf("%s: not a list (%T)", where, v)
	}
	return l
}
