//go:build linux

package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/internal/stacktest"

	"github.com/netanomaly/netanomaly_exporter/internal/netnstest"
	"github.com/netanomaly/netanomaly_exporter/internal/privilege"
	"github.com/netanomaly/netanomaly_exporter/internal/testutil"
)

// TestLeastPrivilege starts the exporter capturing in a network namespace
// of the test's own, as root, as root dropping to nobody, and as an
// unprivileged user given CAP_NET_RAW by a file capability, and checks that
// every thread then holds CAP_NET_RAW and nothing else, and that it
// captures.
func TestLeastPrivilege(t *testing.T) {
	lab := netnstest.New(t, "priv")
	for _, tool := range []string{"setcap", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: needs %s (apt-get install libcap2-bin util-linux)", tool)
		}
	}
	bin := stacktest.BuildExporter(t)
	// A copy with the file capability, in a directory nobody can read.
	dir, err := os.MkdirTemp("", "netanomaly-priv")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	_ = os.Chmod(dir, 0o755)
	capBin := filepath.Join(dir, "netanomaly_exporter")
	if out, err := exec.Command("cp", bin, capBin).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	if out, err := exec.Command("setcap", "cap_net_raw+ep", capBin).CombinedOutput(); err != nil {
		t.Skipf("skipping: setcap failed (file system without extended attributes?): %v %s", err, out)
	}

	const addr = "127.0.0.1:9957" // inside the namespace: no other listener
	common := []string{"--capture.interface=b0", "--web.listen-address=" + addr, "--no-detector.enable"}
	cases := []struct {
		name string
		argv []string
		uid  int
	}{
		{"root", append([]string{bin}, common...), 0},
		{"root to nobody", append([]string{bin, "--process.user=nobody"}, common...), 65534},
		{"file capability", append([]string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", capBin}, common...), 65534},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command("ip", append([]string{"netns", "exec", lab.B}, c.argv...)...)
			var stderr testutil.SyncBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			// ip and setpriv exec the exporter: the pid stays.
			waitIn(t, lab.B, addr, &stderr)
			tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", cmd.Process.Pid))
			if len(tasks) < 2 {
				t.Fatalf("%d threads found", len(tasks))
			}
			for _, task := range tasks {
				b, err := os.ReadFile(task)
				if err != nil {
					continue // a thread that ended
				}
				st, err := privilege.ParseStatus(string(b))
				if err != nil {
					t.Fatal(err)
				}
				raw := privilege.Of(privilege.CapNetRaw)
				if st.UID != c.uid || st.Effective != raw || st.Permitted != raw {
					t.Errorf("%s: uid %d, effective %s, permitted %s; want uid %d with %s only", task, st.UID, st.Effective, st.Permitted, c.uid, raw)
				}
				if c.uid == 0 && st.Bounding != raw {
					t.Errorf("%s: bounding set %s, want %s", task, st.Bounding, raw)
				}
			}
			// It captures: 20 pings from the other namespace.
			if out, err := exec.Command("ip", "netns", "exec", lab.A, "ping", "-c", "20", "-i", "0.02", "-W", "1", lab.AddrB.String()).CombinedOutput(); err != nil {
				t.Fatalf("ping: %v\n%s", err, out)
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				text := getIn(t, lab.B, addr, "/metrics")
				if strings.Contains(text, `netanomaly_capture_state{interface="b0",state="capturing"} 1`) && receivedAtLeast(text, 40) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no 40 packets counted after 20 pings:\n%s\nlog:\n%s", grepLines(text, "netanomaly_capture_"), stderr.String())
				}
				time.Sleep(200 * time.Millisecond)
			}
		})
	}
}

// waitIn waits until the exporter in namespace ns answers on addr.
func waitIn(t *testing.T, ns, addr string, log *testutil.SyncBuffer) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if dialIn(ns, addr) == nil {
			return
		}
	}
	t.Fatalf("exporter in %s never answered on %s; log:\n%s", ns, addr, log.String())
}

func dialIn(ns, addr string) error {
	return netnstest.Do(ns, func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
}

// getIn fetches path from addr inside namespace ns (the socket is made
// there; reading it works from any thread).
func getIn(t *testing.T, ns, addr, path string) string {
	t.Helper()
	var c net.Conn
	if err := netnstest.Do(ns, func() error {
		var err error
		c, err = net.DialTimeout("tcp", addr, time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, addr)
	b, err := io.ReadAll(bufio.NewReader(c))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func receivedAtLeast(text string, n int) bool {
	for _, l := range strings.Split(text, "\n") {
		var v float64
		if _, err := fmt.Sscanf(l, `netanomaly_capture_packets_received_total{interface="b0"} %g`, &v); err == nil {
			return v >= float64(n)
		}
	}
	return false
}

func grepLines(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
