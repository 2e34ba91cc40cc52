package main

import (
	"bytes"
	"errors"
	"flag"
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
	err := run([]string{"-seed", "3", "-duration", "3m", "-rate", "100", "-start", "2025-01-02T03:04:05Z",
		"-attack", "port_scan@1m+30s", "-attack", "arp_spoofing@2m+30s:gateway/1", "-o", out, "-labels", lab}, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
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
		err  string
	}{
		{[]string{"-duration", "1m"}, "-o is required"},
		{[]string{"-o", out, "-start", "yesterday"}, `-start "yesterday" is not an RFC3339 time`},
		{[]string{"-o", out, "-network", "10.0.0.0"}, `-network "10.0.0.0" is not a prefix`},
		{[]string{"-o", out, "-network", "2001:db8::/48"}, "only IPv4"},
		{[]string{"-o", out, "-duration", "10m", "-attack", "syn_flood@9m+2m"}, "after the scenario's end"},
		{[]string{"-o", out, "-duration", "10m", "-preset", "mixed"}, "needs a capture of at least"},
		{[]string{"-o", out, "-preset", "chaos"}, `unknown preset "chaos"`},
		{[]string{"-o", out, "-attack", "bogus@1m+1m"}, `unknown type "bogus"`},
		{[]string{"-o", out, "-rate", "-5"}, "base rate -5"},
		{[]string{"-o", out, "stray"}, `unexpected argument "stray"`},
	} {
		var stderr bytes.Buffer
		err := run(c.args, &stderr)
		if err == nil || !strings.Contains(err.Error()+stderr.String(), c.err) {
			t.Errorf("run(%q) = %v (%s), want an error containing %q", c.args, err, stderr.String(), c.err)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a failed run left %s", out)
	}
	var stderr bytes.Buffer
	if err := run([]string{"-h"}, &stderr); !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "arp_spoofing") {
		t.Errorf("-h: %v\n%s", err, stderr.String())
	}
}
