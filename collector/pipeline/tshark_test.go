package pipeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/internal/testpcap"
)

var updateTshark = flag.Bool("update-tshark", false, "regenerate testdata/tshark_counts.json with tshark from ../shared/pcaps")

// sharedPcaps is where CI and developers have the real captures.
const sharedPcaps = "../../../shared/pcaps"

type expectedFile struct {
	Link       string         `json:"link"`
	Pkts       uint64         `json:"pkts"`
	FrameBytes uint64         `json:"framebytes"`
	L4         map[string]int `json:"l4"`
}

// protoCount is packets and bytes of one protocol label.
type protoCount struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// tsharkLinks are the capinfos link names of the link types we decode.
var tsharkLinks = map[string]bool{"ether": true, "linux-sll": true, "linux-sll2": true, "rawip": true, "rawip4": true, "rawip6": true, "null": true}

// protoLabel maps expected.json's outer-L4 names to our protocol labels.
func protoLabel(l4 string) string {
	switch l4 {
	case "tcp", "udp", "icmp", "icmpv6", "arp":
		return l4
	}
	return "other" // igmp, gre, ip-other, non-ip
}

func loadExpected(t *testing.T) map[string]expectedFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(sharedPcaps, "expected.json"))
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("real captures not found at %s (they are in the project's shared/ folder beside the repo): skipping the tshark comparison", sharedPcaps)
	}
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]expectedFile
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// countFile runs a capture file through the reader, the decoder and the
// aggregator, as the replay command does, and returns per-protocol counts.
func countFile(t *testing.T, path string) map[string]protoCount {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	agg := features.NewAggregator(features.DefaultConfig(), "test", nil)
	if err := testpcap.Aggregate(f, agg); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	c := agg.Counters()
	out := map[string]protoCount{}
	for i, name := range decode.ProtocolNames() {
		if c.Packets[i] > 0 {
			out[name] = protoCount{Packets: c.Packets[i], Bytes: c.Bytes[i]}
		}
	}
	return out
}

// tsharkCounts counts packets and frame bytes per outer protocol with
// tshark, defragmentation off: the first layer-4 protocol after the first
// IP header, as ../shared/pcaps/README.md defines it.
func tsharkCounts(t *testing.T, path string) map[string]protoCount {
	t.Helper()
	cmd := exec.Command("tshark", "-n", "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE", "-r", path, "-T", "fields", "-e", "frame.len", "-e", "frame.protocols")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", path, err)
	}
	l4 := map[string]bool{"tcp": true, "udp": true, "icmp": true, "icmpv6": true, "igmp": true, "gre": true, "sctp": true, "esp": true, "pim": true, "ospf": true, "vrrp": true}
	res := map[string]protoCount{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.SplitN(sc.Text(), "\t", 2)
		n, _ := strconv.ParseUint(fields[0], 10, 64)
		label := "other"
		if len(fields) == 2 {
			protos := strings.Split(fields[1], ":")
			ip := -1
			for i, p := range protos {
				if p == "ip" || p == "ipv6" {
					ip = i
					break
				}
			}
			if ip >= 0 {
				for _, p := range protos[ip+1:] {
					if l4[p] {
						label = protoLabel(p)
						break
					}
				}
			} else if len(protos) > 0 && contains(protos, "arp") {
				label = "arp"
			}
		}
		c := res[label]
		c.Packets++
		c.Bytes += n
		res[label] = c
	}
	return res
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestCountsMatchTshark checks packets and bytes per outer protocol against
// tshark for every real capture with a supported link type.
func TestCountsMatchTshark(t *testing.T) {
	expected := loadExpected(t)
	golden := filepath.Join("testdata", "tshark_counts.json")
	var bytesWant map[string]map[string]protoCount
	if *updateTshark {
		if _, err := exec.LookPath("tshark"); err != nil {
			t.Fatal("-update-tshark needs tshark: apt-get install tshark")
		}
		bytesWant = map[string]map[string]protoCount{}
	} else {
		b, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (regenerate with go test ./collector -run TestCountsMatchTshark -update-tshark)", err)
		}
		if err := json.Unmarshal(b, &bytesWant); err != nil {
			t.Fatal(err)
		}
	}
	names := make([]string, 0, len(expected))
	for name, e := range expected {
		if tsharkLinks[e.Link] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if len(names) < 90 {
		t.Fatalf("only %d supported captures in expected.json; the shared set changed?", len(names))
	}
	for _, name := range names {
		e := expected[name]
		path := filepath.Join(sharedPcaps, name)
		if *updateTshark {
			bytesWant[name] = tsharkCounts(t, path)
		}
		t.Run(name, func(t *testing.T) {
			got := countFile(t, path)
			wantPkts := map[string]uint64{}
			for l4, n := range e.L4 {
				wantPkts[protoLabel(l4)] += uint64(n)
			}
			var total, totalBytes uint64
			for _, label := range decode.ProtocolNames() {
				g := got[label]
				total += g.Packets
				totalBytes += g.Bytes
				if g.Packets != wantPkts[label] {
					t.Errorf("%s packets: got %d, tshark %d", label, g.Packets, wantPkts[label])
				}
				if w, ok := bytesWant[name]; ok && g.Bytes != w[label].Bytes {
					t.Errorf("%s bytes: got %d, tshark %d", label, g.Bytes, w[label].Bytes)
				}
			}
			if total != e.Pkts || totalBytes != e.FrameBytes {
				t.Errorf("total: got %d packets %d bytes, capinfos %d packets %d bytes", total, totalBytes, e.Pkts, e.FrameBytes)
			}
			if _, ok := bytesWant[name]; !ok {
				t.Errorf("no tshark byte counts for %s in %s: regenerate with -update-tshark", name, golden)
			}
		})
	}
	if *updateTshark {
		b, _ := json.MarshalIndent(bytesWant, "", " ")
		if err := os.WriteFile(golden, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
