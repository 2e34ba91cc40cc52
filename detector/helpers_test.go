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
	return w
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
}

func udpFlood(w *features.Window, src, dst [16]byte) {
	addPackets(w, features.UDPPacketsPerSecond, 200_000, 1200)
	f := &w.Features
	f[features.UniqueConnections] += 1000
	f[features.UniqueDestinationPorts] += 1000
	f[features.DestinationEntropy] = 0.2
	setShares(w, src, dst, 0.95, 0.95)
}

func icmpFlood(w *features.Window, src, dst [16]byte) {
	addPackets(w, features.ICMPPacketsPerSecond, 60_000, 1000)
	w.Features[features.ICMPEchoRequests] += 60_000
	setShares(w, src, dst, 0.95, 0.95)
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
}

func ntpReflection(w *features.Window, dst [16]byte) {
	f := &w.Features
	addPackets(w, features.UDPPacketsPerSecond, 50_000, 468)
	f[features.ReflectionResponseBytes] += 50_000 * 468 / w.Seconds
	f[features.UniqueSources] += 800
	f[features.TopDestinationShare] = 0.95
	w.Heavy.SourcesByPackets = slices.Clone(reflectors)
	w.Heavy.DestinationsByPackets = []features.HeavyHitter{{Addr: dst, Count: 50_000}}
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
}

func slowloris(w *features.Window, src [16]byte) {
	f := &w.Features
	f[features.HTTPIdleConnections] += 800
	f[features.ActiveFlows] += 800
	f[features.UniqueConnections] += 800
	addPackets(w, features.TCPPacketsPerSecond, 800, 70)
	setShares(w, src, server, 0.2, 0.3)
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

func arpSpoof(w *features.Window, mac [16]byte) {
	f := &w.Features
	addPackets(w, features.ARPPacketsPerSecond, 40, 42)
	f[features.ARPReplies] += 40
	f[features.ARPAddressConflicts] = 20
	_ = mac
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
