package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/internal/stacktest"

	"github.com/netsampler/goflow2/v2/decoders/netflow"

	"github.com/netanomaly/netanomaly_exporter/detector"
	"github.com/netanomaly/netanomaly_exporter/internal/geoip/geoiptest"
	"github.com/netanomaly/netanomaly_exporter/internal/testutil"
)

// TestCheckConfig: check-config says valid or lists every problem with
// its line, with an exit status a deploy script can test.
func TestCheckConfig(t *testing.T) {
	bin := stacktest.BuildExporter(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yml")
	bad := filepath.Join(dir, "bad.yml")
	writeFile(t, good, "rules:\n  - name: syn-storm\n    expr: tcp_syn_packets_per_window > 5000\n")
	writeFile(t, bad, "rules:\n  - name: syn-storm\n    expr: tcp_syns > 5000\n  - name: x\n    expr: dns_queries_per_window > 5\n    sevrity: high\n")
	old := filepath.Join(dir, "old.yml")
	writeFile(t, old, "rules:\n  - name: syn-storm\n    expr: tcp_syn_packets > 5000\n")
	for _, c := range []struct {
		args   []string
		code   int
		output string
	}{
		{[]string{"check-config", good}, 0, good + ": valid: 0 host groups, 1 user rules, 0 built-in types changed, 0 blocklists, outputs: none"},
		{[]string{"--config.file=" + good, "check-config"}, 0, "valid"},
		{[]string{"check-config", bad}, 1, bad + `:3: rule "syn-storm": expression "tcp_syns > 5000": unknown feature "tcp_syns"`},
		{[]string{"check-config", bad}, 1, bad + `:6: unknown key "sevrity" in a rule`},
		// A feature's old name still works, with a warning.
		{[]string{"check-config", old}, 0, "warning: " + old + `:3: rule "syn-storm": feature tcp_syn_packets is now called tcp_syn_packets_per_window: write "tcp_syn_packets_per_window > 5000"` + "\n" + old + ": valid: 0 host groups, 1 user rules"},
		{[]string{"check-config", filepath.Join(dir, "none.yml")}, 1, "none.yml: cannot read the configuration file: no such file or directory"},
		{[]string{"check-config"}, 2, "check-config needs a file"},
		// Every command refuses to start on a bad file, naming the flag.
		{[]string{"replay", "--capture.pcap=testdata/ftp_bruteforce.pcap", "--config.file=" + bad}, 2, "--config.file:\n" + bad + ":3:"},
	} {
		out, err := exec.Command(bin, c.args...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.code || !strings.Contains(string(out), c.output) {
			t.Errorf("%v: exit %d, output\n%s\nwant exit %d and %q", c.args, code, out, c.code, c.output)
		}
	}
}

// TestUserRuleReplay: a user rule fires on a replay like a built-in type,
// with its type label.
func TestUserRuleReplay(t *testing.T) {
	bin := stacktest.BuildExporter(t)
	conf := filepath.Join(t.TempDir(), "netanomaly.yml")
	// The capture is 30 FTP logins in a minute: its windows hold SYNs to
	// port 21.
	writeFile(t, conf, "rules:\n  - name: auth-syns\n    expr: auth_connection_attempts_per_window >= 2\n    for_windows: 2\n    severity: high\n")
	out, err := exec.Command(bin, "replay", "--capture.pcap=testdata/ftp_bruteforce.pcap", "--config.file="+conf).Output()
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	m := regexp.MustCompile(`netanomaly_attacks_total\{interface="ftp_bruteforce",type="rule:auth-syns"\} (\d+)`).FindStringSubmatch(string(out))
	if m == nil || m[1] == "0" {
		t.Fatalf("no rule:auth-syns attack counted:\n%s", grepLines(string(out), "netanomaly_attacks_total"))
	}
	// Without the file the type does not exist.
	out, err = exec.Command(bin, "replay", "--capture.pcap=testdata/ftp_bruteforce.pcap").Output()
	if err != nil || strings.Contains(string(out), "rule:") {
		t.Fatalf("replay without --config.file: %v, rule series: %s", err, grepLines(string(out), "netanomaly_attacks_total"))
	}
}

// TestConfigReload: SIGHUP and POST /-/reload put a new file in force; a
// file with problems leaves the running one in force and says so in a
// metric.
func TestConfigReload(t *testing.T) {
	bin := stacktest.BuildExporter(t)
	conf := filepath.Join(t.TempDir(), "netanomaly.yml")
	writeFile(t, conf, "rules:\n  - name: first\n    expr: packets_per_second > 1e9\n")
	addr := stacktest.FreeAddr(t)
	cmd := exec.Command(bin, "--web.listen-address="+addr, "--capture.pcap=testdata/wikipedia.pcap", "--capture.pcap.loop", "--capture.pcap.speed=50",
		"--config.file="+conf)
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	scrapeUntil(t, addr, `netanomaly_attack\{interface="wikipedia",type="rule:first"\} 0`)
	scrapeUntil(t, addr, `netanomaly_config_last_reload_successful 1`)

	post := func() (int, string) {
		resp, err := http.Post("http://"+addr+"/-/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := make([]byte, 4096)
		n, _ := resp.Body.Read(b)
		return resp.StatusCode, string(b[:n])
	}
	writeFile(t, conf, "rules:\n  - name: second\n    expr: packets_per_second > nope\n")
	if code, body := post(); code != http.StatusInternalServerError || !strings.Contains(body, conf+`:3: rule "second"`) {
		t.Errorf("reload of a bad file: %d %q", code, body)
	}
	scrapeUntil(t, addr, `netanomaly_config_last_reload_successful 0`)
	scrapeUntil(t, addr, `netanomaly_attack\{interface="wikipedia",type="rule:first"\} 0`)
	if resp, err := http.Get("http://" + addr + "/-/reload"); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload: %v %v", resp.StatusCode, err)
	}

	// The demo always carries traffic: this rule fires.
	writeFile(t, conf, "rules:\n  - name: second\n    expr: packets_per_second > 0\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	text := scrapeUntil(t, addr, `netanomaly_attack\{interface="wikipedia",type="rule:second"\} 1`)
	if strings.Contains(text, "rule:first") {
		t.Errorf("the removed rule still has series:\n%s", grepLines(text, "netanomaly_attack{"))
	}
	scrapeUntil(t, addr, `netanomaly_config_last_reload_successful 1`)
	if !strings.Contains(stderr.String(), "configuration reloaded") {
		t.Errorf("no reload logged:\n%s", stderr.String())
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestBlocklistReplay: a listed address in a capture counts per list and
// names the local host that talked to it.
func TestBlocklistReplay(t *testing.T) {
	bin := stacktest.BuildExporter(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "intel.netset"), "# the FTP server of the capture\n192.168.56.101\n")
	writeFile(t, filepath.Join(dir, "other.txt"), "203.0.113.0/24\n")
	conf := filepath.Join(dir, "netanomaly.yml")
	writeFile(t, conf, "blocklists:\n  - name: intel\n    path: intel.netset\n  - name: other\n    path: other.txt\n")
	out, err := exec.Command(bin, "replay", "--capture.pcap=testdata/ftp_bruteforce.pcap", "--config.file="+conf).Output()
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	text := string(out)
	// tshark: 332 packets from 192.168.56.1 to the server, 274 back.
	for _, want := range []string{
		`netanomaly_blocklist_packets_total{interface="ftp_bruteforce",list="intel"} 606`,
		`netanomaly_blocklist_packets_total{interface="ftp_bruteforce",list="other"} 0`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %s in:\n%s", want, grepLines(text, "netanomaly_blocklist"))
		}
	}
	m := regexp.MustCompile(`netanomaly_attacks_total\{interface="ftp_bruteforce",type="blocklisted_peer"\} (\d+)`).FindStringSubmatch(text)
	if m == nil || m[1] == "0" {
		t.Errorf("no blocklisted_peer attack: %s", grepLines(text, "netanomaly_attacks_total"))
	}
}

// TestSyslogOutput: with a syslog section, attack starts reach the
// receiver as RFC 5424 messages carrying ECS JSON.
func TestSyslogOutput(t *testing.T) {
	bin := stacktest.BuildExporter(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	conf := filepath.Join(t.TempDir(), "netanomaly.yml")
	writeFile(t, conf, "rules:\n  - name: any-traffic\n    expr: packets_per_second > 0\nsyslog:\n  address: "+pc.LocalAddr().String()+"\n  transport: udp\n")
	addr := stacktest.FreeAddr(t)
	cmd := exec.Command(bin, "--web.listen-address="+addr, "--capture.pcap=testdata/wikipedia.pcap", "--capture.pcap.loop", "--capture.pcap.speed=50",
		"--config.file="+conf)
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	_ = pc.SetReadDeadline(time.Now().Add(60 * time.Second))
	buf := make([]byte, 65536)
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no attack_start message: %v\n%s", err, stderr.String())
		}
		msg := string(buf[:n])
		// <PRI>1 TIMESTAMP HOSTNAME APP PROCID MSGID - MSG
		f := strings.SplitN(msg, " ", 8)
		if len(f) < 8 || f[5] != "attack_start" {
			continue
		}
		if f[0] != "<132>1" || f[3] != "netanomaly_exporter" || f[6] != "-" {
			t.Errorf("header %q (want PRI local0.warning = 132 for a medium rule)", strings.Join(f[:7], " "))
		}
		var doc struct {
			Event struct {
				Kind   string `json:"kind"`
				Action string `json:"action"`
			} `json:"event"`
			Rule struct {
				Name string `json:"name"`
			} `json:"rule"`
			Observer struct {
				Ingress struct {
					Interface struct {
						Name string `json:"name"`
					} `json:"interface"`
				} `json:"ingress"`
			} `json:"observer"`
		}
		if err := json.Unmarshal([]byte(f[7]), &doc); err != nil {
			t.Fatalf("MSG is not JSON: %v\n%s", err, f[7])
		}
		if doc.Event.Kind != "alert" || doc.Event.Action != "attack_start" || doc.Rule.Name != "rule:any-traffic" || doc.Observer.Ingress.Interface.Name != "wikipedia" {
			t.Errorf("ECS document %+v", doc)
		}
		return
	}
}

// TestEvidenceReplay: an attack in a replayed capture leaves an evidence
// capture of its packets, headers only, readable by tshark, with
// addresses anonymized as --privacy.ip says.
func TestEvidenceReplay(t *testing.T) {
	bin := stacktest.BuildExporter(t)
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (Debian package tshark)")
	}
	for _, c := range []struct {
		privacy  string
		attacker string // as the evidence file shows it
	}{
		{"full", "192.168.56.1"},
		{"truncate", "192.168.56.0"},
	} {
		dir := t.TempDir()
		conf := filepath.Join(dir, "netanomaly.yml")
		writeFile(t, conf, "evidence:\n  dir: evidence\n  snaplen: 96\n")
		out, err := exec.Command(bin, "replay", "--capture.pcap=testdata/ftp_bruteforce.pcap", "--config.file="+conf, "--privacy.ip="+c.privacy).Output()
		if err != nil {
			t.Fatalf("replay: %v", err)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "evidence", "ftp_bruteforce-brute_force-*.pcap"))
		if len(files) != 1 {
			t.Fatalf("%s: evidence files %v, want one for the brute force\n%s", c.privacy, files, grepLines(string(out), "netanomaly_evidence"))
		}
		if !strings.Contains(string(out), "netanomaly_evidence_files_written_total 1") {
			t.Errorf("%s: %s", c.privacy, grepLines(string(out), "netanomaly_evidence"))
		}
		fields, err := exec.Command("tshark", "-r", files[0], "-T", "fields", "-e", "ip.src", "-e", "ip.dst", "-e", "frame.cap_len", "-e", "frame.len").Output()
		if err != nil {
			t.Fatalf("tshark cannot read %s: %v", files[0], err)
		}
		lines := strings.Split(strings.TrimSpace(string(fields)), "\n")
		if len(lines) < 20 {
			t.Fatalf("%s: %d packets in the evidence", c.privacy, len(lines))
		}
		longer := 0
		for _, l := range lines {
			f := strings.Split(l, "\t")
			if len(f) != 4 || (f[0] != c.attacker && f[1] != c.attacker) {
				t.Fatalf("%s: packet %q is not the attacker's (%s)", c.privacy, l, c.attacker)
			}
			if n, _ := strconv.Atoi(f[2]); n > 96 || n == 0 {
				t.Fatalf("%s: captured %s bytes, snaplen 96", c.privacy, f[2])
			}
			if c.privacy != "full" && (strings.Contains(l, "192.168.56.1") || strings.Contains(l, "192.168.56.101")) {
				t.Fatalf("%s: a real address in the evidence: %q", c.privacy, l)
			}
			if f[3] != f[2] {
				longer++
			}
		}
		if longer == 0 {
			t.Errorf("%s: no packet kept its original length beyond the snaplen", c.privacy)
		}
	}
}

// TestIPFIXReplay: with an ipfix section, every flow of a replayed
// capture reaches the collector as an IPFIX biflow record (goflow2's
// decoder reads them), packets each way adding up to the capture's.
func TestIPFIXReplay(t *testing.T) {
	bin := stacktest.BuildExporter(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	conf := filepath.Join(t.TempDir(), "netanomaly.yml")
	writeFile(t, conf, "ipfix:\n  address: "+pc.LocalAddr().String()+"\n  transport: udp\n")
	if out, err := exec.Command(bin, "replay", "--capture.pcap=testdata/ftp_bruteforce.pcap", "--config.file="+conf, "--privacy.ip=truncate").CombinedOutput(); err != nil {
		t.Fatalf("replay: %v\n%s", err, grepLines(string(out), "level="))
	}
	ts := netflow.CreateTemplateSystem()
	packets, records := uint64(0), 0
	buf := make([]byte, 65536)
	_ = pc.SetReadDeadline(time.Now().Add(2 * time.Second)) // the replay flushed before it exited
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			break
		}
		var v9 netflow.NFv9Packet
		var msg netflow.IPFIXPacket
		if err := netflow.DecodeMessageVersion(bytes.NewBuffer(buf[:n]), ts, &v9, &msg); err != nil {
			t.Fatalf("goflow2 cannot decode a message: %v", err)
		}
		for _, set := range msg.FlowSets {
			data, ok := set.(netflow.DataFlowSet)
			if !ok {
				continue
			}
			for _, rec := range data.Records {
				records++
				for _, v := range rec.Values {
					b, _ := v.Value.([]byte)
					switch {
					case v.Type == 2 && len(b) == 8: // packetDeltaCount, forward and reverse (PEN 29305)
						packets += binary.BigEndian.Uint64(b)
					case v.Pen == 0 && (v.Type == 8 || v.Type == 12) && len(b) == 4 && b[3] != 0:
						t.Errorf("address %v not truncated", net.IP(b))
					}
				}
			}
		}
	}
	// tshark: 606 packets, all TCP between two hosts.
	if packets != 606 || records == 0 {
		t.Errorf("%d records carrying %d packets, want 606 packets", records, packets)
	}
}

// TestGeoIPReplay: with a country database, traffic counts by source
// country; a file that is no database stops the start with its name.
func TestGeoIPReplay(t *testing.T) {
	bin := stacktest.BuildExporter(t)
	dir := t.TempDir()
	db := geoiptest.CountryFile(t, dir, map[string]string{"192.168.56.0/25": "NL", "192.168.56.101/32": "SE"})
	out, err := exec.Command(bin, "replay", "--capture.pcap=testdata/ftp_bruteforce.pcap", "--geoip.database="+db).Output()
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	// tshark: 332 packets from 192.168.56.1, 274 from 192.168.56.101.
	for _, want := range []string{
		`netanomaly_country_packets_total{country="NL",interface="ftp_bruteforce"} 332`,
		`netanomaly_country_packets_total{country="SE",interface="ftp_bruteforce"} 274`,
		`netanomaly_country_packets_total{country="other",interface="ftp_bruteforce"} 0`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("missing %s in\n%s", want, grepLines(string(out), "netanomaly_country_packets_total"))
		}
	}
	// The event log names the countries of an attack's sources.
	events := filepath.Join(dir, "events.jsonl")
	addr := stacktest.FreeAddr(t)
	cmd := exec.Command(bin, "--web.listen-address="+addr, "--capture.pcap=testdata/ftp_bruteforce.pcap", "--capture.pcap.speed=0",
		"--geoip.database="+db, "--events.file="+events)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(events)
		if strings.Contains(string(b), `"kind":"attack_start"`) && strings.Contains(string(b), `"source_countries":["NL"]`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no attack start naming the source's country:\n%s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}

	bad := filepath.Join(dir, "bad.mmdb")
	writeFile(t, bad, "not a database")
	out, err = exec.Command(bin, "replay", "--capture.pcap=testdata/ftp_bruteforce.pcap", "--geoip.database="+bad).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "--geoip.database="+bad+": ") {
		t.Errorf("bad database: %v\n%s", err, out)
	}
}

// TestHostGroupsServe: with host groups, every group gets its own
// window and detector series, its verdicts go to the event log with the
// group, and its models are saved in the model file under
// interface/group.
func TestHostGroupsServe(t *testing.T) {
	bin := stacktest.BuildExporter(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "netanomaly.yml")
	groups := "groups:\n  - name: everyone\n    cidrs: [0.0.0.0/0, \"::/0\"]\n"
	writeFile(t, conf, groups)
	model := filepath.Join(dir, "m.model")
	events := filepath.Join(dir, "events.jsonl")
	addr := stacktest.FreeAddr(t)
	cmd := exec.Command(bin, "--web.listen-address="+addr, "--capture.pcap=testdata/wikipedia.pcap", "--capture.pcap.loop", "--capture.pcap.speed=50",
		"--detector.warmup=30s", "--detector.model-file="+model, "--config.file="+conf, "--events.file="+events)
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	scrapeUntil(t, addr, `netanomaly_detector_trained\{group="everyone",interface="wikipedia"\} 1`)
	// Trained: now a rule that fires on every window, by a reload.
	writeFile(t, conf, groups+"rules:\n  - name: any-traffic\n    expr: packets_per_second > 0\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	text := scrapeUntil(t, addr, `netanomaly_attack\{group="everyone",interface="wikipedia",type="rule:any-traffic"\} 1`)
	for _, want := range []string{
		`netanomaly_window_packets_per_second{group="",interface="wikipedia"}`,
		`netanomaly_window_packets_per_second{group="other",interface="wikipedia"}`,
		`netanomaly_capture_packets_received_total{interface="wikipedia"}`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %s", want)
		}
	}
	b, _ := os.ReadFile(events)
	if !strings.Contains(string(b), `"group":"everyone"`) {
		t.Errorf("no event of the group in the event log:\n%.2000s", b)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, stderr.String())
	}
	mf, err := detector.LoadModelFile(model, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if mf.Sets["wikipedia"] == nil || mf.Sets["wikipedia/everyone"] == nil {
		t.Errorf("model file sets: %v", slices.Collect(maps.Keys(mf.Sets)))
	}
}

// TestTrainGroups: train writes a model set for every host group beside
// the interfaces' one, and a replay with that file judges each group's
// view with its own set from the first window.
func TestTrainGroups(t *testing.T) {
	if testing.Short() {
		t.Skip("trains models: skipped with -short")
	}
	bin := stacktest.BuildExporter(t)
	dir := t.TempDir()
	benign := filepath.Join(dir, "benign.pcap")
	// 30 minutes at 20 packets/s from 200 hosts (10.1.0.0/24 to 10.0.0.0/24).
	if err := os.WriteFile(benign, genTraffic(t, 36000, 1, 50*time.Millisecond, 200), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "netanomaly.yml")
	writeFile(t, conf, "groups:\n  - name: low\n    cidrs: [10.1.0.0/25]\n")
	model := filepath.Join(dir, "m.model")
	out, err := exec.Command(bin, "train", "--capture.pcap="+benign, "--detector.model-file="+model, "--config.file="+conf).CombinedOutput()
	if err != nil {
		t.Fatalf("train: %v\n%s", err, out)
	}
	for _, want := range []string{"host group low: trained on ", "host group other: trained on "} {
		if !strings.Contains(string(out), want) {
			t.Errorf("train output lacks %q:\n%s", want, out)
		}
	}
	mf, err := detector.LoadModelFile(model, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if mf.Sets[detector.DefaultSet] == nil || mf.GroupSet("benign", "low") == nil || mf.GroupSet("benign", "other") == nil || mf.Sets["/low"] == mf.Sets[detector.DefaultSet] {
		t.Fatalf("model file sets: %v", slices.Collect(maps.Keys(mf.Sets)))
	}
	out, err = exec.Command(bin, "replay", "--capture.pcap="+benign, "--detector.model-file="+model, "--config.file="+conf).Output()
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	for _, want := range []string{
		`netanomaly_detector_trained{group="low",interface="benign"} 1`,
		`netanomaly_detector_trained{group="other",interface="benign"} 1`,
		`netanomaly_detector_trained{group="",interface="benign"} 1`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("missing %s:\n%s", want, grepLines(string(out), "netanomaly_detector_trained"))
		}
	}
}

// TestPprofAndVersion: profiling is served only when asked for, and the
// version is never empty.
func TestPprofAndVersion(t *testing.T) {
	bin := stacktest.BuildExporter(t)
	out, _ := exec.Command(bin, "--version").CombinedOutput()
	if strings.Contains(string(out), "version  (") || !strings.Contains(string(out), "netanomaly_exporter, version ") {
		t.Errorf("--version: %s", out)
	}
	for _, on := range []bool{false, true} {
		addr := stacktest.FreeAddr(t)
		args := []string{"--web.listen-address=" + addr, "--capture.pcap=testdata/wikipedia.pcap", "--capture.pcap.loop"}
		if on {
			args = append(args, "--web.enable-pprof")
		}
		cmd := exec.Command(bin, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitListening(t, addr)
		get := func(path string) (int, string) {
			resp, err := http.Get("http://" + addr + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		code, _ := get("/debug/pprof/")
		_, landing := get("/")
		if (code == http.StatusOK) != on || strings.Contains(landing, "/debug/pprof") != on {
			t.Errorf("--web.enable-pprof=%v: /debug/pprof/ %d, landing page links it: %v", on, code, strings.Contains(landing, "/debug/pprof"))
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}
