package mixin

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"

	"github.com/netanomaly/netanomaly_exporter/internal/stacktest"
)

// docker-compose.yml, as far as the tests read it.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Secrets  map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
	Volumes map[string]any `yaml:"volumes"`
}

type composeService struct {
	Build       any               `yaml:"build"`
	Image       string            `yaml:"image"`
	NetworkMode string            `yaml:"network_mode"`
	CapAdd      []string          `yaml:"cap_add"`
	CapDrop     []string          `yaml:"cap_drop"`
	ReadOnly    bool              `yaml:"read_only"`
	User        string            `yaml:"user"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	ExtraHosts  []string          `yaml:"extra_hosts"`
	Secrets     []string          `yaml:"secrets"`
}

func readCompose(t testing.TB) composeFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(stacktest.RepoRoot(t), "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	// Not strict: compose has many keys the tests do not read.
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// composeEnv is what docker-compose needs to interpolate the file.
var composeEnv = []string{"GF_SECURITY_ADMIN_PASSWORD=test-only-password"}

// TestDockerComposeConfig validates docker-compose.yml with docker-compose
// itself, and checks that it refuses to run without a Grafana password.
func TestDockerComposeConfig(t *testing.T) {
	dc := stacktest.NeedTool(t, "docker-compose")
	root := stacktest.RepoRoot(t)
	out, err := stacktest.RunErr(root, composeEnv, dc, "config", "--quiet")
	if err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, out)
	}
	// Without the password the stack must not start with Grafana's default one.
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GF_SECURITY_ADMIN_PASSWORD=") {
			env = append(env, kv)
		}
	}
	if out, err := stacktest.RunEnv(root, env, dc, "config", "--quiet"); err == nil || !strings.Contains(out, "GF_SECURITY_ADMIN_PASSWORD") {
		t.Errorf("docker-compose config without GF_SECURITY_ADMIN_PASSWORD: err %v, output %q; want a failure naming the variable", err, out)
	}
}

func TestDockerComposeServices(t *testing.T) {
	c := readCompose(t)
	ex := c.Services["exporter"]
	if ex.Build == nil || ex.NetworkMode != "host" || !ex.ReadOnly {
		t.Errorf("exporter: want build ., network_mode host, read_only; got %+v", ex)
	}
	if strings.Join(ex.CapDrop, ",") != "ALL" || strings.Join(ex.CapAdd, ",") != "NET_RAW" {
		t.Errorf("exporter: want cap_drop [ALL] and cap_add [NET_RAW], got %v %v", ex.CapDrop, ex.CapAdd)
	}
	if ex.User == "" || strings.HasPrefix(ex.User, "0") || ex.User == "root" {
		t.Errorf("exporter: user %q, want a non-root user", ex.User)
	}
	if !contains(ex.Command, "--capture.interface=${NETANOMALY_INTERFACE:-eth0}") {
		t.Errorf("exporter: command %v does not capture on ${NETANOMALY_INTERFACE:-eth0}", ex.Command)
	}
	pinned := regexp.MustCompile(`^[a-z/]+:v?\d+\.\d+\.\d+$`)
	for _, name := range []string{"prometheus", "alertmanager", "grafana"} {
		if s, ok := c.Services[name]; !ok || !pinned.MatchString(s.Image) {
			t.Errorf("%s: image %q is not pinned to a version", name, s.Image)
		}
	}
	if !contains(c.Services["prometheus"].ExtraHosts, "host.docker.internal:host-gateway") {
		t.Error("prometheus: no extra_hosts host.docker.internal:host-gateway to reach the exporter on the host network")
	}
	for _, v := range c.Services["prometheus"].Volumes {
		if strings.HasPrefix(v, "./") && !strings.HasSuffix(v, ":ro") {
			t.Errorf("prometheus: %s is not mounted read-only", v)
		}
	}
	if pw := c.Services["grafana"].Environment["GF_SECURITY_ADMIN_PASSWORD"]; !strings.HasPrefix(pw, "${GF_SECURITY_ADMIN_PASSWORD:?") {
		t.Errorf("grafana: GF_SECURITY_ADMIN_PASSWORD = %q, want it required from the environment", pw)
	}
	// Alertmanager reads its secrets where docker-compose mounts them.
	var am amConfig
	readYAML(t, amConfigPath, &am)
	for _, s := range c.Services["alertmanager"].Secrets {
		found := false
		for _, v := range am.Global {
			if v == "/run/secrets/"+s {
				found = true
			}
		}
		if !found {
			t.Errorf("alertmanager: secret %s is mounted but alertmanager.yml does not read /run/secrets/%s", s, s)
		}
	}
	for _, v := range []string{"prometheus-data", "alertmanager-data", "grafana-data"} {
		if _, ok := c.Volumes[v]; !ok {
			t.Errorf("no named volume %s", v)
		}
	}
}

// TestDockerfile checks the parts of the Dockerfile that nothing here can
// build (there is no Docker engine): the stages, the static build with the
// Makefile's version ldflags, the non-root user with file capabilities.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(stacktest.RepoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	for _, want := range []string{
		"FROM golang:1.26-bookworm AS build",
		"CGO_ENABLED=0 go build",
		"-X ${pkg}.Version=", "-X ${pkg}.Revision=", "-X ${pkg}.Branch=",
		"pkg=github.com/prometheus/common/version",
		"FROM debian:bookworm-slim",
		"libpcap0.8", "libcap2-bin",
		"setcap cap_net_raw+ep /usr/local/bin/netanomaly_exporter",
		"USER netanomaly",
		"EXPOSE 9957",
		`ENTRYPOINT ["/usr/local/bin/netanomaly_exporter"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	ignore, err := os.ReadFile(filepath.Join(stacktest.RepoRoot(t), ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^(alertmanager|alertmanager/secrets)$`).Match(ignore) {
		t.Error(".dockerignore does not keep alertmanager/secrets out of the build context")
	}
}
