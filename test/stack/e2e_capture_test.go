package stack

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/netanomaly/netanomaly_exporter/collector/capture/pcapfile"
	"github.com/netanomaly/netanomaly_exporter/internal/synth"
	"github.com/netanomaly/netanomaly_exporter/internal/testpcap"
)

// Captures of the end-to-end test. synth.WriteTraffic starts every capture
// at this Unix time, a multiple of the 10s window: offsets from it are
// offsets from the start of a window.
const e2eEpoch = 1_700_000_000

// e2ePacket is one frame of a capture being built.
type e2ePacket struct {
	ts   int64 // Unix nanoseconds
	data []byte
}

// benignPackets returns n packets of synth.WriteTraffic's benign traffic
// (200 hosts talking to 8 service ports), gap apart, from e2eEpoch.
func benignPackets(t *testing.T, n int, seed uint64, gap time.Duration) []e2ePacket {
	t.Helper()
	var b bytes.Buffer
	if err := synth.WriteTraffic(&b, n, seed, int64(gap), 200); err != nil {
		t.Fatal(err)
	}
	r, err := pcapfile.NewReader(&b)
	if err != nil {
		t.Fatal(err)
	}
	var out []e2ePacket
	for {
		p, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e2ePacket{p.TimeNanos, bytes.Clone(p.Data)})
	}
}

var (
	e2eMAC1 = net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	e2eMAC2 = net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
)

// tcpFrame serializes an Ethernet/IPv4/TCP frame with the given flags.
func tcpFrame(t *testing.T, src, dst net.IP, sport, dport uint16, syn, ack, rst bool, seq uint32) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: e2eMAC2, DstMAC: e2eMAC1, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src.To4(), DstIP: dst.To4()}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), SYN: syn, ACK: ack, RST: rst, Seq: seq, Window: 1024}
	if ack {
		tcp.Ack = seq + 1
	}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

// synFlood returns a spoofed SYN flood: pps SYNs per second from random
// sources to victim:port, for dur from offset, none answered.
func synFlood(t *testing.T, offset, dur time.Duration, pps int, victim net.IP, port uint16, seed uint64) []e2ePacket {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	n := int(dur.Seconds() * float64(pps))
	gap := int64(time.Second) / int64(pps)
	start := int64(e2eEpoch)*1e9 + int64(offset)
	out := make([]e2ePacket, 0, n)
	for i := range n {
		src := net.IPv4(byte(1+rng.IntN(222)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(1+rng.IntN(254)))
		out = append(out, e2ePacket{start + int64(i)*gap, tcpFrame(t, src, victim, uint16(1024+rng.IntN(64511)), port, true, false, false, rng.Uint32())})
	}
	return out
}

// portScan returns a vertical TCP SYN scan as nmap -sS runs it: one source
// probes ports 1 to ports of target in random order, evenly over dur from
// offset; the target answers a SYN-ACK on its open ports and a RST-ACK on
// the others, 1 ms later.
func portScan(t *testing.T, offset, dur time.Duration, scanner, target net.IP, ports int, open map[uint16]bool, seed uint64) []e2ePacket {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 2))
	order := rng.Perm(ports)
	gap := int64(dur) / int64(ports)
	start := int64(e2eEpoch)*1e9 + int64(offset)
	const sport = 45123
	var out []e2ePacket
	for i, p := range order {
		port := uint16(p + 1)
		ts := start + int64(i)*gap
		seq := rng.Uint32()
		out = append(out, e2ePacket{ts, tcpFrame(t, scanner, target, sport, port, true, false, false, seq)})
		out = append(out, e2ePacket{ts + int64(time.Millisecond), tcpFrame(t, target, scanner, port, sport, open[port], true, !open[port], seq)})
	}
	return out
}

// writeCapture writes packets, sorted by time, as a nanosecond pcap.
func writeCapture(t *testing.T, path string, packets ...[]e2ePacket) {
	t.Helper()
	var all []testpcap.Packet
	for _, ps := range packets {
		for _, p := range ps {
			all = append(all, testpcap.Packet{Time: p.ts, Data: p.data})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(testpcap.WriteSorted(f, all), f.Close()); err != nil {
		t.Fatal(err)
	}
}
