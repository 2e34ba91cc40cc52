package stacktest

import (
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/internal/testutil"
)

// StartDaemon starts a long-running command (prometheus, alertmanager, the
// exporter), waits until readyURL answers 200 and stops it when the test
// ends. Its output goes to the test log on failure.
func StartDaemon(t testing.TB, readyURL string, name string, args ...string) {
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

// StartPrometheus runs Prometheus on a free port with the given
// configuration file and returns its URL.
func StartPrometheus(t testing.TB, config string, extraArgs ...string) string {
	t.Helper()
	return StartPrometheusAt(t, FreeAddr(t), config, extraArgs...)
}

// StartPrometheusAt runs Prometheus on addr (known in advance when its
// configuration scrapes itself) and returns its URL.
func StartPrometheusAt(t testing.TB, addr, config string, extraArgs ...string) string {
	t.Helper()
	bin := NeedTool(t, "prometheus")
	args := append([]string{
		"--config.file=" + config,
		"--storage.tsdb.path=" + t.TempDir(),
		"--web.listen-address=" + addr,
	}, extraArgs...)
	StartDaemon(t, "http://"+addr+"/-/ready", bin, args...)
	return "http://" + addr
}

// StartAlertmanager runs Alertmanager on a free port with the given
// configuration, without clustering, and returns its URL.
func StartAlertmanager(t testing.TB, config string) string {
	t.Helper()
	bin := NeedTool(t, "prometheus-alertmanager")
	addr := FreeAddr(t)
	StartDaemon(t, "http://"+addr+"/-/ready", bin,
		"--config.file="+config,
		"--storage.path="+t.TempDir(),
		"--web.listen-address="+addr,
		"--cluster.listen-address=",
	)
	return "http://" + addr
}
