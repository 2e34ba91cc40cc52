package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/internal/stacktest"

	"github.com/netsampler/goflow2/v2/decoders/netflow"

	"github.com/netanomaly/netanomaly_exporter/internal/geoip/geoiptest"
	"github.com/netanomaly/netanomaly_exporter/internal/testutil"
)

// TestConfigFileEndToEnd drives every part of the configuration file at
// once through serve, on the bundled FTP brute-force capture: two host
// groups with their own verdicts, a user rule that fires, a blocklist hit, an evidence capture tshark reads,
// country series from a test database, event records received by a real
// rsyslog, and flow records received by an IPFIX collector.
func TestConfigFileEndToEnd(t *testing.T) {
	const rsyslogd = "/usr/sbin/rsyslogd"
	if _, err := os.Stat(rsyslogd); err != nil {
		t.Skipf("%s not found: install the Debian package rsyslog", rsyslogd)
	}
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not found: install the Debian package tshark")
	}
	bin := stacktest.BuildExporter(t)
	dir := t.TempDir()

	// A real rsyslog on a loopback UDP port, writing what it receives.
	syslogPort := testutil.FreeUDPPort(t)
	received := filepath.Join(dir, "received.log")
	writeFile(t, filepath.Join(dir, "rsyslog.conf"), fmt.Sprintf(`global(workDirectory=%q)
template(name="raw" type="string" string="%%rawmsg%%\n")
ruleset(name="recv") { action(type="omfile" file=%q template="raw") }
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="%d" ruleset="recv")
`, dir, received, syslogPort))
	rs := exec.Command(rsyslogd, "-n", "-f", filepath.Join(dir, "rsyslog.conf"), "-i", filepath.Join(dir, "rsyslogd.pid"))
	if err := rs.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rs.Process.Kill(); _ = rs.Wait() }()

	// An IPFIX collector: goflow2's decoder on a loopback UDP socket.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var flowPackets atomic.Uint64
	go func() {
		ts := netflow.CreateTemplateSystem()
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var v9 netflow.NFv9Packet
			var msg netflow.IPFIXPacket
			if netflow.DecodeMessageVersion(bytes.NewBuffer(buf[:n]), ts, &v9, &msg) != nil {
				continue
			}
			for _, set := range msg.FlowSets {
				if data, ok := set.(netflow.DataFlowSet); ok {
					for _, rec := range data.Records {
						for _, v := range rec.Values {
							if b, _ := v.Value.([]byte); v.Type == 2 && len(b) == 8 {
								flowPackets.Add(binary.BigEndian.Uint64(b))
							}
						}
					}
				}
			}
		}
	}()

	writeFile(t, filepath.Join(dir, "intel.netset"), "192.168.56.101\n")
	db := geoiptest.CountryFile(t, dir, map[string]string{"192.168.56.0/24": "NL"})
	conf := filepath.Join(dir, "netanomaly.yml")
	writeFile(t, conf, fmt.Sprintf(`groups:
  - name: server
    cidrs: [192.168.56.101/32]
  - name: lan
    cidrs: [192.168.56.0/24, "fd00::/8"]
rules:
  - name: ftp-logins
    expr: auth_connection_attempts_per_window >= 2
    severity: high
    recommendation: Check who logs in to the FTP server.
blocklists:
  - name: intel
    path: intel.netset
evidence:
  dir: evidence
syslog:
  address: 127.0.0.1:%d
  transport: udp
ipfix:
  address: %s
  transport: udp
`, syslogPort, pc.LocalAddr()))
	if out, err := exec.Command(bin, "check-config", conf).CombinedOutput(); err != nil {
		t.Fatalf("check-config: %v\n%s", err, out)
	}

	addr := stacktest.FreeAddr(t)
	events := filepath.Join(dir, "events.jsonl")
	cmd := exec.Command(bin, "--web.listen-address="+addr, "--capture.pcap=testdata/ftp_bruteforce.pcap", "--capture.pcap.speed=0",
		"--config.file="+conf, "--geoip.database="+db, "--events.file="+events, "--detector.attack-sources=3")
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	// Metrics: the capture's 606 packets all involve the listed server
	// and come from NL; the rule is in force.
	for _, re := range []string{
		`netanomaly_blocklist_packets_total\{interface="ftp_bruteforce",list="intel"\} 606`,
		`netanomaly_country_packets_total\{country="NL",interface="ftp_bruteforce"\} 606`,
		`netanomaly_user_rule_info\{[^}]*group="server"[^}]*type="rule:ftp-logins"[^}]*\} 1`,
		`netanomaly_blocklist_entries\{list="intel"\} 1`,
		`netanomaly_attacks_total\{group="",interface="ftp_bruteforce",type="rule:ftp-logins"\} [1-9]`,
		`netanomaly_attacks_total\{group="",interface="ftp_bruteforce",type="blocklisted_peer"\} [1-9]`,
		// Each host group judges its hosts' traffic: the server's and the
		// client's views both see the brute force; other sees nothing.
		`netanomaly_attacks_total\{group="server",interface="ftp_bruteforce",type="brute_force"\} [1-9]`,
		`netanomaly_attacks_total\{group="lan",interface="ftp_bruteforce",type="brute_force"\} [1-9]`,
		`netanomaly_window_packets_per_second\{group="server",interface="ftp_bruteforce"\} [1-9]`,
		`netanomaly_evidence_files_written_total [1-9]`,
	} {
		scrapeUntil(t, addr, re)
	}

	// The event log: starts of the three types, with the evidence file and
	// the source's country.
	waitFor(t, 30*time.Second, "event log", func() (bool, string) {
		b, _ := os.ReadFile(events)
		s := string(b)
		return strings.Contains(s, `"type":"rule:ftp-logins"`) && strings.Contains(s, `"type":"blocklisted_peer"`) && strings.Contains(s, `"group":"server"`) &&
			strings.Contains(s, `"evidence_file":"`) && strings.Contains(s, `"source_countries":["NL"]`), s
	})
	files, _ := filepath.Glob(filepath.Join(dir, "evidence", "ftp_bruteforce-*.pcap"))
	if len(files) == 0 {
		t.Fatal("no evidence capture")
	}
	if out, err := exec.Command("tshark", "-r", files[0], "-c", "5").CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) == 0 {
		t.Errorf("tshark cannot read %s: %v\n%s", files[0], err, out)
	}

	// rsyslog received the attack starts as RFC 5424 messages with ECS
	// JSON.
	waitFor(t, 30*time.Second, "rsyslog", func() (bool, string) {
		b, _ := os.ReadFile(received)
		s := string(b)
		return strings.Contains(s, " netanomaly_exporter ") && strings.Contains(s, `"name":"rule:ftp-logins"`) &&
			strings.Contains(s, `"name":"blocklisted_peer"`), s
	})

	// The collector received every flow: the file ended, its flows were
	// reported as ended by force.
	waitFor(t, 30*time.Second, "IPFIX", func() (bool, string) {
		n := flowPackets.Load()
		return n == 606, fmt.Sprintf("%d packets in flow records, want 606", n)
	})
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not there after %s:\n%s", what, limit, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
