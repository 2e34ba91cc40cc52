package mixin

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v2"

	"github.com/netanomaly/netanomaly_exporter/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if exporterBin != "" {
		_ = os.RemoveAll(filepath.Dir(exporterBin))
	}
	os.Exit(code)
}

var (
	buildOnce   sync.Once
	exporterBin string
	buildErr    error
)

// buildExporter builds the exporter once per test run and returns the
// binary's path.
func buildExporter(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "netanomaly-monitoring")
		if err != nil {
			buildErr = err
			return
		}
		exporterBin = filepath.Join(dir, "netanomaly_exporter")
		if out, err := runErr(repoRoot(t), nil, "go", "build", "-o", exporterBin, "./cmd/netanomaly_exporter"); err != nil {
			buildErr = fmt.Errorf("build the exporter: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return exporterBin
}

// repoRoot is the repository root: the parent of this package's directory
// (go test runs in the package directory).
func repoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd)
}

// Each tool the tests need, and the Debian package that installs it.
var toolPackages = map[string]string{
	"promtool":                "prometheus",
	"prometheus":              "prometheus",
	"amtool":                  "prometheus-alertmanager",
	"prometheus-alertmanager": "prometheus-alertmanager",
	"docker-compose":          "docker-compose",
}

// needTool returns the path of a command, or skips the test with a message
// saying how to install it.
func needTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (apt-get install %s): skipping", name, toolPackages[name])
	}
	return path
}

// run runs a command in dir and returns its combined output; a non-zero
// exit fails the test with the output.
func run(t testing.TB, dir, name string, args ...string) string {
	t.Helper()
	out, err := runErr(dir, nil, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// runErr runs a command in dir with extra environment variables and
// returns its combined output and error.
func runErr(dir string, extraEnv []string, name string, args ...string) (string, error) {
	return runEnv(dir, append(os.Environ(), extraEnv...), name, args...)
}

// runEnv runs a command in dir with exactly the environment env.
func runEnv(dir string, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// freeAddr returns a localhost address with a port nobody listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startDaemon starts a long-running command (prometheus, alertmanager, the
// exporter), waits until readyURL answers 200 and stops it when the test
// ends. Its output goes to the test log on failure.
func startDaemon(t testing.TB, readyURL string, name string, args ...string) {
	t.Helper()
	var out testutil.SyncBuffer
	cmd := exec.Command(name, args...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("%s exited: %v\n%s", name, err, out.String())
		default:
		}
		resp, err := http.Get(readyURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not ready at %s after 30s\n%s", name, readyURL, out.String())
}

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
	data, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
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
	paths, err := filepath.Glob(filepath.Join(repoRoot(t), "prometheus/rules/*.yml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no rule files in prometheus/rules (%v)", err)
	}
	files := map[string]ruleFile{}
	for _, p := range paths {
		rel, _ := filepath.Rel(repoRoot(t), p)
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
