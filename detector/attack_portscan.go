package detector

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// PortScan is the port_scan attack type.
const PortScan = "port_scan"

func init() {
	register(&AttackType{
		Name:           PortScan,
		Title:          "Port scan",
		Alert:          "NetAnomalyPortScan",
		Severity:       2,
		Technique:      "T1046",
		TechniqueName:  "Network Service Discovery",
		Recommendation: "Identify the scanning source in the top sources; block it at the perimeter if it is not an authorised scanner, and check the targeted hosts for exposed services.",
		Behaviour: "One host contacting many services it never contacted before (ports of one host, or one port on many hosts, by TCP, UDP, SCTP or ICMP), " +
			"most of them refused, unanswered or left half-open; or asking ARP for many addresses that mostly do not answer; " +
			"or sending hosts 10 IP protocols or more besides TCP, UDP and ICMP (an IP protocol scan; stacks speak one or two). " +
			"A path trace's probes (traceroute, mtr: a time to live climbing from 1 or 2 at the sensor, each probe to a new port) are not contacts. " +
			"At least 25 first contacts, of which 20 and 80% failed, over the horizon, named while the host still fails first contacts in the latest window; " +
			"and over half an hour with decay for slow scans while the host fails them at a pace that would reach the bar in that half hour. " +
			"A host walking again the ports of a host it probed before (none is a first contact while they are remembered) is a scan when as many of them fail over the last two windows, while it still fails them in the latest.",
		Names:  "Sources: the scanning host; targets: the scanned host, or the hosts of a sweep it failed to reach most often (not a server it used).",
		Floors: true,
		order:  30,
		detect: detectPortScan,
	})
}

// Bars of the port scan rule: first contacts over the horizon, of which
// so many and so large a share failed.
const (
	scanContacts  = 25
	scanFailed    = 20
	scanFailShare = 0.8
	// slowScanTau is the decay time of the slow scan memory: a probe
	// every 15 s (nmap -T1) adds up to 120 over it.
	slowScanTau = 30 * time.Minute
	// scanMemorySize bounds the hosts the slow memory keeps.
	scanMemorySize = 4096
)

// floodTypes are the types whose packets are failed first contacts too,
// when they go to changing ports or hosts: the port scan rule leaves
// their senders. A host guessing passwords or holding connections that
// also probes new services is doing two things, and both are named.
var floodTypes = map[string]bool{SynFlood: true, UDPFlood: true, ICMPFlood: true}

func detectPortScan(e *evidence) []Attack {
	// A window that saw one direction of the link only makes every attempt
	// look unanswered: there only a fan-out four times the usual bar is a
	// scan.
	contactBar := scanContacts * e.scale
	if e.h.last.oneWay > 0 {
		contactBar *= 4
	}
	failedBar := e.bar(scanFailed, scanFailed, features.MaxSourceFailedContacts, 2, 1)
	var out []Attack
	named := map[[16]byte]bool{}
	// A host is still at it when it fails first contacts (or asks ARP, or
	// tries IP protocols) in the latest window: a new service that answers
	// is a client's, and would otherwise name again, for the horizon, a
	// host whose walk ended (a flood over changing ports named as a flood).
	scanning := func(h *hostSum) bool {
		l := e.h.last.hosts[h.Addr]
		return l != nil && l.FailedFirst+l.ARPRequests+l.NewProtocols > 0
	}
	for _, hs := range sortedHosts(&e.h.long, scanning) {
		if floodTypes[e.claimed[hs.Addr]] {
			continue
		}
		h := &hostSum{HostActivity: *dhcpChecked(&hs.HostActivity, dhcpReplies(&e.h.long, hs.Addr)), windows: hs.windows}
		if a, ok := scanOf(e, h.Addr, float64(h.NewPorts), float64(h.NewHosts), float64(h.FailedFirst), float64(h.OKFirst), h.Target, contactBar, failedBar, e.h.long.seconds); ok {
			out = append(out, a)
			named[h.Addr] = true
			continue
		}
		if a, ok := arpSweep(h, scanContacts*e.scale); ok {
			out = append(out, a)
			continue
		}
		if a, ok := protocolScan(h, scanProtocols*e.scale); ok {
			out = append(out, a)
			named[h.Addr] = true
			continue
		}
		// The slow memory holds a scan for half an hour: it speaks only
		// while the host fails first contacts now and at a pace that, kept
		// up, would fill the bar within the memory's time. Otherwise a
		// scan that ended would be named again, as a new attack, at each
		// refused connection its host makes for the next hour.
		if l := e.h.last.hosts[h.Addr]; l == nil || l.FailedFirst == 0 ||
			float64(h.FailedFirst)*slowScanTau.Seconds() < failedBar*e.h.long.seconds {
			continue
		}
		if m := e.h.scans.hosts[h.Addr]; m != nil {
			secs := slowScanTau.Seconds()
			if a, ok := scanOf(e, h.Addr, m.ports, m.hosts, m.failed, m.ok, m.target, contactBar, failedBar, secs); ok {
				a.Summary = "slowly: " + a.Summary
				out = append(out, a)
				named[h.Addr] = true
			}
		}
	}
	return append(out, rescans(e, named, contactBar, failedBar)...)
}

// dhcpReplies is the DHCP replies host sent over span s.
func dhcpReplies(s *span, host [16]byte) uint32 {
	if v := s.dhcp.servers[host]; v != nil {
		return v.Replies
	}
	return 0
}

// rescans names the sources walking a host's ports again. A second scan
// while the first contacts are remembered (nmap run twice, a connect
// scan after a SYN scan) finds no service new, but the ports it tries
// and fails over the short span are as many as a scan's. A walk is named
// while it goes on: its source fails services of the host in the latest
// window. A host that walked ports in the window before (a UDP flood over
// changing ports, named as the flood) and now opens a connection that
// works is not walking them.
func rescans(e *evidence, named map[[16]byte]bool, contactBar, failedBar float64) []Attack {
	var order []*walk
	var now map[[2][16]byte]*walk
	for k, w := range e.h.short.sourceWalks() {
		if w.services < contactBar {
			continue
		}
		if now == nil {
			now = e.h.last.sourceWalks()
		}
		if l := now[k]; l != nil && l.failed > 0 {
			order = append(order, w)
		}
	}
	slices.SortFunc(order, func(a, b *walk) int { return cmp.Or(compareAddr(a.src, b.src), compareAddr(a.dst, b.dst)) })
	var out []Attack
	for _, w := range order {
		if named[w.src] || floodTypes[e.claimed[w.src]] || w.failed < failedBar || w.failed < scanFailShare*(w.failed+w.good) {
			continue
		}
		named[w.src] = true
		// A walk whose services were first contacts earlier in the span
		// (while a flood rule held its source) is a first pass, not a
		// second.
		again := "again (none new: it tried them before) "
		if h := e.h.short.hosts[w.src]; h != nil && float64(h.NewPorts) >= w.services/2 {
			again = ""
		}
		out = append(out, Attack{
			Confidence: confidence(w.failed, failedBar),
			Evidence: []Evidence{
				ev("failed_services", w.failed, failedBar, 0),
				ev("services_failed_share", w.failed/(w.failed+w.good), scanFailShare, 0),
			},
			Sources: [][16]byte{w.src},
			Targets: [][16]byte{w.dst},
			Summary: fmt.Sprintf("probed %.0f services of one host %sin the last %s; %.0f refused, unanswered or left half-open",
				w.services, again, dur(e.h.short.seconds), w.failed),
		})
	}
	return out
}

// scanOf judges one source's first contacts.
func scanOf(e *evidence, src [16]byte, ports, hosts, failed, ok float64, target [16]byte, contactBar, failedBar, secs float64) (Attack, bool) {
	contacts := math.Max(ports, hosts)
	if contacts < contactBar || failed < failedBar || failed < scanFailShare*(failed+ok) {
		return Attack{}, false
	}
	a := Attack{
		Confidence: confidence(failed, failedBar),
		Evidence: []Evidence{
			ev("failed_first_contacts", failed, failedBar, 0),
			ev("first_contacts_failed_share", failed/(failed+ok), scanFailShare, 0),
		},
		Sources: [][16]byte{src},
	}
	if ports >= 2*hosts && target != ([16]byte{}) {
		a.Targets = [][16]byte{target}
		a.Summary = fmt.Sprintf("probed %.0f new services, mostly ports of one host, in the last %s; %.0f refused, unanswered or left half-open", ports, dur(secs), failed)
	} else {
		a.Targets = sweepTargets(e, src)
		a.Summary = fmt.Sprintf("probed %.0f new hosts (%.0f services) in the last %s; %.0f refused, unanswered or left half-open", hosts, ports, dur(secs), failed)
	}
	return a, true
}

// arpSweep judges one host's ARP requests: many addresses asked for, few
// answering.
func arpSweep(h *hostSum, bar float64) (Attack, bool) {
	asked, answered := float64(h.ARPRequests), float64(h.ARPAnswered)
	if asked < bar || answered > (1-scanFailShare)*asked {
		return Attack{}, false
	}
	return Attack{
		Confidence: confidence(asked-answered, scanFailed),
		Evidence:   []Evidence{ev("arp_addresses_asked", asked, bar, 0), ev("arp_answers", answered, (1-scanFailShare)*asked, 0)},
		Sources:    [][16]byte{h.Addr},
		Summary:    fmt.Sprintf("asked ARP for %.0f addresses not asked for before, %.0f answered (an ARP sweep)", asked, answered),
	}, true
}

// scanProtocols is how many IP protocols besides TCP, UDP and ICMP one
// host may send another, over the horizon, before it is scanning them: a
// host speaks one or two (a GRE or IPsec tunnel, SCTP).
const scanProtocols = 10

// protocolScan judges the IP protocols a host tried on others.
func protocolScan(h *hostSum, bar float64) (Attack, bool) {
	n := float64(h.NewProtocols)
	if n < bar {
		return Attack{}, false
	}
	return Attack{
		Confidence: confidence(n, bar),
		Evidence:   []Evidence{ev("ip_protocols_tried", n, bar, 0)},
		Sources:    [][16]byte{h.Addr},
		Targets:    [][16]byte{h.ProtocolTarget},
		Summary:    fmt.Sprintf("sent %.0f IP protocols other than TCP, UDP and ICMP to hosts it had not sent them to (an IP protocol scan)", n),
	}, true
}

// sweepTargets names the hosts a sweeping source failed to reach most
// often, the first in address order among equals. A server it also used
// (every attempt completed) is no target of the sweep.
func sweepTargets(e *evidence, src [16]byte) [][16]byte {
	var rs []ranked
	seen := map[[16]byte]int{}
	for _, p := range sortedPairs(&e.h.long, func(p *pairSum) bool { return p.Key.Src == src && p.Attempts > p.Established }) {
		failed := float64(p.Attempts - p.Established)
		if i, ok := seen[p.Key.Dst]; ok {
			rs[i].weight += failed
			continue
		}
		seen[p.Key.Dst] = len(rs)
		rs = append(rs, ranked{p.Key.Dst, failed})
	}
	return heaviest(rs, 0, 0, 0)
}

func dur(secs float64) string {
	return (time.Duration(secs) * time.Second).String()
}

// scanMemory remembers, with exponential decay, each source's first
// contacts over half an hour: a slow scan adds up where the horizon
// forgets. Bounded: past twice scanMemorySize hosts, the least failing go
// until scanMemorySize are left (one sort for many insertions).
type scanMemory struct {
	hosts map[[16]byte]*scanCounts
}

type scanCounts struct {
	ports, hosts, failed, ok float64
	target                   [16]byte
	targetPorts              float64
}

func newScanMemory() *scanMemory {
	return &scanMemory{hosts: map[[16]byte]*scanCounts{}}
}

// add decays the memory by one window of seconds and adds its hosts.
func (m *scanMemory) add(w *features.Window) {
	f := math.Exp(-float64(w.End-w.Start) / float64(slowScanTau))
	for k, c := range m.hosts {
		c.ports *= f
		c.hosts *= f
		c.failed *= f
		c.ok *= f
		c.targetPorts *= f
		if c.ports+c.hosts < 0.5 {
			delete(m.hosts, k)
		}
	}
	for i := range w.Behaviour.Hosts {
		h := &w.Behaviour.Hosts[i]
		h = dhcpChecked(h, windowReplies(w, h.Addr))
		if h.NewPorts == 0 && h.NewHosts == 0 {
			continue
		}
		c := m.hosts[h.Addr]
		if c == nil {
			if len(m.hosts) >= 2*scanMemorySize {
				m.prune()
			}
			c = &scanCounts{}
			m.hosts[h.Addr] = c
		}
		c.ports += float64(h.NewPorts)
		c.hosts += float64(h.NewHosts)
		c.failed += float64(h.FailedFirst)
		c.ok += float64(h.OKFirst)
		if h.Target == c.target {
			c.targetPorts += float64(h.TargetPorts)
		} else if float64(h.TargetPorts) >= c.targetPorts {
			c.target, c.targetPorts = h.Target, float64(h.TargetPorts)
		}
	}
}

// prune keeps the scanMemorySize hosts with the most failed first
// contacts (ties by address, so the outcome does not depend on map order).
func (m *scanMemory) prune() {
	type kc struct {
		k [16]byte
		c *scanCounts
	}
	all := make([]kc, 0, len(m.hosts))
	for k, c := range m.hosts {
		all = append(all, kc{k, c})
	}
	slices.SortFunc(all, func(a, b kc) int { return cmp.Or(cmp.Compare(b.c.failed, a.c.failed), compareAddr(a.k, b.k)) })
	for _, x := range all[scanMemorySize:] {
		delete(m.hosts, x.k)
	}
}
