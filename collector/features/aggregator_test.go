package features

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
)

const sec = int64(time.Second)

// t0 is a window boundary for 10-second windows (2023-11-14 22:13:20 UTC).
const t0 = 1_700_000_000 * sec

func at(s float64) int64 { return t0 + int64(s*float64(sec)) }

func addr(s string) [16]byte { return netip.MustParseAddr(s).As16() }

// addrN is the n-th address of 10.0.0.0/8, as the decoder writes it.
func addrN(n uint32) [16]byte {
	var a [16]byte
	a[10], a[11] = 0xff, 0xff
	binary.BigEndian.PutUint32(a[12:], 10<<24|n&0xffffff)
	return a
}

// ipPkt is a packet as the decoder fills it, for IPv4 or IPv6 by address.
func ipPkt(t int64, proto decode.Protocol, src, dst [16]byte, sport, dport uint16) decode.PacketInfo {
	p := decode.PacketInfo{Time: t, WireLen: 60, CapLen: 60, L3: decode.L3IPv6, Proto: proto, Src: src, Dst: dst}
	if netip.AddrFrom16(src).Is4In6() {
		p.L3 = decode.L3IPv4
	}
	switch proto {
	case decode.ProtoTCP:
		p.IPProto = 6
	case decode.ProtoUDP:
		p.IPProto = 17
	case decode.ProtoICMP:
		p.IPProto = 1
	case decode.ProtoICMPv6:
		p.IPProto = 58
	}
	if proto == decode.ProtoTCP || proto == decode.ProtoUDP {
		p.SrcPort, p.DstPort = sport, dport
	}
	return p
}

func tcpPkt(t int64, src, dst string, sport, dport uint16, flags uint8) decode.PacketInfo {
	p := ipPkt(t, decode.ProtoTCP, addr(src), addr(dst), sport, dport)
	p.TCPFlags, p.TCPWindow = flags, 64240
	return p
}

func udpPkt(t int64, src, dst string, sport, dport uint16) decode.PacketInfo {
	return ipPkt(t, decode.ProtoUDP, addr(src), addr(dst), sport, dport)
}

func icmpPkt(t int64, proto decode.Protocol, src, dst string, typ, code uint8) decode.PacketInfo {
	p := ipPkt(t, proto, addr(src), addr(dst), 0, 0)
	p.ICMPType, p.ICMPCode = typ, code
	return p
}

func arpPkt(t int64, op uint16, sender, target string) decode.PacketInfo {
	return decode.PacketInfo{Time: t, WireLen: 60, CapLen: 60, L3: decode.L3ARP, Proto: decode.ProtoARP, ARPOp: op,
		Src: addr(sender), Dst: addr(target)}
}

func dnsPkt(t int64, response bool, rcode uint8, wireLen uint32) decode.PacketInfo {
	p := udpPkt(t, "10.0.0.1", "10.0.0.53", 40000, 53)
	if response {
		p = udpPkt(t, "10.0.0.53", "10.0.0.1", 53, 40000)
	}
	p.App, p.DNS, p.DNSResponse, p.DNSRcode, p.DNSQueries = decode.AppDNS, true, response, rcode, 1
	p.WireLen = wireLen
	return p
}

func withSize(p decode.PacketInfo, n uint32) decode.PacketInfo {
	p.WireLen, p.CapLen = n, n
	return p
}

// run feeds pkts to a new aggregator, lets finish close windows, and
// returns every emitted window. The capture starts at t0, as a live one
// opened then, when the packets start in the window from t0: the window is
// whole even when its first packet comes late. Every feature of every
// window must be a finite number: the exporter serves them as gauges.
func run(t testing.TB, cfg Config, pkts []decode.PacketInfo, finish func(*Aggregator)) ([]*Window, *Aggregator) {
	t.Helper()
	var wins []*Window
	a := NewAggregator(cfg, "eth0", func(w *Window) { wins = append(wins, w) })
	if len(pkts) > 0 && pkts[0].Time >= t0 && pkts[0].Time < t0+int64(a.Config().Window) {
		a.Advance(t0)
	}
	for i := range pkts {
		a.Add(&pkts[i])
	}
	if finish != nil {
		finish(a)
	}
	checkFinite(t, wins)
	return wins, a
}

func checkFinite(t testing.TB, wins []*Window) {
	t.Helper()
	for wi, w := range wins {
		if math.IsNaN(w.Seconds) || math.IsInf(w.Seconds, 0) || w.Seconds < 0 || (w.Seconds == 0 && !w.Partial) {
			t.Errorf("window %d: Seconds = %v", wi, w.Seconds)
		}
		for i, v := range w.Features {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("window %d: %s = %v", wi, Schema[i].Name, v)
			}
		}
	}
}

func cfg10s() Config {
	c := DefaultConfig()
	c.Window = 10 * time.Second
	return c
}

func near(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol
}

// TestAggregatorFeatures checks each feature on traffic whose value is known.
// Every case fits in the window [t0, t0+10s), closed by Advance at its end.
func TestAggregatorFeatures(t *testing.T) {
	type check struct {
		want, tol float64 // tol 0 means exact up to rounding
	}
	exact := func(v float64) check { return check{want: v} }
	within := func(v, tol float64) check { return check{want: v, tol: tol} }

	cases := []struct {
		name string
		pkts func() []decode.PacketInfo
		want map[Index]check
	}{
		{
			name: "tcp handshake",
			pkts: func() []decode.PacketInfo {
				return []decode.PacketInfo{
					tcpPkt(at(1), "10.0.0.1", "10.0.0.2", 51000, 80, decode.TCPSyn),
					tcpPkt(at(1.01), "10.0.0.2", "10.0.0.1", 80, 51000, decode.TCPSyn|decode.TCPAck),
					tcpPkt(at(1.02), "10.0.0.1", "10.0.0.2", 51000, 80, decode.TCPAck),
				}
			},
			want: map[Index]check{
				TCPSyn: exact(1), TCPSynAck: exact(1), TCPHalfOpenRatio: exact(0),
				UniqueConnections: exact(1), PacketsPerConnection: exact(3), UniqueSources: exact(2), UniqueDestinations: exact(2),
				NewFlowsPerSecond: exact(0.1), ActiveFlows: exact(1),
				PacketsPerSecond: exact(0.3), TCPPacketsPerSecond: exact(0.3), UDPPacketsPerSecond: exact(0),
				MaxSourceHostFanout: exact(1), MaxSourcePortFanout: exact(1),
				// 10.0.0.1 sent two of the three packets.
				TopSourceShare: exact(2.0 / 3),
				SourceEntropy:  exact(-(2.0/3)*math.Log2(2.0/3) - (1.0/3)*math.Log2(1.0/3)),
			},
		},
		{
			name: "port scan of 100 tcp ports",
			pkts: func() []decode.PacketInfo {
				var ps []decode.PacketInfo
				for port := range uint16(100) {
					ps = append(ps, tcpPkt(at(2+float64(port)*0.01), "10.0.0.66", "10.0.0.2", 40000, 1+port, decode.TCPSyn))
				}
				return ps
			},
			want: map[Index]check{
				MaxSourcePortFanout: exact(100), UniqueDestinationPorts: exact(100), MaxSourceHostFanout: exact(1),
				UniqueSources: exact(1), UniqueDestinations: exact(1), TCPSyn: exact(100), TCPHalfOpenRatio: exact(1),
				TopSourceShare: exact(1), SourceEntropy: exact(0), DestinationEntropy: exact(0),
				// 100 ports with one packet each; ports are counted exactly.
				DestinationPortEntropy: exact(math.Log2(100)),
				UniqueConnections:      within(100, 2), NewFlowsPerSecond: exact(10),
			},
		},
		{
			name: "host scan of 200 addresses on port 80",
			pkts: func() []decode.PacketInfo {
				var ps []decode.PacketInfo
				for i := range uint32(200) {
					ps = append(ps, ipPkt(at(3+float64(i)*0.01), decode.ProtoTCP, addr("192.0.2.66"), addrN(1000+i), 40000, 80))
					ps[len(ps)-1].TCPFlags = decode.TCPSyn
				}
				return ps
			},
			want: map[Index]check{
				MaxSourceHostFanout: exact(200), MaxSourcePortFanout: exact(1), UniqueDestinationPorts: exact(1),
				UniqueSources: exact(1), UniqueDestinations: within(200, 4), DestinationPortEntropy: exact(0), TopSourceShare: exact(1),
			},
		},
		{
			name: "syn flood from 1000 random sources",
			pkts: func() []decode.PacketInfo {
				r := rand.New(rand.NewPCG(1, 2))
				var ps []decode.PacketInfo
				for i := range 1000 {
					ps = append(ps, ipPkt(at(float64(i)*0.005), decode.ProtoTCP, addrN(r.Uint32()), addr("192.0.2.10"), uint16(1024+r.IntN(60000)), 80))
					ps[i].TCPFlags = decode.TCPSyn
				}
				return ps
			},
			want: map[Index]check{
				UniqueSources: within(1000, 20), UniqueDestinations: exact(1), TCPSyn: exact(1000), TCPHalfOpenRatio: exact(1),
				// Each source sent one packet of the 1000.
				TopSourceShare: exact(0.001), MaxSourceHostFanout: exact(1), MaxSourcePortFanout: exact(1),
				DestinationEntropy: exact(0), DestinationPortEntropy: exact(0),
				// log2(1000) = 9.97 bits, read low by about (n-1)/buckets =
				// 0.24 bits as the histogram hashes 1000 keys into 4096
				// buckets.
				SourceEntropy: within(math.Log2(1000)-0.24, 0.15),
			},
		},
		{
			name: "50 packets evenly over 10 seconds",
			pkts: func() []decode.PacketInfo {
				var ps []decode.PacketInfo
				for i := range 50 {
					ps = append(ps, withSize(udpPkt(at(float64(i)*0.2), "10.0.0.1", "10.0.0.2", 5000, 6000), 100))
				}
				return ps
			},
			want: map[Index]check{
				PacketsPerSecond: exact(5), BytesPerSecond: exact(50 * 100 / 10.0), UDPPacketsPerSecond: exact(5),
				PeakPacketsPerSecond: exact(5), PeakBytesPerSecond: exact(5 * 100),
				PacketSizeMean: exact(100), PacketSizeStddev: exact(0),
				InterarrivalMean: within(0.2, 1e-9), InterarrivalStddev: within(0, 1e-6),
			},
		},
		{
			name: "burst of 30 packets in one second",
			pkts: func() []decode.PacketInfo {
				var ps []decode.PacketInfo
				for s := range 10 {
					if s == 4 {
						for i := range 30 {
							ps = append(ps, withSize(udpPkt(at(4+float64(i)*0.01), "10.0.0.1", "10.0.0.2", 5000, 6000), 1000))
						}
						continue
					}
					ps = append(ps, withSize(udpPkt(at(float64(s)+0.5), "10.0.0.1", "10.0.0.2", 5000, 6000), 1000))
				}
				return ps
			},
			want: map[Index]check{
				PeakPacketsPerSecond: exact(30), PeakBytesPerSecond: exact(30 * 1000),
				PacketsPerSecond: exact(3.9), BytesPerSecond: exact(39 * 1000 / 10.0),
			},
		},
		{
			name: "packet sizes and gaps",
			pkts: func() []decode.PacketInfo {
				// Sizes 60, 1500, 60, 1500: mean 780, every size 720 away.
				// Gaps 1, 2, 3 s: mean 2, population stddev sqrt(2/3).
				return []decode.PacketInfo{
					withSize(udpPkt(at(0), "10.0.0.1", "10.0.0.2", 5000, 6000), 60),
					withSize(udpPkt(at(1), "10.0.0.1", "10.0.0.2", 5000, 6000), 1500),
					withSize(udpPkt(at(3), "10.0.0.1", "10.0.0.2", 5000, 6000), 60),
					withSize(udpPkt(at(6), "10.0.0.1", "10.0.0.2", 5000, 6000), 1500),
				}
			},
			want: map[Index]check{
				PacketSizeMean: exact(780), PacketSizeStddev: within(720, 1e-9),
				InterarrivalMean: within(2, 1e-9), InterarrivalStddev: within(math.Sqrt(2.0/3), 1e-9),
				BytesPerSecond: exact(3120 / 10.0), PeakPacketsPerSecond: exact(1),
			},
		},
		{
			name: "four sources with equal packets to one port",
			pkts: func() []decode.PacketInfo {
				var ps []decode.PacketInfo
				for i := range 20 {
					src := [...]string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"}[i%4]
					ps = append(ps, tcpPkt(at(float64(i)*0.1), src, "192.0.2.10", uint16(40000+i), 443, decode.TCPAck))
				}
				return ps
			},
			want: map[Index]check{
				SourceEntropy: within(2, 1e-12), DestinationEntropy: exact(0), DestinationPortEntropy: exact(0),
				TopSourceShare: exact(0.25), UniqueSources: exact(4), UniqueDestinationPorts: exact(1),
			},
		},
		{
			name: "dns queries and responses",
			pkts: func() []decode.PacketInfo {
				return []decode.PacketInfo{
					dnsPkt(at(1), false, 0, 80), dnsPkt(at(1.1), false, 0, 80), dnsPkt(at(1.2), false, 0, 80),
					dnsPkt(at(1.3), true, 0, 200), dnsPkt(at(1.4), true, 0, 300), dnsPkt(at(1.5), true, 3, 100),
					// Port 53 without a readable DNS header counts as
					// neither.
					udpPkt(at(1.6), "10.0.0.1", "10.0.0.53", 40000, 53),
				}
			},
			want: map[Index]check{
				DNSQueries: exact(3), DNSResponses: exact(3), DNSErrorResponses: exact(1),
				DNSResponseSizeMean: exact((200 + 300 + 100) / 3.0),
			},
		},
		{
			name: "icmp and icmpv6",
			pkts: func() []decode.PacketInfo {
				return []decode.PacketInfo{
					icmpPkt(at(1), decode.ProtoICMP, "10.0.0.1", "10.0.0.2", 8, 0),
					icmpPkt(at(1.1), decode.ProtoICMP, "10.0.0.1", "10.0.0.3", 8, 0),
					icmpPkt(at(1.2), decode.ProtoICMP, "10.0.0.2", "10.0.0.1", 0, 0), // echo reply
					icmpPkt(at(1.3), decode.ProtoICMP, "10.0.0.9", "10.0.0.1", 3, 3),
					icmpPkt(at(1.4), decode.ProtoICMP, "10.0.0.9", "10.0.0.1", 3, 1),
					icmpPkt(at(1.5), decode.ProtoICMP, "10.0.0.9", "10.0.0.1", 11, 0), // time exceeded
					icmpPkt(at(1.6), decode.ProtoICMPv6, "2001:db8::1", "2001:db8::2", 128, 0),
					icmpPkt(at(1.7), decode.ProtoICMPv6, "2001:db8::9", "2001:db8::1", 1, 4),
					icmpPkt(at(1.8), decode.ProtoICMPv6, "2001:db8::2", "2001:db8::1", 129, 0), // echo reply
				}
			},
			want: map[Index]check{
				ICMPEchoRequests: exact(3), ICMPUnreachable: exact(3), ICMPPacketsPerSecond: exact(0.9),
				TCPPacketsPerSecond: exact(0), OtherPacketsPerSecond: exact(0),
			},
		},
		{
			name: "arp requests and replies",
			pkts: func() []decode.PacketInfo {
				return []decode.PacketInfo{
					arpPkt(at(1), 1, "10.0.0.1", "10.0.0.2"), arpPkt(at(1.1), 1, "10.0.0.1", "10.0.0.3"),
					arpPkt(at(1.2), 1, "10.0.0.1", "10.0.0.4"), arpPkt(at(1.3), 2, "10.0.0.2", "10.0.0.1"),
					arpPkt(at(1.4), 2, "10.0.0.3", "10.0.0.1"),
				}
			},
			want: map[Index]check{
				ARPRequests: exact(3), ARPReplies: exact(2), ARPPacketsPerSecond: exact(0.5),
				// ARP is not an IP conversation: no flows, no ports.
				NewFlowsPerSecond: exact(0), UniqueConnections: exact(0), UniqueDestinationPorts: exact(0),
			},
		},
		{
			name: "fragments",
			pkts: func() []decode.PacketInfo {
				first := udpPkt(at(1), "10.0.0.1", "10.0.0.2", 53, 40000)
				first.Fragment = true
				rest := ipPkt(at(1.001), decode.ProtoOther, addr("10.0.0.1"), addr("10.0.0.2"), 0, 0)
				rest.IPProto, rest.Fragment, rest.NonFirstFragment = 17, true, true
				v6 := ipPkt(at(1.002), decode.ProtoOther, addr("2001:db8::1"), addr("2001:db8::2"), 0, 0)
				v6.IPProto, v6.Fragment, v6.NonFirstFragment = 17, true, true
				return []decode.PacketInfo{first, rest, v6, udpPkt(at(2), "10.0.0.1", "10.0.0.2", 5000, 6000)}
			},
			want: map[Index]check{
				Fragments: exact(3), UDPPacketsPerSecond: exact(0.2), OtherPacketsPerSecond: exact(0.2),
			},
		},
		{
			name: "resets, fins and unanswered syns",
			pkts: func() []decode.PacketInfo {
				return []decode.PacketInfo{
					tcpPkt(at(1), "10.0.0.1", "10.0.0.2", 40001, 80, decode.TCPSyn),
					tcpPkt(at(1), "10.0.0.1", "10.0.0.2", 40002, 80, decode.TCPSyn),
					tcpPkt(at(1), "10.0.0.1", "10.0.0.2", 40003, 80, decode.TCPSyn),
					tcpPkt(at(1), "10.0.0.1", "10.0.0.2", 40004, 80, decode.TCPSyn),
					tcpPkt(at(1.1), "10.0.0.2", "10.0.0.1", 80, 40001, decode.TCPSyn|decode.TCPAck),
					tcpPkt(at(1.1), "10.0.0.2", "10.0.0.1", 80, 40002, decode.TCPRst|decode.TCPAck),
					tcpPkt(at(1.2), "10.0.0.1", "10.0.0.2", 40001, 80, decode.TCPFin|decode.TCPAck),
					tcpPkt(at(1.3), "10.0.0.2", "10.0.0.1", 80, 40001, decode.TCPFin|decode.TCPAck),
				}
			},
			want: map[Index]check{
				TCPSyn: exact(4), TCPSynAck: exact(1), TCPRst: exact(1), TCPFin: exact(2), TCPHalfOpenRatio: exact(0.75),
				// The reset and the closed connection end at the window's
				// close, and so do the two unanswered SYNs: flows of one
				// or two packets idle for 5 s are flood debris. Durations:
				// 0.1 (reset), 0.3 (closed), 0 and 0 (lone SYNs).
				ActiveFlows: exact(0), FlowDurationMean: within((0.1+0.3)/4, 1e-9),
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pkts := tc.pkts()
			wins, _ := run(t, cfg10s(), pkts, func(a *Aggregator) { a.Advance(t0 + 10*sec) })
			if len(wins) != 1 {
				t.Fatalf("got %d windows, want 1", len(wins))
			}
			w := wins[0]
			if w.Start != t0 || w.End != t0+10*sec || w.Seconds != 10 || w.Partial || w.Interface != "eth0" {
				t.Errorf("window [%d, %d) %v s partial %v on %q, want [t0, t0+10s) 10 s on eth0", w.Start-t0, w.End-t0, w.Seconds, w.Partial, w.Interface)
			}
			var n uint64
			for _, c := range w.Packets {
				n += c
			}
			if n != uint64(len(pkts)) {
				t.Errorf("window counts %d packets, want %d", n, len(pkts))
			}
			for i, c := range tc.want {
				got := w.Features[i]
				tol := c.tol
				if tol == 0 {
					tol = 1e-12 * math.Max(1, math.Abs(c.want))
				}
				if !near(got, c.want, tol) {
					t.Errorf("%s = %v, want %v ± %v", Schema[i].Name, got, c.want, tol)
				}
			}
		})
	}
}

// TestAggregatorWindows checks how packets are cut into windows.
func TestAggregatorWindows(t *testing.T) {
	udp := func(t int64) decode.PacketInfo { return udpPkt(t, "10.0.0.1", "10.0.0.2", 5000, 6000) }

	t.Run("gap of three windows", func(t *testing.T) {
		cfg := cfg10s()
		cfg.FlowIdle = 5 * time.Second // the flow ends in the first window
		var closed uint64
		wins, _ := run(t, cfg, []decode.PacketInfo{udp(at(0)), udp(at(35))}, func(a *Aggregator) {
			closed = a.Counters().Windows
			a.Flush()
		})
		// [0, 10) with a packet, two empty windows, then [30, 40) with the
		// packet at 35 s, closed only by Flush.
		if closed != 3 || len(wins) != 4 {
			t.Fatalf("%d windows closed before Flush and %d after, want 3 and 4", closed, len(wins))
		}
		for i, w := range wins {
			if w.Start != t0+int64(i)*10*sec || w.End != w.Start+10*sec {
				t.Errorf("window %d is [%v, %v), want [%ds, %ds)", i, time.Duration(w.Start-t0), time.Duration(w.End-t0), i*10, i*10+10)
			}
		}
		if wins[0].Features[PacketsPerSecond] != 0.1 || wins[0].Packets[decode.ProtoUDP] != 1 {
			t.Errorf("first window: %v packets/s, %v UDP packets; want 0.1 and 1", wins[0].Features[PacketsPerSecond], wins[0].Packets[decode.ProtoUDP])
		}
		for _, w := range wins[1:3] {
			if w.Features != (Vector{}) || w.Packets != [decode.NumProtocols]uint64{} || w.Bytes != [decode.NumProtocols]uint64{} {
				t.Errorf("empty window [%v, %v) is not all zero: %v", time.Duration(w.Start-t0), time.Duration(w.End-t0), w.Features)
			}
			if w.Partial || w.Seconds != 10 {
				t.Errorf("empty window: partial %v, %v s; want a full 10 s window", w.Partial, w.Seconds)
			}
		}
		last := wins[3]
		// Flushed at the end of a capture: the window covers 30 s to the
		// last packet at 35 s.
		if !last.Partial || last.Seconds != 5 || last.Features[PacketsPerSecond] != 0.2 {
			t.Errorf("last window: partial %v, %v s, %v packets/s; want partial, 5 s, 0.2", last.Partial, last.Seconds, last.Features[PacketsPerSecond])
		}
	})

	t.Run("long gap is capped", func(t *testing.T) {
		cfg := cfg10s()
		cfg.MaxGapFills = 5
		wins, a := run(t, cfg, []decode.PacketInfo{udp(at(1)), udp(at(1001))}, func(a *Aggregator) { a.Flush() })
		// [0, 10) with the first packet, 5 empty fillers, then the
		// window of the second packet; the 99-5 other empty windows are
		// skipped.
		if len(wins) != 7 {
			t.Fatalf("%d windows, want 7", len(wins))
		}
		for i := 1; i <= 5; i++ {
			if wins[i].Start != t0+int64(i)*10*sec || wins[i].Features[PacketsPerSecond] != 0 {
				t.Errorf("filler %d starts at %v with %v packets/s", i, time.Duration(wins[i].Start-t0), wins[i].Features[PacketsPerSecond])
			}
		}
		if wins[6].Start != t0+1000*sec || wins[6].Packets[decode.ProtoUDP] != 1 {
			t.Errorf("last window starts at %v with %d packets, want 1000s and 1", time.Duration(wins[6].Start-t0), wins[6].Packets[decode.ProtoUDP])
		}
		c := a.Counters()
		if c.GapSkipped != 94 || c.Windows != 7 {
			t.Errorf("GapSkipped %d, Windows %d; want 94 and 7", c.GapSkipped, c.Windows)
		}
	})

	t.Run("advance reports quiet windows", func(t *testing.T) {
		wins, _ := run(t, cfg10s(), []decode.PacketInfo{udp(at(2))}, func(a *Aggregator) {
			a.Advance(at(9.9)) // not over yet
			a.Advance(at(30))
			a.Advance(at(30)) // twice is once
			a.Flush()         // nothing since 30 s: no window
		})
		if len(wins) != 3 || wins[0].Features[PacketsPerSecond] != 0.1 || wins[2].Start != t0+20*sec || wins[2].Features[PacketsPerSecond] != 0 {
			t.Fatalf("got %d windows, want [0,10) with the packet and two empty ones", len(wins))
		}
	})

	t.Run("clock back by less than a window", func(t *testing.T) {
		wins, a := run(t, cfg10s(), []decode.PacketInfo{udp(at(5)), udp(at(12)), udp(at(8)), udp(at(19)), udp(at(11))},
			func(a *Aggregator) { a.Advance(at(20)) })
		if len(wins) != 2 || wins[1].Packets[decode.ProtoUDP] != 4 || wins[0].Packets[decode.ProtoUDP] != 1 {
			t.Fatalf("got %d windows; want the late packets at 8 s and 11 s in the current window [10, 20)", len(wins))
		}
		if c := a.Counters(); c.ClockResets != 0 {
			t.Errorf("ClockResets %d, want 0", c.ClockResets)
		}
	})

	t.Run("clock back by more than a window", func(t *testing.T) {
		wins, a := run(t, cfg10s(), []decode.PacketInfo{udp(at(5)), udp(at(15)), udp(at(3)), udp(at(4))},
			func(a *Aggregator) { a.Flush() })
		if c := a.Counters(); c.ClockResets != 1 {
			t.Errorf("ClockResets %d, want 1", c.ClockResets)
		}
		// [0, 10), [10, 20) closed by the jump back, then [0, 10) again
		// with the packets at 3 s and 4 s.
		if len(wins) != 3 {
			t.Fatalf("%d windows, want 3", len(wins))
		}
		if wins[1].Packets[decode.ProtoUDP] != 1 || wins[2].Start != t0 || wins[2].Packets[decode.ProtoUDP] != 2 {
			t.Errorf("windows after the jump: %d packets in [10, 20); [%v, ...) with %d packets; want 1, and [0s, ...) with 2",
				wins[1].Packets[decode.ProtoUDP], time.Duration(wins[2].Start-t0), wins[2].Packets[decode.ProtoUDP])
		}
	})

	t.Run("replayed capture gives the same windows", func(t *testing.T) {
		// A capture stored twice: the second copy must not be taken for
		// packets of flows the first copy left in the table.
		r := rand.New(rand.NewPCG(3, 4))
		var capture []decode.PacketInfo
		for i := range 2000 {
			p := ipPkt(at(float64(i)*0.0125), decode.ProtoTCP, addrN(r.Uint32N(300)), addr("192.0.2.10"), uint16(1024+r.IntN(100)), 80)
			p.TCPFlags = decode.TCPSyn
			capture = append(capture, p)
		}
		wins, a := run(t, cfg10s(), append(append([]decode.PacketInfo(nil), capture...), capture...), func(a *Aggregator) { a.Flush() })
		if c := a.Counters(); c.ClockResets != 1 {
			t.Fatalf("ClockResets %d, want 1", c.ClockResets)
		}
		// The capture covers [0, 25): windows [0, 10) and [10, 20) are
		// complete in both copies.
		if len(wins) != 6 {
			t.Fatalf("%d windows, want 6", len(wins))
		}
		for i := range 2 {
			first, second := wins[i], wins[i+3]
			for f := range NumFeatures {
				if first.Features[f] != second.Features[f] {
					t.Errorf("window %d: %s is %v in the first copy and %v in the second", i, Schema[f].Name, first.Features[f], second.Features[f])
				}
			}
		}
	})

	t.Run("timestamps before 1970", func(t *testing.T) {
		s := func(x float64) int64 { return int64(x * float64(sec)) }
		wins, _ := run(t, cfg10s(), []decode.PacketInfo{udp(s(-15)), udp(s(-5)), udp(s(-1)), udp(s(1))}, func(a *Aggregator) { a.Flush() })
		want := []struct {
			start int64
			n     uint64
		}{{-20 * sec, 1}, {-10 * sec, 2}, {0, 1}}
		if len(wins) != len(want) {
			t.Fatalf("%d windows, want %d", len(wins), len(want))
		}
		for i, w := range want {
			if wins[i].Start != w.start || wins[i].Packets[decode.ProtoUDP] != w.n {
				t.Errorf("window %d: [%v, ...) with %d packets, want [%v, ...) with %d", i, time.Duration(wins[i].Start),
					wins[i].Packets[decode.ProtoUDP], time.Duration(w.start), w.n)
			}
		}
		if got := wins[1].Features[InterarrivalMean]; !near(got, 4, 1e-9) {
			t.Errorf("interarrival in [-10s, 0): %v, want 4", got)
		}
	})

	t.Run("identical timestamps", func(t *testing.T) {
		var ps []decode.PacketInfo
		for range 100 {
			ps = append(ps, udp(at(3)))
		}
		wins, _ := run(t, cfg10s(), ps, func(a *Aggregator) { a.Flush() })
		if len(wins) != 1 {
			t.Fatalf("%d windows, want 1", len(wins))
		}
		f := wins[0].Features
		// The flushed window covers 3 s up to its only timestamp.
		if f[InterarrivalMean] != 0 || f[InterarrivalStddev] != 0 || f[PeakPacketsPerSecond] != 100 || wins[0].Seconds != 3 {
			t.Errorf("interarrival %v ± %v, peak %v, %v s; want 0 ± 0, 100, 3 s", f[InterarrivalMean], f[InterarrivalStddev], f[PeakPacketsPerSecond], wins[0].Seconds)
		}
	})

	t.Run("flush right at the window start", func(t *testing.T) {
		// Zero time covered: rates are divided by at least one second.
		wins, _ := run(t, cfg10s(), []decode.PacketInfo{udp(at(0)), udp(at(0))}, func(a *Aggregator) { a.Flush() })
		if len(wins) != 1 || wins[0].Seconds != 0 || !wins[0].Partial || wins[0].Features[PacketsPerSecond] != 2 {
			t.Fatalf("got %d windows; want one partial window of 0 s at 2 packets/s", len(wins))
		}
	})

	t.Run("nothing to flush", func(t *testing.T) {
		wins, _ := run(t, cfg10s(), nil, func(a *Aggregator) { a.Flush(); a.Advance(at(0)); a.Flush() })
		if len(wins) != 0 {
			t.Fatalf("%d windows from no packets, want 0", len(wins))
		}
	})
}

// TestAggregatorCounters checks the cumulative counters the exporter serves
// as Prometheus counters.
func TestAggregatorCounters(t *testing.T) {
	pkts := []decode.PacketInfo{
		withSize(tcpPkt(at(1), "10.0.0.1", "10.0.0.2", 40000, 443, decode.TCPAck), 64),
		withSize(tcpPkt(at(2), "10.0.0.1", "10.0.0.2", 40000, 443, decode.TCPAck), 65),
		withSize(udpPkt(at(3), "10.0.0.1", "10.0.0.2", 40000, 53), 128),
		withSize(icmpPkt(at(4), decode.ProtoICMP, "10.0.0.1", "10.0.0.2", 8, 0), 1500),
		withSize(icmpPkt(at(5), decode.ProtoICMPv6, "2001:db8::1", "2001:db8::2", 128, 0), 1518),
		withSize(arpPkt(at(12), 1, "10.0.0.1", "10.0.0.2"), 1519),
		withSize(decode.PacketInfo{Time: at(13), Proto: decode.ProtoOther}, 9000),
		withSize(decode.PacketInfo{Time: at(14), Proto: decode.ProtoOther}, 70000),
	}
	pkts[0].App, pkts[1].App, pkts[2].App = decode.AppTLS, decode.AppTLS, decode.AppDNS
	wins, a := run(t, cfg10s(), pkts, func(a *Aggregator) { a.Flush() })

	// Buckets: <=64, <=128, <=256, <=512, <=1024, <=1518, <=9000, <=65535, +Inf.
	wantSizes := []uint64{1, 2, 0, 0, 0, 2, 2, 0, 1}
	wantPackets := [decode.NumProtocols]uint64{decode.ProtoTCP: 2, decode.ProtoUDP: 1, decode.ProtoICMP: 1, decode.ProtoICMPv6: 1, decode.ProtoARP: 1, decode.ProtoOther: 2}
	wantBytes := [decode.NumProtocols]uint64{decode.ProtoTCP: 129, decode.ProtoUDP: 128, decode.ProtoICMP: 1500, decode.ProtoICMPv6: 1518, decode.ProtoARP: 1519, decode.ProtoOther: 79000}

	var into Counters
	into.SizeCounts = make([]uint64, 0, 1)
	a.CountersInto(&into)
	for name, c := range map[string]Counters{"Counters": a.Counters(), "CountersInto": into} {
		if c.Packets != wantPackets || c.Bytes != wantBytes {
			t.Errorf("%s: packets %v bytes %v, want %v and %v", name, c.Packets, c.Bytes, wantPackets, wantBytes)
		}
		if len(c.SizeCounts) != len(SizeBuckets)+1 {
			t.Fatalf("%s: %d size buckets, want %d", name, len(c.SizeCounts), len(SizeBuckets)+1)
		}
		var n, total uint64
		for i, v := range c.SizeCounts {
			n += v
			if v != wantSizes[i] {
				t.Errorf("%s: SizeCounts[%d] = %d, want %d", name, i, v, wantSizes[i])
			}
		}
		for _, b := range c.Bytes {
			total += b
		}
		if n != uint64(len(pkts)) || c.SizeSum != float64(total) {
			t.Errorf("%s: %d sizes summing to %v, want %d and %d", name, n, c.SizeSum, len(pkts), total)
		}
		if c.AppPackets[decode.AppTLS] != 2 || c.AppBytes[decode.AppTLS] != 129 || c.AppPackets[decode.AppDNS] != 1 || c.AppPackets[decode.AppNone] != 5 {
			t.Errorf("%s: app packets %v", name, c.AppPackets)
		}
		if c.Windows != 2 || c.Flows.Created != 4 || c.FlowsMax != 65536 {
			t.Errorf("%s: %d windows, %d flows, table of %d; want 2, 4 and 65536", name, c.Windows, c.Flows.Created, c.FlowsMax)
		}
	}
	// The windows split the same packets.
	var got [decode.NumProtocols]uint64
	for _, w := range wins {
		for i := range w.Packets {
			got[i] += w.Packets[i]
		}
	}
	if got != wantPackets {
		t.Errorf("windows count %v, want %v", got, wantPackets)
	}
	// The copy is the caller's.
	c := a.Counters()
	c.SizeCounts[0] = 99
	if a.Counters().SizeCounts[0] != 1 {
		t.Error("Counters shares SizeCounts with the aggregator")
	}
}

func TestAggregatorTopK(t *testing.T) {
	cfg := cfg10s()
	cfg.TopK = 2
	var pkts []decode.PacketInfo
	for i, src := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
		for range 3 - i {
			pkts = append(pkts, withSize(udpPkt(at(1), src, "192.0.2.1", 5000, 6000), 1000))
		}
	}
	wins, _ := run(t, cfg, pkts, func(a *Aggregator) { a.Flush() })
	want := []TopEntry{{addr("10.0.0.1"), 3000}, {addr("10.0.0.2"), 2000}}
	if len(wins) != 1 || len(wins[0].TopSources) != 2 || wins[0].TopSources[0] != want[0] || wins[0].TopSources[1] != want[1] {
		t.Fatalf("top sources %v, want %v", wins[0].TopSources, want)
	}
	if d := wins[0].TopDests; len(d) != 1 || d[0] != (TopEntry{addr("192.0.2.1"), 6000}) {
		t.Errorf("top destinations %v, want 192.0.2.1 with 6000 bytes", d)
	}
	if NewAggregator(Config{TopK: 1000}, "x", nil).Config().TopK != MaxTopK {
		t.Errorf("TopK is not capped at %d", MaxTopK)
	}
}

// TestAggregatorBounded feeds two million packets from random sources to
// random ports: the flow table must stay at its capacity and the heap must
// not grow with the number of sources.
func TestAggregatorBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("2M packets")
	}
	cfg := cfg10s()
	cfg.FlowsMax = 1024
	windows := 0
	a := NewAggregator(cfg, "eth0", func(w *Window) {
		windows++
		checkFinite(t, []*Window{w})
	})
	if c := a.Counters(); c.FlowsMax != 1024 {
		t.Fatalf("FlowsMax %d, want 1024", c.FlowsMax)
	}
	r := rand.New(rand.NewPCG(5, 6))
	protos := []decode.Protocol{decode.ProtoTCP, decode.ProtoTCP, decode.ProtoUDP, decode.ProtoICMP}
	var p decode.PacketInfo
	var heap200k uint64
	for i := range 2_000_000 {
		// 10 us apart: 20 s, three windows.
		p = ipPkt(t0+int64(i)*10_000, protos[i&3], addrN(r.Uint32()), addrN(r.Uint32()), uint16(r.Uint32()), uint16(r.Uint32()))
		p.TCPFlags = decode.TCPSyn
		a.Add(&p)
		if i%100_000 == 0 {
			if c := a.Counters(); c.FlowsActive > c.FlowsMax {
				t.Fatalf("after %d packets: %d active flows in a table of %d", i, c.FlowsActive, c.FlowsMax)
			}
		}
		if i == 200_000 {
			heap200k = heapInuse()
		}
	}
	heap2M := heapInuse()
	c := a.Counters()
	if c.FlowsActive > c.FlowsMax || c.Flows.Evicted == 0 {
		t.Errorf("%d active flows of %d, %d evicted; want at most the capacity and evictions", c.FlowsActive, c.FlowsMax, c.Flows.Evicted)
	}
	if windows != 1 {
		t.Errorf("%d windows closed over [0, 20s), want 1", windows)
	}
	if grow := int64(heap2M) - int64(heap200k); grow > 8<<20 {
		t.Errorf("heap grew by %d MiB between 200k and 2M packets", grow>>20)
	}
	t.Logf("heap in use: %d KiB after 200k packets, %d KiB after 2M; %d flows evicted", heap200k>>10, heap2M>>10, c.Flows.Evicted)
}

func heapInuse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func TestAggregatorAddDoesNotAllocate(t *testing.T) {
	for _, topK := range []int{0, 10} {
		cfg := cfg10s()
		cfg.TopK = topK
		a := NewAggregator(cfg, "eth0", func(*Window) {})
		r := rand.New(rand.NewPCG(7, 8))
		protos := []decode.Protocol{decode.ProtoTCP, decode.ProtoUDP, decode.ProtoICMP, decode.ProtoICMPv6}
		now := at(1)
		next := func() decode.PacketInfo {
			now += 1000 // 1 us: 1001 runs stay in the window
			p := ipPkt(now, protos[r.IntN(4)], addrN(r.Uint32()), addrN(r.Uint32N(64)), uint16(r.Uint32()), 443)
			p.TCPFlags = decode.TCPSyn
			return p
		}
		for range 5000 {
			p := next()
			a.Add(&p)
		}
		p := next()
		if n := testing.AllocsPerRun(1000, func() {
			p = next()
			a.Add(&p)
		}); n != 0 {
			t.Errorf("TopK %d: Add allocates %v times per packet, want 0", topK, n)
		}
	}
}

// BenchmarkAggregatorAdd reports the cost of one packet from a random
// source, over TCP, UDP, ICMP and ARP, including the window closes that fall
// in the run.
func BenchmarkAggregatorAdd(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	pkts := make([]decode.PacketInfo, 1<<16)
	protos := []decode.Protocol{decode.ProtoTCP, decode.ProtoTCP, decode.ProtoTCP, decode.ProtoUDP, decode.ProtoUDP, decode.ProtoICMP}
	for i := range pkts {
		if i%50 == 0 {
			pkts[i] = arpPkt(0, 1, "10.0.0.1", "10.0.0.2")
		} else {
			pkts[i] = ipPkt(0, protos[r.IntN(len(protos))], addrN(r.Uint32()), addrN(r.Uint32N(1024)), uint16(r.Uint32()), uint16(r.IntN(1024)))
			pkts[i].TCPFlags = decode.TCPSyn
		}
		pkts[i].WireLen = uint32(60 + r.IntN(1400))
	}
	for _, export := range []bool{false, true} {
		b.Run(fmt.Sprintf("flow-export=%v", export), func(b *testing.B) { benchmarkAdd(b, pkts, export, nil) })
	}
	// A 1,000,000-entry threat list that holds 1% of the sources: the
	// lookups of every packet, through the address cache.
	var listed [][16]byte
	for range 10_000 {
		listed = append(listed, pkts[r.IntN(len(pkts))].Src)
	}
	lists := benchLists(b, r, listed, 1_000_000)
	b.Run("blocklist=1M", func(b *testing.B) { benchmarkAdd(b, pkts, false, lists) })
}

// benchmarkAdd measures Add, with flow export on or off (export keeps
// bytes and flags per direction in an array of its own) and with threat
// lists or without.
func benchmarkAdd(b *testing.B, pkts []decode.PacketInfo, export bool, lists Blocklists) {
	cfg := cfg10s()
	exported := 0
	if export {
		cfg.FlowExport = func(*FlowRecord) { exported++ }
	}
	cfg.Blocklists = lists
	a := NewAggregator(cfg, "eth0", func(*Window) {})
	b.ReportAllocs()
	b.ResetTimer()
	i, now := 0, t0
	for b.Loop() {
		p := &pkts[i&(len(pkts)-1)]
		now += 1000 // 1 us apart: a window closes every 10M packets
		p.Time = now
		a.Add(p)
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/packet")
}

// TestSustainedRate: a 12-second surge has the same sustained rate
// wherever it falls on the 10-second grid, while the window rates split it.
func TestSustainedRate(t *testing.T) {
	for _, start := range []float64{0, 2.5, 4, 7.25, 9.5} {
		var pkts []decode.PacketInfo
		pkts = append(pkts, udp(at(0.1))) // the capture starts at the grid
		for i := range 1200 {             // 100 packets a second for 12 s
			pkts = append(pkts, udp(at(20+start+float64(i)*0.01)))
		}
		pkts = append(pkts, udp(at(59)))
		wins, _ := run(t, cfg10s(), pkts, func(a *Aggregator) { a.Flush() })
		var sustained, rate float64
		for _, w := range wins {
			sustained = max(sustained, w.Features[SustainedPacketsPerSecond])
			rate = max(rate, w.Features[PacketsPerSecond])
			if w.Features[SustainedPacketsPerSecond] > 100 {
				t.Errorf("surge at %v s: window at %v s sustained %v packets/s, more than sent", start, float64(w.Start-t0)/1e9, w.Features[SustainedPacketsPerSecond])
			}
		}
		if sustained != 100 {
			t.Errorf("surge at %v s: busiest sustained rate %v packets/s, want 100 (window rates at most %v)", start, sustained, rate)
		}
	}
}
