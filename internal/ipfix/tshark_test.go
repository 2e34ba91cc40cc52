package ipfix

import (
	"bytes"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// writePcap wraps IPFIX messages in Ethernet, IPv4 and UDP headers to
// port 4739 and writes them as a pcap file.
func writePcap(t *testing.T, path string, msgs [][]byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65536, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(1_700_000_200, 0)
	for i, m := range msgs {
		eth := &layers.Ethernet{
			SrcMAC:       net.HardwareAddr{0x02, 0, 0, 0, 0, 1},
			DstMAC:       net.HardwareAddr{0x02, 0, 0, 0, 0, 2},
			EthernetType: layers.EthernetTypeIPv4,
		}
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: uint16(i), Protocol: layers.IPProtocolUDP,
			SrcIP: net.IPv4(192, 0, 2, 100), DstIP: net.IPv4(192, 0, 2, 200)}
		udp := &layers.UDP{SrcPort: 40000, DstPort: Port}
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
		if err := gopacket.SerializeLayers(buf, opts, eth, ip, udp, gopacket.Payload(m)); err != nil {
			t.Fatal(err)
		}
		frame := buf.Bytes()
		ci := gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(frame), Length: len(frame)}
		if err := w.WritePacket(ci, frame); err != nil {
			t.Fatal(err)
		}
	}
}

// tshark runs tshark on a capture with the IPFIX dissector on port 4739
// and returns its output.
func tshark(t *testing.T, path string, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("tshark")
	if err != nil {
		t.Skipf("tshark is not installed (%v): apt-get install tshark", err)
	}
	cmd := exec.Command(bin, append([]string{"-n", "-r", path, "-d", "udp.port==4739,cflow"}, args...)...)
	// No user profile; times in UTC.
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "TZ=UTC")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// tsharkFields are the fields read back per frame; cflow.packets,
// cflow.octets and cflow.tcpflags occur twice per record, forward then
// reverse (RFC 5103 elements show as their IANA twins).
var tsharkFields = []string{
	"frame.number", "cflow.od_id", "cflow.sequence",
	"cflow.srcaddr", "cflow.dstaddr", "cflow.srcaddrv6", "cflow.dstaddrv6",
	"cflow.srcport", "cflow.dstport", "cflow.protocol", "cflow.abstimestart", "cflow.abstimeend",
	"cflow.packets", "cflow.octets", "cflow.tcpflags", "cflow.flow_end_reason",
}

// TestTshark decodes exported messages with Wireshark's IPFIX dissector:
// every field of IPv4 and IPv6 biflows, the headers, and no malformed
// packet or warning (its sequence analysis included).
func TestTshark(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skipf("tshark is not installed (%v): apt-get install tshark", err)
	}
	col := newUDPCollector(t)
	e := start(t, Config{Address: col.addr(), ObservationDomain: 31, MTU: 400}, testTuning)
	flows := []Flow{tcpFlow4, udpFlow6}
	for i := range 30 {
		if i%4 == 0 {
			flows = append(flows, numbered(udpFlow6, i))
		} else {
			flows = append(flows, numbered(tcpFlow4, i))
		}
	}
	byPort := map[string]Flow{}
	for i := range flows {
		byPort[strconv.Itoa(int(flows[i].SrcPort))] = flows[i]
		e.Export(&flows[i])
	}
	closeWithin(t, e, 2*time.Second)
	if !col.waitFor(2*time.Second, func(m [][]byte) bool { return countRecords(m) == len(flows) }) {
		t.Fatalf("received %d records, want %d", countRecords(col.messages()), len(flows))
	}
	path := filepath.Join(t.TempDir(), "ipfix.pcap")
	writePcap(t, path, col.messages())

	out := tshark(t, path, "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=;",
		"-e", "_ws.malformed", "-e", "_ws.expert.severity", "-e", "_ws.expert.message")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Trim(line, "|") != "" {
			t.Errorf("tshark reports a malformed packet or expert info: %q", line)
		}
	}

	args := []string{"-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=;"}
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	out = tshark(t, path, args...)
	const stamp = "Jan _2, 2006 15:04:05.000000000 UTC"
	seen, seq := 0, 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		cols := strings.Split(line, "|")
		if len(cols) != len(tsharkFields) {
			t.Fatalf("tshark line %q has %d fields, want %d", line, len(cols), len(tsharkFields))
		}
		v := map[string][]string{}
		for i, c := range cols {
			if c != "" {
				v[tsharkFields[i]] = strings.Split(c, ";")
			}
		}
		if got := v["cflow.od_id"]; len(got) != 1 || got[0] != "31" {
			t.Errorf("frame %s: observation domain %v, want 31", cols[0], got)
		}
		if got := v["cflow.sequence"]; len(got) != 1 || got[0] != strconv.Itoa(seq) {
			t.Errorf("frame %s: sequence %v, want %d", cols[0], got, seq)
		}
		// Records are in set order: the IPv4 set, then the IPv6 one.
		src := append(v["cflow.srcaddr"], v["cflow.srcaddrv6"]...)
		dst := append(v["cflow.dstaddr"], v["cflow.dstaddrv6"]...)
		n := len(src)
		for name, want := range map[string]int{"cflow.srcport": n, "cflow.dstport": n, "cflow.protocol": n, "cflow.abstimestart": n,
			"cflow.abstimeend": n, "cflow.flow_end_reason": n, "cflow.packets": 2 * n, "cflow.octets": 2 * n, "cflow.tcpflags": 2 * n} {
			if len(v[name]) != want || len(dst) != n {
				t.Fatalf("frame %s: %d %s values for %d records: %q", cols[0], len(v[name]), name, n, line)
			}
		}
		for i := range n {
			port := v["cflow.srcport"][i]
			f, ok := byPort[port]
			if !ok {
				t.Errorf("frame %s: record with unknown source port %s", cols[0], port)
				continue
			}
			delete(byPort, port)
			got := []string{src[i], dst[i], v["cflow.dstport"][i], v["cflow.protocol"][i], v["cflow.abstimestart"][i], v["cflow.abstimeend"][i],
				v["cflow.packets"][2*i], v["cflow.packets"][2*i+1], v["cflow.octets"][2*i], v["cflow.octets"][2*i+1],
				v["cflow.tcpflags"][2*i], v["cflow.tcpflags"][2*i+1], v["cflow.flow_end_reason"][i]}
			want := []string{net.IP(f.Src[:]).String(), net.IP(f.Dst[:]).String(), strconv.Itoa(int(f.DstPort)), strconv.Itoa(int(f.Proto)),
				time.Unix(0, f.Start/1e6*1e6).UTC().Format(stamp), time.Unix(0, f.End/1e6*1e6).UTC().Format(stamp),
				strconv.FormatUint(f.Packets, 10), strconv.FormatUint(f.RevPackets, 10), strconv.FormatUint(f.Bytes, 10), strconv.FormatUint(f.RevBytes, 10),
				fmt.Sprintf("0x%02x", f.Flags), fmt.Sprintf("0x%02x", f.RevFlags), strconv.Itoa(int(f.EndReason))}
			if !slices.Equal(got, want) {
				t.Errorf("frame %s, source port %s:\n got %q\nwant %q", cols[0], port, got, want)
			}
			seen++
		}
		seq += n
	}
	if seen != len(flows) || len(byPort) != 0 {
		t.Errorf("tshark showed %d records, want %d; missing source ports %v", seen, len(flows), slices.Collect(maps.Keys(byPort)))
	}
}
