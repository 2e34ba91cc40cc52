package detector

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

func TestPortScan(t *testing.T) {
	vertical := bw{hosts: []features.HostActivity{{Addr: attacker, NewPorts: 1000, NewHosts: 1, FailedFirst: 990, OKFirst: 10, Target: victim, TargetPorts: 1000}}}
	horizontal := bw{hosts: []features.HostActivity{{Addr: attacker, NewPorts: 254, NewHosts: 254, FailedFirst: 250, OKFirst: 4}}}
	var swept [][16]byte
	for i := range 254 {
		h := ip(fmt.Sprintf("10.0.1.%d", i+1))
		attempts := uint32(1)
		if i < 10 {
			attempts = 3 // retried: the first ten named
			swept = append(swept, h)
		}
		horizontal.pairs = append(horizontal.pairs, tcp(attacker, h, 22, features.Conns{Attempts: attempts, Syns: attempts, Unanswered: attempts}))
	}
	// The sweeping host also fetched pages from a web server it uses: the
	// server is no target of the sweep.
	usesServer := horizontal
	usesServer.pairs = append(slices.Clone(horizontal.pairs), tcp(attacker, lanAddr(80), 443, features.Conns{Attempts: 20, Syns: 20, Established: 20}))
	busyClient := bw{hosts: []features.HostActivity{{Addr: lanAddr(7), NewPorts: 40, NewHosts: 30, FailedFirst: 2, OKFirst: 38}}}
	slow := bw{hosts: []features.HostActivity{{Addr: attacker, NewPorts: 3, NewHosts: 0, FailedFirst: 3, Target: victim, TargetPorts: 3}}}
	arp := bw{hosts: []features.HostActivity{{Addr: attacker, ARPRequests: 254, ARPAnswered: 12}}}
	router := bw{hosts: []features.HostActivity{{Addr: lanAddr(1), ARPRequests: 60, ARPAnswered: 58}}}
	oneWay := vertical
	oneWay.oneWay = true
	// A vulnerability scanner (X-Scan) probing ports while it guesses SMB
	// passwords: two behaviours, both named.
	guessing := vertical
	guessing.pairs = []features.PairActivity{tcp(attacker, victim, 445, features.Conns{Attempts: 30, Syns: 30, Established: 30})}
	guessing.pairs[0].Sessions, guessing.pairs[0].ShortSessions = 30, 30
	// A second scan of the same ports: none is a first contact.
	var rescan bw
	for p := range 100 {
		rescan.pairs = append(rescan.pairs, tcp(attacker, victim, uint16(1000+p), features.Conns{Attempts: 2, Syns: 2, Refused: 2}))
	}
	// The same host a window later: a connection that works (a walk that
	// ended: hping3 sending UDP over changing ports, named as a flood,
	// then the host's own web traffic), or more ports failed (it goes on).
	var connects, walksOn bw
	connects.pairs = []features.PairActivity{tcp(attacker, victim, 443, features.Conns{Attempts: 1, Syns: 1, Established: 1})}
	for p := range 10 {
		walksOn.pairs = append(walksOn.pairs, tcp(attacker, victim, uint16(2000+p), features.Conns{Attempts: 1, Syns: 1, Refused: 1}))
	}
	// Whether a host whose first contacts failed by the thousand a minute
	// ago (a flood over changing ports) is still at it: a new service that
	// answers is not, more failed ones are.
	walked := bw{hosts: []features.HostActivity{{Addr: attacker, NewPorts: 2000, NewHosts: 1, FailedFirst: 2000, Target: victim, TargetPorts: 2000}}}
	newService := bw{hosts: []features.HostActivity{{Addr: attacker, NewPorts: 1, NewHosts: 1, OKFirst: 1}}}
	moreFailed := bw{hosts: []features.HostActivity{{Addr: attacker, NewPorts: 5, FailedFirst: 5, Target: victim, TargetPorts: 5}}}
	// A client connecting again to 30 services it knows, all answered.
	var reconnect bw
	for p := range 30 {
		reconnect.pairs = append(reconnect.pairs, tcp(lanAddr(7), victim, uint16(1000+p), features.Conns{Attempts: 2, Syns: 2, Established: 2}))
	}
	// A SYN flood walking the ports is the flood's, not a scan too.
	flooding := vertical
	flooding.services = []features.ServiceActivity{hostWide(victim, features.ProtoTCP, features.Conns{Attempts: 3000, Syns: 3000, Refused: 3000})}
	flooding.hosts = []features.HostActivity{{Addr: attacker, NewPorts: 100, NewHosts: 1, FailedFirst: 100, Target: victim, TargetPorts: 100}}
	for p := range 100 {
		flooding.pairs = append(flooding.pairs, tcp(attacker, victim, uint16(1000+p), features.Conns{Attempts: 30, Syns: 30, Refused: 30}))
	}
	// A DHCP server handing out 40 addresses: it pings each and asks ARP
	// for it, and nobody answers (the address is free), then offers and
	// acknowledges it. The same pings and ARP requests from a host that
	// serves nothing are a sweep.
	checking := bw{
		hosts: []features.HostActivity{{Addr: lanAddr(1), NewHosts: 40, NewPorts: 40, FailedFirst: 40, ARPRequests: 40}},
		dhcp:  features.DHCP{Requests: 80, Replies: 80, Servers: []features.DHCPServer{{Addr: lanAddr(1), Replies: 80}}},
	}
	sweeping := checking
	sweeping.dhcp = features.DHCP{}
	// The kernel probes the leased addresses again seconds after the
	// replies, in the next window.
	offered := bw{dhcp: checking.dhcp}
	probing := bw{hosts: []features.HostActivity{{Addr: lanAddr(1), ARPRequests: 40}}}

	protocols := bw{hosts: []features.HostActivity{{Addr: attacker, NewProtocols: 250, ProtocolTarget: victim}}}
	tunnels := bw{hosts: []features.HostActivity{{Addr: lanAddr(1), NewProtocols: 2, ProtocolTarget: victim}}}

	checkRuleCases(t, PortScan, []ruleCase{
		{name: "an IP protocol scan", windows: []bw{protocols}, want: true, sources: srcs(attacker), targets: srcs(victim)},
		{name: "a host opening GRE and IPsec tunnels to four peers", windows: repeat(4, tunnels)},
		{name: "a DHCP server checking the addresses it hands out", windows: repeat(2, checking)},
		{name: "a DHCP server probing the addresses it leased, a window later", windows: []bw{offered, probing}},
		{name: "the same pings and ARP requests from a host that serves nothing", windows: repeat(2, sweeping), want: true, sources: srcs(lanAddr(1))},
		{name: "vertical: a thousand ports of one host", windows: []bw{vertical}, want: true, sources: srcs(attacker), targets: srcs(victim)},
		{name: "horizontal: one port of 254 hosts", windows: []bw{horizontal}, want: true, sources: srcs(attacker), targets: swept},
		{name: "horizontal, from a host that also uses a web server", windows: []bw{usesServer}, want: true, sources: srcs(attacker), targets: swept},
		{name: "a client's many new services, answered", windows: []bw{busyClient}},
		{name: "slow: three failed probes a window add up", windows: repeat(9, slow), want: true, sources: srcs(attacker), targets: srcs(victim)},
		{name: "slow, not yet enough", windows: repeat(6, slow)},
		{name: "a scan that stopped", windows: append(repeat(3, vertical), bw{}, bw{})},
		{name: "ARP sweep", windows: []bw{arp}, want: true, sources: srcs(attacker)},
		{name: "a router asking ARP for its clients", windows: []bw{router}},
		{name: "one direction of the link only: a thousand ports is still a scan", windows: []bw{oneWay}, want: true, sources: srcs(attacker), targets: srcs(victim)},
		{name: "a guesser that scans as well", windows: []bw{guessing}, want: true, sources: srcs(attacker), targets: srcs(victim)},
		{name: "a flood over a hundred ports", windows: []bw{flooding}},
		{name: "the same ports scanned again", windows: []bw{rescan}, want: true, sources: srcs(attacker), targets: srcs(victim)},
		{name: "a client back to services it knows", windows: []bw{reconnect}},
		{name: "a scan again that stopped", windows: []bw{rescan, {}}},
		{name: "a walk that stopped, then a connection that works", windows: []bw{rescan, connects}},
		{name: "first contacts failed a minute ago, then a new service that answers", windows: append(append([]bw{walked}, repeat(5, bw{})...), newService)},
		{name: "first contacts failed a minute ago, and more now", windows: append(append([]bw{walked}, repeat(5, bw{})...), moreFailed), want: true, sources: srcs(attacker), targets: srcs(victim)},
		{name: "a walk that goes on failing ports", windows: []bw{rescan, walksOn}, want: true, sources: srcs(attacker), targets: srcs(victim)},
		{name: "one direction of the link only: forty new services are not", windows: []bw{{oneWay: true, hosts: []features.HostActivity{{Addr: lanAddr(7), NewPorts: 40, NewHosts: 40, FailedFirst: 40}}}}},
	})
	// A second pass says so; a first pass named only once its first
	// contacts are a window old (a flood rule held its source while they
	// were new) does not.
	if a := attackOf(runRules(t, []bw{rescan}).Attacks, PortScan); a == nil || !strings.Contains(a.Summary, "again") {
		t.Errorf("the same ports scanned again: %+v, want the summary to say again", a)
	}
	firstPass := bw{hosts: []features.HostActivity{{Addr: attacker, NewPorts: 100, Target: victim, TargetPorts: 100}}}
	if a := attackOf(runRules(t, []bw{firstPass, rescan}).Attacks, PortScan); a == nil || strings.Contains(a.Summary, "again") {
		t.Errorf("a walk over first contacts of the window before: %+v, want a port scan that does not say again", a)
	}
}

// A host that scans slowly for longer than the horizon is remembered by the
// decaying memory: three probes every other window for 20 minutes.
func TestSlowScanBeyondHorizon(t *testing.T) {
	var ws []bw
	for i := range 120 {
		if i%2 == 0 {
			ws = append(ws, bw{hosts: []features.HostActivity{{Addr: attacker, NewPorts: 1, FailedFirst: 1, Target: victim, TargetPorts: 1}}})
		} else {
			ws = append(ws, bw{})
		}
	}
	// One probe every 20 s is 15 in the 5-minute horizon: under the
	// bar; the half-hour memory holds about 45.
	v := runRules(t, ws[:len(ws)-1])
	a := attackOf(v.Attacks, PortScan)
	if a == nil || len(a.Sources) != 1 || a.Sources[0] != attacker {
		t.Fatalf("a probe every 20 s for 20 minutes: attacks %v", types(v.Attacks))
	}
	if a.Summary[:7] != "slowly:" {
		t.Errorf("summary %q, want it to say slowly", a.Summary)
	}
}

// TestScanMemoryBounded floods the slow scan memory with forged sources,
// each with a failed first contact: it stays bounded and keeps the slow
// scanner, who fails most.
func TestScanMemoryBounded(t *testing.T) {
	m := newScanMemory()
	scanner := ip("203.0.113.66")
	for w := range 20 {
		win := &features.Window{Start: t0 + int64(w)*10*sec, End: t0 + int64(w+1)*10*sec}
		win.Behaviour.Hosts = append(win.Behaviour.Hosts, features.HostActivity{Addr: scanner, NewPorts: 3, FailedFirst: 3, Target: victim, TargetPorts: 3})
		for i := range 3000 {
			win.Behaviour.Hosts = append(win.Behaviour.Hosts, features.HostActivity{Addr: ip(fmt.Sprintf("198.18.%d.%d", (w*3000+i)/250%250, i%250+1)), NewPorts: 1, FailedFirst: 1})
		}
		m.add(win)
		if len(m.hosts) > 2*scanMemorySize {
			t.Fatalf("window %d: %d hosts remembered, want at most %d", w, len(m.hosts), 2*scanMemorySize)
		}
	}
	if c := m.hosts[scanner]; c == nil || c.failed < 50 {
		t.Errorf("the slow scanner's memory: %+v, want its 60 failed contacts (decayed)", c)
	}
}

// A scan that ended is not named again when its host, back to normal use,
// meets a refused connection: the half-hour memory still holds hundreds of
// its probes, but the host no longer fails first contacts at a scan's
// pace (a synthetic two-hour capture paged one scan as 48 attacks).
func TestEndedScanNotRenamed(t *testing.T) {
	ws := repeat(6, bw{hosts: []features.HostActivity{{Addr: attacker, NewPorts: 600, FailedFirst: 600, Target: victim, TargetPorts: 600}}})
	for i := range 240 { // 40 minutes; a refused new connection every 5
		w := bw{}
		if i%30 == 29 {
			w.hosts = []features.HostActivity{{Addr: attacker, NewPorts: 1, FailedFirst: 1, Target: lanAddr(9), TargetPorts: 1}}
		}
		ws = append(ws, w)
	}
	if v := runRules(t, ws); attackOf(v.Attacks, PortScan) != nil {
		t.Errorf("a refused connection 40 minutes after a scan ended: named %v", types(v.Attacks))
	}
}
