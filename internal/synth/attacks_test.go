package synth

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
)

// attackScenario is the scenario every attack case runs in: the attack
// starts at 90 s and lasts 40 s.
func attackScenario(a Attack) Scenario {
	a.Start, a.Duration = 90*time.Second, 40*time.Second
	return Scenario{Seed: 11, Duration: 4 * time.Minute, BaseRate: 150, Attacks: []Attack{a}}
}

type attackCase struct {
	name  string
	a     Attack
	check func(t *testing.T, atk []rec, l Label)
}

func oneSource(t *testing.T, rs []rec, what string, l Label) netip.Addr {
	t.Helper()
	srcs := distinct(rs, func(r *rec) (netip.Addr, bool) { return r.src(), true })
	if len(srcs) != 1 {
		t.Fatalf("%s come from %d sources, want one", what, len(srcs))
	}
	var src netip.Addr
	for a := range srcs {
		src = a
	}
	if l.Source != src.String() {
		t.Errorf("label source %q, the %s come from %s", l.Source, what, src)
	}
	return src
}

func filter(rs []rec, f func(*rec) bool) []rec {
	var out []rec
	for i := range rs {
		if f(&rs[i]) {
			out = append(out, rs[i])
		}
	}
	return out
}

func atLeast(t *testing.T, what string, got, want int) {
	t.Helper()
	if got < want {
		t.Errorf("%s: %d, want at least %d", what, got, want)
	}
}

func oneVictim(t *testing.T, rs []rec, what string) netip.Addr {
	t.Helper()
	dsts := distinct(rs, func(r *rec) (netip.Addr, bool) { return r.dst(), true })
	if len(dsts) != 1 {
		t.Fatalf("%s go to %d destinations, want one victim", what, len(dsts))
	}
	for a := range dsts {
		return a
	}
	return netip.Addr{}
}

func checkAmplification(port uint16, minLen, minReflectors int, frags bool) func(t *testing.T, atk []rec, l Label) {
	return func(t *testing.T, atk []rec, l Label) {
		resp := filter(atk, func(r *rec) bool { return r.info.Proto == decode.ProtoUDP && r.info.SrcPort == port })
		victim := oneVictim(t, resp, "responses")
		atLeast(t, "responses", len(resp), 1000)
		small := count(resp, func(r *rec) bool { return r.ipLen() < minLen })
		if small > 0 {
			t.Errorf("%d of %d responses from port %d are shorter than %d bytes", small, len(resp), port, minLen)
		}
		atLeast(t, "reflectors", len(distinct(resp, func(r *rec) (netip.Addr, bool) { return r.src(), true })), minReflectors)
		if n := count(atk, func(r *rec) bool { return r.src() == victim && r.info.DstPort == port }); n > 0 {
			t.Errorf("%d requests from the victim: the requests are spoofed elsewhere", n)
		}
		if l.Source != "" {
			t.Errorf("label source %q, want none (reflectors)", l.Source)
		}
		nf := count(atk, func(r *rec) bool { return r.info.NonFirstFragment })
		if frags && nf < len(resp)/2 {
			t.Errorf("%d non-first fragments for %d first fragments", nf, len(resp))
		}
		if !frags && nf > 0 {
			t.Errorf("%d fragments", nf)
		}
	}
}

func checkBruteForce(port uint16) func(t *testing.T, atk []rec, l Label) {
	return func(t *testing.T, atk []rec, l Label) {
		syns := filter(atk, func(r *rec) bool { return r.syn() })
		src := oneSource(t, syns, "connections", l)
		atLeast(t, "login connections (3/s for 40 s)", len(syns), 60)
		if n := count(syns, func(r *rec) bool { return r.info.DstPort != port }); n > 0 {
			t.Errorf("%d connections not to port %d", n, port)
		}
		synacks := count(atk, func(r *rec) bool { return r.synAck() })
		if synacks != len(syns) {
			t.Errorf("%d SYN-ACKs for %d SYNs: every attempt connects", synacks, len(syns))
		}
		ends := distinct(atk, func(r *rec) (uint16, bool) {
			p := r.info.SrcPort
			if r.src() != src {
				p = r.info.DstPort
			}
			return p, r.flag(decode.TCPFin | decode.TCPRst)
		})
		if len(ends) < len(syns)*9/10 {
			t.Errorf("%d of %d connections end with FIN or RST", len(ends), len(syns))
		}
		if n := count(atk, func(r *rec) bool { return r.src() != src && r.info.Payload > 0 }); n < len(syns) {
			t.Errorf("the server spoke %d times in %d connections", n, len(syns))
		}
	}
}

var attackCases = []attackCase{
	{"port_scan/vertical", Attack{Type: PortScan, Variant: "vertical"}, func(t *testing.T, atk []rec, l Label) {
		syns := filter(atk, func(r *rec) bool { return r.syn() })
		oneSource(t, syns, "SYN probes", l)
		oneVictim(t, syns, "SYN probes")
		atLeast(t, "distinct ports probed (60/s for 40 s)", len(distinct(syns, func(r *rec) (uint16, bool) { return r.info.DstPort, true })), 1500)
		if n := count(syns, func(r *rec) bool { return r.tcpHeaderLen() != 24 || r.info.Payload != 0 }); n > 0 {
			t.Errorf("%d probes are not nmap SYNs (MSS option only, no payload)", n)
		}
		rsts := count(atk, func(r *rec) bool { return r.flag(decode.TCPRst) && r.flag(decode.TCPAck) })
		acks := count(atk, func(r *rec) bool { return r.synAck() })
		if rsts+acks < len(syns)/3 {
			t.Errorf("%d RST-ACKs and %d SYN-ACKs for %d probes", rsts, acks, len(syns))
		}
	}},
	{"port_scan/slow", Attack{Type: PortScan, Variant: "slow"}, func(t *testing.T, atk []rec, l Label) {
		syns := filter(atk, func(r *rec) bool { return r.syn() })
		oneSource(t, syns, "SYN probes", l)
		ports := len(distinct(syns, func(r *rec) (uint16, bool) { return r.info.DstPort, true }))
		if ports < 40 || ports > 120 {
			t.Errorf("%d ports in 40 s, want about 67 (100 a minute)", ports)
		}
	}},
	{"port_scan/horizontal", Attack{Type: PortScan, Variant: "horizontal"}, func(t *testing.T, atk []rec, l Label) {
		syns := filter(atk, func(r *rec) bool { return r.syn() })
		oneSource(t, syns, "SYN probes", l)
		if n := len(distinct(syns, func(r *rec) (uint16, bool) { return r.info.DstPort, true })); n != 1 {
			t.Errorf("probes to %d ports, want one", n)
		}
		atLeast(t, "live hosts probed", len(distinct(syns, func(r *rec) (netip.Addr, bool) { return r.dst(), true })), 10)
		asked := distinct(atk, func(r *rec) (netip.Addr, bool) { return r.dst(), r.info.ARPOp == 1 })
		atLeast(t, "empty addresses ARPed for", len(asked), 200)
	}},
	{"port_scan/arp_sweep", Attack{Type: PortScan, Variant: "arp_sweep"}, func(t *testing.T, atk []rec, l Label) {
		reqs := filter(atk, func(r *rec) bool { return r.info.ARPOp == 1 })
		oneSource(t, reqs, "ARP requests", l)
		atLeast(t, "addresses asked (a /24 and more)", len(distinct(reqs, func(r *rec) (netip.Addr, bool) { return r.dst(), true })), 254)
		atLeast(t, "replies of live hosts", count(atk, func(r *rec) bool { return r.info.ARPOp == 2 }), 20)
	}},
	{"port_scan/icmp_sweep", Attack{Type: PortScan, Variant: "icmp_sweep"}, func(t *testing.T, atk []rec, l Label) {
		echo := filter(atk, func(r *rec) bool { return r.info.Proto == decode.ProtoICMP && r.info.ICMPType == 8 })
		oneSource(t, echo, "echo requests", l)
		atLeast(t, "hosts pinged", len(distinct(echo, func(r *rec) (netip.Addr, bool) { return r.dst(), true })), 10)
		atLeast(t, "empty addresses ARPed for", len(distinct(atk, func(r *rec) (netip.Addr, bool) { return r.dst(), r.info.ARPOp == 1 })), 200)
	}},
	{"port_scan/udp", Attack{Type: PortScan, Variant: "udp"}, func(t *testing.T, atk []rec, l Label) {
		probes := filter(atk, func(r *rec) bool { return r.info.Proto == decode.ProtoUDP && r.src().String() == l.Source })
		oneSource(t, probes, "UDP probes", l)
		atLeast(t, "UDP ports probed", len(distinct(probes, func(r *rec) (uint16, bool) { return r.info.DstPort, true })), 800)
		atLeast(t, "ICMP port unreachables", count(atk, func(r *rec) bool { return r.info.ICMPType == 3 && r.info.ICMPCode == 3 }), 10)
	}},
	{"syn_flood/spoofed", Attack{Type: SYNFlood, Rate: 2000}, func(t *testing.T, atk []rec, l Label) {
		syns := filter(atk, func(r *rec) bool { return r.syn() })
		if len(syns) < len(atk)*7/10 {
			t.Errorf("%d SYNs of %d packets: SYNs without ACK should dominate", len(syns), len(atk))
		}
		oneVictim(t, syns, "SYNs")
		if n := len(distinct(syns, func(r *rec) (uint16, bool) { return r.info.DstPort, true })); n != 1 {
			t.Errorf("SYNs to %d ports, want one", n)
		}
		atLeast(t, "spoofed sources", len(distinct(syns, func(r *rec) (netip.Addr, bool) { return r.src(), true })), 50000)
		atLeast(t, "SYN-ACKs of the victim", count(atk, func(r *rec) bool { return r.synAck() }), 1000)
		if l.Source != "" {
			t.Errorf("label source %q for spoofed sources", l.Source)
		}
	}},
	{"syn_flood/botnet", Attack{Type: SYNFlood, Variant: "botnet", Rate: 2000}, func(t *testing.T, atk []rec, l Label) {
		syns := filter(atk, func(r *rec) bool { return r.syn() })
		if len(syns) < len(atk)/2 {
			t.Errorf("%d SYNs of %d packets", len(syns), len(atk))
		}
		bots := len(distinct(syns, func(r *rec) (netip.Addr, bool) { return r.src(), true }))
		if bots < 50 || bots > 500 {
			t.Errorf("%d bots, want 50 to 500", bots)
		}
		atLeast(t, "RSTs of the bots' kernels", count(atk, func(r *rec) bool { return r.flag(decode.TCPRst) }), 1000)
	}},
	{"udp_flood/spoofed", Attack{Type: UDPFlood, Rate: 3000}, func(t *testing.T, atk []rec, l Label) {
		udp := filter(atk, func(r *rec) bool { return r.info.Proto == decode.ProtoUDP })
		// the rest: ICMP port unreachables, at most 1000/s (Linux)
		if len(udp) < len(atk)*7/10 {
			t.Errorf("%d UDP of %d packets", len(udp), len(atk))
		}
		oneVictim(t, udp, "datagrams")
		atLeast(t, "datagrams (3000/s for 40 s)", len(udp), 100000)
	}},
	{"udp_flood/fixed", Attack{Type: UDPFlood, Variant: "fixed", Rate: 3000}, func(t *testing.T, atk []rec, l Label) {
		udp := filter(atk, func(r *rec) bool { return r.info.Proto == decode.ProtoUDP })
		oneSource(t, udp, "datagrams", l)
		oneVictim(t, udp, "datagrams")
	}},
	{"udp_flood/large", Attack{Type: UDPFlood, Variant: "large", Rate: 3000}, func(t *testing.T, atk []rec, l Label) {
		udp := filter(atk, func(r *rec) bool { return r.info.Proto == decode.ProtoUDP })
		if n := count(udp, func(r *rec) bool { return r.info.Payload < 1000 }); n > 0 {
			t.Errorf("%d datagrams under 1000 bytes", n)
		}
	}},
	{"icmp_flood/spoofed", Attack{Type: ICMPFlood, Rate: 3000}, func(t *testing.T, atk []rec, l Label) {
		req := filter(atk, func(r *rec) bool { return r.info.ICMPType == 8 })
		oneVictim(t, req, "echo requests")
		atLeast(t, "echo requests", len(req), 100000)
		if n := count(req, func(r *rec) bool { return r.info.WireLen != 60 }); n > 0 {
			t.Errorf("%d echo requests are not hping3's empty ones", n)
		}
	}},
	{"icmp_flood/blacknurse", Attack{Type: ICMPFlood, Variant: "blacknurse", Rate: 3000}, func(t *testing.T, atk []rec, l Label) {
		un := filter(atk, func(r *rec) bool { return r.info.ICMPType == 3 && r.info.ICMPCode == 3 })
		if len(un) != len(atk) {
			t.Errorf("%d port unreachables of %d packets", len(un), len(atk))
		}
	}},
	{"dns_amplification", Attack{Type: DNSAmplification, Rate: 2000}, checkAmplification(53, 1400, 150, true)},
	{"ntp_amplification", Attack{Type: NTPAmplification, Rate: 2000}, checkAmplification(123, 468, 100, false)},
	{"ssdp_amplification", Attack{Type: SSDPAmplification, Rate: 2000}, checkAmplification(1900, 250, 150, false)},
	{"memcached_amplification", Attack{Type: MemcachedAmplification, Rate: 2000}, checkAmplification(11211, 1400, 40, false)},
	{"brute_force/ssh", Attack{Type: BruteForce, Variant: "ssh", Rate: 3}, checkBruteForce(22)},
	{"brute_force/ftp", Attack{Type: BruteForce, Variant: "ftp", Rate: 3}, checkBruteForce(21)},
	{"brute_force/rdp", Attack{Type: BruteForce, Variant: "rdp", Rate: 3}, checkBruteForce(3389)},
	{"brute_force/telnet", Attack{Type: BruteForce, Variant: "telnet", Rate: 3}, checkBruteForce(23)},
	{"brute_force/http_login", Attack{Type: BruteForce, Variant: "http_login", Rate: 3}, checkBruteForce(80)},
	{"slowloris", Attack{Type: Slowloris, Rate: 150}, func(t *testing.T, atk []rec, l Label) {
		syns := filter(atk, func(r *rec) bool { return r.syn() })
		src := oneSource(t, syns, "connections", l)
		atLeast(t, "connections to port 80", count(syns, func(r *rec) bool { return r.info.DstPort == 80 }), 150)
		lines := filter(atk, func(r *rec) bool {
			return r.src() == src && r.info.Payload > 0 && bytes.Contains(r.data, []byte("X-a: "))
		})
		atLeast(t, "keep-alive header lines (150 every 10-15 s)", len(lines), 150*2)
		if n := count(atk, func(r *rec) bool { return r.src() == src && r.info.Payload > 200 }); n > 0 {
			t.Errorf("%d large packets from the attacker: slowloris sends headers a line at a time", n)
		}
	}},
	{"traffic_spike", Attack{Type: TrafficSpike}, func(t *testing.T, atk []rec, l Label) {
		atLeast(t, "spike packets (6 x 150 pps for 40 s, ramped)", len(atk), 6*150*40/2)
		syn, synack := count(atk, func(r *rec) bool { return r.syn() }), count(atk, func(r *rec) bool { return r.synAck() })
		if d := syn - synack; d < -syn/10 || d > syn/10 {
			t.Errorf("%d SYNs, %d SYN-ACKs: a flash crowd has normal handshakes", syn, synack)
		}
		atLeast(t, "clients in the crowd", len(distinct(atk, func(r *rec) (netip.Addr, bool) { return r.src(), r.syn() })), 100)
	}},
	{"arp_spoofing/mitm", Attack{Type: ARPSpoofing}, checkARPSpoof},
	{"arp_spoofing/gateway", Attack{Type: ARPSpoofing, Variant: "gateway"}, checkARPSpoof},
}

func checkARPSpoof(t *testing.T, atk []rec, l Label) {
	gwIP := netip.MustParseAddr("10.20.0.1")
	claims := filter(atk, func(r *rec) bool {
		return r.info.ARPOp == 2 && r.src() == gwIP && macString(r.info.SrcMAC[:]) == l.Source
	})
	atLeast(t, "forged replies for the gateway (every 1-2 s for 40 s)", len(claims), 15)
	for i := 1; i < len(claims); i++ {
		gap := time.Duration(claims[i].t - claims[i-1].t)
		if gap < 500*time.Millisecond || gap > 2500*time.Millisecond {
			t.Errorf("forged replies %v apart at %s", gap, at(claims[i].t))
		}
	}
	// the real gateway answers too, with another MAC
	if n := count(atk, func(r *rec) bool { return r.info.ARPOp == 2 && r.src() == gwIP && macString(r.data[22:28]) != l.Source }); n == 0 {
		t.Errorf("arpspoof restores the true address when it stops: no such reply")
	}
}

func macString(b []byte) string {
	const hex = "0123456789abcdef"
	var s strings.Builder
	for i, x := range b[:6] {
		if i > 0 {
			s.WriteByte(':')
		}
		s.WriteByte(hex[x>>4])
		s.WriteByte(hex[x&15])
	}
	return s.String()
}

// TestAttacks generates each attack over a background, finds its packets
// as the difference with the same scenario without it (the background must
// not change), checks that the label covers exactly those packets, and
// that they look like the attack.
func TestAttacks(t *testing.T) {
	benignScenario := attackScenario(Attack{})
	benignScenario.Attacks = nil
	data, _ := generate(t, benignScenario)
	benign := records(t, data)
	for _, c := range attackCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := attackScenario(c.a)
			data, labels := generate(t, s)
			if len(labels) != 1 {
				t.Fatalf("%d labels, want 1", len(labels))
			}
			l := labels[0]
			if l.Type != c.a.Type {
				t.Errorf("label type %q, want %q", l.Type, c.a.Type)
			}
			atk := attackRecords(t, records(t, data), benign)
			if len(atk) == 0 {
				t.Fatal("no attack packets")
			}
			start := s.Start.Add(s.Attacks[0].Start)
			if s.Start.IsZero() {
				start = DefaultStart.Add(s.Attacks[0].Start)
			}
			if !l.Start.Equal(start) {
				t.Errorf("label starts at %s, the attack at %s", l.Start.Format(time.RFC3339Nano), start.Format(time.RFC3339Nano))
			}
			if first := atk[0].t; first != l.Start.UnixNano() {
				t.Errorf("first attack packet at %s, label start %s", at(first), at(l.Start.UnixNano()))
			}
			if last := atk[len(atk)-1].t; last+1000 != l.End.UnixNano() {
				t.Errorf("last attack packet at %s, label end %s (want 1 µs after)", at(last), at(l.End.UnixNano()))
			}
			if over := time.Duration(l.End.Sub(start) - s.Attacks[0].Duration); over > 4*time.Second {
				t.Errorf("the attack's packets run %v past its duration", over)
			}
			c.check(t, atk, l)
		})
	}
}

// TestTrafficDrop checks the drop: the label is the interval asked for, the
// background in it falls to at most 10%, and nothing is added.
func TestTrafficDrop(t *testing.T) {
	s := attackScenario(Attack{Type: TrafficDrop})
	data, labels := generate(t, s)
	b := s
	b.Attacks = nil
	bdata, _ := generate(t, b)
	l := labels[0]
	start, end := DefaultStart.Add(90*time.Second), DefaultStart.Add(130*time.Second)
	if !l.Start.Equal(start) || !l.End.Equal(end) || l.Type != TrafficDrop {
		t.Fatalf("label %+v, want %s..%s", l, start, end)
	}
	in := func(rs []rec) int {
		return count(rs, func(r *rec) bool { return r.t >= start.UnixNano() && r.t < end.UnixNano() })
	}
	got, normal := in(records(t, data)), in(records(t, bdata))
	if got*10 > normal {
		t.Errorf("%d packets during the drop, %d without it: want at most 10%%", got, normal)
	}
	if got == 0 {
		t.Errorf("nothing at all during the drop: a degraded link still passes a little")
	}
}
