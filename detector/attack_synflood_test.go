package detector

import (
	"fmt"
	"strings"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

func TestSynFlood(t *testing.T) {
	reflector := ip("198.51.100.80")
	flood := func(port uint16, c features.Conns) bw {
		all := c
		return bw{
			pairs:    []features.PairActivity{tcp(attacker, victim, port, c)},
			services: []features.ServiceActivity{svc(victim, port, c), hostWide(victim, features.ProtoTCP, all)},
		}
	}
	web := func(syns uint32) features.Conns { return features.Conns{Attempts: syns, Syns: syns} }
	openReset := web(3000)
	openReset.HalfOpen = 3000
	closed := web(3000)
	closed.Refused = 3000
	filtered := web(3000)
	filtered.Unanswered = 3000
	busy := web(5000)
	busy.Established = 4990
	open := flood(80, openReset)
	open.services[0].SynAcks = 3000

	var spoofed bw
	for i := range 200 {
		spoofed.pairs = append(spoofed.pairs, tcp(ip(fmt.Sprintf("198.18.%d.%d", i/100, i%100+1)), victim, 443, features.Conns{Attempts: 1, Syns: 1, Unanswered: 1}))
	}
	spoofed.services = []features.ServiceActivity{svc(victim, 443, web(5000)), hostWide(victim, features.ProtoTCP, web(5000))}
	spoofed.services[0].NewSources = 5000

	// A scan over changing ports: one source, each port once.
	scan := bw{services: []features.ServiceActivity{hostWide(victim, features.ProtoTCP, web(3000))},
		hosts: []features.HostActivity{{Addr: attacker, NewPorts: 3000, NewHosts: 1, FailedFirst: 3000, Target: victim, TargetPorts: 3000}}}
	for p := range 100 {
		scan.pairs = append(scan.pairs, tcp(attacker, victim, uint16(1000+p), features.Conns{Attempts: 1, Syns: 1, Refused: 1}))
	}
	// A connect scan from Windows: 300 ports refused, each tried 8 times
	// (two sockets a port, each retried after the RST).
	retrying := bw{services: []features.ServiceActivity{hostWide(victim, features.ProtoTCP, web(2400))},
		hosts: []features.HostActivity{{Addr: attacker, NewPorts: 300, NewHosts: 1, FailedFirst: 300, Target: victim, TargetPorts: 300}}}
	for p := range 300 {
		retrying.pairs = append(retrying.pairs, tcp(attacker, victim, uint16(1000+p), features.Conns{Attempts: 8, Syns: 8, Refused: 8}))
	}
	// The same scan again a minute later: no port is a first contact.
	rescan := bw{services: []features.ServiceActivity{hostWide(victim, features.ProtoTCP, web(2400))}}
	for p := range 300 {
		rescan.pairs = append(rescan.pairs, tcp(attacker, victim, uint16(1000+p), features.Conns{Attempts: 8, Syns: 8, Refused: 8}))
	}
	// The same walk at a flood's pace: 12,000 ports in 20 s.
	fastScan := bw{services: []features.ServiceActivity{hostWide(victim, features.ProtoTCP, web(12000))},
		hosts: []features.HostActivity{{Addr: attacker, NewPorts: 12000, NewHosts: 1, FailedFirst: 12000, Target: victim, TargetPorts: 12000}}}
	for p := range 1000 { // the busiest pairs the window lists
		fastScan.pairs = append(fastScan.pairs, tcp(attacker, victim, uint16(1000+p), features.Conns{Attempts: 1, Syns: 1, Refused: 1}))
	}
	// A flood over 100 ports, each 60 times.
	overPorts := bw{services: []features.ServiceActivity{hostWide(victim, features.ProtoTCP, web(6000))},
		hosts: []features.HostActivity{{Addr: attacker, NewPorts: 100, NewHosts: 1, FailedFirst: 100, Target: victim, TargetPorts: 100}}}
	for p := range 100 {
		overPorts.pairs = append(overPorts.pairs, tcp(attacker, victim, uint16(1000+p), features.Conns{Attempts: 60, Syns: 60, Refused: 60}))
		overPorts.services = append(overPorts.services, svc(victim, uint16(1000+p), features.Conns{Attempts: 60, Syns: 60, Refused: 60}))
	}
	reflected := bw{
		pairs:    []features.PairActivity{tcp(reflector, victim, 443, features.Conns{Unsolicited: 3000}), tcp(ip("198.51.100.81"), victim, 80, features.Conns{Unsolicited: 2000})},
		services: []features.ServiceActivity{hostWide(victim, features.ProtoTCP, features.Conns{Unsolicited: 5000})},
	}
	// An open port under 1000 SYNs: the sender's kernel resets each
	// SYN-ACK, so it sends twice as many packets as SYNs.
	resetsUnder := web(700)
	resetsUnder.HalfOpen, resetsUnder.Packets = 700, 1400
	half := flood(80, filtered)
	half.pairs[0].Syns, half.services[0].Syns, half.services[1].Syns = 600, 600, 600

	// A connection flood (nping --tcp-connect): handshakes complete, the
	// client sends nothing. Health checks: a handshake every second from
	// each of 20 load balancers, nothing said.
	connFlood := web(3000)
	connFlood.Established, connFlood.Silent = 3000, 3000
	checks := web(400)
	checks.Established, checks.Silent = 400, 400
	busySilent := busy
	busySilent.Silent = 40

	checkRuleCases(t, SynFlood, []ruleCase{
		{name: "a connection flood: handshakes completed, nothing sent", windows: []bw{flood(6379, connFlood)}, want: true, sources: srcs(attacker), targets: srcs(victim)},
		{name: "health checks from load balancers", windows: repeat(3, flood(8080, checks))},
		{name: "a busy server, a few clients saying nothing", windows: []bw{flood(80, busySilent)}},
		{name: "open port, the sender's kernel resets the SYN-ACKs", windows: []bw{open}, want: true, sources: srcs(attacker), targets: srcs(victim)},
		{name: "closed port, refused", windows: []bw{flood(81, closed)}, want: true, sources: srcs(attacker), targets: srcs(victim)},
		{name: "filtered port, silence", windows: []bw{flood(8081, filtered)}, want: true, sources: srcs(attacker), targets: srcs(victim)},
		{name: "forged sources, each a SYN", windows: []bw{spoofed}, want: true, targets: srcs(victim), spoofed: true},
		{name: "700 SYNs and their resets are under the floor", windows: []bw{flood(80, resetsUnder)}},
		{name: "a busy server completes its handshakes", windows: []bw{flood(80, busy)}},
		{name: "a burst cut by the window grid", windows: []bw{half, half}, want: true, sources: srcs(attacker), targets: srcs(victim)},
		{name: "half a burst is under the floor", windows: []bw{half}},
		{name: "a flood that stopped", windows: []bw{flood(81, closed), {}}},
		{name: "a scan over changing ports is no flood", windows: []bw{scan}},
		{name: "a scan retrying each refused port is no flood", windows: []bw{retrying}},
		{name: "a scan of ports probed before is no flood", windows: []bw{rescan}},
		{name: "a walk over ports at a flood's pace", windows: []bw{fastScan}, want: true, sources: srcs(attacker), targets: srcs(victim)},
		{name: "a flood over ports that repeat", windows: []bw{overPorts}, want: true, sources: srcs(attacker), targets: srcs(victim)},
		{name: "SYN-ACKs nobody asked for", windows: []bw{reflected}, want: true, sources: srcs(reflector, ip("198.51.100.81")), targets: srcs(victim)},
	})
	// An ACK flood: bare ACKs, each reset by the target, next to a few
	// clients' handshakes.
	acks := features.Conns{Attempts: 5000, Refused: 5000, Packets: 5000}
	ackFlood := bw{pairs: []features.PairActivity{tcp(attacker, victim, 80, acks), tcp(ip("10.0.0.101"), victim, 80, features.Conns{Attempts: 8, Syns: 8, Established: 8})},
		services: []features.ServiceActivity{svc(victim, 80, acks), hostWide(victim, features.ProtoTCP, acks)}}
	ackFlood.services[0].Syns, ackFlood.services[0].Established, ackFlood.services[0].SynAcks = 8, 8, 8
	v := runRules(t, []bw{ackFlood})
	if a := attackOf(v.Attacks, SynFlood); a == nil || !sameSet(a.Sources, srcs(attacker)) || !strings.Contains(a.Summary, "without SYN") || !strings.Contains(a.Summary, "refuses them with RSTs") {
		t.Errorf("ACK flood: %+v, want a SYN flood of packets without SYN from the attacker, refused with RSTs", a)
	}
	// A flood's count is its SYNs, not the packets of its resets.
	withResets := openReset
	withResets.Packets = 6000
	if a := attackOf(runRules(t, []bw{flood(80, withResets)}).Attacks, SynFlood); a == nil || !strings.HasPrefix(a.Summary, "3000 SYNs to port 80") {
		t.Errorf("3000 SYNs, each SYN-ACK reset by the sender: %+v, want a SYN flood of 3000 SYNs", a)
	}
	// The walk at a flood's pace is named a scan as well.
	if v := runRules(t, []bw{fastScan}); attackOf(v.Attacks, PortScan) == nil {
		t.Errorf("a walk over ports at a flood's pace: attacks %v, want port_scan too", types(v.Attacks))
	}
}
