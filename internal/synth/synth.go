// Package synth writes synthetic but realistic packet captures of a small
// campus network, benign background with chosen attacks on top, and the
// exact labels of the attacks, for training and evaluating the detector.
//
// The background is a discrete-event simulation of hosts: web browsing over
// HTTP, TLS and QUIC with DNS lookups through internal resolvers that
// forward upstream, SSH sessions, file copies and backups, mail, NTP, ARP,
// pings and LAN discovery chatter. Every TCP connection has a handshake,
// plausible sequence numbers, windows, options and timestamps, is paced by
// congestion window rounds, and ends with FINs or a reset. The load follows
// a daily-like sinusoid scaled to the scenario, a log-normal load per
// minute, and unlabelled benign bursts (backups, updates, heavy pages).
//
// Attacks are generated the way the real tools behave (nmap, hping3,
// reflectors, hydra, slowloris, arpspoof) and labelled with the interval
// from their first to their last packet. Everything is deterministic: the
// same Scenario gives a byte-identical capture, and the background does not
// change when attacks are added.
//
// WriteFlood, WriteTraffic and WriteSessions write simpler captures, for
// volume rather than realism: a random-source flood, a busy normal link.
//
// In the data flow the synthesizer comes before the exporter: it produces
// the captures that tests, benchmarks and demos replay through it
// (cmd/netanomaly_synth, test/detection, the collector's benchmarks, and
// the exporter's demo: DemoScenario). It is a tool, not part of the
// runtime path: no runtime package imports it, only the exporter command
// for its demo, and it imports the detector only for the names of the
// attack types.
package synth

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/netanomaly/netanomaly_exporter/detector"
)

// Attack types: the detector's names, taken from its registry so that a
// label and the verdict it is scored against cannot drift apart.
const (
	PortScan         = detector.PortScan
	SYNFlood         = detector.SynFlood
	UDPFlood         = detector.UDPFlood
	ICMPFlood        = detector.ICMPFlood
	DNSAmplification = detector.DNSAmplification
	// The other amplifications have no detector type of their own: the
	// detector sees bulk answers from an amplification-prone port and
	// names them all reflection (detector.ReportType maps these labels to
	// it). The synthesizer reflects one protocol at a time and its label
	// says which, so that an evaluation tells what it missed by protocol.
	NTPAmplification       = "ntp_amplification"
	SSDPAmplification      = "ssdp_amplification"
	MemcachedAmplification = "memcached_amplification"
	BruteForce             = detector.BruteForce
	Slowloris              = detector.Slowloris
	TrafficSpike           = detector.TrafficSpike
	TrafficDrop            = detector.TrafficDrop
	ARPSpoofing            = detector.ARPSpoofing
)

// AttackTypes lists every attack type, in the order of the constants.
var AttackTypes = []string{PortScan, SYNFlood, UDPFlood, ICMPFlood, DNSAmplification, NTPAmplification, SSDPAmplification, MemcachedAmplification, BruteForce, Slowloris, TrafficSpike, TrafficDrop, ARPSpoofing}

// attackSpec holds the variants of a type (the first is the default) and
// the default Rate.
type attackSpec struct {
	variants []string
	rate     map[string]float64 // by variant; "" for all
	min, max float64            // accepted Rate
}

var specs = map[string]attackSpec{
	PortScan: {[]string{"vertical", "slow", "horizontal", "arp_sweep", "icmp_sweep", "udp"},
		map[string]float64{"vertical": 60, "slow": 100.0 / 60, "horizontal": 40, "arp_sweep": 100, "icmp_sweep": 50, "udp": 40}, 0.1, 20000},
	SYNFlood:               {[]string{"spoofed", "botnet"}, map[string]float64{"": 3000}, 10, 200000},
	UDPFlood:               {[]string{"spoofed", "fixed", "large"}, map[string]float64{"": 5000}, 10, 200000},
	ICMPFlood:              {[]string{"spoofed", "fixed", "large", "blacknurse"}, map[string]float64{"": 4000}, 10, 200000},
	DNSAmplification:       {[]string{"reflect"}, map[string]float64{"": 3000}, 10, 200000},
	NTPAmplification:       {[]string{"reflect"}, map[string]float64{"": 4000}, 10, 200000},
	SSDPAmplification:      {[]string{"reflect"}, map[string]float64{"": 4000}, 10, 200000},
	MemcachedAmplification: {[]string{"reflect"}, map[string]float64{"": 2000}, 10, 200000},
	BruteForce:             {[]string{"ssh", "ftp", "rdp", "telnet", "http_login"}, map[string]float64{"": 5}, 0.05, 200},
	Slowloris:              {[]string{"single", "few"}, map[string]float64{"": 300}, 1, 5000},
	TrafficSpike:           {[]string{"inbound", "outbound"}, map[string]float64{"": 7}, 1.5, 20},
	TrafficDrop:            {[]string{"link"}, map[string]float64{"": 0.05}, 0, 0.1},
	ARPSpoofing:            {[]string{"mitm", "gateway"}, map[string]float64{"": 0.67}, 0.05, 20},
}

// Variants returns the variants of an attack type, the default first, or
// nil for an unknown type.
func Variants(typ string) []string { return slices.Clone(specs[typ].variants) }

// DefaultRate returns the Rate used for an attack whose Rate is 0.
func DefaultRate(typ, variant string) float64 {
	sp, ok := specs[typ]
	if !ok {
		return 0
	}
	if variant == "" {
		variant = sp.variants[0]
	}
	if r, ok := sp.rate[variant]; ok {
		return r
	}
	return sp.rate[""]
}

// Attack is one attack in a scenario.
//
// Rate is the intensity, its default used when 0: probes per second for
// port_scan, packets per second for the floods, response packets (frames)
// per second for the amplifications, login attempts per second for
// brute_force, forged replies per second per poisoned host for
// arp_spoofing; for slowloris it is the number of connections held open,
// for traffic_spike the factor by which traffic grows, and for traffic_drop
// the share of the background that still passes (at most 0.1).
type Attack struct {
	Type     string
	Start    time.Duration // offset from the scenario start
	Duration time.Duration
	Rate     float64
	Variant  string
	// Seed, when not 0, seeds the attack's own choices (attacker, target,
	// timing) instead of the scenario's Seed: the same network and
	// background with another attacker.
	Seed uint64
}

// Scenario describes a capture to write. Zero fields take defaults.
type Scenario struct {
	Seed     uint64
	Start    time.Time     // first packet time; default DefaultStart
	Duration time.Duration // required
	Network  netip.Prefix  // internal hosts, IPv4; default 10.20.0.0/16
	Clients  int           // internal clients, default 50
	Servers  int           // internal servers (DNS, web, SSH, file, NTP, mail...), default 6
	BaseRate float64       // mean background packets per second, default 300
	// Snaplen keeps the first Snaplen bytes of each packet, its length on
	// the wire recorded whole, as a capture with -s does; 0 keeps packets
	// whole.
	Snaplen int
	Attacks []Attack
}

// Label is the interval of one attack: from its first packet to just after
// its last (End is exclusive, one microsecond after the last packet).
type Label struct {
	Start, End time.Time
	Type       string
	Source     string // attacker address (IP, or MAC for arp_spoofing); empty when spoofed or distributed
}

// Defaults.
var (
	DefaultStart   = time.Date(2024, 3, 4, 8, 0, 0, 0, time.UTC)
	DefaultNetwork = netip.MustParsePrefix("10.20.0.0/16")
)

const (
	DefaultClients  = 50
	DefaultServers  = 6
	DefaultBaseRate = 300.0
	maxDuration     = 8 * 24 * time.Hour
)

// WithDefaults returns the scenario with zero fields set to their defaults
// and attack rates and variants filled in.
func (s Scenario) WithDefaults() Scenario {
	if s.Start.IsZero() {
		s.Start = DefaultStart
	}
	if !s.Network.IsValid() {
		s.Network = DefaultNetwork
	}
	if s.Clients == 0 {
		s.Clients = DefaultClients
	}
	if s.Servers == 0 {
		s.Servers = DefaultServers
	}
	if s.BaseRate == 0 {
		s.BaseRate = DefaultBaseRate
	}
	s.Attacks = slices.Clone(s.Attacks)
	for i := range s.Attacks {
		a := &s.Attacks[i]
		if sp, ok := specs[a.Type]; ok && a.Variant == "" {
			a.Variant = sp.variants[0]
		}
		if a.Rate == 0 {
			a.Rate = DefaultRate(a.Type, a.Variant)
		}
	}
	return s
}

// Validate reports what is wrong with a scenario after defaults.
func (s Scenario) Validate() error {
	s = s.WithDefaults()
	var errs []error
	if s.Duration <= 0 {
		errs = append(errs, fmt.Errorf("duration %v must be positive", s.Duration))
	} else if s.Duration > maxDuration {
		errs = append(errs, fmt.Errorf("duration %v is longer than %v", s.Duration, maxDuration))
	}
	if s.Snaplen != 0 && (s.Snaplen < 64 || s.Snaplen > 65535) {
		errs = append(errs, fmt.Errorf("snaplen %d: use 64 to 65535 bytes (0 keeps packets whole)", s.Snaplen))
	}
	if !s.Network.Addr().Is4() {
		errs = append(errs, fmt.Errorf("network %s: only IPv4 networks are supported", s.Network))
	} else if s.Network.Bits() < 8 || s.Network.Bits() > 24 {
		errs = append(errs, fmt.Errorf("network %s: the prefix length must be between /8 and /24", s.Network))
	}
	if s.Clients < 1 || s.Clients > 5000 {
		errs = append(errs, fmt.Errorf("clients %d must be between 1 and 5000", s.Clients))
	}
	if s.Servers < 1 || s.Servers > 200 {
		errs = append(errs, fmt.Errorf("servers %d must be between 1 and 200", s.Servers))
	}
	if math.IsNaN(s.BaseRate) || s.BaseRate < 5 || s.BaseRate > 100000 {
		errs = append(errs, fmt.Errorf("base rate %v packets/s must be between 5 and 100000", s.BaseRate))
	}
	for i, a := range s.Attacks {
		if err := a.validate(s.Duration); err != nil {
			errs = append(errs, fmt.Errorf("attack %d (%s): %w", i+1, a.Type, err))
		}
	}
	return errors.Join(errs...)
}

func (a Attack) validate(total time.Duration) error {
	sp, ok := specs[a.Type]
	if !ok {
		return fmt.Errorf("unknown type %q (known: %v)", a.Type, AttackTypes)
	}
	if !slices.Contains(sp.variants, a.Variant) {
		return fmt.Errorf("unknown variant %q (known: %v)", a.Variant, sp.variants)
	}
	if a.Start < 0 {
		return fmt.Errorf("start %v is negative", a.Start)
	}
	if a.Duration < time.Second {
		return fmt.Errorf("duration %v is shorter than 1s", a.Duration)
	}
	if a.Start+a.Duration > total {
		return fmt.Errorf("it ends at %v, after the scenario's end at %v", a.Start+a.Duration, total)
	}
	if math.IsNaN(a.Rate) || a.Rate < sp.min || a.Rate > sp.max || (a.Type == TrafficDrop && a.Rate <= 0) {
		return fmt.Errorf("rate %v is outside [%v, %v]", a.Rate, sp.min, sp.max)
	}
	return nil
}

// Write writes the scenario's capture to w as a pcap file (Ethernet,
// microsecond timestamps) and returns the labels of its attacks, sorted by
// start. It holds only the packets in flight, not the capture.
func Write(w io.Writer, s Scenario) ([]Label, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	s = s.WithDefaults()
	root := newRand(s.Seed, 0x6e6574616e6f6d61)
	netRand := child(root)
	loadRand := child(root)
	bgRand := child(root)
	n, err := newNetwork(&s, netRand)
	if err != nil {
		return nil, err
	}
	g := newEngine(&s, w, 1+len(s.Attacks))
	g.net = n
	g.load = newLoad(&s, loadRand)
	bg := newBackground(&s, n, g.load, bgRand)
	g.cur = item{t: g.start}
	bg.start(g)

	ctxs := make([]*attackCtx, len(s.Attacks))
	for i, a := range s.Attacks {
		seed := s.Seed
		if a.Seed != 0 {
			seed = a.Seed
		}
		c := &attackCtx{
			a: a, stream: int32(i + 1), n: n, bg: bg,
			r:     newRand(seed^0x5bd1e995*uint64(i+1), uint64(i+1)*0x9e3779b97f4a7c15),
			start: g.start + int64(a.Start), end: g.start + int64(a.Start+a.Duration), rate: a.Rate,
		}
		ctxs[i] = c
		g.cur = item{t: c.start, stream: c.stream}
		if err := c.setup(g); err != nil {
			return nil, err
		}
	}
	g.cur = item{}
	if err := g.run(); err != nil {
		return nil, err
	}
	labels := make([]Label, 0, len(ctxs))
	for _, c := range ctxs {
		st := g.stats[c.stream]
		l := Label{Type: c.a.Type, Source: c.source}
		if st.packets == 0 || c.a.Type == TrafficDrop {
			// no packets of its own: the interval asked for, on whole
			// microseconds as the capture's timestamps
			l.Start = time.Unix(0, c.start/1000*1000).UTC()
			l.End = time.Unix(0, (c.end+999)/1000*1000).UTC()
		} else {
			l.Start, l.End = time.Unix(0, st.first).UTC(), time.Unix(0, st.last+1000).UTC()
		}
		labels = append(labels, l)
	}
	slices.SortStableFunc(labels, func(a, b Label) int { return a.Start.Compare(b.Start) })
	return labels, nil
}
