package features

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/collector/features/sketch"
)

const (
	syn    = decode.TCPSyn
	synAck = decode.TCPSyn | decode.TCPAck
	ack    = decode.TCPAck
	rst    = decode.TCPRst
	rstAck = decode.TCPRst | decode.TCPAck
	finAck = decode.TCPFin | decode.TCPAck
	pshAck = decode.TCPPsh | decode.TCPAck
)

func withPayload(p decode.PacketInfo, n uint32, m decode.HTTPMethod) decode.PacketInfo {
	p.Payload, p.HTTPMethod = n, m
	return p
}

// behaviourOf runs pkts through an aggregator until end (seconds after t0)
// and returns the behaviour of every window.
func behaviourOf(t *testing.T, pkts []decode.PacketInfo, end float64) []Behaviour {
	t.Helper()
	sortByTime(pkts)
	wins, _ := run(t, cfg10s(), pkts, func(a *Aggregator) { a.Advance(at(end)) })
	out := make([]Behaviour, len(wins))
	for i, w := range wins {
		out[i] = w.Behaviour
	}
	return out
}

// sum adds up a window list's activity per key.
func pairsOf(bs []Behaviour) map[PairKey]PairActivity {
	m := map[PairKey]PairActivity{}
	for _, b := range bs {
		for _, p := range b.Pairs {
			s := m[p.Key]
			s.Key = p.Key
			s.Attempts += p.Attempts
			s.Established += p.Established
			s.Refused += p.Refused
			s.Unanswered += p.Unanswered
			s.HalfOpen += p.HalfOpen
			s.Syns += p.Syns
			s.Requests += p.Requests
			s.Held = max(s.Held, p.Held)
			s.Silent += p.Silent
			s.Packets += p.Packets
			s.Replies += p.Replies
			s.Unsolicited += p.Unsolicited
			s.UnsolicitedDNSBytes += p.UnsolicitedDNSBytes
			s.Sessions += p.Sessions
			s.ShortSessions += p.ShortSessions
			s.Posts += p.Posts
			s.AuthRefused += p.AuthRefused
			s.SlowTurns += p.SlowTurns
			s.DNSQueries += p.DNSQueries
			s.DNSTunnel += p.DNSTunnel
			s.SSH += p.SSH
			s.Logins += p.Logins
			s.EchoMismatch += p.EchoMismatch
			s.EchoVaried += p.EchoVaried
			s.Communities += p.Communities
			m[p.Key] = s
		}
	}
	return m
}

func servicesOf(bs []Behaviour) map[ServiceKey]ServiceActivity {
	m := map[ServiceKey]ServiceActivity{}
	for _, b := range bs {
		for _, s := range b.Services {
			x := m[s.Key]
			x.Key = s.Key
			x.Attempts += s.Attempts
			x.Established += s.Established
			x.Refused += s.Refused
			x.Unanswered += s.Unanswered
			x.HalfOpen += s.HalfOpen
			x.Syns += s.Syns
			x.SynAcks += s.SynAcks
			x.Requests += s.Requests
			x.Held = max(x.Held, s.Held)
			x.Silent += s.Silent
			x.Packets += s.Packets
			x.Unsolicited += s.Unsolicited
			x.UnsolicitedDNSBytes += s.UnsolicitedDNSBytes
			x.NewSources += s.NewSources
			m[s.Key] = x
		}
	}
	return m
}

func hostsOf(bs []Behaviour) map[[16]byte]HostActivity {
	m := map[[16]byte]HostActivity{}
	for _, b := range bs {
		for _, h := range b.Hosts {
			x := m[h.Addr]
			x.Addr = h.Addr
			x.NewPorts += h.NewPorts
			x.NewHosts += h.NewHosts
			x.FailedFirst += h.FailedFirst
			x.OKFirst += h.OKFirst
			x.ARPRequests += h.ARPRequests
			x.ARPAnswered += h.ARPAnswered
			if h.TargetPorts > x.TargetPorts {
				x.Target, x.TargetPorts = h.Target, h.TargetPorts
			}
			m[h.Addr] = x
		}
	}
	return m
}

func tcpKey(src, dst string, port uint16) PairKey {
	return PairKey{Src: addr(src), Dst: addr(dst), Port: port, Proto: decode.ProtoTCP}
}

// svcKey is a TCP service, or with port 0 all of a host's TCP, UDP or
// ICMP.
func svcKey(a string, port uint16, proto decode.Protocol) ServiceKey {
	return ServiceKey{Addr: addr(a), Port: port, Proto: proto, AllPorts: port == 0}
}

// TestConnectionOutcomes checks what becomes of connection attempts, per
// pair and service, for the ways a target answers a SYN.
func TestConnectionOutcomes(t *testing.T) {
	const (
		attacker = "10.0.0.66"
		victim   = "10.0.0.10"
	)
	n := 200
	cases := []struct {
		name    string
		pkts    func(i int, s float64) []decode.PacketInfo
		port    uint16
		want    Conns
		synAcks uint32
	}{
		{"open port, the sender's kernel resets each SYN-ACK", func(i int, s float64) []decode.PacketInfo {
			sp := uint16(2000 + i)
			return []decode.PacketInfo{
				tcpPkt(at(s), attacker, victim, sp, 80, syn),
				tcpPkt(at(s+0.0001), victim, attacker, 80, sp, synAck),
				tcpPkt(at(s+0.0002), attacker, victim, sp, 80, rst),
			}
		}, 80, Conns{Attempts: 200, HalfOpen: 200, Syns: 200, Packets: 400}, 200},
		{"closed port: the target refuses", func(i int, s float64) []decode.PacketInfo {
			sp := uint16(2000 + i)
			return []decode.PacketInfo{
				tcpPkt(at(s), attacker, victim, sp, 81, syn),
				tcpPkt(at(s+0.0001), victim, attacker, 81, sp, rstAck),
			}
		}, 81, Conns{Attempts: 200, Refused: 200, Syns: 200, Packets: 200}, 0},
		{"filtered port: silence", func(i int, s float64) []decode.PacketInfo {
			return []decode.PacketInfo{tcpPkt(at(s), attacker, victim, uint16(2000+i), 8081, syn)}
		}, 8081, Conns{Attempts: 200, Unanswered: 200, Syns: 200, Packets: 200}, 0},
		{"forged source: SYN-ACKs to nobody", func(i int, s float64) []decode.PacketInfo {
			sp := uint16(2000 + i)
			return []decode.PacketInfo{
				tcpPkt(at(s), attacker, victim, sp, 443, syn),
				tcpPkt(at(s+0.0001), victim, attacker, 443, sp, synAck),
				tcpPkt(at(s+1), victim, attacker, 443, sp, synAck), // retransmitted
			}
		}, 443, Conns{Attempts: 200, HalfOpen: 200, Syns: 200, Packets: 200}, 400},
		{"completed connections with a request each", func(i int, s float64) []decode.PacketInfo {
			sp := uint16(2000 + i)
			return []decode.PacketInfo{
				tcpPkt(at(s), attacker, victim, sp, 8080, syn),
				tcpPkt(at(s+0.001), victim, attacker, 8080, sp, synAck),
				tcpPkt(at(s+0.002), attacker, victim, sp, 8080, ack),
				withPayload(tcpPkt(at(s+0.003), attacker, victim, sp, 8080, pshAck), 300, decode.HTTPPost),
				withPayload(tcpPkt(at(s+0.004), victim, attacker, 8080, sp, pshAck), 900, 0),
				tcpPkt(at(s+0.005), attacker, victim, sp, 8080, finAck),
				tcpPkt(at(s+0.006), victim, attacker, 8080, sp, finAck),
			}
		}, 8080, Conns{Attempts: 200, Established: 200, Syns: 200, Requests: 200, Packets: 200}, 200},
		// A connection flood (nping --tcp-connect): the handshake, then
		// nothing from the client; a server greeting first (SSH, SMTP)
		// changes nothing.
		{"a connection flood: each connection closed with nothing sent", func(i int, s float64) []decode.PacketInfo {
			sp := uint16(2000 + i)
			return []decode.PacketInfo{
				tcpPkt(at(s), attacker, victim, sp, 6379, syn),
				tcpPkt(at(s+0.001), victim, attacker, 6379, sp, synAck),
				tcpPkt(at(s+0.002), attacker, victim, sp, 6379, ack),
				withPayload(tcpPkt(at(s+0.003), victim, attacker, 6379, sp, pshAck), 40, 0),
				tcpPkt(at(s+0.004), attacker, victim, sp, 6379, finAck),
				tcpPkt(at(s+0.005), victim, attacker, 6379, sp, finAck),
			}
		}, 6379, Conns{Attempts: 200, Established: 200, Syns: 200, Packets: 200, Silent: 200}, 200},
		// Held silent past stallAge at the window close (counted then),
		// closed in the next window (not counted again).
		{"a connection flood holding its connections, then closing them", func(i int, s float64) []decode.PacketInfo {
			sp := uint16(2000 + i)
			return []decode.PacketInfo{
				tcpPkt(at(s), attacker, victim, sp, 6380, syn),
				tcpPkt(at(s+0.001), victim, attacker, 6380, sp, synAck),
				tcpPkt(at(s+0.002), attacker, victim, sp, 6380, ack),
				tcpPkt(at(s+12), attacker, victim, sp, 6380, finAck),
				tcpPkt(at(s+12.001), victim, attacker, 6380, sp, finAck),
			}
		}, 6380, Conns{Attempts: 200, Established: 200, Syns: 200, Packets: 200, Silent: 200}, 200},
		{"slow POSTs: bodies the server never answers", func(i int, s float64) []decode.PacketInfo {
			sp := uint16(2000 + i)
			return []decode.PacketInfo{
				tcpPkt(at(s), attacker, victim, sp, 8000, syn),
				tcpPkt(at(s+0.001), victim, attacker, 8000, sp, synAck),
				tcpPkt(at(s+0.002), attacker, victim, sp, 8000, ack),
				withPayload(tcpPkt(at(s+0.003), attacker, victim, sp, 8000, pshAck), 300, decode.HTTPPost),
				tcpPkt(at(s+0.004), victim, attacker, 8000, sp, ack),
				withPayload(tcpPkt(at(s+10), attacker, victim, sp, 8000, pshAck), 2, 0),
			}
		}, 8000, Conns{Attempts: 200, Established: 200, Syns: 200, Held: 200, Packets: 200}, 200},
		{"an ACK flood: bare ACKs from changing ports, each reset", func(i int, s float64) []decode.PacketInfo {
			sp := uint16(2000 + i)
			return []decode.PacketInfo{
				tcpPkt(at(s), attacker, victim, sp, 80, ack),
				tcpPkt(at(s+0.0001), victim, attacker, 80, sp, rst),
			}
		}, 80, Conns{Attempts: 200, Refused: 200, Packets: 200}, 0},
		// A bare RST (no ACK) answers no SYN: it is the sender's own
		// packet, not backscatter (hping3 -R).
		{"a RST flood: bare RSTs from changing ports, nobody answers", func(i int, s float64) []decode.PacketInfo {
			return []decode.PacketInfo{tcpPkt(at(s), attacker, victim, uint16(2000+i), 443, rst)}
		}, 443, Conns{Attempts: 200, Unanswered: 200, Packets: 200}, 0},
		// A capture of one direction only, begun mid-connection: a bare
		// ACK, then data; the answers are on another link. Neither an ACK
		// flood nor a service seen serving.
		{"connections older than the capture, one direction only", func(i int, s float64) []decode.PacketInfo {
			sp := uint16(2000 + i)
			pkts := []decode.PacketInfo{tcpPkt(at(s), attacker, victim, sp, 9000, ack)}
			for k := range 5 {
				pkts = append(pkts, withPayload(tcpPkt(at(s+0.001*float64(k+1)), attacker, victim, sp, 9000, pshAck), 1000, 0), tcpPkt(at(s+0.001*float64(k+1)+0.0005), attacker, victim, sp, 9000, ack))
			}
			return pkts
		}, 9000, Conns{Attempts: 200, Held: 200, Packets: 200}, 0}, // no outcome: their answers are elsewhere; left open
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var pkts []decode.PacketInfo
			for i := range n {
				pkts = append(pkts, c.pkts(i, 0.5+float64(i)*0.02)...)
			}
			bs := behaviourOf(t, pkts, 30)
			p := pairsOf(bs)[tcpKey(attacker, victim, c.port)]
			if p.Conns != c.want {
				t.Errorf("pair %+v\nwant %+v", p.Conns, c.want)
			}
			s := servicesOf(bs)[svcKey(victim, c.port, decode.ProtoTCP)]
			want := c.want
			if s.Conns != want || s.SynAcks != c.synAcks {
				t.Errorf("service %+v with %d SYN-ACKs\nwant %+v with %d", s.Conns, s.SynAcks, want, c.synAcks)
			}
			if h := servicesOf(bs)[svcKey(victim, 0, decode.ProtoTCP)]; h.Syns != want.Syns || h.Established != want.Established {
				t.Errorf("host-wide TCP: %d SYNs %d established, want %d and %d", h.Syns, h.Established, want.Syns, want.Established)
			}
			// The victim answered: it never opened anything.
			for k, pa := range pairsOf(bs) {
				if k.Src == addr(victim) && pa.Attempts > 0 {
					t.Errorf("the victim is an initiator: %+v", pa)
				}
			}
			if c.port == 8000 && p.Posts != 0 {
				t.Errorf("%d POSTs counted, want none: a guess is a POST the server answered", p.Posts)
			}
			if c.port == 8080 {
				if p.Sessions != 200 || p.ShortSessions != 200 || p.Posts != 200 {
					t.Errorf("sessions %d short %d posts %d, want 200 each", p.Sessions, p.ShortSessions, p.Posts)
				}
			}
		})
	}
}

// TestUnansweredFromFirstSYN: an attempt that retransmits its SYN every
// second to a host that is gone (the client's ARP keeps failing) is
// unanswered at the first window close 3 s after its first SYN, not
// once the retransmissions stop: a dead server shows in the window it
// died in.
func TestUnansweredFromFirstSYN(t *testing.T) {
	const client, server = "10.0.0.101", "10.0.0.10"
	var pkts []decode.PacketInfo
	for i := range 15 {
		pkts = append(pkts, tcpPkt(at(2+float64(i)), client, server, 40000, 80, syn))
	}
	bs := behaviourOf(t, pkts, 30)
	if len(bs) < 2 {
		t.Fatalf("%d windows, want 2 or more", len(bs))
	}
	var first PairActivity
	for _, p := range bs[0].Pairs {
		if p.Key == tcpKey(client, server, 80) {
			first = p
		}
	}
	if first.Attempts != 1 || first.Unanswered != 1 {
		t.Errorf("first window: %d attempts, %d unanswered; want 1 and 1", first.Attempts, first.Unanswered)
	}
	if p := pairsOf(bs)[tcpKey(client, server, 80)]; p.Unanswered != 1 || p.Syns != 15 {
		t.Errorf("in all: %d unanswered, %d SYNs; want 1 and 15", p.Unanswered, p.Syns)
	}
}

// TestFirstContacts checks the per-initiator view a scan shows in: many
// new services, nearly all failing; a client's few new services succeed.
func TestFirstContacts(t *testing.T) {
	const scanner, victim, client = "10.0.0.66", "10.0.0.10", "10.0.0.101"
	var pkts []decode.PacketInfo
	open := map[uint16]bool{22: true, 80: true}
	for port := uint16(1); port <= 1000; port++ {
		s := 1 + float64(port)*0.005
		pkts = append(pkts, tcpPkt(at(s), scanner, victim, 40000, port, syn))
		if open[port] {
			pkts = append(pkts, tcpPkt(at(s+0.0001), victim, scanner, port, 40000, synAck), tcpPkt(at(s+0.0002), scanner, victim, 40000, port, rst))
		} else if port%10 != 0 { // one port in ten filtered
			pkts = append(pkts, tcpPkt(at(s+0.0001), victim, scanner, port, 40000, rstAck))
		}
	}
	// nmap probes again the ports that did not answer: not new contacts.
	for port := uint16(10); port <= 1000; port += 10 {
		pkts = append(pkts, tcpPkt(at(8+float64(port)*0.0001), scanner, victim, 40001, port, syn))
	}
	// A client opens 3 connections to 2 services, all answered.
	for i, port := range []uint16{80, 80, 22} {
		s := 2 + float64(i)
		sp := uint16(50000 + i)
		pkts = append(pkts, tcpPkt(at(s), client, victim, sp, port, syn), tcpPkt(at(s+0.001), victim, client, port, sp, synAck), tcpPkt(at(s+0.002), client, victim, sp, port, ack))
	}
	// An ICMP and ARP sweep of 50 hosts, 3 of which answer.
	for h := range 50 {
		s := 12 + float64(h)*0.01
		target := fmt.Sprintf("10.0.1.%d", h+1)
		pkts = append(pkts, icmpPkt(at(s), decode.ProtoICMP, scanner, target, 8, 0), arpPkt(at(s), 1, scanner, target))
		if h < 3 {
			pkts = append(pkts, icmpPkt(at(s+0.001), decode.ProtoICMP, target, scanner, 0, 0), arpPkt(at(s+0.001), 2, target, scanner))
		}
	}
	bs := behaviourOf(t, pkts, 30)
	hs := hostsOf(bs)
	sc := hs[addr(scanner)]
	if sc.NewPorts != 1000+50 || sc.NewHosts != 1+50 || sc.FailedFirst != 1000+47 || sc.OKFirst != 3 {
		t.Errorf("scanner: %d new ports, %d new hosts, %d failed, %d ok; want 1050, 51, 1047, 3", sc.NewPorts, sc.NewHosts, sc.FailedFirst, sc.OKFirst)
	}
	if sc.Target != addr(victim) || sc.TargetPorts < 500 {
		t.Errorf("scanner's target %v (%d), want the victim", sc.Target, sc.TargetPorts)
	}
	if sc.ARPRequests != 50 || sc.ARPAnswered != 3 {
		t.Errorf("scanner ARP: %d requests, %d answered; want 50 and 3", sc.ARPRequests, sc.ARPAnswered)
	}
	cl := hs[addr(client)]
	if cl.NewPorts != 2 || cl.NewHosts != 1 || cl.FailedFirst != 0 || cl.OKFirst != 2 {
		t.Errorf("client: %+v, want 2 new ports on 1 host, all ok", cl)
	}
	if _, ok := hs[addr(victim)]; ok {
		t.Errorf("the victim is counted as an initiator: %+v", hs[addr(victim)])
	}
	if s := servicesOf(bs)[svcKey(victim, 80, decode.ProtoTCP)]; s.NewSources != 2 {
		t.Errorf("new sources of the victim's port 80: %d, want 2", s.NewSources)
	}
}

// TestDatagrams checks UDP and ICMP: requests and answers, floods,
// reflection and tunnel-like DNS names.
func TestDatagrams(t *testing.T) {
	var pkts []decode.PacketInfo
	// A client's DNS: 20 queries answered, 5 of them with tunnel-like
	// names, 3 with short names asking for NULL or private-use records
	// (iodine's polls), 2 for TXT records, which ordinary clients ask for.
	for i := range 20 {
		s := 0.5 + float64(i)*0.1
		q := udpPkt(at(s), "10.0.0.101", "10.0.0.1", uint16(30000+i), 53)
		q.DNS, q.DNSNameLen, q.DNSLabelMax, q.DNSNameEntropy, q.DNSQType = true, 15, 7, 45, 1
		switch {
		case i < 5:
			q.DNSNameLen, q.DNSLabelMax, q.DNSNameEntropy = 90, 63, 75
		case i < 7:
			q.DNSQType = 10
		case i < 8:
			q.DNSQType = 65399
		case i < 10:
			q.DNSQType = 16
		}
		r := udpPkt(at(s+0.001), "10.0.0.1", "10.0.0.101", 53, uint16(30000+i))
		r.DNS, r.DNSResponse = true, true
		pkts = append(pkts, q, r)
	}
	// A UDP flood from one source to a closed port; the victim's ICMP
	// port unreachables go back.
	for i := range 300 {
		s := 1 + float64(i)*0.01
		pkts = append(pkts, udpPkt(at(s), "10.0.0.66", "10.0.0.10", uint16(3000+i), 7777))
		if i%50 == 0 {
			pkts = append(pkts, icmpPkt(at(s+0.0001), decode.ProtoICMP, "10.0.0.10", "10.0.0.66", 3, 3))
		}
	}
	// A ping flood answered, and a spoofed one whose replies go nowhere.
	for i := range 100 {
		s := 5 + float64(i)*0.01
		pkts = append(pkts, icmpPkt(at(s), decode.ProtoICMP, "10.0.0.67", "10.0.0.10", 8, 0), icmpPkt(at(s+0.0001), decode.ProtoICMP, "10.0.0.10", "10.0.0.67", 0, 0))
		pkts = append(pkts, icmpPkt(at(s), decode.ProtoICMP, fmt.Sprintf("198.51.%d.%d", i/200, i%200+1), "10.0.0.10", 8, 0))
	}
	// Reflected DNS answers from 4 resolvers that the victim never asked.
	for i := range 200 {
		r := udpPkt(at(2+float64(i)*0.01), fmt.Sprintf("203.0.113.%d", i%4+1), "10.0.0.10", 53, 20000)
		r.DNS, r.DNSResponse, r.WireLen = true, true, 1200
		pkts = append(pkts, r)
	}
	bs := behaviourOf(t, pkts, 30)
	ps, ss := pairsOf(bs), servicesOf(bs)
	dns := ps[PairKey{Src: addr("10.0.0.101"), Dst: addr("10.0.0.1"), Port: 53, Proto: decode.ProtoUDP}]
	if dns.Attempts != 20 || dns.Established != 20 || dns.DNSQueries != 20 || dns.DNSTunnel != 8 || dns.Packets != 20 || dns.Replies != 20 {
		t.Errorf("DNS client: %+v", dns)
	}
	flood := ps[PairKey{Src: addr("10.0.0.66"), Dst: addr("10.0.0.10"), Port: 7777, Proto: decode.ProtoUDP}]
	if flood.Packets != 300 || flood.Attempts != 300 || flood.Established != 0 {
		t.Errorf("UDP flood pair: %+v", flood)
	}
	if v := ss[svcKey("10.0.0.10", 0, decode.ProtoUDP)]; v.Packets != 300 {
		t.Errorf("UDP received by the victim: %d, want 300", v.Packets)
	}
	if v := ss[svcKey("10.0.0.10", 0, decode.ProtoICMP)]; v.Packets != 200 || v.Unsolicited != 0 {
		t.Errorf("ICMP requests received by the victim: %d (unsolicited %d), want 200 and 0", v.Packets, v.Unsolicited)
	}
	if p := ps[PairKey{Src: addr("10.0.0.67"), Dst: addr("10.0.0.10"), Proto: decode.ProtoICMP}]; p.Packets != 100 || p.Established != 1 {
		t.Errorf("pinger: %+v", p)
	}
	v := ss[svcKey("10.0.0.10", 0, decode.ProtoUDP)]
	if v.Unsolicited != 200 || v.UnsolicitedDNSBytes != 200*1200 {
		t.Errorf("victim: %d unsolicited answers, %d DNS bytes; want 200 and %d", v.Unsolicited, v.UnsolicitedDNSBytes, 200*1200)
	}
	for r := 1; r <= 4; r++ {
		k := PairKey{Src: addr(fmt.Sprintf("203.0.113.%d", r)), Dst: addr("10.0.0.10"), Port: 53, Proto: decode.ProtoUDP}
		if p := ps[k]; p.Unsolicited != 50 || p.Attempts != 0 {
			t.Errorf("reflector %d: %+v", r, p)
		}
	}
	// The victim's answers never make it an initiator.
	for k, p := range ps {
		if k.Src == addr("10.0.0.10") && p.Attempts > 0 {
			t.Errorf("the victim opened %+v", p)
		}
	}
}

// TestRefusals: an ICMP unreachable from the host a UDP datagram or a
// TCP SYN went to, quoting it, refuses that attempt as a reset would; a
// router's unreachable about another host leaves it unanswered.
func TestRefusals(t *testing.T) {
	const scanner, target, other, router = "10.0.0.66", "10.0.0.10", "10.0.0.11", "10.0.0.254"
	refusal := func(tm int64, from, to string, proto uint8, sport, dport uint16, typ, code uint8) decode.PacketInfo {
		p := icmpPkt(tm, decode.ProtoICMP, from, to, typ, code)
		p.Refusal, p.RefusedProto, p.RefusedSrc, p.RefusedDst = true, proto, sport, dport
		return p
	}
	pkts := []decode.PacketInfo{
		// A closed UDP port: port unreachable from the target.
		udpPkt(at(1), scanner, target, 40000, 161),
		refusal(at(1.001), target, scanner, 17, 40000, 161, 3, 3),
		// A host that is gone: the router says so, which is no refusal
		// (the decoder sets Refusal only when the quoted packet's
		// destination sends it).
		udpPkt(at(1.1), scanner, other, 40000, 162),
		icmpPkt(at(1.101), decode.ProtoICMP, router, scanner, 3, 1),
		// A SYN a host firewall rejects with an ICMP unreachable.
		tcpPkt(at(1.2), scanner, target, 40001, 25, syn),
		refusal(at(1.201), target, scanner, 6, 40001, 25, 3, 13),
		// An answered query: a late unreachable changes nothing.
		udpPkt(at(1.3), scanner, target, 40002, 53),
		udpPkt(at(1.301), target, scanner, 53, 40002),
		refusal(at(1.302), target, scanner, 17, 40002, 53, 3, 3),
		// An unreachable quoting a packet nobody sent.
		refusal(at(1.4), target, scanner, 17, 40003, 123, 3, 3),
	}
	ps := pairsOf(behaviourOf(t, pkts, 30))
	udpKey := func(dst string, port uint16) PairKey {
		return PairKey{Src: addr(scanner), Dst: addr(dst), Port: port, Proto: decode.ProtoUDP}
	}
	for _, c := range []struct {
		name                    string
		key                     PairKey
		refused, unanswered, ok uint32
	}{
		{"closed UDP port", udpKey(target, 161), 1, 0, 0},
		{"a host gone behind a router", udpKey(other, 162), 0, 1, 0},
		{"a SYN rejected", tcpKey(scanner, target, 25), 1, 0, 0},
		{"an answered query", udpKey(target, 53), 0, 0, 1},
	} {
		if p := ps[c.key]; p.Attempts != 1 || p.Refused != c.refused || p.Unanswered != c.unanswered || p.Established != c.ok {
			t.Errorf("%s: %d attempts, %d refused, %d unanswered, %d established; want 1, %d, %d, %d",
				c.name, p.Attempts, p.Refused, p.Unanswered, p.Established, c.refused, c.unanswered, c.ok)
		}
	}
	if p, ok := ps[udpKey(target, 123)]; ok {
		t.Errorf("an unreachable about a packet never sent made a pair: %+v", p)
	}
}

// TestHeldConnections checks slowloris's mark: connections that complete
// their handshake, then trickle a header line every 10 s.
func TestHeldConnections(t *testing.T) {
	var pkts []decode.PacketInfo
	for c := range 60 {
		sp := uint16(30000 + c)
		s := 0.1 + float64(c)*0.01
		pkts = append(pkts, tcpPkt(at(s), "10.0.0.66", "10.0.0.10", sp, 80, syn),
			tcpPkt(at(s+0.001), "10.0.0.10", "10.0.0.66", 80, sp, synAck),
			tcpPkt(at(s+0.002), "10.0.0.66", "10.0.0.10", sp, 80, ack))
		for k := s + 0.003; k < 45; k += 10 {
			pkts = append(pkts, withPayload(tcpPkt(at(k), "10.0.0.66", "10.0.0.10", sp, 80, pshAck), 20, 0),
				tcpPkt(at(k+0.001), "10.0.0.10", "10.0.0.66", 80, sp, ack))
		}
	}
	// A client whose requests are answered at once, on connections kept
	// alive 45 s with a request every 3 s: not held.
	for c := range 20 {
		sp := uint16(40000 + c)
		s := 0.2 + float64(c)*0.01
		pkts = append(pkts, tcpPkt(at(s), "10.0.0.102", "10.0.0.10", sp, 80, syn),
			tcpPkt(at(s+0.001), "10.0.0.10", "10.0.0.102", 80, sp, synAck),
			tcpPkt(at(s+0.002), "10.0.0.102", "10.0.0.10", sp, 80, ack))
		for k := s + 0.003; k < 45; k += 3 {
			pkts = append(pkts, withPayload(tcpPkt(at(k), "10.0.0.102", "10.0.0.10", sp, 80, pshAck), 200, decode.HTTPGet),
				withPayload(tcpPkt(at(k+0.01), "10.0.0.10", "10.0.0.102", 80, sp, pshAck), 900, 0))
		}
	}
	// A slow reader: its request is answered, then it takes a few bytes
	// every 2 s and advertises a zero window in between; the server
	// probes. Two packets a second: busier than the idle bar.
	for c := range 60 {
		sp := uint16(31000 + c)
		s := 0.3 + float64(c)*0.01
		pkts = append(pkts, tcpPkt(at(s), "10.0.0.67", "10.0.0.10", sp, 80, syn),
			tcpPkt(at(s+0.001), "10.0.0.10", "10.0.0.67", 80, sp, synAck),
			tcpPkt(at(s+0.002), "10.0.0.67", "10.0.0.10", sp, 80, ack),
			withPayload(tcpPkt(at(s+0.003), "10.0.0.67", "10.0.0.10", sp, 80, pshAck), 100, decode.HTTPGet),
			withPayload(tcpPkt(at(s+0.004), "10.0.0.10", "10.0.0.67", 80, sp, pshAck), 512, 0))
		for k := s + 1; k < 45; k += 2 {
			zero := tcpPkt(at(k), "10.0.0.67", "10.0.0.10", sp, 80, ack)
			zero.TCPWindow = 0
			pkts = append(pkts, zero, withPayload(tcpPkt(at(k+0.5), "10.0.0.10", "10.0.0.67", 80, sp, ack), 1, 0),
				tcpPkt(at(k+0.6), "10.0.0.67", "10.0.0.10", sp, 80, ack), withPayload(tcpPkt(at(k+1), "10.0.0.10", "10.0.0.67", 80, sp, pshAck), 32, 0))
		}
	}
	// A busy client's connection is old too, but not idle.
	for k := 0.2; k < 45; k += 0.1 {
		pkts = append(pkts, withPayload(tcpPkt(at(k), "10.0.0.101", "10.0.0.10", 40000, 80, pshAck), 100, 0))
	}
	bs := behaviourOf(t, pkts, 50)
	held := func(w int) uint32 {
		for _, p := range bs[w].Pairs {
			if p.Key == tcpKey("10.0.0.66", "10.0.0.10", 80) {
				return p.Held
			}
		}
		return 0
	}
	// Each request is left unfinished (the server only ACKs): held from
	// the first window's close, 10 s after they opened.
	if held(0) != 60 || held(1) != 60 || held(2) != 60 || held(3) != 60 {
		t.Errorf("held connections by window: %d %d %d %d, want 60 in each", held(0), held(1), held(2), held(3))
	}
	reader := func(w int) uint32 {
		for _, p := range bs[w].Pairs {
			if p.Key == tcpKey("10.0.0.67", "10.0.0.10", 80) {
				return p.Held
			}
		}
		return 0
	}
	if reader(0) != 60 || reader(1) != 60 || reader(2) != 60 || reader(3) != 60 {
		t.Errorf("slow reader's held connections by window: %d %d %d %d, want 60 in each", reader(0), reader(1), reader(2), reader(3))
	}
	for w := range bs {
		for _, p := range bs[w].Pairs {
			if (p.Key.Src == addr("10.0.0.101") || p.Key.Src == addr("10.0.0.102")) && p.Held != 0 {
				t.Errorf("window %d: %v holds %d", w, p.Key.Src, p.Held)
			}
		}
	}
	if p := pairsOf(bs)[tcpKey("10.0.0.102", "10.0.0.10", 80)]; p.Requests != 20*15 {
		t.Errorf("the answered client completed %d requests, want 300", p.Requests)
	}
	if p := pairsOf(bs)[tcpKey("10.0.0.66", "10.0.0.10", 80)]; p.Requests != 0 {
		t.Errorf("slowloris completed %d requests: the server never answers with data", p.Requests)
	}
}

// TestSlowTurns checks the exchanges a slow guesser shows in: each try
// takes a second or more, because the server delays its answer to a wrong
// password or the client waits between tries; they count in sessions that
// end within 30 s, not in an interactive session's pauses.
func TestSlowTurns(t *testing.T) {
	const server = "10.0.0.10"
	// session opens a connection from src at s: the server's banner, then
	// tries answered after delay, each gap after the last answer, then
	// FIN at s+end.
	session := func(src string, sp uint16, s, gap, delay, end float64, tries int) []decode.PacketInfo {
		pkts := []decode.PacketInfo{
			tcpPkt(at(s), src, server, sp, 22, syn),
			tcpPkt(at(s+0.001), server, src, 22, sp, synAck),
			tcpPkt(at(s+0.002), src, server, sp, 22, ack),
			withPayload(tcpPkt(at(s+0.003), server, src, 22, sp, pshAck), 40, 0), // banner
			withPayload(tcpPkt(at(s+0.004), src, server, sp, 22, pshAck), 40, 0), // banner and key exchange
			withPayload(tcpPkt(at(s+0.010), server, src, 22, sp, pshAck), 900, 0),
		}
		r := s + 0.01
		for range tries {
			r += gap
			pkts = append(pkts, withPayload(tcpPkt(at(r), src, server, sp, 22, pshAck), 84, 0),
				withPayload(tcpPkt(at(r+delay), server, src, 22, sp, pshAck), 52, 0))
			r += delay
		}
		return append(pkts, tcpPkt(at(s+end), src, server, sp, 22, finAck), tcpPkt(at(s+end+0.001), server, src, 22, sp, finAck))
	}
	var pkts []decode.PacketInfo
	for c := range 3 {
		s := 1 + 20*float64(c)
		pkts = append(pkts, session("10.0.0.66", uint16(40000+c), s, 3, 0.005, 16, 5)...)   // hydra -c 3: the client waits
		pkts = append(pkts, session("10.0.0.67", uint16(40000+c), s, 0.01, 2, 15, 6)...)    // sshd with PAM: the server waits
		pkts = append(pkts, session("10.0.0.68", uint16(40000+c), s, 0.01, 0.005, 1, 6)...) // fast exchanges
	}
	pkts = append(pkts, session("10.0.0.101", 50000, 1, 2, 0.005, 70, 30)...) // an interactive session with pauses
	bs := behaviourOf(t, pkts, 80)
	ps := pairsOf(bs)
	for _, c := range []struct {
		src  string
		want uint32
	}{{"10.0.0.66", 15}, {"10.0.0.67", 18}, {"10.0.0.68", 0}, {"10.0.0.101", 0}} {
		if p := ps[tcpKey(c.src, server, 22)]; p.SlowTurns != c.want {
			t.Errorf("%s: %d slow turns in %d short sessions, want %d", c.src, p.SlowTurns, p.ShortSessions, c.want)
		}
	}
}

// TestSSHGreeting: a connection whose server greets in SSH counts once in
// its pair, on whatever port; the client's own identification string, or
// a second one from the server, does not count again.
func TestSSHGreeting(t *testing.T) {
	const server, client = "10.0.0.10", "10.0.0.66"
	banner := func(p decode.PacketInfo) decode.PacketInfo {
		p = withPayload(p, 40, 0)
		p.SSH = true
		return p
	}
	var pkts []decode.PacketInfo
	for c := range 3 {
		s, sp := 1+float64(c), uint16(40000+c)
		pkts = append(pkts,
			tcpPkt(at(s), client, server, sp, 902, syn),
			tcpPkt(at(s+0.001), server, client, 902, sp, synAck),
			tcpPkt(at(s+0.002), client, server, sp, 902, ack),
			banner(tcpPkt(at(s+0.003), server, client, 902, sp, pshAck)),
			banner(tcpPkt(at(s+0.004), client, server, sp, 902, pshAck)),
			banner(tcpPkt(at(s+0.005), server, client, 902, sp, pshAck)),
		)
	}
	// A web client whose request starts with the same four bytes: the
	// server did not greet in SSH.
	pkts = append(pkts,
		tcpPkt(at(5), client, server, 41000, 80, syn),
		tcpPkt(at(5.001), server, client, 80, 41000, synAck),
		tcpPkt(at(5.002), client, server, 41000, 80, ack),
		banner(tcpPkt(at(5.003), client, server, 41000, 80, pshAck)),
		withPayload(tcpPkt(at(5.004), server, client, 80, 41000, pshAck), 400, 0))
	ps := pairsOf(behaviourOf(t, pkts, 10))
	if got := ps[tcpKey(client, server, 902)].SSH; got != 3 {
		t.Errorf("port 902: %d connections greeted in SSH, want 3", got)
	}
	if got := ps[tcpKey(client, server, 80)].SSH; got != 0 {
		t.Errorf("port 80: %d connections greeted in SSH, want 0", got)
	}
}

// TestSSHLogin: a connection whose SSH login succeeds is counted as a
// login, by the size of the server's answer after the key exchange (16
// bytes less than its first encrypted answer, whatever the cipher); a
// guesser's failures, a server that is no SSH server, and a connection
// whose key exchange was not seen are not. The segment sizes are those of
// OpenSSH 9.2 recorded in the corpus (chacha20-poly1305), and of AES-GCM.
func TestSSHLogin(t *testing.T) {
	const server, client = "10.0.0.10", "10.0.0.108"
	type seg struct {
		fromClient bool
		size       uint32
	}
	conn := func(s float64, sp, port uint16, greet bool, segs []seg) []decode.PacketInfo {
		pkts := []decode.PacketInfo{
			tcpPkt(at(s), client, server, sp, port, syn),
			tcpPkt(at(s+0.001), server, client, port, sp, synAck),
			tcpPkt(at(s+0.002), client, server, sp, port, ack),
		}
		for i, g := range segs {
			var p decode.PacketInfo
			if g.fromClient {
				p = tcpPkt(at(s+0.01+float64(i)*0.01), client, server, sp, port, pshAck)
			} else {
				p = tcpPkt(at(s+0.01+float64(i)*0.01), server, client, port, sp, pshAck)
			}
			p = withPayload(p, g.size, 0)
			p.SSH = greet && i < 2 // both identification strings
			p.SSHNewKeys = g.size == 16
			pkts = append(pkts, p)
		}
		return pkts
	}
	c, sv := func(n uint32) seg { return seg{true, n} }, func(n uint32) seg { return seg{false, n} }
	kex := []seg{c(41), sv(41), c(1448), c(112), sv(1088), c(1208), sv(1448), sv(116), c(16)}
	keyLogin := append(append([]seg{}, kex...), c(44), sv(44), c(60), sv(52), c(140), sv(100), c(308), sv(28), c(112), sv(272), sv(200), c(52), sv(72))
	guesses := append(append([]seg{}, kex...), c(44), sv(44), c(68), sv(52), c(84), sv(52), c(84), sv(52), c(76), sv(52), c(76), sv(76))
	gcmLogin := append(append([]seg{}, kex...), c(52), sv(52), c(68), sv(68), c(84), sv(36), c(112), sv(272))
	// The server's NEWKEYS after the client's: skipped, not taken for the accept.
	lateNewKeys := append(append([]seg{}, kex...), sv(16), c(44), sv(44), c(308), sv(28))
	// Only the encrypted part seen (the capture began after the key
	// exchange): nothing tells where the login is.
	noKex := []seg{c(41), sv(41), c(44), sv(44), c(308), sv(28)}
	var pkts []decode.PacketInfo
	for i := range 4 {
		pkts = append(pkts, conn(1+float64(i), uint16(40000+i), 22, true, keyLogin)...)
		pkts = append(pkts, conn(1.5+float64(i), uint16(41000+i), 2222, true, guesses)...)
	}
	pkts = append(pkts, conn(6, 42000, 22, true, gcmLogin)...)
	pkts = append(pkts, conn(6.5, 42001, 22, true, lateNewKeys)...)
	pkts = append(pkts, conn(7, 42002, 22, true, noKex)...)
	pkts = append(pkts, conn(7.5, 43000, 8080, false, keyLogin)...) // no SSH greeting
	ps := pairsOf(behaviourOf(t, pkts, 20))
	for _, w := range []struct {
		port         uint16
		logins, conn uint32
	}{{22, 6, 7}, {2222, 0, 4}, {8080, 0, 1}} {
		p := ps[tcpKey(client, server, w.port)]
		if p.Logins != w.logins || p.Established != w.conn {
			t.Errorf("port %d: %d logins of %d connections, want %d of %d", w.port, p.Logins, p.Established, w.logins, w.conn)
		}
	}
}

// TestBehaviourBounded floods the tables with a million forged sources:
// memory and the reported lists stay bounded, losses are counted, and a
// host that recurs still gets in.
func TestBehaviourBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("a million packets")
	}
	r := rand.New(rand.NewPCG(1, 2))
	var wins []*Window
	a := NewAggregator(cfg10s(), "eth0", func(w *Window) { wins = append(wins, w) })
	a.Advance(t0)
	for i := range 1_000_000 {
		p := ipPkt(t0+int64(i)*5000, decode.ProtoTCP, addrN(r.Uint32()), addr("10.0.0.10"), uint16(r.Uint32()), uint16(r.IntN(65536)))
		p.TCPFlags = syn
		a.Add(&p)
		if i%1000 == 0 { // a real client keeps connecting
			q := tcpPkt(p.Time, "192.0.2.7", "10.0.0.10", uint16(i/1000), 22, syn)
			a.Add(&q)
		}
	}
	a.Advance(t0 + 10*sec)
	w := wins[0]
	b := &w.Behaviour
	if len(b.Pairs) > MaxPairsReported || len(b.Services) > MaxServicesReported || len(b.Hosts) > MaxHostsReported {
		t.Errorf("reported %d pairs, %d services, %d hosts: over the caps", len(b.Pairs), len(b.Services), len(b.Hosts))
	}
	if b.Dropped.Pairs == 0 || b.Dropped.Hosts == 0 || a.Counters().BehaviourDropped.Pairs == 0 {
		t.Errorf("no loss counted under a million forged sources: %+v", b.Dropped)
	}
	if a.bh.pairs.mask+1 != pairSlots || a.bh.hosts.mask+1 != hostSlots {
		t.Errorf("tables grew")
	}
	var client PairActivity
	for _, p := range b.Pairs {
		if p.Key == tcpKey("192.0.2.7", "10.0.0.10", 22) {
			client = p
		}
	}
	if client.Syns < 900 {
		t.Errorf("the recurring client's SYNs: %d of 1000 counted", client.Syns)
	}
	if s := servicesOf([]Behaviour{*b})[svcKey("10.0.0.10", 0, decode.ProtoTCP)]; s.Syns != 1_001_000 {
		t.Errorf("host-wide SYNs to the victim: %d, want all 1001000", s.Syns)
	}
}

// TestPartialWindows checks that a window the capture saw only part of
// has its rates over that part.
func TestPartialWindows(t *testing.T) {
	var wins []*Window
	a := NewAggregator(cfg10s(), "eth0", func(w *Window) { wins = append(wins, w) })
	// A file that starts 7.5 s into a window, 100 packets a second.
	for i := range 1250 {
		p := udp(at(7.5 + float64(i)*0.01))
		a.Add(&p)
	}
	a.Flush() // ends at 19.99
	if len(wins) != 2 {
		t.Fatalf("%d windows, want 2", len(wins))
	}
	for i, want := range []float64{2.5, 9.99} {
		w := wins[i]
		if !w.Partial || !near(w.Seconds, want, 1e-9) || !near(w.Features[PacketsPerSecond], 100, 1) {
			t.Errorf("window %d: partial %v, %v s, %v packets/s; want partial, %v s, 100 packets/s", i, w.Partial, w.Seconds, w.Features[PacketsPerSecond], want)
		}
	}

	// A live source that goes down for 22 s and comes back.
	wins = nil
	a = NewAggregator(cfg10s(), "eth0", func(w *Window) { wins = append(wins, w) })
	a.Advance(t0)
	for i := range 500 {
		s := float64(i) * 0.1
		switch i {
		case 140:
			a.SourceDown(at(14))
		case 360:
			a.SourceUp(at(36))
		}
		if i >= 140 && i < 360 {
			continue
		}
		p := udp(at(s))
		a.Add(&p)
	}
	a.Advance(at(50))
	secs := make([]float64, len(wins))
	for i, w := range wins {
		secs[i] = w.Seconds
		if w.Seconds > 0 && !near(w.Features[PacketsPerSecond], 10, 0.3) {
			t.Errorf("window %d: %v packets/s over %v s, want 10", i, w.Features[PacketsPerSecond], w.Seconds)
		}
		if w.Seconds == 0 && w.Features[PacketsPerSecond] != 0 {
			t.Errorf("window %d saw nothing but has %v packets/s", i, w.Features[PacketsPerSecond])
		}
	}
	want := []float64{10, 4, 0, 4, 10}
	if len(secs) != len(want) {
		t.Fatalf("covered seconds %v, want %v", secs, want)
	}
	for i := range want {
		if !near(secs[i], want[i], 1e-9) || wins[i].Partial != (want[i] < 10) {
			t.Errorf("covered seconds %v, want %v", secs, want)
			break
		}
	}
}

func udp(t int64) decode.PacketInfo {
	return udpPkt(t, "10.0.0.1", "10.0.0.2", 40000, 53)
}

// TestTableFull: a full table still finds the keys it holds, drops the
// others without probing, and takes new keys again after a reset.
func TestTableFull(t *testing.T) {
	tb := newTable[uint64, int](16)
	hash := func(k uint64) uint64 { return max(sketch.Mix64(k), 1) }
	// Past half full keys need two sightings; look every key up twice.
	for k := range uint64(1000) {
		tb.index(hash(k), k)
		tb.index(hash(k), k)
		if len(tb.used) == len(tb.hashes) {
			break
		}
	}
	if len(tb.used) != len(tb.hashes) {
		t.Fatalf("table holds %d keys, want %d (full)", len(tb.used), len(tb.hashes))
	}
	for _, i := range tb.used {
		if got := tb.index(tb.hashes[i], tb.keys[i]); got != i {
			t.Errorf("key %d: slot %d, want %d", tb.keys[i], got, i)
		}
	}
	dropped := tb.dropped
	for k := uint64(1 << 40); k < 1<<40+100; k++ {
		if got := tb.index(hash(k), k); got != -1 {
			t.Fatalf("new key %d in a full table: slot %d, want -1", k, got)
		}
	}
	if tb.dropped != dropped+100 {
		t.Errorf("dropped %d, want %d", tb.dropped, dropped+100)
	}
	tb.reset()
	if got := tb.index(hash(1<<40), 1<<40); got < 0 {
		t.Errorf("after reset: slot %d, want a slot", got)
	}
}

// TestEchoMismatch: a ping's replies repeat its requests; a tunnel's carry
// data of their own, of other lengths.
func TestEchoMismatch(t *testing.T) {
	echo := func(t0 float64, proto decode.Protocol, src, dst string, typ uint8, wire uint32) decode.PacketInfo {
		p := icmpPkt(at(t0), proto, src, dst, typ, 0)
		p.WireLen, p.CapLen = wire, min(wire, 256)
		return p
	}
	var pkts []decode.PacketInfo
	for i := range 10 {
		s := 1 + float64(i)*0.5
		// A ping of 1000 bytes, answered in kind (cut by the snap length
		// alike: lengths on the wire count).
		pkts = append(pkts, echo(s, decode.ProtoICMP, "10.0.0.1", "10.0.0.2", 8, 1042), echo(s+0.01, decode.ProtoICMP, "10.0.0.2", "10.0.0.1", 0, 1042))
		// A tunnel: requests of one length, replies of another, six of ten.
		reply := uint32(166)
		if i < 6 {
			reply = 98 + uint32(i)
		}
		pkts = append(pkts, echo(s, decode.ProtoICMP, "10.0.0.3", "10.0.0.4", 8, 166), echo(s+0.01, decode.ProtoICMP, "10.0.0.4", "10.0.0.3", 0, reply))
		// The same over IPv6.
		pkts = append(pkts, echo(s, decode.ProtoICMPv6, "fd00::3", "fd00::4", 128, 200), echo(s+0.01, decode.ProtoICMPv6, "fd00::4", "fd00::3", 129, 120))
		// Pings carrying data out: the data changes from request to
		// request, and the far end echoes it; a pinger's timestamp
		// changes, not its data.
		up := echo(s, decode.ProtoICMP, "10.0.0.7", "10.0.0.8", 8, 1094)
		up.DataHash = uint32(1000 + i)
		upReply := echo(s+0.01, decode.ProtoICMP, "10.0.0.8", "10.0.0.7", 0, 1094)
		upReply.DataHash = up.DataHash
		ping := echo(s, decode.ProtoICMP, "10.0.0.9", "10.0.0.8", 8, 98)
		ping.DataHash = 77
		pkts = append(pkts, up, upReply, ping)
		// Replies whose requests the capture did not see.
		pkts = append(pkts, echo(s, decode.ProtoICMP, "10.0.0.6", "10.0.0.5", 0, 300))
	}
	pairs := pairsOf(behaviourOf(t, pkts, 10))
	for _, c := range []struct {
		src, dst string
		proto    decode.Protocol
		want     uint32
	}{
		{"10.0.0.1", "10.0.0.2", decode.ProtoICMP, 0},
		{"10.0.0.3", "10.0.0.4", decode.ProtoICMP, 6},
		{"fd00::3", "fd00::4", decode.ProtoICMPv6, 10},
	} {
		p := pairs[PairKey{Src: addr(c.src), Dst: addr(c.dst), Proto: c.proto}]
		if p.EchoMismatch != c.want || p.Replies != 10 {
			t.Errorf("%s to %s: %d replies, %d unlike their request; want 10, %d", c.src, c.dst, p.Replies, p.EchoMismatch, c.want)
		}
	}
	if up, ping := pairs[PairKey{Src: addr("10.0.0.7"), Dst: addr("10.0.0.8"), Proto: decode.ProtoICMP}], pairs[PairKey{Src: addr("10.0.0.9"), Dst: addr("10.0.0.8"), Proto: decode.ProtoICMP}]; up.EchoVaried != 9 || up.EchoMismatch != 0 || ping.EchoVaried != 0 {
		t.Errorf("requests with changing data: %d (and %d replies unlike them), a pinger's %d; want 9 (the first has none before it), 0, 0", up.EchoVaried, up.EchoMismatch, ping.EchoVaried)
	}
	for k, p := range pairs {
		if p.EchoMismatch > 0 && k.Src == addr("10.0.0.6") || k.Src == addr("10.0.0.5") && p.EchoMismatch > 0 {
			t.Errorf("replies without a request counted: %+v", p)
		}
	}
}

// TestNewProtocols: IP protocols besides TCP, UDP and ICMP are first
// contacts per destination: a protocol scan tries many on one host, a
// tunnel uses one, routing protocols go to groups.
func TestNewProtocols(t *testing.T) {
	var pkts []decode.PacketInfo
	other := func(s float64, src, dst string, proto uint8) decode.PacketInfo {
		p := ipPkt(at(s), decode.ProtoOther, addr(src), addr(dst), 0, 0)
		p.IPProto = proto
		return p
	}
	for i := range 40 {
		s := 1 + 0.1*float64(i)
		pkts = append(pkts,
			other(s, "10.0.0.66", "10.0.0.10", uint8(2+i)),    // a protocol scan
			other(s, "10.0.0.1", "10.0.0.2", 47),              // a GRE tunnel
			other(s, "10.0.0.3", "224.0.0.18", uint8(100+i)),  // to a group
			other(s+10, "10.0.0.66", "10.0.0.10", uint8(2+i)), // the scan again, next window
		)
	}
	frag := other(2, "10.0.0.5", "10.0.0.10", 17)
	frag.Fragment, frag.NonFirstFragment = true, true
	pkts = append(pkts, frag)
	bs := behaviourOf(t, pkts, 20)
	got := map[[16]byte][2]uint32{}
	for i, b := range bs {
		for _, h := range b.Hosts {
			v := got[h.Addr]
			v[i] = h.NewProtocols
			got[h.Addr] = v
			if h.NewProtocols > 0 && h.Addr == addr("10.0.0.66") && h.ProtocolTarget != addr("10.0.0.10") {
				t.Errorf("the scan's target %v", h.ProtocolTarget)
			}
		}
	}
	for _, c := range []struct {
		src  string
		want [2]uint32
	}{{"10.0.0.66", [2]uint32{40, 0}}, {"10.0.0.1", [2]uint32{1, 0}}, {"10.0.0.3", [2]uint32{}}, {"10.0.0.5", [2]uint32{}}} {
		if g := got[addr(c.src)]; g != c.want {
			t.Errorf("%s: new protocols %v in the two windows, want %v", c.src, g, c.want)
		}
	}
}

// TestSCTPAssociations: an SCTP INIT opens an attempt on its port as a
// SYN does (nmap -sY, -sZ): an INIT ACK answers it, an ABORT or an ICMP
// unreachable refuses it, silence leaves it unanswered; each port is a
// first contact.
func TestSCTPAssociations(t *testing.T) {
	const scanner, target, peer, server = "10.0.0.66", "10.0.0.10", "10.0.0.20", "10.0.0.30"
	chunk := func(s float64, src, dst string, sport, dport uint16, c uint8) decode.PacketInfo {
		p := ipPkt(at(s), decode.ProtoOther, addr(src), addr(dst), sport, dport)
		p.IPProto, p.SCTPChunk, p.SrcPort, p.DstPort = 132, c, sport, dport
		return p
	}
	var pkts []decode.PacketInfo
	for i := range 30 {
		port, s := uint16(2900+i), 1+0.01*float64(i)
		pkts = append(pkts, chunk(s, scanner, target, 40000, port, 1))
		switch i % 3 {
		case 0: // closed: ABORT
			pkts = append(pkts, chunk(s+0.001, target, scanner, port, 40000, 6))
		case 1: // no SCTP on the host: protocol unreachable
			p := icmpPkt(at(s+0.001), decode.ProtoICMP, target, scanner, 3, 2)
			p.Refusal, p.RefusedProto, p.RefusedSrc, p.RefusedDst = true, 132, 40000, port
			pkts = append(pkts, p)
		}
	}
	// A signalling peer's association: INIT, INIT ACK, COOKIE ECHO,
	// COOKIE ACK, then DATA both ways.
	for i, c := range []struct {
		from, to string
		chunk    uint8
	}{{peer, server, 1}, {server, peer, 2}, {peer, server, 10}, {server, peer, 11}, {peer, server, 0}, {server, peer, 0}} {
		sp, dp := uint16(2905), uint16(2905)
		pkts = append(pkts, chunk(2+0.01*float64(i), c.from, c.to, sp, dp, c.chunk))
	}
	// Backscatter: INIT ACKs and ABORTs answering INITs forged in the
	// scanner's name; the hosts that send them open nothing.
	const reflector = "10.0.0.40"
	for i := range 30 {
		pkts = append(pkts, chunk(3+0.01*float64(i), reflector, scanner, 80, uint16(1000+i), uint8(2+4*(i%2))))
	}
	bs := behaviourOf(t, pkts, 30)
	hs := hostsOf(bs)
	if h := hs[addr(reflector)]; h.NewPorts+h.FailedFirst+h.OKFirst > 0 {
		t.Errorf("answers to forged INITs made their sender an initiator: %+v", h)
	}
	if sc := hs[addr(scanner)]; sc.NewPorts != 30 || sc.FailedFirst != 30 || sc.OKFirst != 0 || sc.Target != addr(target) {
		t.Errorf("scanner: %d new ports, %d failed, %d ok, target %v; want 30, 30, 0, the target", sc.NewPorts, sc.FailedFirst, sc.OKFirst, sc.Target)
	}
	ps := pairsOf(bs)
	key := func(src, dst string, port uint16) PairKey {
		return PairKey{Src: addr(src), Dst: addr(dst), Port: port, Proto: ProtoSCTP}
	}
	for _, c := range []struct {
		name                    string
		key                     PairKey
		refused, unanswered, ok uint32
	}{
		{"closed port", key(scanner, target, 2900), 1, 0, 0},
		{"no SCTP", key(scanner, target, 2901), 1, 0, 0},
		{"filtered", key(scanner, target, 2902), 0, 1, 0},
		{"an association", key(peer, server, 2905), 0, 0, 1},
	} {
		if p := ps[c.key]; p.Attempts != 1 || p.Refused != c.refused || p.Unanswered != c.unanswered || p.Established != c.ok {
			t.Errorf("%s: %d attempts, %d refused, %d unanswered, %d established; want 1, %d, %d, %d",
				c.name, p.Attempts, p.Refused, p.Unanswered, p.Established, c.refused, c.unanswered, c.ok)
		}
	}
	if h := hs[addr(target)]; h.NewPorts+h.FailedFirst+h.OKFirst > 0 {
		t.Errorf("the target's ABORTs made it an initiator: %+v", h)
	}
}

// TestLoginsAccepted: a login the server accepts in the clear (an
// authenticated mail submission's 235) counts once a connection; a
// refused one, and an acceptance sent by the client, do not.
func TestLoginsAccepted(t *testing.T) {
	const server, app, guesser = "10.0.0.10", "10.0.0.20", "10.0.0.66"
	conn := func(s float64, client string, sp uint16, answers ...decode.PacketInfo) []decode.PacketInfo {
		pkts := []decode.PacketInfo{
			tcpPkt(at(s), client, server, sp, 587, syn),
			tcpPkt(at(s+0.001), server, client, 587, sp, synAck),
			tcpPkt(at(s+0.002), client, server, sp, 587, ack),
		}
		for i, a := range answers {
			q := withPayload(tcpPkt(at(s+0.01+0.01*float64(i)), client, server, sp, 587, pshAck), 30, 0)
			a.Time = at(s + 0.015 + 0.01*float64(i))
			pkts = append(pkts, q, a)
		}
		return pkts
	}
	answer := func(client string, sp uint16, accepted, refused bool) decode.PacketInfo {
		p := withPayload(tcpPkt(0, server, client, 587, sp, pshAck), 40, 0)
		p.AuthAccepted, p.AuthRefused = accepted, refused
		return p
	}
	var pkts []decode.PacketInfo
	for i := range 5 {
		sp := uint16(40000 + i)
		// EHLO, AUTH: accepted (twice: counted once), MAIL.
		pkts = append(pkts, conn(1+float64(i), app, sp, answer(app, sp, false, false), answer(app, sp, true, false), answer(app, sp, true, false), answer(app, sp, false, false))...)
		sp = uint16(41000 + i)
		pkts = append(pkts, conn(1.5+float64(i), guesser, sp, answer(guesser, sp, false, false), answer(guesser, sp, false, true))...)
	}
	// A client whose data happens to read as an acceptance.
	c := conn(8, guesser, 42000)
	p := withPayload(tcpPkt(at(8.01), guesser, server, 42000, 587, pshAck), 30, 0)
	p.AuthAccepted = true
	pkts = append(pkts, append(c, p)...)
	ps := pairsOf(behaviourOf(t, pkts, 20))
	for _, w := range []struct {
		client          string
		logins, refused uint32
	}{{app, 5, 0}, {guesser, 0, 5}} {
		p := ps[tcpKey(w.client, server, 587)]
		if p.Logins != w.logins || p.AuthRefused != w.refused {
			t.Errorf("%s: %d logins, %d refused; want %d and %d", w.client, p.Logins, p.AuthRefused, w.logins, w.refused)
		}
	}
}

// TestSNMPCommunities: a guesser's community changes from request to
// request on its socket; a poller's retries and a discovery trying a few
// communities, each from a new socket, change none.
func TestSNMPCommunities(t *testing.T) {
	const guesser, poller, nms, agent = "10.0.0.66", "10.0.0.5", "10.0.0.6", "10.0.0.10"
	req := func(s float64, src string, sport uint16, community uint32) decode.PacketInfo {
		p := udpPkt(at(s), src, agent, sport, 161)
		p.DataHash = community
		return p
	}
	var pkts []decode.PacketInfo
	for i := range 30 {
		s := 1 + 0.1*float64(i)
		pkts = append(pkts,
			req(s, guesser, 40000, uint32(100+i)), // onesixtyone: one socket, the next community each time
			req(s, poller, 40001, 7),              // one community, answered
			udpPkt(at(s+0.001), agent, poller, 161, 40001),
			req(s, poller, 40002, 8), // a wrong one, retried unanswered
		)
	}
	for i := range 3 { // a discovery: one socket a community
		pkts = append(pkts, req(5+float64(i), nms, uint16(41000+i), uint32(200+i)))
	}
	ps := pairsOf(behaviourOf(t, pkts, 30))
	for _, c := range []struct {
		src  string
		want uint32
	}{{guesser, 29}, {poller, 0}, {nms, 0}} {
		k := PairKey{Src: addr(c.src), Dst: addr(agent), Port: 161, Proto: decode.ProtoUDP}
		if got := ps[k].Communities; got != c.want {
			t.Errorf("%s: %d communities changed, want %d", c.src, got, c.want)
		}
	}
}

// TestTLSSetupIsNoRequest: a TLS connection's handshake flights, each
// answered, are its set-up; its requests are the application data turns
// after them, as over plain HTTP.
func TestTLSSetupIsNoRequest(t *testing.T) {
	var pkts []decode.PacketInfo
	tls := func(p decode.PacketInfo, n uint32) decode.PacketInfo {
		p.Payload, p.TLSSetup = n, true
		return p
	}
	for c := range 10 {
		s, port := float64(c), uint16(40000+c)
		pkts = append(pkts,
			tcpPkt(at(s), "10.0.0.101", "10.0.0.10", port, 443, decode.TCPSyn),
			tcpPkt(at(s+0.01), "10.0.0.10", "10.0.0.101", 443, port, decode.TCPSyn|decode.TCPAck),
			tcpPkt(at(s+0.02), "10.0.0.101", "10.0.0.10", port, 443, decode.TCPAck),
			tls(tcpPkt(at(s+0.03), "10.0.0.101", "10.0.0.10", port, 443, pshAck), 300),  // client hello
			tls(tcpPkt(at(s+0.04), "10.0.0.10", "10.0.0.101", 443, port, pshAck), 1400), // server hello ... finished
			tls(tcpPkt(at(s+0.05), "10.0.0.101", "10.0.0.10", port, 443, pshAck), 80),   // change cipher spec, finished
			tcpPkt(at(s+0.06), "10.0.0.10", "10.0.0.101", 443, port, decode.TCPAck),
		)
		// Three requests on the connection, each answered.
		for r := range 3 {
			q := s + 0.1 + 0.1*float64(r)
			pkts = append(pkts,
				withPayload(tcpPkt(at(q), "10.0.0.101", "10.0.0.10", port, 443, pshAck), 120, 0),
				withPayload(tcpPkt(at(q+0.01), "10.0.0.10", "10.0.0.101", 443, port, pshAck), 900, 0))
		}
	}
	if p := pairsOf(behaviourOf(t, pkts, 30))[tcpKey("10.0.0.101", "10.0.0.10", 443)]; p.Requests != 30 || p.Established != 10 {
		t.Errorf("10 TLS connections of 3 requests each: %d requests, %d established; want 30, 10", p.Requests, p.Established)
	}
}

// TestAuthRefused: a web server's 401 answers are counted on the pair of
// the client whose requests they answer; its 200 answers are not.
func TestAuthRefused(t *testing.T) {
	var pkts []decode.PacketInfo
	answer := func(p decode.PacketInfo, refused bool) decode.PacketInfo {
		p.Payload, p.AuthRefused = 400, refused
		return p
	}
	for c := range 12 {
		s, port := float64(c), uint16(40000+c)
		pkts = append(pkts,
			tcpPkt(at(s), "10.0.0.66", "10.0.0.10", port, 80, decode.TCPSyn),
			tcpPkt(at(s+0.01), "10.0.0.10", "10.0.0.66", 80, port, decode.TCPSyn|decode.TCPAck),
			tcpPkt(at(s+0.02), "10.0.0.66", "10.0.0.10", port, 80, decode.TCPAck),
			withPayload(tcpPkt(at(s+0.03), "10.0.0.66", "10.0.0.10", port, 80, pshAck), 150, decode.HTTPGet),
			answer(tcpPkt(at(s+0.04), "10.0.0.10", "10.0.0.66", 80, port, pshAck), c%4 != 0), // every fourth guess's answer is a page
		)
	}
	if p := pairsOf(behaviourOf(t, pkts, 30))[tcpKey("10.0.0.66", "10.0.0.10", 80)]; p.AuthRefused != 9 || p.Requests != 12 {
		t.Errorf("12 requests, 9 answered 401: %d refused, %d requests; want 9, 12", p.AuthRefused, p.Requests)
	}
}
