package features

import (
	"bytes"
	"cmp"
	"math/bits"
	"slices"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/collector/features/sketch"
)

// Behaviour is what hosts did in one window, as connections and their
// outcomes: per initiator and service (Pairs), per responder (Services)
// and per initiator (Hosts), plus the ARP claims that contradicted an
// address's first owner. It is the evidence the detector's attack rules
// accumulate over a horizon of windows, so that an attack is judged by
// what its hosts do, not by where it falls on the window grid.
//
// Every flow has an initiator, the host that sent its first packet (for
// TCP the SYN), and a responder. A packet that can only be an answer
// (a SYN-ACK, an RST, an ICMP error or echo reply, a UDP datagram from a
// service port to an ephemeral one) never makes its sender an initiator:
// a flow that starts with one is unsolicited, and its sender is counted
// as such, never as a client.
//
// The lists are bounded: each holds at most its table's emission cap,
// the most telling entries first; Dropped counts the events that found
// no room.
type Behaviour struct {
	Pairs    []PairActivity
	Services []ServiceActivity
	Hosts    []HostActivity
	ARP      []ARPClaim
	DHCP     DHCP
	// OneWay is set when the window saw initiators but no responder
	// packets at all: a capture of one direction of a link, where
	// unanswered attempts say nothing.
	OneWay  bool
	Dropped BehaviourDrops
}

// BehaviourDrops counts events lost because a table was full, per table,
// in one window.
type BehaviourDrops struct {
	Pairs, Services, Hosts uint64
	// DHCPSenders and DHCPServers count the DHCP requests and replies of
	// the senders and servers a window could not report (DHCP.SendersDropped,
	// ServersDropped): still in the window's totals, not by MAC or address.
	DHCPSenders, DHCPServers uint64
}

// Protocol is the layer-4 protocol of a pair or service.
type Protocol = decode.Protocol

// The protocols of pairs and services.
const (
	ProtoTCP    = decode.ProtoTCP
	ProtoUDP    = decode.ProtoUDP
	ProtoICMP   = decode.ProtoICMP
	ProtoICMPv6 = decode.ProtoICMPv6
	// ProtoSCTP is SCTP's: the only protocol counted as other whose
	// associations are tracked (decode.PacketInfo.SCTPChunk).
	ProtoSCTP = decode.ProtoOther
)

// PairKey is an initiator and the service it talks to. For unsolicited
// traffic (reflection, backscatter) Src is the sender and Port the
// sender's port.
type PairKey struct {
	Src, Dst [16]byte
	Port     uint16 // the responder's port; 0 for ICMP
	Proto    Protocol
}

// ServiceKey is a responder's service: an address and a TCP port, or the
// address alone (AllPorts, Port 0) for all its TCP, UDP or ICMP.
type ServiceKey struct {
	Addr     [16]byte
	Port     uint16
	Proto    Protocol
	AllPorts bool
}

// Conns counts connection attempts and what became of them.
type Conns struct {
	Attempts    uint32 // flows the initiator opened (TCP SYN or probe, UDP, ICMP request)
	Established uint32 // handshakes completed; UDP and ICMP answered
	Refused     uint32 // answered by a TCP RST, or an ICMP unreachable from the host itself, before any handshake
	Unanswered  uint32 // no reply at all (filtered port, absent host, forged source)
	HalfOpen    uint32 // SYN-ACK sent but the initiator reset it or never completed
	Syns        uint32 // TCP SYN packets, repeats and retransmissions included
	Requests    uint32 // request-response turns: initiator data answered by responder data
	Held        uint32 // long-lived, nearly idle established TCP connections at window close
	// Silent counts the TCP connections that completed a handshake and
	// ended without the initiator sending a byte: a connection flood's
	// (nping --tcp-connect), or a TCP health check's.
	Silent uint32
	// Packets and Bytes are what initiators sent: every UDP and ICMP
	// packet, and for TCP the packets of attempts that had not completed
	// a handshake (SYNs, probes, the ACKs of an ACK flood; not the data
	// of a connection). Replies the same from the responder; Bytes and
	// Replies are UDP and ICMP only.
	Packets, Replies    uint32
	Bytes, ReplyBytes   uint64
	Unsolicited         uint32 // answers nobody asked for (reflection, backscatter)
	UnsolicitedBytes    uint64
	UnsolicitedDNSBytes uint64 // of which DNS answers from port 53
}

// PairActivity is one initiator's traffic to one service in a window.
type PairActivity struct {
	Key PairKey
	Conns
	Sessions      uint32 // established connections that ended
	ShortSessions uint32 // of which lasted under ShortSession
	Posts         uint32 // answered requests that began with an HTTP POST
	// AuthRefused counts the requests answered with HTTP 401 or 407: the
	// credentials they carried (or their lack) refused.
	AuthRefused uint32
	// SlowTurns counts the request turns of sessions that ended within
	// ShortSession which took 0.8 s or more in their first 30 s: the
	// server delayed its answer (as servers delay a failed login) or the
	// client waited as long before asking (a guesser pacing its tries).
	SlowTurns    uint32
	DNSQueries   uint32
	DNSTunnel    uint32 // queries that look like a tunnel's (tunnelLike)
	DNSNameBytes uint32 // sum of the queries' name lengths
	// SSH counts the connections whose server greeted in SSH: an
	// authentication service on whatever port it listens.
	SSH uint32
	// Logins counts the connections whose login was seen to succeed: SSH
	// by the size of the server's answer (see sshAnswer), SMTP, FTP,
	// PostgreSQL, MySQL and LDAP by the server's acceptance in the clear
	// (decode.PacketInfo.AuthAccepted). Not guesses.
	Logins uint32
	// EchoMismatch counts the ICMP echo replies that were not as long as
	// the request before them: a ping's reply repeats its data; a
	// tunnel's carries its own.
	EchoMismatch uint32
	// EchoVaried counts the ICMP echo requests whose data (past a
	// pinger's timestamp) differed from the request before them: a
	// pinger sends one pattern; a tunnel's requests carry data.
	EchoVaried uint32
	// Communities counts the SNMPv1 and v2c requests whose community (the
	// agent's password, in the clear) differed from the request before
	// them on their flow: a poller and its retries use one, a guesser
	// (onesixtyone, hydra) tries the next of its list.
	Communities uint32
}

// ServiceActivity is what one responder received and answered in a
// window.
type ServiceActivity struct {
	Key ServiceKey
	Conns
	SynAcks uint32 // SYN-ACKs it sent
	// NewSources counts the initiators contacting the service for the
	// first time in the horizon; for a host's whole TCP, the new
	// (initiator, port) pairs.
	NewSources uint32
}

// HostActivity is one initiator's first contacts in a window: the mark of
// a scan is many new ports or hosts, mostly failed.
type HostActivity struct {
	Addr        [16]byte
	NewPorts    uint32 // services (host, protocol, port) not contacted within ContactMemory (or more)
	NewHosts    uint32 // hosts not contacted within ContactMemory (or more)
	FailedFirst uint32 // first contacts refused, unanswered or left half-open
	OKFirst     uint32 // first contacts that were established or answered
	ARPRequests uint32 // ARP requests for addresses not asked for before in the horizon
	ARPAnswered uint32 // ARP replies it received
	// NewProtocols counts the IP protocols other than TCP, UDP and ICMP it
	// sent a host for the first time within the horizon, to unicast
	// addresses; ProtocolTarget is the last host it did.
	NewProtocols   uint32
	ProtocolTarget [16]byte
	// Target is the host most of its new ports were on, with a lower
	// bound of how many.
	Target      [16]byte
	TargetPorts uint32
}

// ARPClaim is an IPv4 address claimed in ARP by a MAC other than its first
// owner, with the number of such claims in the window.
type ARPClaim struct {
	IP       [16]byte // IPv4-mapped
	Owner    [6]byte  // the first MAC seen for the address
	Claimant [6]byte
	Claims   uint32
	// OwnerLast is when the owner last claimed the address itself, Unix
	// nanoseconds: a claim while the owner is still heard from is a
	// contest, one after it fell silent a takeover.
	OwnerLast int64
}

// ShortSession is the longest an established connection may last to
// count as a short session: a password guess, a health check.
const ShortSession = 30

// Emission caps: the most entries of each kind a window reports.
const (
	MaxPairsReported    = 2048
	MaxServicesReported = 1024
	MaxHostsReported    = 1024
	MaxARPReported      = 64
)

// Table sizes: the most distinct keys of each kind a window tracks.
const (
	pairSlots    = 16384
	serviceSlots = 4096
	hostSlots    = 8192
	admitWidth   = 8192 // counters per row of the admission filters
)

// slotsFitInt16 fails to compile when a table grows past what flowEnds'
// int16 slot indexes hold.
var _ = [1]struct{}{}[max(pairSlots, serviceSlots, hostSlots)>>15]

// table is a fixed-size hash table of per-window activity. A key is
// admitted freely while the table is less than half full; beyond that
// only once its admission filter saw it twice, so that a flood of forged
// keys each seen once cannot crowd out the keys that recur. Nothing is
// ever evicted within a window: an event for a key that finds no room is
// counted in dropped.
type table[K comparable, V any] struct {
	hashes  []uint64 // 0: empty
	keys    []K
	vals    []V
	used    []int32
	mask    uint64
	filter  []uint8 // two rows of a count-min sketch, saturating
	fmask   uint64
	dropped uint64
	ranked  []ranked // scratch for emit
	// held has a bit, picked by the top bits of the hash, set for every
	// key in the table: a key whose bit is clear is not in it. A full
	// table (a flood of keys) would otherwise probe tableProbes slots
	// for every new key only to find neither it nor room for it.
	held      []uint64
	heldShift uint8
}

type ranked struct {
	score uint64
	i     int32
}

const tableProbes = 16

// heldBitsPerSlot sizes table.held: a key absent from a full table finds
// its bit set, and probes in vain, about one time in 8.
const heldBitsPerSlot = 8

// touch reads the line where h's probe starts; see Aggregator.AddBatch.
func (t *table[K, V]) touch(h uint64) uint64 { return t.hashes[h&t.mask] }

func newTable[K comparable, V any](slots int) *table[K, V] {
	n := 16
	for n < slots {
		n <<= 1
	}
	heldBits := n * heldBitsPerSlot
	return &table[K, V]{
		hashes: make([]uint64, n),
		keys:   make([]K, n),
		vals:   make([]V, n),
		used:   make([]int32, 0, n),
		mask:   uint64(n - 1),
		filter: make([]uint8, 2*admitWidth),
		fmask:  admitWidth - 1,
		ranked: make([]ranked, 0, n),
		held:   make([]uint64, heldBits/64),
		// The top log2(heldBits) bits of the hash pick the bit.
		heldShift: uint8(64 - bits.TrailingZeros(uint(heldBits))),
	}
}

// get returns the value of key k with hash h (never 0), inserting it if
// admitted, or nil.
func (t *table[K, V]) get(h uint64, k K) *V {
	if i := t.index(h, k); i >= 0 {
		return &t.vals[i]
	}
	return nil
}

// index returns the slot of key k with hash h (never 0), inserting it if
// admitted, or -1.
func (t *table[K, V]) index(h uint64, k K) int32 {
	b := h >> t.heldShift
	if len(t.used) == len(t.hashes) && t.held[b/64]&(1<<(b%64)) == 0 {
		// Full, and k is not in it: the probes below would find neither
		// k nor an empty slot.
		t.dropped++
		return -1
	}
	i := h & t.mask
	for range tableProbes {
		switch t.hashes[i] {
		case h:
			if t.keys[i] == k {
				return int32(i)
			}
		case 0:
			if len(t.used) >= len(t.hashes)/2 && !t.admit(h) {
				t.dropped++
				return -1
			}
			t.hashes[i], t.keys[i] = h, k
			t.used = append(t.used, int32(i))
			t.held[b/64] |= 1 << (b % 64)
			return int32(i)
		}
		i = (i + 1) & t.mask
	}
	t.dropped++
	return -1
}

// admit counts h in the filter and reports whether it was seen before.
func (t *table[K, V]) admit(h uint64) bool {
	a := &t.filter[h&t.fmask]
	b := &t.filter[admitWidth+(h>>32)&t.fmask]
	est := min(*a, *b)
	if *a == est && *a < 255 {
		*a++
	}
	if *b == est && *b < 255 {
		*b++
	}
	return est >= 1
}

func (t *table[K, V]) reset() {
	var zk K
	var zv V
	for _, i := range t.used {
		t.hashes[i], t.keys[i], t.vals[i] = 0, zk, zv
	}
	t.used = t.used[:0]
	clear(t.filter)
	clear(t.held)
	t.dropped = 0
}

// behaviour holds one window's tables.
type behaviour struct {
	pairs    *table[PairKey, PairActivity]
	services *table[ServiceKey, ServiceActivity]
	hosts    *table[[16]byte, HostActivity]
	// responses counts responder packets in the window, initiators the
	// flows opened: a window with the second but not the first saw one
	// direction of the link only.
	responses, opened uint64
	// scratch absorbs the counts of a key that found no room, so that
	// callers need not check for nil.
	scratch Conns
}

func newBehaviour() *behaviour {
	return &behaviour{
		pairs:    newTable[PairKey, PairActivity](pairSlots),
		services: newTable[ServiceKey, ServiceActivity](serviceSlots),
		hosts:    newTable[[16]byte, HostActivity](hostSlots),
	}
}

func pairHash(k *PairKey) uint64 {
	return pairHashFrom(sketch.HashAddr(k.Src), sketch.HashAddr(k.Dst), k.Port, k.Proto)
}

// pairHashFrom is a pair's hash from its addresses' hashes.
func pairHashFrom(hs, hd uint64, port uint16, proto Protocol) uint64 {
	h := hs ^ sketch.Mix64(hd+0x9e3779b97f4a7c15)
	return max(sketch.Mix64(h^uint64(port)<<8^uint64(proto)), 1)
}

// pairPort is the port a pair is keyed by: none for ICMP.
func pairPort(proto Protocol, port uint16) uint16 {
	if proto != ProtoTCP && proto != ProtoUDP && proto != ProtoSCTP {
		return 0
	}
	return port
}

func serviceHash(k *ServiceKey) uint64 {
	return serviceHashFrom(sketch.HashAddr(k.Addr), k)
}

// serviceHashFrom is a service's hash from its address's hash.
func serviceHashFrom(ha uint64, k *ServiceKey) uint64 {
	all := uint64(0)
	if k.AllPorts {
		all = 1 << 40
	}
	return max(sketch.Mix64(ha^uint64(k.Port)<<8^uint64(k.Proto)^all^0x5bd1e995), 1)
}

func (b *behaviour) pair(k PairKey) *PairActivity {
	v := b.pairs.get(pairHash(&k), k)
	if v != nil {
		v.Key = k
	}
	return v
}

func (b *behaviour) service(k ServiceKey) *ServiceActivity {
	v := b.services.get(serviceHash(&k), k)
	if v != nil {
		v.Key = k
	}
	return v
}

func (b *behaviour) host(addr [16]byte) *HostActivity {
	v := b.hosts.get(max(sketch.HashAddr(addr), 1), addr)
	if v != nil {
		v.Addr = addr
	}
	return v
}

// serviceConns returns the counters of service k, or scratch ones.
func (b *behaviour) serviceConns(k ServiceKey) *Conns {
	if s := b.service(k); s != nil {
		return &s.Conns
	}
	return &b.scratch
}

// interest ranks entries for the emission caps: what a rule needs most,
// first. Deterministic ties keep replays identical.
func pairInterest(p *PairActivity) uint64 {
	c := &p.Conns
	return uint64(c.Syns) + uint64(c.Packets)/8 + uint64(c.Requests) + uint64(c.Unsolicited)/4 +
		4*uint64(c.Refused+c.Unanswered+c.HalfOpen+c.Established) +
		16*uint64(p.ShortSessions+p.Posts+p.AuthRefused+c.Held+p.DNSTunnel+p.EchoMismatch+p.EchoVaried+p.Communities)
}

func serviceInterest(s *ServiceActivity) uint64 {
	c := &s.Conns
	return uint64(c.Syns) + uint64(c.Packets) + uint64(c.Unsolicited) + uint64(c.Requests) + 16*uint64(c.Held) +
		4*uint64(c.Refused+c.Unanswered+c.HalfOpen)
}

func hostInterest(h *HostActivity) uint64 {
	return 8*uint64(h.FailedFirst) + uint64(h.NewPorts+h.NewHosts+h.ARPRequests) + 4*uint64(h.NewProtocols)
}

// emit copies the tables into b, capped, most interesting first.
func (bh *behaviour) emit(out *Behaviour) {
	out.Pairs = collect(bh.pairs, MaxPairsReported, pairInterest, func(x, y *PairActivity) int { return comparePairKeys(&x.Key, &y.Key) })
	out.Services = collect(bh.services, MaxServicesReported, serviceInterest, func(x, y *ServiceActivity) int {
		return cmp.Or(compareAddr(x.Key.Addr, y.Key.Addr), cmp.Compare(x.Key.Port, y.Key.Port), cmp.Compare(x.Key.Proto, y.Key.Proto), compareBool(x.Key.AllPorts, y.Key.AllPorts))
	})
	out.Hosts = collect(bh.hosts, MaxHostsReported, hostInterest, func(x, y *HostActivity) int { return compareAddr(x.Addr, y.Addr) })
	out.OneWay = bh.opened > 0 && bh.responses == 0
	out.Dropped = BehaviourDrops{Pairs: bh.pairs.dropped, Services: bh.services.dropped, Hosts: bh.hosts.dropped}
}

func collect[K comparable, V any](t *table[K, V], limit int, interest func(*V) uint64, byKey func(x, y *V) int) []V {
	if len(t.used) == 0 {
		return nil
	}
	r := t.ranked[:0]
	for _, i := range t.used {
		r = append(r, ranked{interest(&t.vals[i]), i})
	}
	t.ranked = r
	slices.SortFunc(r, func(x, y ranked) int {
		return cmp.Or(cmp.Compare(y.score, x.score), byKey(&t.vals[x.i], &t.vals[y.i]))
	})
	out := make([]V, min(len(r), limit))
	for j := range out {
		out[j] = t.vals[r[j].i]
	}
	return out
}

// compareAddr orders addresses byte by byte, as bytes.Compare does (a
// memcmp: the sorts at each window's close compare thousands of keys).
func compareAddr(a, b [16]byte) int {
	return bytes.Compare(a[:], b[:])
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// comparePairKeys orders pair keys by source, destination, port and
// protocol, comparing the destinations only when the sources are equal
// (cmp.Or would compare everything first).
func comparePairKeys(a, b *PairKey) int {
	if c := compareAddr(a.Src, b.Src); c != 0 {
		return c
	}
	if c := compareAddr(a.Dst, b.Dst); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(a.Port, b.Port), cmp.Compare(a.Proto, b.Proto))
}

func (bh *behaviour) reset() {
	bh.pairs.reset()
	bh.services.reset()
	bh.hosts.reset()
	bh.responses, bh.opened = 0, 0
}

// rotatingBloom remembers hashes over a horizon: two filters, the current
// and the previous, swapped every horizon windows, so that a hash added
// is remembered for between one and two horizons.
type rotatingBloom struct {
	cur, prev *sketch.Bloom
}

func newRotatingBloom(bits int) rotatingBloom {
	return rotatingBloom{cur: sketch.NewBloom(bits, fanoutK), prev: sketch.NewBloom(bits, fanoutK)}
}

// testAndAdd reports whether h was added within the horizon, and adds it.
func (r *rotatingBloom) testAndAdd(h uint64) bool {
	return r.cur.TestAndAdd(h) || r.prev.Test(h)
}

// touch reads both filters' lines for h; see Aggregator.AddBatch.
func (r *rotatingBloom) touch(h uint64) uint64 { return r.cur.Touch(h) ^ r.prev.Touch(h) }

func (r *rotatingBloom) reset() {
	r.cur.Reset()
	r.prev.Reset()
}

func (r *rotatingBloom) rotate() {
	r.cur, r.prev = r.prev, r.cur
	r.cur.Reset()
}

// behaviourFeatures sets the window features that summarise the behaviour
// tables, over every entry (not only the reported ones).
func (a *Aggregator) behaviourFeatures(f *Vector) {
	w := &a.w
	f[TCPEstablished] = float64(w.established)
	f[RefusedConnections] = float64(w.refused)
	f[UnansweredConnections] = float64(w.unanswered)
	f[HTTPRequests] = float64(w.httpRequests)
	if w.dnsNames > 0 {
		f[DNSQueryNameLengthMean] = float64(w.dnsNameLen) / float64(w.dnsNames)
		f[DNSQueryNameEntropyMean] = float64(w.dnsNameEntropy) / 16 / float64(w.dnsNames)
	}
	f[DNSTunnelQueries] = float64(w.dnsTunnel)
	maxOf := func(dst *float64, v uint64) { *dst = max(*dst, float64(v)) }
	bh := a.bh
	for _, i := range bh.hosts.used {
		maxOf(&f[MaxSourceFailedContacts], uint64(bh.hosts.vals[i].FailedFirst))
	}
	for _, i := range bh.pairs.used {
		p := &bh.pairs.vals[i]
		if p.Key.Proto == ProtoTCP && (authPorts.has(p.Key.Port) || p.SSH > 0) {
			maxOf(&f[MaxPairAuthConnections], uint64(p.Established-min(p.Established, p.Logins)))
		}
		maxOf(&f[MaxPairRequests], uint64(p.Requests))
		maxOf(&f[MaxPairPosts], uint64(p.Posts))
	}
	for _, i := range bh.services.used {
		s := &bh.services.vals[i]
		switch {
		case s.Key.Proto == decode.ProtoTCP && !s.Key.AllPorts:
			maxOf(&f[MaxServiceIncompleteSyns], uint64(s.Syns-min(s.Syns, s.Established)+s.Silent))
			maxOf(&f[MaxServiceHeldConnections], uint64(s.Held))
			maxOf(&f[MaxServiceRequests], uint64(s.Requests))
		case s.Key.Proto == decode.ProtoUDP:
			maxOf(&f[MaxTargetUDPPackets], uint64(s.Packets))
		case s.Key.Proto == decode.ProtoICMP || s.Key.Proto == decode.ProtoICMPv6:
			maxOf(&f[MaxTargetICMPRequests], uint64(s.Packets))
		}
		if s.Key.AllPorts {
			maxOf(&f[MaxTargetUnsolicitedBytes], s.UnsolicitedBytes)
		}
	}
}
