package ipfix

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/internal/testutil"
)

const nfacctdPath = "/usr/sbin/nfacctd"

// startNfacctd runs pmacct's collector on a loopback port with the print
// plugin writing CSV, and returns the port and the file.
func startNfacctd(t *testing.T) (port int, out string) {
	t.Helper()
	if _, err := os.Stat(nfacctdPath); err != nil {
		t.Skipf("pmacct's nfacctd is not installed (%v): apt-get install pmacct", err)
	}
	dir := t.TempDir()
	port, out = testutil.FreeUDPPort(t), filepath.Join(dir, "flows.csv")
	conf := filepath.Join(dir, "nfacctd.conf")
	text := fmt.Sprintf(`daemonize: false
pidfile: %s
nfacctd_ip: 127.0.0.1
nfacctd_port: %d
plugins: print[flows]
aggregate[flows]: src_host, dst_host, src_port, dst_port, proto, tcpflags, timestamp_start, timestamp_end, export_proto_version, export_proto_sysid
print_output[flows]: csv
print_output_file[flows]: %s
print_output_file_append[flows]: true
print_refresh_time[flows]: 1
timestamps_utc: true
`, filepath.Join(dir, "nfacctd.pid"), port, out)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &testutil.SyncBuffer{}
	cmd := exec.Command(nfacctdPath, "-f", conf)
	cmd.Stdout, cmd.Stderr = logs, logs
	// Its own process group, so cleanup also ends the plugin processes
	// it forks; SIGKILL, because nfacctd can hang in its SIGTERM handler.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nfacctd: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		if t.Failed() {
			t.Logf("nfacctd output:\n%s", logs.String())
		}
	})
	// Ready once the core listens and the print plugin has run its first
	// purge: records that reach the core before the plugin's loop runs
	// are lost, and the test would wait for rows that never come.
	deadline := time.After(10 * time.Second)
	for !strings.Contains(logs.String(), "waiting for NetFlow/IPFIX data on") || !strings.Contains(logs.String(), "Purging cache - END") {
		select {
		case <-exited:
			t.Fatalf("nfacctd exited at start:\n%s", logs.String())
		case <-deadline:
			t.Fatalf("nfacctd not ready after 10s:\n%s", logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return port, out
}

// readCSV reads the print plugin's rows as maps keyed by its header.
func readCSV(path string) ([]map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	all, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	var rows []map[string]string
	var header []string
	for _, rec := range all {
		if header == nil || (len(rec) > 0 && rec[0] == "SRC_IP") {
			header = rec // every refresh appends its header
			continue
		}
		row := map[string]string{}
		for i, v := range rec {
			if i < len(header) {
				row[header[i]] = v
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// TestNfacctd sends an IPv4 and an IPv6 biflow to pmacct's nfacctd and
// checks what its print plugin writes.
func TestNfacctd(t *testing.T) {
	t.Parallel()
	port, out := startNfacctd(t)
	e := start(t, Config{Address: "127.0.0.1:" + strconv.Itoa(port), ObservationDomain: 4242}, testTuning)
	flows := []Flow{tcpFlow4, udpFlow6}
	for i := range 10 {
		flows = append(flows, numbered(tcpFlow4, i))
	}
	for i := range flows {
		e.Export(&flows[i])
	}
	closeWithin(t, e, 2*time.Second)

	var rows []map[string]string
	deadline := time.Now().Add(8 * time.Second)
	for len(rows) < len(flows) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		r, err := readCSV(out)
		if err != nil && !os.IsNotExist(err) {
			t.Fatalf("read %s: %v", out, err)
		}
		rows = r
	}
	if len(rows) != len(flows) {
		t.Fatalf("nfacctd wrote %d flows, want %d: %v", len(rows), len(flows), rows)
	}
	for _, f := range flows {
		src := net.IP(f.Src[:]).String()
		var row map[string]string
		for _, r := range rows {
			if r["SRC_IP"] == src && r["SRC_PORT"] == strconv.Itoa(int(f.SrcPort)) {
				row = r
			}
		}
		if row == nil {
			t.Errorf("no row for source %s in %v", src, rows)
			continue
		}
		proto := map[uint8]string{6: "tcp", 17: "udp"}[f.Proto]
		want := map[string]string{
			"SRC_IP": src, "DST_IP": net.IP(f.Dst[:]).String(),
			"SRC_PORT": strconv.Itoa(int(f.SrcPort)), "DST_PORT": strconv.Itoa(int(f.DstPort)),
			"PROTOCOL": proto, "TCP_FLAGS": strconv.Itoa(int(f.Flags)),
			"PACKETS": strconv.FormatUint(f.Packets, 10), "BYTES": strconv.FormatUint(f.Bytes, 10),
			"EXPORT_PROTO_VERSION": "10", "EXPORT_PROTO_SYSID": "4242",
			"TIMESTAMP_START": time.Unix(0, f.Start).UTC().Format("2006-01-02 15:04:05.000000")[:23],
			"TIMESTAMP_END":   time.Unix(0, f.End).UTC().Format("2006-01-02 15:04:05.000000")[:23],
		}
		for k, w := range want {
			if g, ok := row[k]; !ok || !strings.HasPrefix(g, w) {
				t.Errorf("%s: %s = %q, want %q", src, k, g, w)
			}
		}
	}
}
