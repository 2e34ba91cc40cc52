package detector

import (
	"math"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// shortSpan is how many of the latest windows the flood rules add up: two,
// so that a burst is judged whole whichever window boundary cuts it.
const shortSpan = 2

// horizon keeps the behaviour of the last windows and, per key, its sums
// over the short span and over the whole horizon: evidence accumulates
// per host and service, so a verdict does not depend on where an attack
// falls on the window grid. Memory is bounded by the windows' own caps
// times the horizon's length.
type horizon struct {
	size int
	ring []*features.Window // oldest first from next
	next int
	n    int // windows seen

	// long sums the whole horizon, short the last shortSpan windows,
	// last the latest window alone: a rule fires while its hosts are at
	// it, not for the horizon its sums take to fade.
	long, short, last span
	scans             *scanMemory // slow scans, with decay
}

// span is the sums over some of the latest windows.
type span struct {
	windows  int
	seconds  float64 // time the capture saw
	pairs    map[features.PairKey]*pairSum
	services map[features.ServiceKey]*serviceSum
	hosts    map[[16]byte]*hostSum
	arp      map[arpKey]*arpSum
	dhcp     dhcpSum
	oneWay   int // windows that saw one direction of the link only

	// The maps' values as slices, made at the first rule that asks after
	// a change: the rules walk them many times a window, and a slice walks
	// several times faster than a map.
	pairList    []*pairSum
	serviceList []*serviceSum
	hostList    []*hostSum
	// unasked is unaskedICMP for every host, made at its first question.
	unasked map[hostProto]float64
	// walks is what each source tried of each host's services (sourceWalks),
	// made at its first question; widest is, per TCP target, the most of
	// its ports one source first contacted or tried (scannedBy).
	walks  map[[2][16]byte]*walk
	widest map[[16]byte]float64
}

// walk is what one source tried of one host's services over a span.
type walk struct {
	src, dst [16]byte
	tcpPorts float64 // TCP ports, whatever became of them
	// services are the TCP, UDP and SCTP services it opened flows to, and
	// failed and good those refused, unanswered or left half-open and
	// those answered.
	services, failed, good float64
}

// sourceWalks groups the span's TCP, UDP and SCTP pairs by source and target
// host, once a window: the SYN flood rule asks how many of a host's ports
// one source walked, the port scan rule whether a source walks them again.
func (s *span) sourceWalks() map[[2][16]byte]*walk {
	if s.walks != nil {
		return s.walks
	}
	s.walks = map[[2][16]byte]*walk{}
	for k, p := range s.pairs {
		if k.Proto != features.ProtoTCP && k.Proto != features.ProtoUDP && k.Proto != features.ProtoSCTP {
			continue
		}
		key := [2][16]byte{k.Src, k.Dst}
		w := s.walks[key]
		if w == nil {
			w = &walk{src: k.Src, dst: k.Dst}
			s.walks[key] = w
		}
		if k.Proto == features.ProtoTCP {
			w.tcpPorts++
		}
		if p.Attempts == 0 {
			continue
		}
		w.services++
		switch {
		case p.Refused+p.Unanswered+p.HalfOpen > 0 && p.Established == 0:
			w.failed++
		case p.Established > 0:
			w.good++
		}
	}
	return s.walks
}

type pairSum struct {
	features.PairActivity
	windows int // windows of the span the pair was active in
}

type serviceSum struct {
	features.ServiceActivity
	windows int
}

type hostSum struct {
	features.HostActivity
	windows int
}

// dhcpSum is the DHCP of a span: totals, and per sending MAC and per
// answering server.
type dhcpSum struct {
	requests, replies, newClients, sendersDropped uint32
	senders                                       map[[6]byte]*dhcpSenderSum
	servers                                       map[[16]byte]*dhcpServerSum
}

type dhcpSenderSum struct {
	features.DHCPSender
	windows int
}

type dhcpServerSum struct {
	features.DHCPServer
	windows int
}

type arpKey struct {
	ip       [16]byte
	claimant [6]byte
}

type arpSum struct {
	claims    uint32
	owner     [6]byte
	ownerLast int64
	windows   int
}

func newHorizon(size int) *horizon {
	size = max(size, shortSpan)
	return &horizon{size: size, ring: make([]*features.Window, size), long: newSpan(), short: newSpan(), last: newSpan(), scans: newScanMemory()}
}

func newSpan() span {
	return span{
		pairs:    map[features.PairKey]*pairSum{},
		services: map[features.ServiceKey]*serviceSum{},
		hosts:    map[[16]byte]*hostSum{},
		arp:      map[arpKey]*arpSum{},
		dhcp:     dhcpSum{senders: map[[6]byte]*dhcpSenderSum{}, servers: map[[16]byte]*dhcpServerSum{}},
	}
}

// add takes in a closed window; the window leaving the horizon, and the
// one leaving the short span, are taken out of the sums.
func (h *horizon) add(w *features.Window) {
	if old := h.ring[h.next]; old != nil {
		h.long.apply(old, -1)
	}
	if h.n >= shortSpan {
		h.short.apply(h.ring[(h.next-shortSpan+h.size)%h.size], -1)
	}
	h.last.reset()
	h.ring[h.next] = w
	h.next = (h.next + 1) % h.size
	h.n++
	h.long.apply(w, 1)
	h.short.apply(w, 1)
	h.last.apply(w, 1)
	h.scans.add(w)
}

// latest returns the newest window.
func (h *horizon) latest() *features.Window {
	return h.ring[(h.next-1+h.size)%h.size]
}

// reset empties the span, as taking out its only window would, and keeps
// its maps' room.
func (s *span) reset() {
	clear(s.pairs)
	clear(s.services)
	clear(s.hosts)
	clear(s.arp)
	clear(s.dhcp.senders)
	clear(s.dhcp.servers)
	*s = span{pairs: s.pairs, services: s.services, hosts: s.hosts, arp: s.arp,
		dhcp: dhcpSum{senders: s.dhcp.senders, servers: s.dhcp.servers}}
}

// apply adds (sign 1) or takes out (sign -1) one window's behaviour.
func (s *span) apply(w *features.Window, sign int) {
	s.pairList, s.serviceList, s.hostList, s.unasked, s.walks, s.widest = nil, nil, nil, nil, nil, nil
	b := &w.Behaviour
	s.windows += sign
	s.seconds += float64(sign) * w.Seconds
	if s.windows == 0 {
		s.seconds = 0 // no rounding drift once empty
	}
	if b.OneWay {
		s.oneWay += sign
	}
	for i := range b.Pairs {
		p := &b.Pairs[i]
		x := s.pairs[p.Key]
		if x == nil {
			x = &pairSum{}
			x.Key = p.Key
			s.pairs[p.Key] = x
		}
		addConns(&x.Conns, &p.Conns, sign)
		x.Sessions = add32(x.Sessions, p.Sessions, sign)
		x.ShortSessions = add32(x.ShortSessions, p.ShortSessions, sign)
		x.Posts = add32(x.Posts, p.Posts, sign)
		x.AuthRefused = add32(x.AuthRefused, p.AuthRefused, sign)
		x.SlowTurns = add32(x.SlowTurns, p.SlowTurns, sign)
		x.DNSQueries = add32(x.DNSQueries, p.DNSQueries, sign)
		x.DNSTunnel = add32(x.DNSTunnel, p.DNSTunnel, sign)
		x.DNSNameBytes = add32(x.DNSNameBytes, p.DNSNameBytes, sign)
		x.SSH = add32(x.SSH, p.SSH, sign)
		x.Logins = add32(x.Logins, p.Logins, sign)
		x.EchoMismatch = add32(x.EchoMismatch, p.EchoMismatch, sign)
		x.EchoVaried = add32(x.EchoVaried, p.EchoVaried, sign)
		x.Communities = add32(x.Communities, p.Communities, sign)
		if x.windows += sign; x.windows <= 0 {
			delete(s.pairs, p.Key)
		}
	}
	for i := range b.Services {
		v := &b.Services[i]
		x := s.services[v.Key]
		if x == nil {
			x = &serviceSum{}
			x.Key = v.Key
			s.services[v.Key] = x
		}
		addConns(&x.Conns, &v.Conns, sign)
		x.SynAcks = add32(x.SynAcks, v.SynAcks, sign)
		x.NewSources = add32(x.NewSources, v.NewSources, sign)
		if x.windows += sign; x.windows <= 0 {
			delete(s.services, v.Key)
		}
	}
	for i := range b.Hosts {
		v := &b.Hosts[i]
		x := s.hosts[v.Addr]
		if x == nil {
			x = &hostSum{}
			x.Addr = v.Addr
			s.hosts[v.Addr] = x
		}
		x.NewPorts = add32(x.NewPorts, v.NewPorts, sign)
		x.NewHosts = add32(x.NewHosts, v.NewHosts, sign)
		x.FailedFirst = add32(x.FailedFirst, v.FailedFirst, sign)
		x.OKFirst = add32(x.OKFirst, v.OKFirst, sign)
		x.ARPRequests = add32(x.ARPRequests, v.ARPRequests, sign)
		x.ARPAnswered = add32(x.ARPAnswered, v.ARPAnswered, sign)
		x.NewProtocols = add32(x.NewProtocols, v.NewProtocols, sign)
		if sign > 0 && v.NewProtocols > 0 {
			x.ProtocolTarget = v.ProtocolTarget
		}
		if sign > 0 && v.TargetPorts > 0 && (v.Target == x.Target || v.TargetPorts >= x.TargetPorts) {
			// The target with the most new ports in one window: a scan
			// goes for one host at a time.
			if v.Target == x.Target {
				x.TargetPorts += v.TargetPorts
			} else {
				x.Target, x.TargetPorts = v.Target, v.TargetPorts
			}
		}
		if x.windows += sign; x.windows <= 0 {
			delete(s.hosts, v.Addr)
		}
	}
	for i := range b.ARP {
		c := &b.ARP[i]
		k := arpKey{c.IP, c.Claimant}
		x := s.arp[k]
		if x == nil {
			x = &arpSum{owner: c.Owner}
			s.arp[k] = x
		}
		x.claims = add32(x.claims, c.Claims, sign)
		if sign > 0 {
			x.ownerLast = max(x.ownerLast, c.OwnerLast)
			x.owner = c.Owner
		}
		if x.windows += sign; x.windows <= 0 {
			delete(s.arp, k)
		}
	}
	s.dhcp.apply(&b.DHCP, sign)
}

func (s *dhcpSum) apply(d *features.DHCP, sign int) {
	s.requests = add32(s.requests, d.Requests, sign)
	s.replies = add32(s.replies, d.Replies, sign)
	s.newClients = add32(s.newClients, d.NewClients, sign)
	s.sendersDropped = add32(s.sendersDropped, d.SendersDropped, sign)
	for i := range d.Senders {
		v := &d.Senders[i]
		x := s.senders[v.MAC]
		if x == nil {
			x = &dhcpSenderSum{}
			x.MAC = v.MAC
			s.senders[v.MAC] = x
		}
		x.Requests = add32(x.Requests, v.Requests, sign)
		x.Clients = add32(x.Clients, v.Clients, sign)
		x.Foreign = add32(x.Foreign, v.Foreign, sign)
		if x.windows += sign; x.windows <= 0 {
			delete(s.senders, v.MAC)
		}
	}
	for i := range d.Servers {
		v := &d.Servers[i]
		x := s.servers[v.Addr]
		if x == nil {
			x = &dhcpServerSum{}
			x.Addr = v.Addr
			s.servers[v.Addr] = x
		}
		x.Replies = add32(x.Replies, v.Replies, sign)
		if x.windows += sign; x.windows <= 0 {
			delete(s.servers, v.Addr)
		}
	}
}

// dhcpChecked returns a host's activity without the conflict checks of a
// DHCP server that sent replies replies: before it hands out an address
// a server pings it (dnsmasq, ISC dhcpd), and its kernel asks ARP for it,
// then probes it again seconds later, and nobody answers: as many
// unanswered first contacts and ARP requests as its replies are its
// answers to clients, not a sweep.
func dhcpChecked(h *features.HostActivity, replies uint32) *features.HostActivity {
	if replies == 0 {
		return h
	}
	c := *h
	c.NewHosts -= min(c.NewHosts, replies)
	c.FailedFirst -= min(c.FailedFirst, replies)
	c.ARPRequests -= min(c.ARPRequests, replies)
	return &c
}

// windowReplies is the DHCP replies host sent in w.
func windowReplies(w *features.Window, host [16]byte) uint32 {
	for _, s := range w.Behaviour.DHCP.Servers {
		if s.Addr == host {
			return s.Replies
		}
	}
	return 0
}

func add32(a, b uint32, sign int) uint32 {
	if sign > 0 {
		return a + b
	}
	return a - min(a, b)
}

func add64(a, b uint64, sign int) uint64 {
	if sign > 0 {
		return a + b
	}
	return a - min(a, b)
}

func addConns(x, c *features.Conns, sign int) {
	x.Attempts = add32(x.Attempts, c.Attempts, sign)
	x.Established = add32(x.Established, c.Established, sign)
	x.Refused = add32(x.Refused, c.Refused, sign)
	x.Unanswered = add32(x.Unanswered, c.Unanswered, sign)
	x.HalfOpen = add32(x.HalfOpen, c.HalfOpen, sign)
	x.Syns = add32(x.Syns, c.Syns, sign)
	x.Requests = add32(x.Requests, c.Requests, sign)
	x.Held = add32(x.Held, c.Held, sign)
	x.Silent = add32(x.Silent, c.Silent, sign)
	x.Packets = add32(x.Packets, c.Packets, sign)
	x.Replies = add32(x.Replies, c.Replies, sign)
	x.Bytes = add64(x.Bytes, c.Bytes, sign)
	x.ReplyBytes = add64(x.ReplyBytes, c.ReplyBytes, sign)
	x.Unsolicited = add32(x.Unsolicited, c.Unsolicited, sign)
	x.UnsolicitedBytes = add64(x.UnsolicitedBytes, c.UnsolicitedBytes, sign)
	x.UnsolicitedDNSBytes = add64(x.UnsolicitedDNSBytes, c.UnsolicitedDNSBytes, sign)
}

// stillAt is the least share of a rule's bar the latest window must carry
// on its own for a flood to go on firing: a burst cut by the window grid
// is judged whole, but a flood that stopped stops.
const stillAt = 0.1

// rate is count per second over the span, counting at least one second.
func (s *span) rate(count float64) float64 {
	return count / math.Max(s.seconds, 1)
}
