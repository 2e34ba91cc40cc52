package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/internal/synth"
)

func TestParseAttack(t *testing.T) {
	for _, c := range []struct {
		in   string
		want synth.Attack
	}{
		{"port_scan@30m+60s:vertical", synth.Attack{Type: synth.PortScan, Start: 30 * time.Minute, Duration: time.Minute, Variant: "vertical"}},
		{"syn_flood@50m+2m/5000", synth.Attack{Type: synth.SYNFlood, Start: 50 * time.Minute, Duration: 2 * time.Minute, Rate: 5000}},
		{"brute_force@1h+90s:ftp/2.5", synth.Attack{Type: synth.BruteForce, Start: time.Hour, Duration: 90 * time.Second, Variant: "ftp", Rate: 2.5}},
		{"traffic_drop@0s+1m", synth.Attack{Type: synth.TrafficDrop, Duration: time.Minute}},
	} {
		got, err := parseAttack(c.in)
		if err != nil || got != c.want {
			t.Errorf("parseAttack(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, c := range []struct{ in, err string }{
		{"", "want TYPE@OFFSET+DURATION"},
		{"port_scan", "want TYPE@OFFSET+DURATION"},
		{"ddos@1m+1m", `unknown type "ddos"`},
		{"port_scan@1m", "want TYPE@OFFSET+DURATION"},
		{"port_scan@abc+1m", `offset "abc" is not a duration`},
		{"port_scan@-1m+1m", `offset "-1m"`},
		{"port_scan@1m+0s", `duration "0s" is not a positive duration`},
		{"port_scan@1m+1m:diagonal", `unknown variant "diagonal" of port_scan`},
		{"syn_flood@1m+1m/-3", `rate "-3" is not a positive number`},
		{"syn_flood@1m+1m/fast", `rate "fast"`},
	} {
		_, err := parseAttack(c.in)
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("parseAttack(%q) = %v, want an error containing %q", c.in, err, c.err)
		}
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	out, lab := filepath.Join(dir, "x.pcap"), filepath.Join(dir, "x.csv")
	var stderr bytes.Buffer
	code := run([]string{"--seed=3", "--duration", "3m", "--background.rate=100", "--start=2025-01-02T03:04:05Z",
		"--attack=port_scan@1m+30s", "--attack", "arp_spoofing@2m+30s:gateway/1", "-o", out, "--labels=" + lab}, &stderr)
	if code != 0 {
		t.Fatalf("run: exit %d\n%s", code, stderr.String())
	}
	f, err := os.Open(lab)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	labels, err := synth.ParseLabels(f)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	if len(labels) != 2 || labels[0].Type != synth.PortScan || !labels[0].Start.Equal(start.Add(time.Minute)) || labels[1].Type != synth.ARPSpoofing {
		t.Errorf("labels %+v", labels)
	}
	// the same capture as the library writes
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	ls, err := synth.Write(&want, synth.Scenario{Seed: 3, Duration: 3 * time.Minute, BaseRate: 100, Start: start, Attacks: []synth.Attack{
		{Type: synth.PortScan, Start: time.Minute, Duration: 30 * time.Second},
		{Type: synth.ARPSpoofing, Variant: "gateway", Start: 2 * time.Minute, Duration: 30 * time.Second, Rate: 1},
	}})
	if err != nil || !bytes.Equal(data, want.Bytes()) || len(ls) != 2 {
		t.Errorf("the command's capture differs from synth.Write's (%v)", err)
	}
	if !strings.Contains(stderr.String(), "port_scan") {
		t.Errorf("no summary: %s", stderr.String())
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "x.pcap")
	for _, c := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"--duration=1m"}, 2, "'--output' not provided"},
		{[]string{"-o", out, "--start=yesterday"}, 1, `--start "yesterday" is not an RFC3339 time`},
		{[]string{"-o", out, "--network.prefix=10.0.0.0"}, 1, `--network.prefix "10.0.0.0" is not a prefix`},
		{[]string{"-o", out, "--network.prefix=2001:db8::/48"}, 1, "only IPv4"},
		{[]string{"-o", out, "--duration=10m", "--attack=syn_flood@9m+2m"}, 1, "after the scenario's end"},
		{[]string{"-o", out, "--duration=10m", "--attack.preset=mixed"}, 1, "needs a capture of at least"},
		{[]string{"-o", out, "--attack.preset=chaos"}, 1, `unknown preset "chaos"`},
		{[]string{"-o", out, "--attack=bogus@1m+1m"}, 2, `unknown type "bogus"`},
		{[]string{"-o", out, "--background.rate=-5"}, 1, "base rate -5"},
		{[]string{"-o", out, "stray"}, 2, "unexpected stray"},
		{[]string{"-seed", "3", "-o", out}, 2, "unknown short flag '-s'"},
		{[]string{"flood", "-o", out, "--packets=-1"}, 1, "--packets -1 is negative"},
		{[]string{"flood", "-o", out, "--gap=-1us"}, 1, "--gap -1µs is negative"},
		{[]string{"flood", "-o", out, "--attack=port_scan@1m+1m"}, 2, "unknown long flag '--attack'"},
	} {
		var stderr bytes.Buffer
		if code := run(c.args, &stderr); code != c.code || !strings.Contains(stderr.String(), c.err) {
			t.Errorf("run(%q) = %d (%s), want %d and an error containing %q", c.args, code, stderr.String(), c.code, c.err)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a failed run left %s", out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-h"}, "flood [<flags>]"},
		{[]string{"scenario", "--help"}, "blacknurse"},
		{[]string{"help", "flood"}, "--packets=5000000"},
	} {
		var stderr bytes.Buffer
		if code := run(c.args, &stderr); code != 0 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%q: exit %d, want 0 and %q in\n%s", c.args, code, c.want, stderr.String())
		}
	}
}

func TestRunFlood(t *testing.T) {
	out := filepath.Join(t.TempDir(), "flood.pcap")
	var stderr bytes.Buffer
	if code := run([]string{"flood", "--packets=1000", "--seed=7", "--gap=1500ns", "--output=" + out}, &stderr); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := synth.WriteFlood(&want, 1000, 7, 1500); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, want.Bytes()) {
		t.Errorf("the command's flood differs from synth.WriteFlood's")
	}
	if !strings.Contains(stderr.String(), "1000 packets") {
		t.Errorf("no summary: %s", stderr.String())
	}
}
