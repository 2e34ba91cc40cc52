package detector

import (
	"math"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// Attack types, in label order. The set is fixed so that it can be a
// metric label.
const (
	PortScan         = "port_scan"
	SynFlood         = "syn_flood"
	UDPFlood         = "udp_flood"
	ICMPFlood        = "icmp_flood"
	DNSAmplification = "dns_amplification"
	Reflection       = "reflection"
	BruteForce       = "brute_force"
	Slowloris        = "slowloris"
	TrafficSpike     = "traffic_spike"
	TrafficDrop      = "traffic_drop"
	ARPSpoofing      = "arp_spoofing"
)

// AttackTypes lists every attack type.
var AttackTypes = []string{PortScan, SynFlood, UDPFlood, ICMPFlood, DNSAmplification, Reflection, BruteForce, Slowloris, TrafficSpike, TrafficDrop, ARPSpoofing}

// Recommendations say in one line what to check or do about each attack;
// alerts and the event log carry them.
var Recommendations = map[string]string{
	PortScan:         "Identify the scanning source in the top sources; block it at the perimeter if it is not an authorised scanner, and check the targeted hosts for exposed services.",
	SynFlood:         "Enable SYN cookies on the target, rate-limit SYNs per source at the edge, and ask the upstream provider for filtering if the link saturates.",
	UDPFlood:         "Rate-limit or drop UDP to the targeted host and port at the edge, and ask the upstream provider to filter if the link saturates.",
	ICMPFlood:        "Rate-limit ICMP at the edge (keep type 3 code 4 for path MTU discovery) and check that the target is not answering every request.",
	DNSAmplification: "The target is receiving DNS answers it did not ask for: filter inbound UDP from source port 53 to it at the edge or upstream; if your own resolvers are the reflectors, stop open recursion.",
	Reflection:       "The target is receiving UDP replies from amplification-prone services (NTP, SSDP, memcached, CLDAP, SNMP): filter those source ports upstream, and close any such service of yours that answers the Internet.",
	BruteForce:       "Block the source, enforce key-based or multi-factor authentication and account lockout on the targeted service, and review its logs for a successful login.",
	Slowloris:        "Lower the web server's header and idle timeouts, cap connections per client address, or put a reverse proxy that buffers requests in front of it.",
	TrafficSpike:     "Find the top talkers and protocols behind the surge; if it is not a known event (backup, release, flash crowd), treat it as a volumetric attack.",
	TrafficDrop:      "Traffic fell far below normal: check the link, the span port or mirror session, upstream routing and the capture itself.",
	ARPSpoofing:      "A second MAC is answering for an address: find the port of the offending MAC on the switch, isolate it, and enable dynamic ARP inspection.",
}

// Severity of each attack type when it is confirmed: 3 high, 2 medium.
var severity = map[string]int{
	PortScan: 2, SynFlood: 3, UDPFlood: 3, ICMPFlood: 3, DNSAmplification: 3, Reflection: 3,
	BruteForce: 3, Slowloris: 3, TrafficSpike: 2, TrafficDrop: 2, ARPSpoofing: 3,
}

// Evidence is one feature value that made a rule fire.
type Evidence struct {
	Feature   string  `json:"feature"`
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"` // the value above (or below) which the rule fires
	Typical   float64 `json:"typical"`   // the feature's training median
}

// Attack is a rule's verdict on one window.
type Attack struct {
	Type       string     `json:"type"`
	Confidence float64    `json:"confidence"`
	Evidence   []Evidence `json:"evidence"`
	// Sources are the addresses most responsible: the scanner, the
	// brute-forcer, or for floods the heaviest senders; Targets the
	// victims. IPv4 as IPv4-mapped.
	Sources [][16]byte `json:"-"`
	Targets [][16]byte `json:"-"`
}

// ruleInput is what the rules read for one window.
type ruleInput struct {
	w    *features.Window
	s    *Scaler
	secs float64
	// Per source, summed over the recent windows, with the number of
	// those windows the source was a heavy hitter in: authentication
	// attempts and web connections over AuthHorizon windows, port and
	// host fan-out over the last minute.
	authSum, webSum, portSum, hostSum     map[[16]byte]uint64
	authSeen, webSeen, portSeen, hostSeen map[[16]byte]int
	horizon                               int // windows the recent sums cover
	// recentPPS is the median packet rate of the recent normal windows,
	// 0 when there are too few.
	recentPPS float64
}

func (in *ruleInput) v(i features.Index) float64 { return in.w.Features[i] }

// over checks value v of feature i against a floor and the training
// baseline: v must reach the floor and be either zmin robust deviations
// above the median or ten times the median (a feature that varies a lot on
// this network, such as bursty UDP, still cannot hide a tenfold flood). It
// returns a confidence in [0,1] that grows with the margin, or 0. The
// threshold reported as evidence is in the feature's units.
func (in *ruleInput) over(i features.Index, floor, zmin float64) (float64, Evidence) {
	v := in.v(i)
	_, zbound := in.s.Expected(int(i), zmin)
	th := max(floor, min(zbound, 10*in.s.Typical(int(i))))
	ev := Evidence{Feature: features.Schema[i].Name, Value: v, Threshold: th, Typical: in.s.Typical(int(i))}
	if v < th {
		return 0, ev
	}
	// Confidence: 0.6 at the threshold, 0.9 at 4x, towards 1 beyond.
	ratio := v / math.Max(th, 1e-9)
	return math.Min(0.99, 0.6+0.15*math.Log2(ratio)), ev
}

// detectAttacks runs every rule. A rule fires when its features are far
// from this network's baseline and above absolute floors that keep tiny
// networks from seeing a flood in ten packets.
func detectAttacks(in *ruleInput) []Attack {
	var out []Attack
	add := func(typ string, conf float64, ev []Evidence, src, dst []features.HeavyHitter) {
		if conf <= 0 {
			return
		}
		// Name only senders with a real share of the attack: in a spoofed
		// flood every source sends a packet or two, and the heaviest
		// "sources" would be innocent hosts that were merely busy.
		if n := attackPackets(in, typ); n > 0 {
			src = significant(src, 0.02*n)
		}
		a := Attack{Type: typ, Confidence: conf, Evidence: ev}
		for _, h := range src {
			a.Sources = append(a.Sources, h.Addr)
		}
		for _, h := range dst {
			a.Targets = append(a.Targets, h.Addr)
		}
		out = append(out, a)
	}
	h := &in.w.Heavy
	secs := in.secs

	// Port scan: one source touching many ports (vertical) or many hosts
	// (horizontal, including ARP and ICMP sweeps).
	vc, vev := in.over(features.MaxSourcePortFanout, 15, 5)
	hc, hev := in.over(features.MaxSourceHostFanout, 15, 5)
	scan := math.Max(vc, hc)
	switch {
	case scan > 0 && vc >= hc:
		add(PortScan, scan, []Evidence{vev, hev}, first(h.PortFanout), nil)
	case scan > 0:
		add(PortScan, scan, []Evidence{hev, vev}, first(h.HostFanout), nil)
	default:
		// A slow scan stays under the per-window bar but keeps finding
		// new ports or hosts minute after minute.
		for _, s := range []struct {
			sum  map[[16]byte]uint64
			seen map[[16]byte]int
			now  []features.HeavyHitter
			name string
		}{{in.portSum, in.portSeen, h.PortFanout, "port_fanout_last_minute"}, {in.hostSum, in.hostSeen, h.HostFanout, "host_fanout_last_minute"}} {
			if src, n := heaviest(s.sum); n >= slowScanThreshold && sustained(s.now, src, n, s.seen[src]) {
				ev := Evidence{Feature: s.name, Value: float64(n), Threshold: slowScanThreshold}
				out = append(out, Attack{Type: PortScan, Confidence: math.Min(0.95, 0.6+0.15*math.Log2(float64(n)/slowScanThreshold)), Evidence: []Evidence{ev}, Sources: [][16]byte{src}})
				break
			}
		}
	}

	// SYN flood: many SYNs (or reflected SYN-ACKs) to few ports, mostly
	// unanswered; not one scanner's SYNs.
	sc, sev := in.over(features.TCPSyn, 100*secs, 5)
	ac, aev := in.over(features.TCPSynAck, 100*secs, 5)
	synFromScan := in.v(features.MaxSourcePortFanout) >= 0.5*in.v(features.TCPSyn)
	if sc > 0 && !synFromScan && in.v(features.TCPHalfOpenRatio) >= 0.5 {
		add(SynFlood, sc, []Evidence{sev, halfOpen(in)}, h.SourcesByPackets, first(h.DestinationsByPackets))
	} else if ac > 0 && in.v(features.TCPSynAck) > 2*in.v(features.TCPSyn) {
		add(SynFlood, ac, []Evidence{aev}, h.SourcesByPackets, first(h.DestinationsByPackets))
	}

	// Amplification: large UDP answers from service ports to a victim
	// that did not ask. DNS on its own, the rest as reflection.
	dnsBytes := in.v(features.DNSResponses) * in.v(features.DNSResponseSizeMean) / secs
	reflBytes := in.v(features.ReflectionResponseBytes)
	requests := in.v(features.ReflectionRequestBytes)
	rc, rev := in.over(features.ReflectionResponseBytes, 50_000, 5)
	if rc > 0 && reflBytes > 5*requests {
		answersUnasked := in.v(features.DNSResponses) > 3*in.v(features.DNSQueries)
		if dnsBytes >= 0.5*reflBytes && answersUnasked {
			dev := Evidence{Feature: "dns_response_bytes_per_second", Value: dnsBytes, Threshold: rev.Threshold / 2, Typical: in.s.Typical(int(features.DNSResponses)) * in.s.Typical(int(features.DNSResponseSizeMean)) / secs}
			add(DNSAmplification, rc, []Evidence{rev, dev}, h.SourcesByPackets, first(h.DestinationsByPackets))
		} else if dnsBytes < 0.5*reflBytes {
			add(Reflection, rc, []Evidence{rev}, h.SourcesByPackets, first(h.DestinationsByPackets))
		}
	}
	amplified := len(out) > 0 && (out[len(out)-1].Type == DNSAmplification || out[len(out)-1].Type == Reflection)

	// UDP and ICMP floods: volume far above normal.
	if uc, uev := in.over(features.UDPPacketsPerSecond, 500, 5); uc > 0 && !amplified {
		add(UDPFlood, uc, []Evidence{uev}, h.SourcesByPackets, first(h.DestinationsByPackets))
	}
	// ICMP errors answering a UDP flood are its backscatter, not a flood.
	udpFlood := len(out) > 0 && out[len(out)-1].Type == UDPFlood
	backscatter := udpFlood && in.v(features.ICMPUnreachable) >= 0.5*in.v(features.ICMPPacketsPerSecond)*secs
	if ic, iev := in.over(features.ICMPPacketsPerSecond, 200, 5); ic > 0 && !backscatter {
		add(ICMPFlood, ic, []Evidence{iev}, h.SourcesByPackets, first(h.DestinationsByPackets))
	}

	// Brute force: many connection attempts from one source to an
	// authentication port, in this window or summed over the recent ones
	// (a slow guesser makes a few attempts a minute).
	// A scanner also knocks on authentication ports: that is the scan.
	if bc, bev := in.over(features.MaxSourceAuthAttempts, 10, 4); bc > 0 && !scanner(h, first(h.AuthAttempts)) {
		add(BruteForce, bc, []Evidence{bev}, first(h.AuthAttempts), nil)
	} else if wc, wev := in.over(features.MaxSourceWebConnections, 60, 4); wc > 0 && !scanner(h, first(h.WebConnections)) && !synFlooded(out) &&
		in.v(features.MaxSourceWebConnections) >= 0.3*in.v(features.TCPSyn) {
		// One source must make most of the window's connection attempts:
		// in a flash crowd or a SYN flood to a web port, many do.
		add(BruteForce, wc, []Evidence{wev}, first(h.WebConnections), nil)
	} else if src, n := heaviest(in.webSum); float64(n) >= in.webSlowBar() && in.webSeen[src] >= webSlowWindows && sustained(h.WebConnections, src, n, in.webSeen[src]) && !scanner(h, []features.HeavyHitter{{Addr: src}}) && !synFlooded(out) {
		// A slow login guesser: many web connections from one source,
		// sustained over most of the recent windows, unlike a browsing
		// burst.
		bar := in.webSlowBar()
		ev := Evidence{Feature: "web_connections_recent", Value: float64(n), Threshold: bar}
		out = append(out, Attack{Type: BruteForce, Confidence: math.Min(0.9, 0.6+0.15*math.Log2(float64(n)/bar)), Evidence: []Evidence{ev}, Sources: [][16]byte{src}})
	} else if src, n := heaviest(in.authSum); n >= authSlowThreshold && sustained(h.AuthAttempts, src, n, in.authSeen[src]) && !scanner(h, []features.HeavyHitter{{Addr: src}}) {
		ev := Evidence{Feature: "auth_connection_attempts_recent", Value: float64(n), Threshold: authSlowThreshold}
		a := Attack{Type: BruteForce, Confidence: math.Min(0.95, 0.6+0.15*math.Log2(float64(n)/authSlowThreshold)), Evidence: []Evidence{ev}, Sources: [][16]byte{src}}
		out = append(out, a)
	}

	// Slowloris: many old, nearly idle web connections.
	if lc, lev := in.over(features.HTTPIdleConnections, 50, 4); lc > 0 {
		add(Slowloris, lc, []Evidence{lev}, h.SourcesByPackets, first(h.DestinationsByPackets))
	}

	// ARP spoofing: an address claimed by a second MAC, more than once.
	if c, ev := in.over(features.ARPAddressConflicts, 2, 3); c > 0 {
		add(ARPSpoofing, c, []Evidence{ev}, nil, nil)
	}

	// Volume changes nobody else explains, against the training baseline
	// or against the last minutes of normal traffic (a daily cycle makes
	// the training range wide; a surge is sudden).
	if len(out) == 0 {
		pc, pev := in.over(features.PacketsPerSecond, 3*in.s.Typical(int(features.PacketsPerSecond)), 4)
		bc, bev := in.over(features.BytesPerSecond, 3*in.s.Typical(int(features.BytesPerSecond)), 4)
		if rc, rev := in.overRecent(features.PacketsPerSecond, in.recentPPS, spikeRatio); rc > pc {
			pc, pev = rc, rev
		}
		if c := math.Max(pc, bc); c > 0 {
			add(TrafficSpike, c, []Evidence{pev, bev}, h.SourcesByPackets, nil)
		}
	}
	if typical := in.s.Typical(int(features.PacketsPerSecond)); typical >= 5 {
		v := in.v(features.PacketsPerSecond)
		lo, _ := in.s.Expected(int(features.PacketsPerSecond), 4)
		th := math.Min(typical/5, lo)
		if in.recentPPS >= 5 {
			th = math.Max(th, in.recentPPS/dropRatio)
		}
		if v < th {
			conf := math.Min(0.99, 0.6+0.15*math.Log2(th/math.Max(v, th/64)))
			add(TrafficDrop, conf, []Evidence{{Feature: features.Schema[features.PacketsPerSecond].Name, Value: v, Threshold: th, Typical: typical}}, nil, nil)
		}
	}
	return out
}

// Sudden volume changes against the median of the recent normal windows.
const (
	spikeRatio = 3
	dropRatio  = 8
)

// overRecent fires when v is ratio times the recent level and clearly
// above the training median too (z 2), so that a daily ramp is not a spike.
func (in *ruleInput) overRecent(i features.Index, recent, ratio float64) (float64, Evidence) {
	v := in.v(i)
	_, zb := in.s.Expected(int(i), 2)
	th := math.Max(ratio*recent, zb)
	ev := Evidence{Feature: features.Schema[i].Name + "_vs_recent", Value: v, Threshold: th, Typical: recent}
	if recent <= 0 || v < th || v < 50 {
		return 0, ev
	}
	return math.Min(0.99, 0.6+0.15*math.Log2(v/th)), ev
}

// Thresholds of the slow variants, summed over recent windows.
const (
	// authSlowThreshold authentication attempts from one source over the
	// last AuthHorizon windows (5 minutes) make a slow brute force.
	authSlowThreshold = 30
	// webSlowThreshold web connections from one source over the last
	// AuthHorizon windows, while heavy in webSlowWindows of them.
	webSlowThreshold = 150
	webSlowWindows   = 10
	// slowScanThreshold new ports or hosts from one source over the last
	// slowScanWindows windows (a minute).
	slowScanThreshold = 60
	slowScanWindows   = 6
)

func halfOpen(in *ruleInput) Evidence {
	return Evidence{Feature: features.Schema[features.TCPHalfOpenRatio].Name, Value: in.v(features.TCPHalfOpenRatio), Threshold: 0.5, Typical: in.s.Typical(int(features.TCPHalfOpenRatio))}
}

// webSlowBar is how many web connections one source may open over the
// recent windows before it looks like a slow guesser: webSlowThreshold,
// or more where busy clients (polling scripts, browsers) open many in
// training: twice the trained typical busiest source per window, over
// the whole horizon. A polling client keeps up its typical rate for the
// whole horizon, which must not be enough.
func (in *ruleInput) webSlowBar() float64 {
	return math.Max(webSlowThreshold, 2*float64(in.horizon)*in.s.Typical(int(features.MaxSourceWebConnections)))
}

// synFlooded reports whether a SYN flood was already named.
func synFlooded(out []Attack) bool {
	for _, a := range out {
		if a.Type == SynFlood {
			return true
		}
	}
	return false
}

// attackPackets is the number of packets in the window that make up an
// attack of this type, for judging which senders matter; 0 when the
// rule's own heavy-hitter list already is the attack (scans, guessing).
func attackPackets(in *ruleInput, typ string) float64 {
	secs := in.secs
	switch typ {
	case SynFlood:
		return max(in.v(features.TCPSyn), in.v(features.TCPSynAck))
	case UDPFlood, DNSAmplification, Reflection:
		return in.v(features.UDPPacketsPerSecond) * secs
	case ICMPFlood:
		return in.v(features.ICMPPacketsPerSecond) * secs
	case Slowloris, TrafficSpike:
		return in.v(features.PacketsPerSecond) * secs
	}
	return 0
}

// significant keeps the heavy hitters with at least min packets.
func significant(h []features.HeavyHitter, min float64) []features.HeavyHitter {
	var out []features.HeavyHitter
	for _, x := range h {
		if float64(x.Count) >= min {
			out = append(out, x)
		}
	}
	return out
}

// scanner reports whether the first of srcs touched many ports or hosts
// in this window.
func scanner(h *features.Heavy, srcs []features.HeavyHitter) bool {
	if len(srcs) == 0 {
		return false
	}
	for _, l := range [][]features.HeavyHitter{h.PortFanout, h.HostFanout} {
		for _, x := range l {
			if x.Addr == srcs[0].Addr && x.Count >= 10 {
				return true
			}
		}
	}
	return false
}

// sustained reports whether addr keeps up, in this window, at least half
// the pace of its recent sum: the slow rules fire while the attacker is at
// it, not for the minutes its sum takes to fade, nor when a client that
// guessed passwords earlier goes back to browsing.
func sustained(now []features.HeavyHitter, addr [16]byte, sum uint64, seen int) bool {
	for _, x := range now {
		if x.Addr == addr {
			return float64(x.Count) >= 0.5*float64(sum)/float64(max(seen, 1))
		}
	}
	return false
}

func first(h []features.HeavyHitter) []features.HeavyHitter {
	return h[:min(len(h), 1)]
}

func heaviest(m map[[16]byte]uint64) (addr [16]byte, n uint64) {
	for a, c := range m {
		if c > n || (c == n && string(a[:]) < string(addr[:])) {
			addr, n = a, c
		}
	}
	return addr, n
}
