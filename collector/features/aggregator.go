package features

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"time"
	"unsafe"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/collector/features/sketch"
)

// Config bounds and shapes an Aggregator.
type Config struct {
	Window      time.Duration // window length, cut on packet timestamps
	FlowsMax    int           // flow table capacity
	FlowIdle    time.Duration // a flow without packets for this long ends
	FlowActive  time.Duration // a flow older than this ends
	TopK        int           // top sources and destinations by bytes; 0 disables
	MaxGapFills int           // empty windows emitted for a gap before skipping ahead
	// Horizon is how many windows an address's ARP owner may stay
	// silent and keep it; first contacts are remembered over it or
	// ContactMemory, whichever is longer.
	Horizon int
	// Blocklists, when set, counts the packets to and from listed
	// addresses and reports the local hosts that talk with them.
	Blocklists Blocklists
	// FlowExport, when set, is called with every flow that leaves the
	// flow table (flow records: IPFIX), on the aggregator's goroutine:
	// it must not block, and the record is valid only during the call.
	FlowExport func(*FlowRecord)
	// Countries, when set, counts packets and bytes by source country.
	Countries Countries
}

// DefaultConfig returns the defaults the exporter's flags use.
func DefaultConfig() Config {
	return Config{
		Window:      10 * time.Second,
		FlowsMax:    65536,
		FlowIdle:    30 * time.Second,
		FlowActive:  5 * time.Minute,
		MaxGapFills: 360,
		Horizon:     30,
	}
}

// ContactMemory is how long a first contact is remembered, at least: a
// service contacted again within it is not new. Slow scans are judged
// over as long.
const ContactMemory = 30 * time.Minute

// MaxTopK caps Config.TopK: each entry becomes a labelled series.
const MaxTopK = 50

// Sketch sizes. They bound memory per interface whatever the traffic.
const (
	hllPrecision   = 14      // 16 KiB each, standard error 0.8%
	entropyBuckets = 4096    // address entropy saturates near 12 bits
	fanoutBits     = 1 << 22 // 512 KiB per Bloom filter: about 2.5% false positives at 500k pairs
	contactBits    = 1 << 23
	fanoutK        = 4
	heavyK         = 16 // heavy-hitter slots per summary
	// filterWidth counters per row admit new keys into the summaries: a
	// flood of sources seen once each then costs two increments per packet
	// instead of an eviction (32 KiB per row).
	filterWidth = 8192
)

// SizeBuckets are the upper bounds of the packet size histogram, in bytes.
var SizeBuckets = []float64{64, 128, 256, 512, 1024, 1518, 9000, 65535}

// TopEntry is one heavy hitter by bytes.
type TopEntry struct {
	Addr  [16]byte
	Bytes uint64
}

// HeavyReported is how many heavy hitters a window reports per kind: as
// many as a verdict names (of heavyK tracked).
const HeavyReported = 10

// HeavyHitter is an address with its guaranteed count in the window.
type HeavyHitter struct {
	Addr  [16]byte
	Count uint64
}

// Heavy lists a window's heaviest sources and destinations by kind.
type Heavy struct {
	SourcesByPackets      []HeavyHitter
	DestinationsByPackets []HeavyHitter
	PortFanout            []HeavyHitter // distinct destination ports per source
	HostFanout            []HeavyHitter // distinct destination hosts per source
	AuthAttempts          []HeavyHitter // SYNs to authentication ports per source
	WebConnections        []HeavyHitter // SYNs to web ports per source
}

// Window is the result of one closed window on one interface.
type Window struct {
	Interface  string
	Start, End int64   // Unix nanoseconds, End exclusive
	Seconds    float64 // time the rates are divided by
	Features   Vector
	Packets    [decode.NumProtocols]uint64
	Bytes      [decode.NumProtocols]uint64
	TopSources []TopEntry // by bytes, when Config.TopK > 0
	TopDests   []TopEntry
	// TopPairs are the busiest conversations at the window's close (when
	// Config.TopK > 0): initiator and responder, by the packets of their
	// flows still open.
	TopPairs []PairEntry
	// Heavy hitters of the window, always kept (at most HeavyReported
	// each): the addresses behind a scan, a flood or a brute force.
	Heavy Heavy
	// Behaviour is what hosts did, connection by connection.
	Behaviour Behaviour
	// Senders are the addresses that sent IP packets in the window, in
	// the order they first did, at most MaxSenders: who was there.
	// SendersDropped counts the packets that came once the list was full;
	// when it is not 0 the list may lack some senders.
	Senders        []Sender
	SendersDropped uint64
	// Blocklisted are the local hosts that exchanged packets with an
	// address on a threat-intel list, with it (at most 1024 pairs, those
	// the local host sent to first).
	Blocklisted []BlocklistPeer
	// Countries is the traffic by source country since the start, as of
	// the window's close (with Config.Countries): cumulative counts under
	// a bounded label set.
	Countries []CountryRow
	// Partial is set when the capture saw only part of the window's span
	// (it started or stopped inside it, the source was down, the file
	// ended, the clock went back): Seconds is the part it saw, and the
	// rates are over that part.
	Partial bool
}

// Counters are cumulative since the aggregator started.
type Counters struct {
	Packets     [decode.NumProtocols]uint64
	Bytes       [decode.NumProtocols]uint64
	AppPackets  [decode.NumApps]uint64
	AppBytes    [decode.NumApps]uint64
	Fragments   [decode.NumProtocols]uint64 // IP fragments by the protocol they carry
	SizeCounts  []uint64                    // per SizeBuckets entry, not cumulative, plus +Inf
	SizeSum     float64
	Flows       FlowStats
	FlowsActive int
	FlowsMax    int
	Windows     uint64 // windows closed
	GapSkipped  uint64 // empty windows not emitted because a gap was too long
	ClockResets uint64 // times the packet clock jumped back by more than a window
	// BehaviourDropped counts connection events lost because a behaviour
	// table was full, by table.
	BehaviourDropped BehaviourDrops
	ARPReplaced      uint64 // ARP and IPv6 neighbour owner slots taken over by another address
	TraceReplaced    uint64 // live path traces whose slot another sender and destination took
	// BlocklistPackets counts packets to or from an address on each
	// threat-intel list, by list name; nil without lists.
	BlocklistPackets map[string]uint64
	// BlocklistPairsDropped counts packets of blocklisted pairs a full
	// window had no room for.
	BlocklistPairsDropped uint64
	// SendersDropped counts the packets that came once a window's list of
	// senders was full (Window.SendersDropped, summed).
	SendersDropped uint64
}

// windowState is the per-window accumulation, reset at each window.
type windowState struct {
	packets, bytes      uint64
	sizeSq              float64
	iaCount             uint64
	iaSum, iaSq         float64
	sec                 int64
	secPackets          uint64
	secBytes            uint64
	peakPkts, peakBytes uint64
	sustPkts, sustBytes uint64 // busiest window-long span ending in this window
	proto               [decode.NumProtocols]uint64
	protoBytes          [decode.NumProtocols]uint64
	syn, synAck         uint64
	rst, fin            uint64
	unreach, echo       uint64
	dnsQ, dnsR          uint64
	dnsErr              uint64
	dnsRBytes           uint64
	frags               uint64
	arpReq, arpRep      uint64
	arpConflicts        uint64
	established         uint64 // TCP handshakes completed
	refused, unanswered uint64 // attempts refused, unanswered
	httpRequests        uint64
	dnsNames            uint64 // queries whose name was read
	dnsNameLen          uint64
	dnsNameEntropy      uint64 // sixteenths of a bit per character, summed
	dnsTunnel           uint64
	reflResp, reflReq   uint64
	auth                uint64
	ipPackets           uint64
	portCount           uint64
	ports               [65536 / 64]uint64
}

// Aggregator turns PacketInfo into windows. It is not safe for concurrent
// use: one goroutine owns it and hands out copies.
type Aggregator struct {
	cfg    Config
	iface  string
	length int64
	emit   func(*Window)

	started    bool
	start      int64
	lastTime   int64
	havePacket bool

	w        windowState
	counters Counters
	recent   slidingSum // the last window length of seconds, across windows

	srcHLL, dstHLL, connHLL *sketch.HLL
	srcEnt, dstEnt, portEnt *sketch.Histogram
	portPairs, hostPairs    *sketch.Bloom
	portFanout, hostFanout  *sketch.SpaceSaving
	srcPackets, dstPackets  *sketch.SpaceSaving
	authSources, webSources *sketch.SpaceSaving
	topSrc, topDst          *sketch.SpaceSaving
	arp                     arpTable
	arpClaims               []ARPClaim // this window's conflicting claims
	dhcp                    *dhcpState
	flows                   *flowTable
	senders                 *senderSet
	scratch                 []sketch.Entry

	bl             *blocklistState     // nil without lists
	pairSums       map[[32]byte]uint64 // topPairs' scratch
	flowRec        FlowRecord          // the record FlowExport is handed
	geo            *geoState           // nil without a country database
	bh             *behaviour
	contacts       rotatingBloom // first contacts with hosts and services
	traces         traceTable    // senders tracing the path to a destination
	horizonWindows int           // windows since the contact filters rotated
	seq            uint32        // windows closed: the behaviour tables' generation
	visit          func(i int, now int64)

	// Coverage: the capture saw the current window from coverFrom on
	// (when up), plus covered nanoseconds before a stop.
	up        bool
	coverFrom int64
	covered   int64

	hashes [batchMax]packetHashes // AddBatch's per-packet hashes
	sink   uint64                 // keeps AddBatch's reads from being optimised away
}

// batchMax is the most packets AddBatch prepares at a time.
const batchMax = 64

// packetHashes are the hashes a packet's accounting uses, computed once.
// A zero hash means the packet has no such key.
type packetHashes struct {
	src, dst           uint64 // addresses, for IP and ARP
	flow               uint64 // flow key, for IP
	hostPair, portPair uint64 // fan-out filter keys, for packets that initiate
	// For packets that may open a flow: the first-contact filter keys
	// and the pair's hash, as if the sender were its initiator.
	cHost, cPort, pair uint64
	fromA              bool // the packet goes from the flow's A endpoint to B
	l4ports            bool // TCP or UDP: has ports
	// trace is set on a packet that opens a flow as a path trace's
	// climbing probe (traceTable): no attempt on the destination.
	trace bool
}

// NewAggregator returns an aggregator for one interface. emit is called
// synchronously with each closed window; the window is the caller's to keep.
func NewAggregator(cfg Config, iface string, emit func(*Window)) *Aggregator {
	def := DefaultConfig()
	if cfg.Window <= 0 {
		cfg.Window = def.Window
	}
	if cfg.FlowsMax <= 0 {
		cfg.FlowsMax = def.FlowsMax
	}
	if cfg.FlowIdle <= 0 {
		cfg.FlowIdle = def.FlowIdle
	}
	if cfg.FlowActive <= 0 {
		cfg.FlowActive = def.FlowActive
	}
	if cfg.MaxGapFills <= 0 {
		cfg.MaxGapFills = def.MaxGapFills
	}
	if cfg.Horizon <= 0 {
		cfg.Horizon = def.Horizon
	}
	cfg.TopK = min(max(cfg.TopK, 0), MaxTopK)
	a := &Aggregator{
		cfg:         cfg,
		iface:       iface,
		length:      int64(cfg.Window),
		recent:      slidingSum{span: max(1, int64(cfg.Window+time.Second/2)/int64(time.Second))},
		emit:        emit,
		srcHLL:      sketch.NewHLL(hllPrecision),
		dstHLL:      sketch.NewHLL(hllPrecision),
		connHLL:     sketch.NewHLL(hllPrecision),
		srcEnt:      sketch.NewHistogram(entropyBuckets),
		dstEnt:      sketch.NewHistogram(entropyBuckets),
		portEnt:     sketch.NewHistogram(65536),
		portPairs:   sketch.NewBloom(fanoutBits, fanoutK),
		hostPairs:   sketch.NewBloom(fanoutBits, fanoutK),
		portFanout:  sketch.NewFilteredSpaceSaving(heavyK, filterWidth),
		hostFanout:  sketch.NewFilteredSpaceSaving(heavyK, filterWidth),
		srcPackets:  sketch.NewFilteredSpaceSaving(heavyK, filterWidth),
		dstPackets:  sketch.NewFilteredSpaceSaving(heavyK, filterWidth),
		authSources: sketch.NewFilteredSpaceSaving(heavyK, filterWidth),
		webSources:  sketch.NewFilteredSpaceSaving(heavyK, filterWidth),
		flows:       newFlowTable(cfg.FlowsMax, int64(cfg.FlowIdle), int64(cfg.FlowActive)),
		scratch:     make([]sketch.Entry, 0, max(heavyK, MaxTopK)*2),
		bh:          newBehaviour(),
		senders:     newSenderSet(),
		dhcp:        newDHCPState(),
		// 8 Mbit (1 MiB) each: under 0.1% false positives at 200k first
		// contacts (hosts and services) a horizon.
		contacts: newRotatingBloom(contactBits),
	}
	if cfg.Blocklists != nil {
		a.bl = newBlocklistState(cfg.Blocklists)
	}
	if cfg.Countries != nil {
		a.geo = newGeoState(cfg.Countries)
	}
	if cfg.FlowExport != nil {
		a.flows.counts = make([]flowCounts, len(a.flows.slots))
	}
	a.flows.finish = a.finishFlow
	a.visit = a.visitFlow
	a.arp.ownerTimeout = int64(cfg.Horizon) * int64(cfg.Window)
	if cfg.TopK > 0 {
		// A few spare slots make the reported top-k more accurate.
		a.topSrc = sketch.NewSpaceSaving(cfg.TopK * 2)
		a.topDst = sketch.NewSpaceSaving(cfg.TopK * 2)
	}
	a.counters.SizeCounts = make([]uint64, len(SizeBuckets)+1)
	a.counters.FlowsMax = a.flows.capacity()
	return a
}

// Config returns the configuration in effect after defaults and caps.
func (a *Aggregator) Config() Config { return a.cfg }

// Counters returns a copy of the cumulative counters.
func (a *Aggregator) Counters() Counters {
	c := a.counters
	c.SizeCounts = append([]uint64(nil), a.counters.SizeCounts...)
	c.BlocklistPackets = maps.Clone(a.counters.BlocklistPackets)
	c.Flows = a.flows.stats
	c.FlowsActive = a.flows.used
	c.ARPReplaced = a.arp.replaced
	c.TraceReplaced = a.traces.replaced
	return c
}

// CountersInto copies the cumulative counters into c, reusing its slices.
func (a *Aggregator) CountersInto(c *Counters) {
	sizes, lists := c.SizeCounts, c.BlocklistPackets
	*c = a.counters
	c.SizeCounts = append(sizes[:0], a.counters.SizeCounts...)
	c.BlocklistPackets = nil
	if a.counters.BlocklistPackets != nil {
		if lists == nil {
			lists = map[string]uint64{}
		}
		clear(lists)
		maps.Copy(lists, a.counters.BlocklistPackets)
		c.BlocklistPackets = lists
	}
	c.Flows = a.flows.stats
	c.FlowsActive = a.flows.used
	c.ARPReplaced = a.arp.replaced
	c.TraceReplaced = a.traces.replaced
}

// Add accounts one decoded packet.
func (a *Aggregator) Add(p *decode.PacketInfo) {
	var h packetHashes
	prepare(p, &h)
	a.add(p, &h)
}

// AddBatch accounts packets in order, as Add on each would, but faster: it
// first hashes every packet, then touches the cache lines the packets will
// update in the flow table (a bucket's slots, then the endpoints of the
// flow each packet finds or evicts), the fan-out filters and the port
// histogram.
// Those are random reads into megabytes. Issued by tight loops that do
// nothing else, their cache misses overlap, where the accounting would
// stall on each in turn.
func (a *Aggregator) AddBatch(ps []decode.PacketInfo) {
	for len(ps) > 0 {
		n := min(len(ps), batchMax)
		hs := a.hashes[:n]
		for i := range hs {
			prepare(&ps[i], &hs[i])
		}
		var sink uint64
		for i := range hs {
			if hs[i].flow != 0 {
				sink ^= a.flows.touch(hs[i].flow)
			}
		}
		for i := range hs {
			if hs[i].flow != 0 {
				sink ^= a.flows.touchEnds(hs[i].flow)
			}
		}
		for i := range hs {
			if hs[i].hostPair != 0 {
				sink ^= a.hostPairs.Touch(hs[i].hostPair)
			}
			if hs[i].portPair != 0 {
				sink ^= a.portPairs.Touch(hs[i].portPair)
			}
			if hs[i].l4ports {
				sink ^= a.portEnt.TouchIndex(uint32(ps[i].DstPort))
			}
		}
		for i := range hs {
			if hs[i].cHost != 0 {
				sink ^= a.contacts.touch(hs[i].cHost) ^ a.contacts.touch(hs[i].cPort)
				sink ^= a.bh.pairs.touch(hs[i].pair)
			}
		}
		a.sink ^= sink
		for i := range hs {
			a.add(&ps[i], &hs[i])
		}
		ps = ps[n:]
	}
}

// prepare computes the hashes of p that its accounting uses.
func prepare(p *decode.PacketInfo, h *packetHashes) {
	*h = packetHashes{}
	if !p.IsIP() && p.L3 != decode.L3ARP {
		return
	}
	h.src, h.dst = sketch.HashAddr(p.Src), sketch.HashAddr(p.Dst)
	h.l4ports = p.Proto == decode.ProtoTCP || p.Proto == decode.ProtoUDP
	if initiates(p) {
		// Fan-out filter keys: source and destination host; source and
		// destination port, TCP and UDP apart (a UDP scan and a TCP scan
		// of the same ports are two sets). 0 means no key.
		h.hostPair = max(h.src^sketch.Mix64(h.dst), 1)
		if h.l4ports {
			pk := uint64(p.DstPort)<<1 | uint64(p.Proto)&1
			h.portPair = max(h.src^sketch.Mix64(pk+0x51afd7ed558ccd), 1)
		}
	}
	if p.IsIP() {
		h.flow, h.fromA = flowKey(p, h.src, h.dst)
		if h.hostPair != 0 && opens(p) {
			port := pairPort(p.Proto, p.DstPort)
			h.cHost, h.cPort = contactKeys(h.src, h.dst, port, p.Proto)
			h.pair = pairHashFrom(h.src, h.dst, port, p.Proto)
		}
	}
}

// add accounts one packet whose hashes prepare computed.
func (a *Aggregator) add(p *decode.PacketInfo, h *packetHashes) {
	t := p.Time
	if !a.started {
		a.begin(t)
	}
	switch {
	case t >= a.start+a.length:
		a.advanceTo(t)
	case t < a.start-a.length || (a.havePacket && t < a.lastTime-a.length):
		// The clock went back by more than a window (a capture stored twice,
		// a clock step): start over at the new time rather than pour the
		// past into the current window. The flows end too: they were last
		// seen after the new time, so they would never time out, and a
		// replay would find its own flows already open.
		a.flows.endAll(a.lastTime)
		a.closeWindow(a.lastTime) // it ends early: divide by the time it covered
		a.counters.ClockResets++
		// First contacts start over too: the same traffic again is as
		// new as it was the first time.
		a.contacts.reset()
		a.dhcp.seen.reset()
		a.horizonWindows = 0
		a.begin(t)
	}
	a.account(p, h)
}

// begin starts the windows and the capture's coverage at t: a window
// starts on the grid, the coverage where the capture does.
func (a *Aggregator) begin(t int64) {
	a.started = true
	a.start = floorDiv(t, a.length) * a.length
	a.w.sec = floorDiv(t, int64(time.Second))
	a.havePacket = false
	a.up, a.coverFrom, a.covered = true, t, 0
}

// Advance closes every window that ended before now (packet clock, Unix
// nanoseconds). It lets quiet links report zero windows. The first call
// starts the coverage: a live source opened at now.
func (a *Aggregator) Advance(now int64) {
	if !a.started {
		a.begin(now)
		return
	}
	if now >= a.start+a.length {
		a.advanceTo(now)
	}
}

// SourceDown says the capture stopped seeing the link at now (an interface
// went away, capture was paused): the windows until SourceUp saw nothing
// and are partial, not quiet.
func (a *Aggregator) SourceDown(now int64) {
	if !a.started || !a.up {
		return
	}
	if now >= a.start+a.length {
		a.advanceTo(now)
	}
	a.covered += max(0, now-max(a.coverFrom, a.start))
	a.up = false
}

// SourceUp says the capture sees the link again from now on.
func (a *Aggregator) SourceUp(now int64) {
	if !a.started {
		a.begin(now)
		return
	}
	if a.up {
		return
	}
	if now >= a.start+a.length {
		a.advanceTo(now)
	}
	a.up, a.coverFrom = true, now
}

// Flush closes the current window even though it is not over, as at the
// end of a capture file. Rates are divided by the time the window covers.
func (a *Aggregator) Flush() {
	if !a.started || (a.w.packets == 0 && !a.havePacket) {
		return
	}
	a.decidePending()
	a.closeWindow(a.lastTime)
	if a.cfg.FlowExport != nil {
		// The capture ended: the flows still open are reported, as
		// ended by force.
		a.flows.endAll(a.lastTime)
	}
	a.start += a.length
	a.havePacket = false
	a.coverFrom = a.start
}

// advanceTo closes the current window and the empty ones up to t.
func (a *Aggregator) advanceTo(t int64) {
	a.closeWindow(a.start + a.length)
	a.start += a.length
	a.havePacket = false
	gaps := (t - a.start) / a.length
	if gaps <= 0 {
		return
	}
	fill := min(gaps, int64(a.cfg.MaxGapFills))
	for range fill {
		a.closeWindow(a.start + a.length)
		a.start += a.length
	}
	if skipped := gaps - fill; skipped > 0 {
		a.counters.GapSkipped += uint64(skipped)
		a.start += skipped * a.length
		a.coverFrom = max(a.coverFrom, a.start)
	}
}

func (a *Aggregator) account(p *decode.PacketInfo, h *packetHashes) {
	w := &a.w
	size := uint64(p.WireLen)
	c := &a.counters
	c.Packets[p.Proto]++
	c.Bytes[p.Proto] += size
	c.AppPackets[p.App]++
	c.AppBytes[p.App] += size
	c.SizeCounts[sizeBucket(p.WireLen)]++
	c.SizeSum += float64(size)

	if a.havePacket {
		if d := p.Time - a.lastTime; d > 0 {
			ds := float64(d) / 1e9
			w.iaSum += ds
			w.iaSq += ds * ds
		}
		w.iaCount++
	}
	a.havePacket = true
	a.lastTime = p.Time

	if sec := floorDiv(p.Time, int64(time.Second)); sec != w.sec {
		a.closeSecond()
		w.sec = sec
	}
	w.secPackets++
	w.secBytes += size

	w.packets++
	w.bytes += size
	w.sizeSq += float64(size) * float64(size)
	w.proto[p.Proto]++
	w.protoBytes[p.Proto] += size

	if p.Fragment {
		w.frags++
		c.Fragments[p.FragmentProto]++
	}
	switch p.Proto {
	case decode.ProtoTCP:
		f := p.TCPFlags
		if f&decode.TCPSyn != 0 {
			if f&decode.TCPAck != 0 {
				w.synAck++
			} else {
				w.syn++
				if authPorts.has(p.DstPort) {
					w.auth++
					a.authSources.Add(p.Src, h.src, 1)
				} else if webPorts.has(p.DstPort) {
					a.webSources.Add(p.Src, h.src, 1)
				}
			}
		}
		if f&decode.TCPRst != 0 {
			w.rst++
		}
		if f&decode.TCPFin != 0 {
			w.fin++
		}
	case decode.ProtoICMP:
		switch p.ICMPType {
		case 3:
			w.unreach++
		case 8:
			w.echo++
		}
	case decode.ProtoICMPv6:
		switch p.ICMPType {
		case 1:
			w.unreach++
		case 128:
			w.echo++
		}
	case decode.ProtoUDP:
		if reflectionPorts.has(p.SrcPort) {
			w.reflResp += size
		}
		if reflectionPorts.has(p.DstPort) {
			w.reflReq += size
		}
		if p.DHCPOp != decode.DHCPNone {
			a.dhcp.packet(p)
		}
	case decode.ProtoARP:
		a.arpPacket(p)
	}
	if p.Proto == decode.ProtoICMPv6 {
		a.neighbourPacket(p)
	}
	if p.DNS {
		if p.DNSResponse {
			w.dnsR++
			w.dnsRBytes += size
			if p.DNSRcode != 0 {
				w.dnsErr++
			}
		} else {
			w.dnsQ++
			if p.DNSNameLen > 0 {
				w.dnsNames++
				w.dnsNameLen += uint64(p.DNSNameLen)
				w.dnsNameEntropy += uint64(p.DNSNameEntropy)
				if tunnelLike(p) {
					w.dnsTunnel++
				}
			}
		}
	}

	if !p.IsIP() && p.L3 != decode.L3ARP {
		return
	}
	hs, hd := h.src, h.dst
	a.srcHLL.Add(hs)
	a.dstHLL.Add(hd)
	a.srcEnt.Add(hs, 1)
	a.dstEnt.Add(hd, 1)
	a.srcPackets.Add(p.Src, hs, 1)
	a.dstPackets.Add(p.Dst, hd, 1)
	if a.topSrc != nil {
		a.topSrc.Add(p.Src, hs, size)
		a.topDst.Add(p.Dst, hd, size)
	}
	if h.hostPair != 0 && !a.hostPairs.TestAndAdd(h.hostPair) {
		a.hostFanout.Add(p.Src, hs, 1)
	}
	if h.l4ports {
		port := p.DstPort
		bit := uint64(1) << (port & 63)
		if w.ports[port>>6]&bit == 0 {
			w.ports[port>>6] |= bit
			w.portCount++
		}
		a.portEnt.AddIndex(uint32(port), 1)
		if h.portPair != 0 && !a.portPairs.TestAndAdd(h.portPair) {
			a.portFanout.Add(p.Src, hs, 1)
		}
	}
	if p.IsIP() {
		w.ipPackets++
		a.senders.add(p.Src, p.SrcMAC, hs)
		if a.bl != nil {
			a.blocklistPacket(p, h)
		}
		if a.geo != nil {
			a.geo.window.Add(a.geo.country(p.Src, h.src), int(size))
		}
		a.track(p, h)
		a.connHLL.Add(h.flow)
		if p.Proto == decode.ProtoOther && !p.NonFirstFragment {
			a.otherProtocol(p, h)
		}
	}
}

// otherProtocol counts a packet of an IP protocol other than TCP, UDP and
// ICMP (GRE, ESP, SCTP, OSPF, ...) as a first contact with that protocol
// of its destination: a host speaks one or two of them to a peer, a
// protocol scan (nmap -sO) tries them all on one host.
func (a *Aggregator) otherProtocol(p *decode.PacketInfo, h *packetHashes) {
	if GroupAddr(p.Dst) {
		return // OSPF, VRRP, PIM, IGMP go to groups
	}
	host, _ := contactKeys(h.src, h.dst, 0, decode.ProtoOther)
	if a.contacts.testAndAdd(max(sketch.Mix64(host^uint64(p.IPProto)<<8^0x3c6ef372fe94f82b), 1)) {
		return
	}
	if hs := a.bh.host(p.Src); hs != nil {
		hs.NewProtocols++
		hs.ProtocolTarget = p.Dst
	}
}

// arpPacket counts an ARP packet: requests and who answers them (an ARP
// sweep asks for many addresses and hears few answers), and the sender's
// claim on its address (a second MAC claiming an address whose owner is
// still heard from is ARP spoofing).
func (a *Aggregator) arpPacket(p *decode.PacketInfo) {
	w := &a.w
	switch p.ARPOp {
	case 1:
		w.arpReq++
		if k, _ := contactKeys(sketch.HashAddr(p.Src), sketch.HashAddr(p.Dst), 0, decode.ProtoARP); p.Dst != p.Src && !a.contacts.testAndAdd(k^0xa0761d6478bd642f) {
			if hs := a.bh.host(p.Src); hs != nil {
				hs.ARPRequests++
			}
		}
	case 2:
		w.arpRep++
		if hs := a.bh.host(p.Dst); hs != nil && p.Dst != ([16]byte{}) {
			hs.ARPAnswered++
		}
		// The host answered is at the reply's target MAC: so the spoofer
		// that tells a victim the gateway is at its own MAC shows, in the
		// same packet, where the victim is.
		if p.Dst != p.Src {
			a.arp.reached(p.Dst, p.ARPTargetMAC, p.Time)
		}
	}
	a.claim(p.Src, p.SrcMAC, p.Time)
}

// neighbourPacket counts an IPv6 neighbour discovery message's claim on
// its source address (decode.PacketInfo.ARPTargetMAC), as an ARP
// packet's sender makes one: a second MAC advertising an address whose
// owner is still heard from is neighbour spoofing, ARP spoofing's IPv6
// form. A packet's Ethernet source is no claim: VRRP's advertisements
// come from a router's own link-local address and the virtual MAC.
func (a *Aggregator) neighbourPacket(p *decode.PacketInfo) {
	if p.ARPTargetMAC != ([6]byte{}) {
		a.claim(p.Src, p.ARPTargetMAC, p.Time)
	}
}

// claim records mac's claim on the address ip, and a conflict with the
// address's owner in the window's claims.
func (a *Aggregator) claim(ip [16]byte, mac [6]byte, now int64) {
	owner, ownerLast, conflict := a.arp.claim(ip, mac, now)
	if !conflict {
		return
	}
	a.w.arpConflicts++
	for i := range a.arpClaims {
		c := &a.arpClaims[i]
		if c.IP == ip && c.Claimant == mac {
			c.Claims++
			c.OwnerLast = ownerLast
			return
		}
	}
	if len(a.arpClaims) < MaxARPReported {
		a.arpClaims = append(a.arpClaims, ARPClaim{IP: ip, Owner: owner, Claimant: mac, Claims: 1, OwnerLast: ownerLast})
	}
}

// closeSecond folds the finished second into the window's peaks and its
// busiest window-long span.
func (a *Aggregator) closeSecond() {
	w := &a.w
	w.peakPkts = max(w.peakPkts, w.secPackets)
	w.peakBytes = max(w.peakBytes, w.secBytes)
	if w.secPackets > 0 {
		p, b := a.recent.add(w.sec, w.secPackets, w.secBytes)
		w.sustPkts = max(w.sustPkts, p)
		w.sustBytes = max(w.sustBytes, b)
	}
	w.secPackets, w.secBytes = 0, 0
}

// slidingSum sums packets and bytes over the last span seconds. It holds
// at most one entry per second of the span.
type slidingSum struct {
	span           int64
	secs           []secCount
	head           int
	packets, bytes uint64
}

type secCount struct {
	sec            int64
	packets, bytes uint64
}

// add counts a second's packets and bytes (seconds come in order; a second
// split by a window boundary comes twice; an earlier second starts over)
// and returns the sums over the span seconds ending with it.
func (s *slidingSum) add(sec int64, packets, bytes uint64) (uint64, uint64) {
	if n := len(s.secs); n > s.head && s.secs[n-1].sec > sec {
		*s = slidingSum{span: s.span, secs: s.secs[:0]} // the clock went back: start over
	}
	if n := len(s.secs); n > s.head && s.secs[n-1].sec == sec {
		s.secs[n-1].packets += packets
		s.secs[n-1].bytes += bytes
	} else {
		s.secs = append(s.secs, secCount{sec, packets, bytes})
	}
	s.packets += packets
	s.bytes += bytes
	for s.head < len(s.secs) && s.secs[s.head].sec <= sec-s.span {
		s.packets -= s.secs[s.head].packets
		s.bytes -= s.secs[s.head].bytes
		s.head++
	}
	if s.head >= 64 && 2*s.head >= len(s.secs) {
		s.secs = s.secs[:copy(s.secs, s.secs[s.head:])]
		s.head = 0
	}
	return s.packets, s.bytes
}

// closeWindow computes the feature vector, emits it and resets the state.
// The capture saw the window until upTo (its end, unless it closes early)
// from where its coverage began.
func (a *Aggregator) closeWindow(upTo int64) {
	a.closeSecond()
	end := a.start + a.length
	upTo = min(upTo, end)
	a.flows.expire(upTo, a.visit)
	covered := a.covered
	if a.up {
		covered += max(0, upTo-max(a.coverFrom, a.start))
	}
	covered = min(covered, a.length)
	// Rates over the part the capture saw, at least a second of it: a
	// sliver must not turn one packet into a flood.
	secs := max(float64(covered)/1e9, 1)
	secs = min(secs, float64(a.length)/1e9)
	w := &a.w
	win := &Window{
		Interface: a.iface,
		Start:     a.start,
		End:       end,
		Seconds:   float64(covered) / 1e9,
		Packets:   w.proto,
		Bytes:     w.protoBytes,
		Partial:   covered < a.length,
	}
	f := &win.Features
	n := float64(w.packets)
	f[PacketsPerSecond] = n / secs
	f[BytesPerSecond] = float64(w.bytes) / secs
	f[PeakPacketsPerSecond] = float64(w.peakPkts)
	f[PeakBytesPerSecond] = float64(w.peakBytes)
	f[SustainedPacketsPerSecond] = float64(w.sustPkts) / float64(a.recent.span)
	f[SustainedBytesPerSecond] = float64(w.sustBytes) / float64(a.recent.span)
	if w.packets > 0 {
		mean := float64(w.bytes) / n
		f[PacketSizeMean] = mean
		f[PacketSizeStddev] = stddev(mean, w.sizeSq/n)
	}
	if w.iaCount > 0 {
		mean := w.iaSum / float64(w.iaCount)
		f[InterarrivalMean] = mean
		f[InterarrivalStddev] = stddev(mean, w.iaSq/float64(w.iaCount))
	}
	f[TCPPacketsPerSecond] = float64(w.proto[decode.ProtoTCP]) / secs
	f[UDPPacketsPerSecond] = float64(w.proto[decode.ProtoUDP]) / secs
	f[ICMPPacketsPerSecond] = float64(w.proto[decode.ProtoICMP]+w.proto[decode.ProtoICMPv6]) / secs
	f[ARPPacketsPerSecond] = float64(w.proto[decode.ProtoARP]) / secs
	f[OtherPacketsPerSecond] = float64(w.proto[decode.ProtoOther]) / secs
	f[UniqueSources] = float64(a.srcHLL.Estimate())
	f[UniqueDestinations] = float64(a.dstHLL.Estimate())
	f[UniqueDestinationPorts] = float64(w.portCount)
	conns := a.connHLL.Estimate()
	f[UniqueConnections] = float64(conns)
	if conns > 0 {
		f[PacketsPerConnection] = float64(w.ipPackets) / float64(conns)
	}
	f[NewFlowsPerSecond] = float64(a.flows.created) / secs
	f[ActiveFlows] = float64(a.flows.used)
	if a.flows.endedCount > 0 {
		f[FlowDurationMean] = float64(a.flows.endedNanos) / 1e9 / float64(a.flows.endedCount)
	}
	f[TCPSyn] = float64(w.syn)
	f[TCPSynAck] = float64(w.synAck)
	f[TCPRst] = float64(w.rst)
	f[TCPFin] = float64(w.fin)
	if w.syn > 0 {
		f[TCPHalfOpenRatio] = float64(w.syn-min(w.synAck, w.syn)) / float64(w.syn)
	}
	f[ICMPUnreachable] = float64(w.unreach)
	f[ICMPEchoRequests] = float64(w.echo)
	f[DNSQueries] = float64(w.dnsQ)
	f[DNSResponses] = float64(w.dnsR)
	f[DNSErrorResponses] = float64(w.dnsErr)
	if w.dnsR > 0 {
		f[DNSResponseSizeMean] = float64(w.dnsRBytes) / float64(w.dnsR)
	}
	f[MaxSourcePortFanout] = float64(a.topLowerBound(a.portFanout))
	f[MaxSourceHostFanout] = float64(a.topLowerBound(a.hostFanout))
	if total := a.srcPackets.Total(); total > 0 {
		f[TopSourceShare] = float64(a.topLowerBound(a.srcPackets)) / float64(total)
	}
	f[SourceEntropy] = a.srcEnt.Entropy()
	f[DestinationEntropy] = a.dstEnt.Entropy()
	f[DestinationPortEntropy] = a.portEnt.Entropy()
	f[Fragments] = float64(w.frags)
	f[ARPRequests] = float64(w.arpReq)
	f[ARPReplies] = float64(w.arpRep)
	f[ReflectionResponseBytes] = float64(w.reflResp) / secs
	f[ReflectionRequestBytes] = float64(w.reflReq) / secs
	f[AuthAttempts] = float64(w.auth)
	f[MaxSourceAuthAttempts] = float64(a.topLowerBound(a.authSources))
	f[MaxSourceWebConnections] = float64(a.topLowerBound(a.webSources))
	f[HTTPIdleConnections] = float64(a.flows.idleHTTP)
	f[ARPAddressConflicts] = float64(w.arpConflicts)
	a.behaviourFeatures(f)
	if total := a.dstPackets.Total(); total > 0 {
		f[TopDestinationShare] = float64(a.topLowerBound(a.dstPackets)) / float64(total)
	}
	win.Heavy = Heavy{
		SourcesByPackets:      a.heavy(a.srcPackets),
		DestinationsByPackets: a.heavy(a.dstPackets),
		PortFanout:            a.heavy(a.portFanout),
		HostFanout:            a.heavy(a.hostFanout),
		AuthAttempts:          a.heavy(a.authSources),
		WebConnections:        a.heavy(a.webSources),
	}
	if a.topSrc != nil {
		win.TopSources = a.top(a.topSrc)
		win.TopDests = a.top(a.topDst)
		win.TopPairs = a.topPairs()
	}
	a.bh.emit(&win.Behaviour)
	win.Senders, win.SendersDropped = a.senders.emit()
	a.counters.SendersDropped += win.SendersDropped
	win.Behaviour.ARP = slices.Clone(a.arpClaims)
	win.Behaviour.DHCP = a.dhcp.emit()
	win.Behaviour.Dropped.DHCPSenders = uint64(win.Behaviour.DHCP.SendersDropped)
	win.Behaviour.Dropped.DHCPServers = uint64(win.Behaviour.DHCP.ServersDropped)
	if a.geo != nil {
		a.geo.total.Add(&a.geo.window)
		a.geo.window.Reset()
		win.Countries = a.geo.total.Rows()
	}
	if a.bl != nil {
		var dropped uint64
		win.Blocklisted, dropped = a.bl.emit()
		a.counters.BlocklistPairsDropped += dropped
	}
	d := &a.counters.BehaviourDropped
	d.Pairs += win.Behaviour.Dropped.Pairs
	d.Services += win.Behaviour.Dropped.Services
	d.Hosts += win.Behaviour.Dropped.Hosts
	d.DHCPSenders += win.Behaviour.Dropped.DHCPSenders
	d.DHCPServers += win.Behaviour.Dropped.DHCPServers

	a.counters.Windows++
	a.reset()
	if a.horizonWindows++; a.horizonWindows >= max(a.cfg.Horizon, int(ContactMemory/a.cfg.Window)) {
		a.horizonWindows = 0
		a.contacts.rotate()
		a.dhcp.seen.rotate()
	}
	a.covered = 0
	if a.up {
		a.coverFrom = end
	}
	if a.emit != nil {
		a.emit(win)
	}
}

// topLowerBound is the largest guaranteed count (Count-Err) of any tracked
// key: the entry with the highest Count may be one admitted on a noisy
// estimate.
func (a *Aggregator) topLowerBound(s *sketch.SpaceSaving) uint64 {
	a.scratch = s.Top(a.scratch[:0])
	var best uint64
	for _, e := range a.scratch {
		best = max(best, e.Count-e.Err)
	}
	return best
}

// heavy returns the tracked keys by guaranteed count, heaviest first.
func (a *Aggregator) heavy(s *sketch.SpaceSaving) []HeavyHitter {
	a.scratch = s.Top(a.scratch[:0])
	out := make([]HeavyHitter, 0, HeavyReported)
	for _, e := range a.scratch {
		if lb := e.Count - e.Err; lb > 0 {
			out = append(out, HeavyHitter{Addr: e.Key, Count: lb})
		}
	}
	slices.SortStableFunc(out, func(x, y HeavyHitter) int { return cmp.Compare(y.Count, x.Count) })
	return out[:min(len(out), HeavyReported)]
}

func (a *Aggregator) top(s *sketch.SpaceSaving) []TopEntry {
	// Guaranteed bytes (Count-Err): an upper bound would credit a quiet
	// host with the bytes of the keys it displaced.
	a.scratch = s.Top(a.scratch[:0])
	out := make([]TopEntry, 0, a.cfg.TopK)
	for _, e := range a.scratch {
		if lb := e.Count - e.Err; lb > 0 {
			out = append(out, TopEntry{Addr: e.Key, Bytes: lb})
		}
	}
	slices.SortStableFunc(out, func(x, y TopEntry) int { return cmp.Compare(y.Bytes, x.Bytes) })
	return out[:min(len(out), a.cfg.TopK)]
}

func (a *Aggregator) reset() {
	sec := a.w.sec
	a.w = windowState{sec: sec}
	a.srcHLL.Reset()
	a.dstHLL.Reset()
	a.connHLL.Reset()
	a.srcEnt.Reset()
	a.dstEnt.Reset()
	a.portEnt.Reset()
	a.portPairs.Reset()
	a.hostPairs.Reset()
	a.portFanout.Reset()
	a.hostFanout.Reset()
	a.srcPackets.Reset()
	a.dstPackets.Reset()
	a.authSources.Reset()
	a.webSources.Reset()
	if a.topSrc != nil {
		a.topSrc.Reset()
		a.topDst.Reset()
	}
	a.flows.resetWindow()
	a.bh.reset()
	a.seq++ // the flows' cached table slots are stale
	a.arpClaims = a.arpClaims[:0]
}

// initiates reports whether a packet asks rather than answers: fan-out
// counts what a source initiates, so that a server answering many clients
// on their ephemeral ports is not a scanner, nor a victim sending ICMP
// errors to a spoofed flood's sources. TCP packets without ACK (SYN, and
// the FIN, NULL and Xmas probes) initiate; UDP from a higher port or to a
// well-known one; ICMP echo requests; ARP requests.
func initiates(p *decode.PacketInfo) bool {
	switch p.Proto {
	case decode.ProtoTCP:
		return p.TCPFlags&decode.TCPAck == 0
	case decode.ProtoUDP:
		// A DHCP server answers from 67 to 68, or to a relay's 67.
		return p.DHCPOp != decode.DHCPReply && (p.SrcPort > p.DstPort || p.DstPort < 1024)
	case decode.ProtoICMP:
		return p.ICMPType == 8
	case decode.ProtoICMPv6:
		return p.ICMPType == 128
	case decode.ProtoARP:
		return p.ARPOp == 1
	}
	return true
}

// reflectionPorts are UDP services abused for amplification: chargen, qotd,
// DNS, portmap, NTP, SNMP, CLDAP, ISAKMP, SSDP, WS-Discovery, NAT-T, mDNS,
// memcached, DVR (37810), BACnet.
var reflectionPorts = portSet(17, 19, 53, 111, 123, 161, 389, 500, 1900, 3702, 4500, 5353, 11211, 37810, 47808)

// authPorts are TCP services that take passwords: FTP, SSH, Telnet, SMTP
// submission, POP3, IMAP, LDAP, SMB, databases, RDP, VNC, WinRM.
var authPorts = portSet(21, 22, 23, 2323, 110, 143, 389, 445, 465, 587, 636, 993, 995, 1433, 3306, 3389, 5432, 5900, 5985, 5986)

// ReflectionPort reports whether a UDP port is an amplification-prone
// service's.
func ReflectionPort(port uint16) bool { return reflectionPorts.has(port) }

// AuthPort reports whether a TCP port is an authentication service's.
func AuthPort(port uint16) bool { return authPorts.has(port) }

// WebPort reports whether a TCP port is a web service's.
func WebPort(port uint16) bool { return webPorts.has(port) }

// ports is a set of ports as a bitmap: 8 KiB that stay in cache, where a
// [65536]bool would cost a cache miss per packet on random ports.
type ports [65536 / 64]uint64

func (s *ports) has(p uint16) bool { return s[p>>6]&(1<<(p&63)) != 0 }

func portSet(list ...uint16) *ports {
	var s ports
	for _, p := range list {
		s[p>>6] |= 1 << (p & 63)
	}
	return &s
}

func sizeBucket(n uint32) int {
	for i, b := range SizeBuckets {
		if float64(n) <= b {
			return i
		}
	}
	return len(SizeBuckets)
}

func stddev(mean, meanSq float64) float64 {
	return math.Sqrt(max(meanSq-mean*mean, 0))
}

// floorDiv divides rounding toward negative infinity, so that windows of
// captures from before 1970 still align.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Footprint is about how many bytes the window holds, its lists included:
// what a window waiting to be judged costs (a quiet window a few
// kilobytes, a flood's with every list full over a megabyte).
func (w *Window) Footprint() int {
	b := &w.Behaviour
	h := &w.Heavy
	return int(unsafe.Sizeof(*w)) + bytesOf(w.TopSources) + bytesOf(w.TopDests) + bytesOf(w.TopPairs) +
		bytesOf(h.SourcesByPackets) + bytesOf(h.DestinationsByPackets) + bytesOf(h.PortFanout) +
		bytesOf(h.HostFanout) + bytesOf(h.AuthAttempts) + bytesOf(h.WebConnections) +
		bytesOf(b.Pairs) + bytesOf(b.Services) + bytesOf(b.Hosts) + bytesOf(b.ARP) +
		bytesOf(b.DHCP.Senders) + bytesOf(b.DHCP.Servers) +
		bytesOf(w.Senders) + bytesOf(w.Blocklisted) + bytesOf(w.Countries)
}

func bytesOf[T any](s []T) int {
	var z T
	return len(s) * int(unsafe.Sizeof(z))
}
