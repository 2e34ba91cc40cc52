package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/capture/pcapfile"
)

// The corpus this tool trims: test/corpus/testdata, recorded by
// scripts/record-corpus.sh. These tests check what the detector's tests
// rely on: the manifest is complete and exact, every file is a trimmed
// capture, and every label lies inside its capture.

const (
	corpusDir    = "../testdata"
	recordScript = "../../../scripts/record-corpus.sh"
	maxCorpus    = 30_000_000 // bytes, all files together: the detection issue's bound of 30 MB
)

type manifest struct {
	Network  json.RawMessage `json:"network"`
	Variants []variant       `json:"variants"`
}

type variant struct {
	Name         string   `json:"name"`
	File         string   `json:"file"`
	Role         string   `json:"role"`
	Type         string   `json:"type"`
	Tool         string   `json:"tool"`
	Description  string   `json:"description"`
	AttackStart  *float64 `json:"attack_start"`
	AttackEnd    *float64 `json:"attack_end"`
	Attackers    []string `json:"attackers"`
	AttackerMACs []string `json:"attacker_macs"`
	Spoofed      bool     `json:"spoofed"`
	Targets      []string `json:"targets"`
	Allow        []string `json:"allow"`
	// NeedsBaseline: too faint for absolute floors, judged against the
	// trained baseline only (see test/corpus).
	NeedsBaseline bool `json:"needs_baseline"`
}

var attackTypes = []string{
	"port_scan", "syn_flood", "brute_force", "slowloris", "http_flood", "udp_flood", "icmp_flood",
	"dns_amplification", "reflection", "dns_tunnel", "arp_spoofing", "dhcp_flood", "icmp_tunnel", "traffic_spike", "traffic_drop",
}

func readManifest(t *testing.T) manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir, "manifest.json"))
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("no corpus recorded yet (scripts/record-corpus.sh test/corpus/testdata)")
	}
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m manifest
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	return m
}

var macRE = regexp.MustCompile(`^([0-9a-f]{2}:){5}[0-9a-f]{2}$`)

func validAddrOrPrefix(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	_, err := netip.ParsePrefix(s)
	return err == nil
}

// TestManifest checks each entry on its own: fields, addresses, names.
func TestManifest(t *testing.T) {
	m := readManifest(t)
	if len(m.Network) == 0 || m.Network[0] != '{' {
		t.Error("manifest.json: no network object")
	}
	seen := map[string]bool{}
	for _, v := range m.Variants {
		if seen[v.Name] {
			t.Errorf("%s: listed twice", v.Name)
		}
		seen[v.Name] = true
		if want := strings.ReplaceAll(v.Name, "/", "-") + ".pcap.gz"; v.File != want {
			t.Errorf("%s: file %q, want %q", v.Name, v.File, want)
		}
		if v.Tool == "" || v.Description == "" {
			t.Errorf("%s: empty tool or description", v.Name)
		}
		for _, a := range slices.Concat(v.Attackers, v.Targets, v.Allow) {
			if !validAddrOrPrefix(a) {
				t.Errorf("%s: %q is not an address or prefix", v.Name, a)
			}
		}
		for _, mac := range v.AttackerMACs {
			if !macRE.MatchString(mac) {
				t.Errorf("%s: %q is not a MAC address", v.Name, mac)
			}
		}
		switch v.Role {
		case "attack":
			if !slices.Contains(attackTypes, v.Type) || !strings.HasPrefix(v.Name, v.Type+"/") {
				t.Errorf("%s: type %q", v.Name, v.Type)
			}
			if v.AttackStart == nil || v.AttackEnd == nil || *v.AttackEnd < *v.AttackStart {
				t.Errorf("%s: attack_start %v, attack_end %v", v.Name, v.AttackStart, v.AttackEnd)
			}
			if v.Spoofed != (len(v.Attackers) == 0 && v.Type != "traffic_drop") {
				t.Errorf("%s: spoofed %v with attackers %v", v.Name, v.Spoofed, v.Attackers)
			}
			if len(v.Targets) == 0 {
				t.Errorf("%s: no targets", v.Name)
			}
		case "benign", "train":
			if v.Type != "" || v.AttackStart != nil || v.AttackEnd != nil || len(v.Attackers) != 0 || !strings.HasPrefix(v.Name, v.Role+"/") {
				t.Errorf("%s: a %s recording with attack fields", v.Name, v.Role)
			}
		default:
			t.Errorf("%s: role %q", v.Name, v.Role)
		}
	}
}

// TestCorpusFiles reads every capture: a gzipped nanosecond pcap, cut as
// trim cuts, with the labelled attack inside it, and nothing unlisted.
func TestCorpusFiles(t *testing.T) {
	m := readManifest(t)
	listed := map[string]bool{}
	var total int64
	for _, v := range m.Variants {
		listed[v.File] = true
		t.Run(v.Name, func(t *testing.T) {
			path := filepath.Join(corpusDir, v.File)
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			total += st.Size()
			r, err := pcapfile.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if !r.Compressed() || r.Format() != "pcap" {
				t.Errorf("compressed %v, format %s; want a gzipped classic pcap", r.Compressed(), r.Format())
			}
			var n int
			var first, last int64
			for {
				p, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("packet %d: %v", n+1, err)
				}
				if n == 0 {
					first = p.TimeNanos
				}
				last = p.TimeNanos
				n++
				if c := cut(p.LinkType, p.Data); c != p.CaptureLength {
					t.Fatalf("packet %d: %d bytes kept where trim keeps %d", n, p.CaptureLength, c)
				}
			}
			if n == 0 {
				t.Fatal("no packets")
			}
			if v.AttackStart != nil {
				start, end := int64(*v.AttackStart*1e9), int64(*v.AttackEnd*1e9)
				if start < first-2e7 || end > last+2e7 {
					t.Errorf("attack %.3f-%.3f outside the capture %.3f-%.3f", *v.AttackStart, *v.AttackEnd,
						float64(first)/1e9, float64(last)/1e9)
				}
			}
		})
	}
	if total > maxCorpus {
		t.Errorf("the corpus is %d bytes, more than the %d allowed", total, maxCorpus)
	}
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*.pcap.gz"))
	for _, f := range files {
		if !listed[filepath.Base(f)] {
			t.Errorf("%s is not in manifest.json", filepath.Base(f))
		}
	}
}

// TestRecordCorpusScript is the fast check of the recorder: it parses,
// passes shellcheck when installed, lists its variants without root, and
// knows every variant in the manifest.
func TestRecordCorpusScript(t *testing.T) {
	for _, f := range []string{recordScript, "../../../scripts/lab.sh"} {
		if out, err := exec.Command("bash", "-n", f).CombinedOutput(); err != nil {
			t.Fatalf("bash -n %s: %v\n%s", f, err, out)
		}
		if sc, err := exec.LookPath("shellcheck"); err == nil {
			if out, err := exec.Command(sc, f).CombinedOutput(); err != nil {
				t.Errorf("shellcheck %s: %v\n%s", f, err, out)
			}
		}
	}
	out, err := exec.Command("bash", recordScript, "--list").CombinedOutput()
	if err != nil {
		t.Fatalf("--list: %v\n%s", err, out)
	}
	names := map[string]bool{}
	types := map[string]int{}
	for line := range strings.SplitSeq(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[3] == "s" {
			names[f[0]] = true
			if f[1] == "attack" {
				types[strings.SplitN(f[0], "/", 2)[0]]++
			}
		}
	}
	for _, ty := range attackTypes {
		if types[ty] < 4 {
			t.Errorf("--list: %d variants of %s, want at least 4", types[ty], ty)
		}
	}
	if out, err := exec.Command("bash", recordScript, "--list", "--only", "no_such_type").CombinedOutput(); err == nil {
		t.Errorf("--only no_such_type: no error; output:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(corpusDir, "manifest.json")); err == nil {
		for _, v := range readManifest(t).Variants {
			if !names[v.Name] {
				t.Errorf("manifest variant %s is not in record-corpus.sh --list", v.Name)
			}
		}
	}
}
