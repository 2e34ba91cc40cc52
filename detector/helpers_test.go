package detector

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

const sec = int64(time.Second)

// t0 is a 10-second window boundary (2023-11-14 22:13:20 UTC).
const t0 = 1_700_000_000 * sec

const windowSecs = 10.0

func ip(s string) [16]byte { return netip.MustParseAddr(s).As16() }

// Addresses the attack windows use.
var (
	attacker = ip("203.0.113.66")
	victim   = ip("10.0.0.10")
	server   = ip("10.0.0.20")
)

// gen makes feature windows of a small office network: about 300 packets
// per second (±20% load), 40 sources, mostly TCP, some DNS. Windows follow
// each other without gaps.
type gen struct {
	r    *rand.Rand
	next int64 // start of the next window
}

func newGen(seed uint64) *gen {
	return &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), next: t0}
}

// jit returns x times a uniform factor in [1-rel, 1+rel].
func (g *gen) jit(x, rel float64) float64 { return x * (1 + rel*(2*g.r.Float64()-1)) }

// count returns a Poisson-like count around mean, never negative.
func (g *gen) count(mean float64) float64 {
	return math.Max(0, math.Round(mean+math.Sqrt(mean)*g.r.NormFloat64()))
}

func lanAddr(n int) [16]byte { return netip.AddrFrom4([4]byte{10, 0, 0, byte(n)}).As16() }

// benign returns the next benign window.
func (g *gen) benign() *features.Window {
	return g.benignScaled(1)
}

// benignScaled returns a benign window with the load multiplied by k:
// more users doing the same things.
func (g *gen) benignScaled(k float64) *features.Window {
	w := &features.Window{Interface: "eth0", Start: g.next, End: g.next + 10*sec, Seconds: windowSecs}
	g.next = w.End
	f := &w.Features
	load := g.jit(1, 0.2) * k
	pps := g.jit(300*load, 0.03)
	size := g.jit(600, 0.1)
	n := pps * windowSecs
	f[features.PacketsPerSecond] = pps
	f[features.BytesPerSecond] = pps * size
	f[features.PeakPacketsPerSecond] = math.Round(pps * g.jit(1.35, 0.1))
	f[features.PeakBytesPerSecond] = math.Round(pps * size * g.jit(1.4, 0.15))
	f[features.PacketSizeMean] = size
	f[features.PacketSizeStddev] = g.jit(520, 0.08)
	f[features.InterarrivalMean] = 1 / pps
	f[features.InterarrivalStddev] = g.jit(1.2, 0.1) / pps

	icmp := g.count(5*math.Sqrt(k)) / windowSecs
	arp := g.count(3) / windowSecs
	other := g.count(1) / windowSecs
	udp := g.jit(0.17, 0.1) * pps
	tcp := pps - udp - icmp - arp - other
	f[features.TCPPacketsPerSecond] = tcp
	f[features.UDPPacketsPerSecond] = udp
	f[features.ICMPPacketsPerSecond] = icmp
	f[features.ARPPacketsPerSecond] = arp
	f[features.OtherPacketsPerSecond] = other

	srcs := g.count(40 * k)
	f[features.UniqueSources] = srcs
	f[features.UniqueDestinations] = g.count(55 * k)
	f[features.UniqueDestinationPorts] = g.count(60 * math.Sqrt(k))
	conns := g.count(200 * load)
	f[features.UniqueConnections] = conns
	f[features.PacketsPerConnection] = n / math.Max(conns, 1)
	f[features.NewFlowsPerSecond] = g.count(150*load) / windowSecs
	f[features.ActiveFlows] = g.count(320 * load)
	f[features.FlowDurationMean] = g.jit(8, 0.25)

	syn := g.count(30 * load)
	synack := math.Min(syn, g.count(syn))
	f[features.TCPSyn] = syn
	f[features.TCPSynAck] = synack
	f[features.TCPRst] = g.count(3 * load)
	f[features.TCPFin] = g.count(25 * load)
	if syn > 0 {
		f[features.TCPHalfOpenRatio] = (syn - math.Min(synack, syn)) / syn
	}
	f[features.ICMPUnreachable] = g.count(1)
	f[features.ICMPEchoRequests] = math.Min(icmp*windowSecs, g.count(3))

	q := g.count(50 * load)
	resp := math.Min(q, g.count(q))
	dnsSize := g.jit(150, 0.15)
	f[features.DNSQueries] = q
	f[features.DNSResponses] = resp
	f[features.DNSErrorResponses] = math.Min(resp, g.count(1))
	f[features.DNSResponseSizeMean] = dnsSize

	portFan := math.Max(1, g.count(3))
	hostFan := math.Max(1, g.count(5))
	f[features.MaxSourcePortFanout] = portFan
	f[features.MaxSourceHostFanout] = hostFan
	f[features.TopSourceShare] = g.jit(0.15, 0.2)
	f[features.SourceEntropy] = g.jit(math.Log2(srcs+1)*0.85, 0.05)
	f[features.DestinationEntropy] = g.jit(4.8, 0.05)
	f[features.DestinationPortEntropy] = g.jit(3.5, 0.08)
	f[features.Fragments] = 0
	f[features.ARPRequests] = math.Round(arp * windowSecs * 0.7)
	f[features.ARPReplies] = arp*windowSecs - f[features.ARPRequests]
	ntp := g.count(0.5) * 90 / windowSecs // an occasional NTP exchange
	f[features.ReflectionResponseBytes] = resp*dnsSize/windowSecs + ntp
	f[features.ReflectionRequestBytes] = q*g.jit(70, 0.1)/windowSecs + ntp
	auth := g.count(2 * k)
	f[features.AuthAttempts] = auth
	f[features.MaxSourceAuthAttempts] = math.Min(auth, math.Max(1, math.Round(auth/2)))
	f[features.HTTPIdleConnections] = g.count(3)
	f[features.ARPAddressConflicts] = 0
	f[features.TopDestinationShare] = g.jit(0.2, 0.2)

	// Heavy hitters: a few LAN hosts, a pool of SSH users.
	h := &w.Heavy
	top := 1 + g.r.IntN(40)
	h.SourcesByPackets = []features.HeavyHitter{
		{Addr: lanAddr(top), Count: uint64(n * f[features.TopSourceShare])},
		{Addr: lanAddr(41 + g.r.IntN(40)), Count: uint64(n * 0.08)},
	}
	h.DestinationsByPackets = []features.HeavyHitter{{Addr: lanAddr(100 + g.r.IntN(20)), Count: uint64(n * f[features.TopDestinationShare])}}
	h.PortFanout = []features.HeavyHitter{{Addr: lanAddr(1 + g.r.IntN(40)), Count: uint64(portFan)}}
	h.HostFanout = []features.HeavyHitter{{Addr: lanAddr(1 + g.r.IntN(40)), Count: uint64(hostFan)}}
	if m := f[features.MaxSourceAuthAttempts]; m > 0 {
		h.AuthAttempts = []features.HeavyHitter{{Addr: lanAddr(150 + g.r.IntN(20)), Count: uint64(m)}}
	}
	g.benignBehaviour(w, load)
	return w
}

// benignBehaviour writes what the office's hosts do: clients browsing two
// web servers with a few connections and requests each, asking the
// resolver, an occasional SSH session; every attempt answered.
func (g *gen) benignBehaviour(w *features.Window, load float64) {
	f := &w.Features
	web := []features.ServiceKey{{Addr: lanAddr(100), Port: 80, Proto: features.ProtoTCP}, {Addr: lanAddr(101), Port: 443, Proto: features.ProtoTCP}}
	svc := map[features.ServiceKey]*features.ServiceActivity{}
	b := &w.Behaviour
	clients := int(math.Round(20 * load))
	for c := range clients {
		src := lanAddr(1 + (c*7+g.r.IntN(3))%40)
		k := web[g.r.IntN(2)]
		conns := uint32(1 + g.r.IntN(3))
		reqs := conns * uint32(1+g.r.IntN(4))
		p := features.PairActivity{Key: features.PairKey{Src: src, Dst: k.Addr, Port: k.Port, Proto: features.ProtoTCP}}
		p.Attempts, p.Syns, p.Established, p.Requests = conns, conns, conns, reqs
		p.Sessions, p.ShortSessions = conns, conns
		b.Pairs = append(b.Pairs, p)
		s := svc[k]
		if s == nil {
			s = &features.ServiceActivity{Key: k}
			svc[k] = s
		}
		s.Attempts += conns
		s.Syns += conns
		s.SynAcks += conns
		s.Established += conns
		s.Requests += reqs
		f[features.MaxPairRequests] = max(f[features.MaxPairRequests], float64(reqs))
		f[features.HTTPRequests] += float64(reqs)
		f[features.TCPEstablished] += float64(conns)
	}
	for _, k := range web {
		if s := svc[k]; s != nil {
			b.Services = append(b.Services, *s)
			f[features.MaxServiceRequests] = max(f[features.MaxServiceRequests], float64(s.Requests))
			f[features.MaxServiceIncompleteSyns] = max(f[features.MaxServiceIncompleteSyns], float64(s.Syns-s.Established))
		}
	}
	for c := range 10 {
		q := uint32(1 + g.r.IntN(6))
		b.Pairs = append(b.Pairs, features.PairActivity{
			Key:          features.PairKey{Src: lanAddr(1 + c*4), Dst: lanAddr(2), Port: 53, Proto: features.ProtoUDP},
			Conns:        features.Conns{Attempts: q, Established: q, Packets: q, Replies: q, Bytes: 70 * uint64(q), ReplyBytes: 150 * uint64(q)},
			DNSQueries:   q,
			DNSNameBytes: 18 * q,
		})
		f[features.MaxTargetUDPPackets] += float64(q)
	}
	if g.r.IntN(4) == 0 {
		f[features.MaxPairAuthConnections] = 1
		b.Pairs = append(b.Pairs, features.PairActivity{
			Key:      features.PairKey{Src: lanAddr(150 + g.r.IntN(20)), Dst: server, Port: 22, Proto: features.ProtoTCP},
			Conns:    features.Conns{Attempts: 1, Syns: 1, Established: 1, Requests: 4},
			Sessions: 1, ShortSessions: 1,
		})
	}
	f[features.DNSQueryNameLengthMean] = g.jit(18, 0.1)
	f[features.DNSQueryNameEntropyMean] = g.jit(3.1, 0.05)
	// A few first contacts a window, all answered.
	b.Hosts = append(b.Hosts, features.HostActivity{Addr: lanAddr(1 + g.r.IntN(40)), NewPorts: 1, NewHosts: 1, OKFirst: 1})
	if g.r.IntN(3) == 0 {
		f[features.MaxSourceFailedContacts] = 1
		b.Hosts = append(b.Hosts, features.HostActivity{Addr: lanAddr(1 + g.r.IntN(40)), NewPorts: 1, NewHosts: 1, FailedFirst: 1})
	}
	f[features.MaxServiceHeldConnections] = g.count(2)
	f[features.RefusedConnections] = g.count(1)
	f[features.UnansweredConnections] = g.count(2)
}

// pairTo returns a TCP pair from src to a service.
func pairTo(src, dst [16]byte, port uint16) features.PairActivity {
	return features.PairActivity{Key: features.PairKey{Src: src, Dst: dst, Port: port, Proto: features.ProtoTCP}}
}

// benignN returns n consecutive benign windows.
func (g *gen) benignN(n int) []*features.Window {
	out := make([]*features.Window, n)
	for i := range out {
		out[i] = g.benign()
	}
	return out
}

func vectors(ws []*features.Window) []features.Vector {
	out := make([]features.Vector, len(ws))
	for i, w := range ws {
		out[i] = w.Features
	}
	return out
}

// addPackets adds n packets of protocol proto and size bytes to the
// window.s rates.
func addPackets(w *features.Window, proto features.Index, n, size float64) {
	f := &w.Features
	secs := w.Seconds
	oldN := f[features.PacketsPerSecond] * secs
	oldB := f[features.BytesPerSecond] * secs
	f[proto] += n / secs
	f[features.PacketsPerSecond] += n / secs
	f[features.BytesPerSecond] += n * size / secs
	f[features.PeakPacketsPerSecond] += math.Round(n / secs * 1.1)
	f[features.PeakBytesPerSecond] += math.Round(n * size / secs * 1.1)
	f[features.PacketSizeMean] = (oldB + n*size) / (oldN + n)
	f[features.InterarrivalMean] = 1 / f[features.PacketsPerSecond]
	f[features.InterarrivalStddev] = 1.2 / f[features.PacketsPerSecond]
}

func setShares(w *features.Window, src, dst [16]byte, srcShare, dstShare float64) {
	f := &w.Features
	n := uint64(f[features.PacketsPerSecond] * w.Seconds)
	f[features.TopSourceShare] = math.Max(f[features.TopSourceShare], srcShare)
	f[features.TopDestinationShare] = math.Max(f[features.TopDestinationShare], dstShare)
	w.Heavy.SourcesByPackets = append([]features.HeavyHitter{{Addr: src, Count: uint64(float64(n) * srcShare)}}, w.Heavy.SourcesByPackets...)
	w.Heavy.DestinationsByPackets = append([]features.HeavyHitter{{Addr: dst, Count: uint64(float64(n) * dstShare)}}, w.Heavy.DestinationsByPackets...)
}

// Attacks, each written over a benign window as the aggregator would see
// it: the attack's own packets added to the normal traffic.

func vertScan(w *features.Window, src [16]byte) {
	f := &w.Features
	addPackets(w, features.TCPPacketsPerSecond, 2000, 60) // SYN and the RSTs back
	f[features.TCPSyn] += 1000
	f[features.TCPRst] += 990
	f[features.TCPHalfOpenRatio] = (f[features.TCPSyn] - f[features.TCPSynAck]) / f[features.TCPSyn]
	f[features.UniqueDestinationPorts] += 1000
	f[features.UniqueConnections] += 1000
	f[features.NewFlowsPerSecond] += 100
	f[features.ActiveFlows] += 1000
	f[features.MaxSourcePortFanout] = 1000
	f[features.UniqueSources]++
	f[features.DestinationPortEntropy] = 9.5
	// The scan knocks on SSH, Telnet, RDP and the databases too.
	f[features.AuthAttempts] += 20
	f[features.MaxSourceAuthAttempts] = 20
	w.Heavy.PortFanout = append([]features.HeavyHitter{{Addr: src, Count: 1000}}, w.Heavy.PortFanout...)
	w.Heavy.HostFanout = append([]features.HeavyHitter{{Addr: src, Count: 1}}, w.Heavy.HostFanout...)
	w.Heavy.AuthAttempts = append([]features.HeavyHitter{{Addr: src, Count: 20}}, w.Heavy.AuthAttempts...)
	setShares(w, src, victim, 0.45, 0.45)
	b := &w.Behaviour
	b.Hosts = append(b.Hosts, features.HostActivity{Addr: src, NewPorts: 1000, NewHosts: 1, FailedFirst: 997, OKFirst: 3, Target: victim, TargetPorts: 1000})
	for _, port := range []uint16{22, 23, 3306} { // one knock each on auth ports
		p := pairTo(src, victim, port)
		p.Attempts, p.Syns, p.HalfOpen = 1, 1, 1
		b.Pairs = append(b.Pairs, p)
	}
	f[features.MaxSourceFailedContacts] = 997
}

func horizScan(w *features.Window, src [16]byte) {
	f := &w.Features
	addPackets(w, features.TCPPacketsPerSecond, 500, 60)
	f[features.TCPSyn] += 254
	f[features.TCPRst] += 200
	f[features.TCPHalfOpenRatio] = (f[features.TCPSyn] - f[features.TCPSynAck]) / f[features.TCPSyn]
	f[features.UniqueDestinations] += 254
	f[features.UniqueConnections] += 254
	f[features.ActiveFlows] += 254
	f[features.MaxSourceHostFanout] = 254
	f[features.UniqueSources]++
	f[features.DestinationEntropy] = 8
	w.Heavy.HostFanout = append([]features.HeavyHitter{{Addr: src, Count: 254}}, w.Heavy.HostFanout...)
	setShares(w, src, victim, 0.15, 0.2)
	b := &w.Behaviour
	b.Hosts = append(b.Hosts, features.HostActivity{Addr: src, NewPorts: 254, NewHosts: 254, FailedFirst: 240, OKFirst: 14})
	for i := range 10 {
		p := pairTo(src, lanAddr(200+i), 22)
		p.Attempts, p.Syns, p.Refused = 1, 1, 1
		b.Pairs = append(b.Pairs, p)
	}
	f[features.MaxSourceFailedContacts] = 240
}

func synFlood(w *features.Window, dst [16]byte) {
	f := &w.Features
	addPackets(w, features.TCPPacketsPerSecond, 50_000, 60)
	f[features.TCPSyn] += 50_000
	f[features.TCPSynAck] += 300
	f[features.TCPHalfOpenRatio] = (f[features.TCPSyn] - f[features.TCPSynAck]) / f[features.TCPSyn]
	f[features.UniqueSources] += 30_000 // spoofed
	f[features.UniqueConnections] += 50_000
	f[features.NewFlowsPerSecond] += 5000
	f[features.ActiveFlows] += 50_000
	f[features.SourceEntropy] = 14.5
	f[features.DestinationEntropy] = 0.3
	f[features.TopDestinationShare] = 0.95
	w.Heavy.DestinationsByPackets = []features.HeavyHitter{{Addr: dst, Count: 50_000}}
	w.Heavy.SourcesByPackets = []features.HeavyHitter{{Addr: attacker, Count: 3}, {Addr: ip("198.51.100.7"), Count: 3}}
	// Forged sources, a SYN or two each; the target answers each with a
	// SYN-ACK that goes nowhere.
	b := &w.Behaviour
	for _, all := range []bool{false, true} {
		s := features.ServiceActivity{Key: features.ServiceKey{Addr: dst, Port: 80, Proto: features.ProtoTCP}, SynAcks: 300, NewSources: 30_000}
		if all {
			s.Key.Port, s.Key.AllPorts = 0, true
		}
		s.Attempts, s.Syns, s.HalfOpen, s.Unanswered = 50_000, 50_000, 300, 49_700
		b.Services = append(b.Services, s)
	}
	for _, src := range []([16]byte){attacker, ip("198.51.100.7")} {
		p := pairTo(src, dst, 80)
		p.Attempts, p.Syns, p.Unanswered = 2, 2, 2
		b.Pairs = append(b.Pairs, p)
	}
	f[features.MaxServiceIncompleteSyns] = 50_000
}

func udpFlood(w *features.Window, src, dst [16]byte) {
	addPackets(w, features.UDPPacketsPerSecond, 200_000, 1200)
	f := &w.Features
	f[features.UniqueConnections] += 1000
	f[features.UniqueDestinationPorts] += 1000
	f[features.DestinationEntropy] = 0.2
	setShares(w, src, dst, 0.95, 0.95)
	datagramFlood(w, src, dst, features.ProtoUDP, 7777, 200_000, 1200)
	f[features.MaxTargetUDPPackets] = 200_000
}

func icmpFlood(w *features.Window, src, dst [16]byte) {
	addPackets(w, features.ICMPPacketsPerSecond, 60_000, 1000)
	w.Features[features.ICMPEchoRequests] += 60_000
	setShares(w, src, dst, 0.95, 0.95)
	datagramFlood(w, src, dst, features.ProtoICMP, 0, 60_000, 1000)
	w.Features[features.MaxTargetICMPRequests] = 60_000
}

// datagramFlood writes n packets from src to dst in the behaviour: the
// victim answers a few (ICMP errors, echo replies).
func datagramFlood(w *features.Window, src, dst [16]byte, proto features.Protocol, port uint16, n, size uint32) {
	c := features.Conns{Attempts: 1, Packets: n, Bytes: uint64(n) * uint64(size), Replies: n / 100, ReplyBytes: uint64(n / 100 * 70)}
	w.Behaviour.Pairs = append(w.Behaviour.Pairs, features.PairActivity{Key: features.PairKey{Src: src, Dst: dst, Port: port, Proto: proto}, Conns: c})
	w.Behaviour.Services = append(w.Behaviour.Services, features.ServiceActivity{Key: features.ServiceKey{Addr: dst, Proto: proto, AllPorts: true}, Conns: c})
}

// unsolicited writes reflected answers from the reflectors' port to dst.
func unsolicited(w *features.Window, dst [16]byte, port uint16, n uint32, size uint64) {
	b := &w.Behaviour
	var dns uint64
	if port == 53 {
		dns = uint64(n) * size
	}
	for i, r := range reflectors {
		k := uint32(len(reflectors))
		c := features.Conns{Unsolicited: n / k, UnsolicitedBytes: uint64(n/k) * size, UnsolicitedDNSBytes: dns / uint64(k)}
		if i == 0 {
			c.Unsolicited += n % k
		}
		b.Pairs = append(b.Pairs, features.PairActivity{Key: features.PairKey{Src: r.Addr, Dst: dst, Port: port, Proto: features.ProtoUDP}, Conns: c})
	}
	b.Services = append(b.Services, features.ServiceActivity{Key: features.ServiceKey{Addr: dst, Proto: features.ProtoUDP, AllPorts: true},
		Conns: features.Conns{Unsolicited: n, UnsolicitedBytes: uint64(n) * size, UnsolicitedDNSBytes: dns}})
	w.Features[features.MaxTargetUnsolicitedBytes] = float64(uint64(n) * size)
}

var reflectors = []features.HeavyHitter{{Addr: ip("192.0.2.53"), Count: 9000}, {Addr: ip("198.51.100.53"), Count: 8000}}

func dnsAmp(w *features.Window, dst [16]byte) {
	f := &w.Features
	addPackets(w, features.UDPPacketsPerSecond, 20_000, 3000)
	f[features.DNSResponses] += 20_000
	oldBytes := (f[features.DNSResponses] - 20_000) * f[features.DNSResponseSizeMean]
	f[features.DNSResponseSizeMean] = (oldBytes + 20_000*3000) / f[features.DNSResponses]
	f[features.ReflectionResponseBytes] += 20_000 * 3000 / w.Seconds
	f[features.UniqueSources] += 500
	f[features.Fragments] += 40_000
	f[features.TopDestinationShare] = 0.9
	w.Heavy.SourcesByPackets = slices.Clone(reflectors)
	w.Heavy.DestinationsByPackets = []features.HeavyHitter{{Addr: dst, Count: 20_000}}
	unsolicited(w, dst, 53, 20_000, 3000)
}

func ntpReflection(w *features.Window, dst [16]byte) {
	f := &w.Features
	addPackets(w, features.UDPPacketsPerSecond, 50_000, 468)
	f[features.ReflectionResponseBytes] += 50_000 * 468 / w.Seconds
	f[features.UniqueSources] += 800
	f[features.TopDestinationShare] = 0.95
	w.Heavy.SourcesByPackets = slices.Clone(reflectors)
	w.Heavy.DestinationsByPackets = []features.HeavyHitter{{Addr: dst, Count: 50_000}}
	unsolicited(w, dst, 123, 50_000, 468)
}

// bruteForce adds n SSH connection attempts from src to server.
func bruteForce(w *features.Window, src [16]byte, n float64) {
	f := &w.Features
	addPackets(w, features.TCPPacketsPerSecond, 20*n, 120)
	f[features.TCPSyn] += n
	f[features.TCPSynAck] += n
	f[features.TCPFin] += n
	f[features.TCPHalfOpenRatio] = (f[features.TCPSyn] - math.Min(f[features.TCPSynAck], f[features.TCPSyn])) / f[features.TCPSyn]
	f[features.UniqueConnections] += n
	f[features.AuthAttempts] += n
	f[features.MaxSourceAuthAttempts] = math.Max(f[features.MaxSourceAuthAttempts], n)
	w.Heavy.AuthAttempts = append([]features.HeavyHitter{{Addr: src, Count: uint64(n)}}, w.Heavy.AuthAttempts...)
	slices.SortStableFunc(w.Heavy.AuthAttempts, func(a, b features.HeavyHitter) int { return int(b.Count) - int(a.Count) })
	if n >= 50 {
		setShares(w, src, server, 0.4, 0.4)
	}
	p := pairTo(src, server, 22)
	c := uint32(n)
	p.Attempts, p.Syns, p.Established, p.Requests, p.Sessions, p.ShortSessions = c, c, c, 4*c, c, c
	w.Behaviour.Pairs = append(w.Behaviour.Pairs, p)
	f[features.MaxPairAuthConnections] = max(f[features.MaxPairAuthConnections], n)
	f[features.TCPEstablished] += n
}

func slowloris(w *features.Window, src [16]byte) {
	f := &w.Features
	f[features.HTTPIdleConnections] += 800
	f[features.ActiveFlows] += 800
	f[features.UniqueConnections] += 800
	addPackets(w, features.TCPPacketsPerSecond, 800, 70)
	setShares(w, src, server, 0.2, 0.3)
	p := pairTo(src, server, 80)
	p.Held = 800
	w.Behaviour.Pairs = append(w.Behaviour.Pairs, p)
	w.Behaviour.Services = append(w.Behaviour.Services, features.ServiceActivity{Key: features.ServiceKey{Addr: server, Port: 80, Proto: features.ProtoTCP}, Conns: features.Conns{Held: 800}})
	f[features.MaxServiceHeldConnections] = 800
}

// spike multiplies every volume by k, keeping the mix.
func spike(w *features.Window, k float64) {
	f := &w.Features
	for _, i := range []features.Index{features.PacketsPerSecond, features.BytesPerSecond, features.PeakPacketsPerSecond, features.PeakBytesPerSecond,
		features.TCPPacketsPerSecond, features.UDPPacketsPerSecond, features.ICMPPacketsPerSecond, features.TCPSyn, features.TCPSynAck,
		features.TCPFin, features.TCPRst, features.UniqueConnections, features.NewFlowsPerSecond, features.ActiveFlows, features.DNSQueries,
		features.DNSResponses, features.ReflectionResponseBytes, features.ReflectionRequestBytes} {
		f[i] *= k
	}
	f[features.InterarrivalMean] /= k
	f[features.InterarrivalStddev] /= k
	f[features.TopSourceShare] = 0.5
	w.Heavy.SourcesByPackets[0].Count = uint64(f[features.PacketsPerSecond] * w.Seconds / 2)
}

// drop leaves a trickle of k packets per second (the span port died).
func drop(w *features.Window, pps float64) {
	f := &w.Features
	r := pps / f[features.PacketsPerSecond]
	for i := range features.NumFeatures {
		switch i {
		case features.PacketSizeMean, features.PacketSizeStddev, features.FlowDurationMean, features.TCPHalfOpenRatio,
			features.DNSResponseSizeMean, features.TopSourceShare, features.TopDestinationShare:
		case features.InterarrivalMean, features.InterarrivalStddev:
			f[i] /= r
		case features.SourceEntropy, features.DestinationEntropy, features.DestinationPortEntropy:
			f[i] = 1
		case features.UniqueSources, features.UniqueDestinations, features.UniqueDestinationPorts, features.MaxSourcePortFanout, features.MaxSourceHostFanout:
			f[i] = math.Min(f[i], 2)
		default:
			f[i] = math.Round(f[i]*r*100) / 100
		}
	}
	w.Heavy = features.Heavy{}
}

var (
	gatewayMAC = [6]byte{2, 0, 0, 0, 0, 1}
	spoofMAC   = [6]byte{2, 0, 0, 0, 0, 0x66}
)

// arpSpoof writes 20 claims of the gateway's address by another MAC, the
// gateway still answering for it.
func arpSpoof(w *features.Window) {
	f := &w.Features
	addPackets(w, features.ARPPacketsPerSecond, 40, 42)
	f[features.ARPReplies] += 40
	f[features.ARPAddressConflicts] = 20
	w.Behaviour.ARP = append(w.Behaviour.ARP, features.ARPClaim{IP: lanAddr(1), Owner: gatewayMAC, Claimant: spoofMAC, Claims: 20, OwnerLast: w.Start + 3*sec})
}

// Training a full model set takes a while: tests share one per seed.
var (
	trainedMu   sync.Mutex
	trainedSets = map[uint64]*ModelSet{}
)

// trainSet returns a model set of every member trained on 360 benign
// windows of generator seed 1, with training seed seed. Callers must not
// let it learn: use Clone for that.
func trainSet(t testing.TB, seed uint64) *ModelSet {
	t.Helper()
	trainedMu.Lock()
	defer trainedMu.Unlock()
	if s := trainedSets[seed]; s != nil {
		return s
	}
	cfg := DefaultConfig().Train
	cfg.Seed = seed
	s, err := Train(cfg, vectors(newGen(1).benignN(360)), nil)
	if err != nil {
		t.Fatal(err)
	}
	trainedSets[seed] = s
	return s
}

// newTrained returns a detector with a private copy of the shared set,
// and a generator whose windows continue the training traffic.
func newTrained(t testing.TB, cfg Config, genSeed uint64) (*Detector, *gen) {
	t.Helper()
	set, err := trainSet(t, cfg.Train.Seed).Clone()
	if err != nil {
		t.Fatal(err)
	}
	return New(cfg, "eth0", set), newGen(genSeed)
}

func testConfig() Config {
	c := DefaultConfig()
	c.Synchronous = true
	c.RetrainEvery = 0
	c.Now = func() time.Time { return time.Unix(1_700_000_000, 0) }
	return c
}

func hasAttack(as []Attack, typ string) bool {
	return slices.ContainsFunc(as, func(a Attack) bool { return a.Type == typ })
}

func attackOf(as []Attack, typ string) *Attack {
	for i := range as {
		if as[i].Type == typ {
			return &as[i]
		}
	}
	return nil
}

func types(as []Attack) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Type)
	}
	return out
}
