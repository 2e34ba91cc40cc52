package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
)

// attackCtx is one attack being generated.
type attackCtx struct {
	a          Attack
	stream     int32
	r          *rand.Rand
	n          *network
	bg         *background
	start, end int64
	rate       float64
	source     string
}

// ipid returns a random IP ID: attacks never touch the background's
// per-host counters, so the background is the same with or without them.
func (c *attackCtx) ipid() uint16 { return uint16(c.r.Uint32()) }

// pkt constructors for attack traffic.

func (c *attackCtx) tcp(t int64, src, dst *host, sport, dport uint16, flags uint8, seq, ack uint32, win uint16) pkt {
	return pkt{t: t, kind: kTCP, flags: flags, ttl: src.ttl, srcMAC: src.mac, dstMAC: dst.mac, src: src.ip, dst: dst.ip,
		sport: sport, dport: dport, seq: seq, ack: ack, win: win, ipid: c.ipid()}
}

func (c *attackCtx) udp(t int64, src, dst *host, sport, dport uint16, payload []byte, n int) pkt {
	p := pkt{t: t, kind: kUDP, ttl: src.ttl, srcMAC: src.mac, dstMAC: dst.mac, src: src.ip, dst: dst.ip,
		sport: sport, dport: dport, ipid: c.ipid(), n: max(n, len(payload)), pre: payload, fill: c.r.Uint32()}
	p.noDF = true
	return p
}

func (c *attackCtx) icmp(t int64, src, dst *host, typ, code uint8, id, seq uint16, n int, pre []byte) pkt {
	return pkt{t: t, kind: kICMP, flags: typ, code: code, ttl: src.ttl, srcMAC: src.mac, dstMAC: dst.mac, src: src.ip, dst: dst.ip,
		sport: id, dport: seq, ipid: c.ipid(), n: max(n, len(pre)), pre: pre, fill: c.r.Uint32()}
}

// unreachable returns the ICMP port unreachable from src answering p.
func (c *attackCtx) unreachable(t int64, src, dst *host, p *pkt) pkt {
	u := c.icmp(t, src, dst, 3, 3, 0, 0, 28, quote(p))
	u.ttl = src.ttl
	return u
}

// spoofed returns a host for a random spoofed source address.
func (c *attackCtx) spoofed() *host {
	h := &host{ip: publicAddr(c.r, c.n.prefix), mac: c.n.gw.mac}
	h.ttl = uint8(pick(c.r, []int{64, 128, 255, 64})) - uint8(5+c.r.IntN(20))
	return h
}

// external returns an attacker on the Internet.
func (c *attackCtx) external(os osKind) *host { return c.n.newExternal(c.r, os) }

// insider returns an internal client that attacks.
func (c *attackCtx) insider() *host { return pick(c.r, c.n.clients) }

// victimServer returns an internal server, web servers first.
func (c *attackCtx) victimServer() *host {
	if len(c.n.webs) > 0 && c.r.Float64() < 0.7 {
		return pick(c.r, c.n.webs)
	}
	return pick(c.r, c.n.servers)
}

// gap returns the time to the next packet of a process of rate per second,
// exponentially distributed.
func (c *attackCtx) gap(rate float64) int64 {
	return max(int64(c.r.ExpFloat64()*1e9/rate), 1000)
}

// evenGap returns a nearly regular gap, as a flood tool sending in a loop.
func (c *attackCtx) evenGap(rate float64) int64 {
	return max(int64((0.5+c.r.Float64())*1e9/rate), 1000)
}

func (c *attackCtx) setup(g *engine) error {
	switch c.a.Type {
	case PortScan:
		switch c.a.Variant {
		case "horizontal":
			c.horizontalScan(g)
		case "arp_sweep":
			c.arpSweep(g)
		case "icmp_sweep":
			c.icmpSweep(g)
		case "udp":
			c.udpScan(g)
		default:
			c.verticalScan(g)
		}
	case SYNFlood:
		c.synFlood(g)
	case UDPFlood:
		c.udpFlood(g)
	case ICMPFlood:
		c.icmpFlood(g)
	case DNSAmplification, NTPAmplification, SSDPAmplification, MemcachedAmplification:
		c.amplification(g)
	case BruteForce:
		c.bruteForce(g)
	case Slowloris:
		c.slowloris(g)
	case TrafficSpike:
		c.spike(g)
	case TrafficDrop:
		g.drops = append(g.drops, dropWindow{start: c.start, end: c.end, keep: c.rate, rng: c.r})
	case ARPSpoofing:
		c.arpSpoof(g)
	default:
		return fmt.Errorf("unknown attack type %q", c.a.Type)
	}
	return nil
}

// ---- port scans ----

// nmapTop are the most scanned TCP ports, first in nmap's default list.
var nmapTop = []uint16{80, 23, 443, 21, 22, 25, 3389, 110, 445, 139, 143, 53, 135, 3306, 8080, 1723, 111, 995, 993, 5900, 1025, 587, 8888, 199, 1720, 465, 548, 113, 81, 6001, 10000, 514, 5060, 179, 1026, 2000, 8443, 8000, 32768, 554, 26, 1433, 49152, 2001, 515, 8008, 49154, 1027, 5666, 646, 5000, 5631, 631, 49153, 8081, 2049, 88, 79, 5800, 106, 2121, 1110, 49155, 6000, 513, 990, 5357, 427, 49156, 543, 544, 5101, 144, 7, 389, 8009, 3128, 444, 9999, 5009, 7070, 5190, 3000, 5432, 1900, 3986, 13, 1029, 9, 5051, 6646, 49157, 1028, 873, 1755, 2717, 4899, 9100, 119, 37}

var nmapTopUDP = []uint16{631, 161, 137, 123, 138, 1434, 445, 135, 67, 53, 139, 500, 68, 520, 1900, 4500, 514, 49152, 162, 69, 5353, 111, 49154, 1701, 998, 996, 997, 999, 3283, 49153, 1812, 136, 2222, 2049, 32768, 5060, 1025, 1433, 3456, 80, 20031, 1026, 7, 1646, 1645, 593, 518, 2048, 626, 1027}

// portOrder returns the order a scanner tries ports in: the common ones
// shuffled, then the rest shuffled.
func portOrder(r *rand.Rand, top []uint16) []uint16 {
	seen := make([]bool, 65536)
	var first []uint16
	for _, p := range top {
		first = append(first, p)
		seen[p] = true
	}
	for p := 1; p <= 1024; p++ {
		if !seen[p] {
			first = append(first, uint16(p))
			seen[p] = true
		}
	}
	r.Shuffle(len(first), func(i, j int) { first[i], first[j] = first[j], first[i] })
	rest := make([]uint16, 0, 65535-len(first))
	for p := 1; p < 65536; p++ {
		if !seen[p] {
			rest = append(rest, uint16(p))
		}
	}
	r.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	return append(first, rest...)
}

// scanner returns the scanning host: outside, or a compromised client.
func (c *attackCtx) scanner(insiderShare float64) *host {
	if c.r.Float64() < insiderShare {
		return c.insider()
	}
	return c.external(osLinux)
}

// verticalScan is nmap -sS: SYNs with window 1024 and an MSS option from
// one source port to many ports of one host; closed ports answer RST,
// open ones SYN-ACK and get a RST; filtered ones are retried once.
func (c *attackCtx) verticalScan(g *engine) {
	att := c.scanner(0.3)
	c.source = att.String()
	targets := append([]*host{}, c.n.servers...)
	c.r.Shuffle(len(targets), func(i, j int) { targets[i], targets[j] = targets[j], targets[i] })
	if c.r.Float64() < 0.3 && len(c.n.clients) > 0 {
		targets = append([]*host{c.insider()}, targets...)
	}
	if targets[0] == att {
		targets = targets[1:]
	}
	order := portOrder(c.r, nmapTop)
	drop := c.r.Float64() < 0.25 // a firewall drops closed ports
	sport := uint16(32768 + c.r.IntN(30000))
	win := pick(c.r, []uint16{1024, 1024, 2048, 3072, 4096})
	ttl := uint8(37 + c.r.IntN(23))
	if !att.internal {
		ttl -= uint8(8 + c.r.IntN(8))
	}
	ti, pi := 0, 0
	type retry struct {
		port uint16
		t    int64
	}
	var retries []retry
	slow := c.a.Variant == "slow"
	g.startProber(c.start, c.end, func(g *engine, t int64, pend *pending) int64 {
		tgt := targets[ti%len(targets)]
		var port uint16
		if len(retries) > 0 && retries[0].t <= t {
			port = retries[0].port
			retries = retries[1:]
		} else {
			port = order[pi]
			pi++
			if pi == len(order) {
				pi = 0
				ti++
			}
		}
		seq := c.r.Uint32()
		p := c.tcp(t, att, tgt, sport, port, fSYN, seq, 0, win)
		p.ttl, p.opt = ttl, optMSS
		g.emit(&p)
		switch {
		case tgt.hasTCP(port):
			sa := c.tcp(t+tgt.delay+c.jitter(0.1), tgt, att, port, sport, fSYN|fACK, c.r.Uint32(), seq+1, 65160)
			sa.opt = optMSS
			pend.push(sa)
			rst := c.tcp(sa.t+att.delay+c.jitter(0.05), att, tgt, sport, port, fRST, seq+1, 0, 0)
			rst.ttl = ttl
			pend.push(rst)
		case drop:
			if c.r.Float64() < 0.5 {
				retries = append(retries, retry{port, t + ms(1000+500*c.r.Float64())})
			}
		default:
			pend.push(c.tcp(t+tgt.delay+c.jitter(0.1), tgt, att, port, sport, fRST|fACK, 0, seq+1, 0))
		}
		if slow {
			return t + c.gap(c.rate)
		}
		return t + c.burstGap(c.rate)
	})
}

// burstGap spaces probes in small bursts, as a scanner's parallel probes go.
func (c *attackCtx) burstGap(rate float64) int64 {
	if c.r.Float64() < 0.8 {
		return max(int64(c.r.ExpFloat64()*0.2e9/rate), 2000)
	}
	return max(int64(c.r.ExpFloat64()*4.2e9/rate), 2000)
}

func (c *attackCtx) jitter(msMean float64) int64 { return ms(msMean * (0.5 + c.r.Float64())) }

// horizontalScan probes one port on many addresses (a worm or masscan).
// On the LAN, a probe to an empty address shows only as ARP questions (from
// the router for an outside scanner, from the scanner itself inside), the
// kernel asking up to three times; live hosts answer the SYN.
func (c *attackCtx) horizontalScan(g *engine) {
	att := c.scanner(0.3)
	c.source = att.String()
	port := pick(c.r, []uint16{22, 23, 445, 3389, 80, 443, 8080, 5900, 2323})
	targets := c.sweepTargets(att)
	i := 0
	sport := uint16(32768 + c.r.IntN(30000))
	arper := c.n.gw
	if att.internal {
		arper = att
	}
	ttl := att.ttl
	if !att.internal {
		ttl = uint8(40 + c.r.IntN(15))
	}
	g.startProber(c.start, c.end, func(g *engine, t int64, pend *pending) int64 {
		dst := targets[i%len(targets)]
		i++
		tgt, live := c.n.live[dst]
		if !live {
			p := arp(t, 1, arper.mac, arper.ip, broadcastMAC, [6]byte{}, dst)
			g.emit(&p)
			for j := 1; j < 3; j++ {
				pend.push(arp(t+int64(j)*sec(1), 1, arper.mac, arper.ip, broadcastMAC, [6]byte{}, dst))
			}
			return t + c.burstGap(c.rate)
		}
		ts := t
		if att.internal {
			p := arp(t, 1, att.mac, att.ip, broadcastMAC, [6]byte{}, dst)
			g.emit(&p)
			pend.push(arp(t+tgt.delay/2, 2, tgt.mac, tgt.ip, att.mac, att.mac, att.ip))
			ts = t + tgt.delay + ms(0.1)
		}
		seq := c.r.Uint32()
		sp := sport + uint16(i)
		p := c.tcp(ts, att, tgt, sp, port, fSYN, seq, 0, 1024)
		p.opt, p.ttl = optMSS, ttl
		if ts == t {
			g.emit(&p)
		} else {
			pend.push(p)
		}
		switch {
		case tgt.hasTCP(port):
			sa := c.tcp(ts+tgt.delay, tgt, att, port, sp, fSYN|fACK, c.r.Uint32(), seq+1, 64240)
			sa.opt = optMSS
			pend.push(sa)
			rst := c.tcp(sa.t+att.delay, att, tgt, sp, port, fRST, seq+1, 0, 0)
			rst.ttl = ttl
			pend.push(rst)
		case tgt.os == osWindows:
			// the Windows firewall drops it
		default:
			pend.push(c.tcp(ts+tgt.delay, tgt, att, port, sp, fRST|fACK, 0, seq+1, 0))
		}
		return t + c.burstGap(c.rate)
	})
}

func addrOffset(p netip.Prefix, a [4]byte) uint32 {
	b := p.Masked().Addr().As4()
	return be32(a) - be32(b)
}

func be32(a [4]byte) uint32 {
	return uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
}

// arpSweep is nmap -sn on the local link: ARP requests for every address of
// the attacker's /24 and onwards, a second pass for the silent ones.
func (c *attackCtx) arpSweep(g *engine) {
	att := c.insider()
	c.source = att.String()
	size := uint32(1) << (32 - c.n.prefix.Bits())
	start := addrOffset(c.n.prefix, att.ip) &^ 255
	var order []uint32
	for blk := uint32(0); blk < size; blk += 256 {
		base := (start + blk) % size
		var silent []uint32
		for h := uint32(1); h < 255 && h < size-1; h++ {
			order = append(order, base+h)
			if !c.n.isLive(addrAt(c.n.prefix, base+h)) {
				silent = append(silent, base+h)
			}
		}
		order = append(order, silent...)
		if len(order) > 200000 {
			break
		}
	}
	i := 0
	g.startProber(c.start, c.end, func(g *engine, t int64, pend *pending) int64 {
		off := order[i%len(order)]
		i++
		dst := addrAt(c.n.prefix, off)
		if dst == att.ip {
			return t + c.evenGap(c.rate)
		}
		p := arp(t, 1, att.mac, att.ip, broadcastMAC, [6]byte{}, dst)
		g.emit(&p)
		if h, ok := c.n.live[dst]; ok {
			pend.push(arp(t+h.delay/2+c.jitter(0.05), 2, h.mac, h.ip, att.mac, att.mac, att.ip))
		}
		return t + c.evenGap(c.rate)
	})
}

// icmpSweep is a ping sweep from outside: echo requests to every address
// of a /24 and onwards; live hosts answer (Windows clients do not), the
// router asks ARP for empty addresses.
func (c *attackCtx) icmpSweep(g *engine) {
	att := c.external(osLinux)
	c.source = att.String()
	targets := c.sweepTargets(att)
	id := uint16(c.r.Uint32())
	i := 0
	ttl := uint8(37 + c.r.IntN(20))
	g.startProber(c.start, c.end, func(g *engine, t int64, pend *pending) int64 {
		dst := targets[i%len(targets)]
		i++
		tgt, live := c.n.live[dst]
		if !live {
			// seen only as the router's ARP questions for the address
			a := arp(t, 1, c.n.gw.mac, c.n.gw.ip, broadcastMAC, [6]byte{}, dst)
			g.emit(&a)
			for j := 1; j < 3; j++ {
				pend.push(arp(t+int64(j)*sec(1), 1, c.n.gw.mac, c.n.gw.ip, broadcastMAC, [6]byte{}, dst))
			}
			return t + c.evenGap(c.rate)
		}
		p := c.icmp(t, att, tgt, 8, 0, id, 0, 0, nil)
		p.ttl = ttl
		p.noDF = true
		g.emit(&p)
		if tgt.os != osWindows {
			pend.push(c.icmp(t+tgt.delay, tgt, att, 0, 0, id, 0, 0, nil))
		}
		return t + c.evenGap(c.rate)
	})
}

// sweepTargets returns the addresses a sweep visits: every host address of
// the /24s where hosts live (scanners aim at the ranges in use), from a
// random one on, in order (nmap) or shuffled (masscan, worms).
func (c *attackCtx) sweepTargets(att *host) [][4]byte {
	seen := map[uint32]bool{}
	var blocks []uint32
	for _, h := range append(append([]*host{}, c.n.servers...), c.n.clients...) {
		b := addrOffset(c.n.prefix, h.ip) &^ 255
		if !seen[b] {
			seen[b] = true
			blocks = append(blocks, b)
		}
	}
	k := c.r.IntN(len(blocks))
	blocks = append(blocks[k:], blocks[:k]...)
	size := uint32(1) << (32 - c.n.prefix.Bits())
	var out [][4]byte
	for _, b := range blocks {
		for h := uint32(1); h < 255 && b+h < size-1; h++ {
			a := addrAt(c.n.prefix, b+h)
			if a != att.ip && a != c.n.gw.ip {
				out = append(out, a)
			}
		}
	}
	if c.r.Float64() < 0.5 {
		c.r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	}
	return out
}

// udpScan is nmap -sU: empty or protocol probes; closed ports answer ICMP
// port unreachable, rate-limited on Linux; open ones answer.
func (c *attackCtx) udpScan(g *engine) {
	att := c.scanner(0.3)
	c.source = att.String()
	tgt := pick(c.r, c.n.servers)
	order := portOrder(c.r, nmapTopUDP)
	limited := c.r.Float64() < 0.4
	tokens, last := 6.0, c.start
	sport := uint16(32768 + c.r.IntN(30000))
	i := 0
	g.startProber(c.start, c.end, func(g *engine, t int64, pend *pending) int64 {
		port := order[i%len(order)]
		i++
		var payload []byte
		switch port {
		case 53:
			payload = dnsQuery(uint16(c.r.Uint32()), "", 2, false)
		case 123:
			payload = ntpClient(t)
		case 161:
			payload = []byte{0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06, 'p', 'u', 'b', 'l', 'i', 'c', 0xa0, 0x19, 0x02, 0x04, 0x71, 0x64, 0xfe, 0xf1, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0b, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x05, 0x00}
		}
		p := c.udp(t, att, tgt, sport, port, payload, 0)
		p.ttl = uint8(40 + c.r.IntN(20))
		g.emit(&p)
		switch {
		case tgt.hasUDP(port):
			var resp []byte
			switch port {
			case 53:
				resp = dnsAnswer(c.r, 0, "", 2, 0, false, nil)
			case 123:
				resp = ntpServer(t, t, 2, c.n.gw.ip)
			default:
				resp = randBytes(c.r, 40)
			}
			pend.push(c.udp(t+tgt.delay, tgt, att, port, sport, resp, 0))
		default:
			if limited {
				tokens = min(6, tokens+float64(t-last)/1e9)
				last = t
				if tokens < 1 {
					break
				}
				tokens--
			}
			pend.push(c.unreachable(t+tgt.delay, tgt, att, &p))
		}
		return t + c.burstGap(c.rate)
	})
}

// ---- floods ----

// synFlood sends SYNs to one server port from spoofed random sources (or a
// botnet); the server answers some with SYN-ACKs (backlog, cookies) and
// retransmits them; bots' kernels answer those with RST.
func (c *attackCtx) synFlood(g *engine) {
	v := c.victimServer()
	port := pick(c.r, []uint16{443, 80, 80, 443, 22, 25})
	if !v.hasTCP(port) {
		port = v.tcp[len(v.tcp)-1]
	}
	answer := 0.1 + 0.3*c.r.Float64()
	withOpts := c.r.Float64() < 0.4
	hping := !withOpts
	var bots []*host
	var botPorts []uint16
	if c.a.Variant == "botnet" {
		nb := 50 + c.r.IntN(451)
		for range nb {
			b := c.external(osLinux)
			bots = append(bots, b)
			botPorts = append(botPorts, uint16(32768+c.r.IntN(28000)))
		}
		withOpts, hping = true, false
	}
	win := uint16(512)
	i := 0
	g.startProber(c.start, c.end, func(g *engine, t int64, pend *pending) int64 {
		var src *host
		var sport uint16
		if bots != nil {
			k := c.r.IntN(len(bots))
			src = bots[k]
			botPorts[k]++
			if botPorts[k] < 32768 {
				botPorts[k] = 32768
			}
			sport = botPorts[k]
		} else {
			src = c.spoofed()
			sport = uint16(1024 + c.r.IntN(64511))
		}
		i++
		seq := c.r.Uint32()
		w := win
		if !hping {
			w = pick(c.r, []uint16{64240, 29200, 65535, 14600})
		}
		p := c.tcp(t, src, v, sport, port, fSYN, seq, 0, w)
		if withOpts {
			p.opt, p.wscale, p.tsval = optSynLinux, 7, c.r.Uint32()
		}
		g.emit(&p)
		if c.r.Float64() < answer {
			sa := c.tcp(t+v.delay+c.jitter(0.2), v, src, port, sport, fSYN|fACK, c.r.Uint32(), seq+1, 65160)
			sa.opt = optSynAckNoTS
			sa.wscale = 7
			pend.push(sa)
			if bots != nil {
				pend.push(c.tcp(sa.t+src.delay, src, v, sport, port, fRST, seq+1, 0, 0))
			} else {
				if c.r.Float64() < 0.08 {
					// a real host behind the spoofed address resets it
					pend.push(c.tcp(sa.t+ms(20+c.r.Float64()*150), src, v, sport, port, fRST, seq+1, 0, 0))
				} else if c.r.Float64() < 0.4 && sa.t+sec(1) < c.end {
					re := sa
					re.t += sec(1) + c.jitter(10)
					re.ipid = c.ipid()
					pend.push(re)
				}
			}
		}
		return t + c.evenGap(c.rate)
	})
}

// udpFlood sends UDP datagrams to one host: hping3-style empty ones to port
// 0 or random ports from spoofed sources, from one fixed source, or large
// ones. The victim answers a few with ICMP port unreachable.
func (c *attackCtx) udpFlood(g *engine) {
	v := c.victimServer()
	if c.r.Float64() < 0.3 && len(c.n.clients) > 0 {
		v = c.insider()
	}
	var fixed *host
	if c.a.Variant == "fixed" {
		fixed = c.external(osLinux)
		c.source = fixed.String()
	}
	style := c.r.IntN(3) // 0: dst port 0, 1: random dst ports, 2: one service port
	dport := pick(c.r, []uint16{80, 443, 123, 5060, 27015, 3074})
	size := 0
	if c.r.Float64() < 0.4 {
		size = 1 + c.r.IntN(64)
	}
	if c.a.Variant == "large" {
		size = 1024 + c.r.IntN(449)
	}
	sport := uint16(1024 + c.r.IntN(60000))
	answers := c.r.Float64() < 0.6
	tokens, last := 50.0, c.start
	g.startProber(c.start, c.end, func(g *engine, t int64, pend *pending) int64 {
		src := fixed
		if src == nil {
			src = c.spoofed()
		}
		sport++
		dp := dport
		switch style {
		case 0:
			dp = 0
		case 1:
			dp = uint16(1 + c.r.IntN(65535))
		}
		n := size
		if c.a.Variant == "large" {
			n = 1024 + c.r.IntN(449)
		}
		p := c.udp(t, src, v, sport, dp, nil, n)
		g.emit(&p)
		if answers && !v.hasUDP(dp) {
			// Linux: about a thousand ICMP errors per second, burst 50,
			// and one per second per destination
			rate := 1000.0
			if fixed != nil {
				rate = 1
			}
			tokens = min(50, tokens+rate*float64(t-last)/1e9)
			last = t
			if tokens >= 1 {
				tokens--
				pend.push(c.unreachable(t+v.delay, v, src, &p))
			}
		}
		return t + c.evenGap(c.rate)
	})
}

// icmpFlood sends echo requests (hping3 --icmp --flood: no payload; or
// large pings), or BlackNurse port unreachables; the victim answers echo
// requests unless a firewall drops them.
func (c *attackCtx) icmpFlood(g *engine) {
	v := c.victimServer()
	var fixed *host
	if c.a.Variant == "fixed" {
		fixed = c.external(osLinux)
		c.source = fixed.String()
	}
	answers := c.r.Float64() < 0.7
	id := uint16(c.r.Uint32())
	seq := uint16(0)
	size := 0
	if c.a.Variant == "large" {
		size = 1000 + c.r.IntN(473)
	}
	g.startProber(c.start, c.end, func(g *engine, t int64, pend *pending) int64 {
		src := fixed
		if src == nil {
			src = c.spoofed()
		}
		seq++
		if c.a.Variant == "blacknurse" {
			inner := c.tcp(t, v, src, 80, uint16(1024+c.r.IntN(60000)), fSYN|fACK, c.r.Uint32(), 0, 0)
			p := c.icmp(t, src, v, 3, 3, 0, 0, 28, quote(&inner))
			g.emit(&p)
			return t + c.evenGap(c.rate)
		}
		p := c.icmp(t, src, v, 8, 0, id, seq, size, nil)
		p.noDF = true
		g.emit(&p)
		if answers {
			pend.push(c.icmp(t+v.delay, v, src, 0, 0, id, seq, size, nil))
		}
		return t + c.evenGap(c.rate)
	})
}

// ---- amplification ----

// amplification: hundreds of reflectors answer spoofed requests, all to one
// victim, from the service port; the requests are not on this link.
func (c *attackCtx) amplification(g *engine) {
	v := c.victimServer()
	if c.r.Float64() < 0.3 && len(c.n.clients) > 0 {
		v = c.insider()
	}
	nref := 200 + c.r.IntN(600)
	var sport uint16
	switch c.a.Type {
	case DNSAmplification:
		sport = 53
	case NTPAmplification:
		sport = 123
	case SSDPAmplification:
		sport = 1900
	default:
		sport = 11211
		nref = 50 + c.r.IntN(250)
	}
	refl := make([]*host, nref)
	weights := make([]float64, nref)
	total := 0.0
	for i := range refl {
		refl[i] = c.external(pick(c.r, []osKind{osLinux, osLinux, osWindows, osEmbedded}))
		refl[i].ipid = uint16(c.r.Uint32())
		total += 1 / math.Pow(float64(i+1), 0.5)
		weights[i] = total
	}
	fixedPort := c.r.Float64() < 0.4
	vport := pick(c.r, []uint16{80, 443, 53, 3074, 27015})
	zone := pick(c.r, []string{"isc.org", "ietf.org", "nasa.gov", "sandia.gov", "ripe.net", "cloudflare.com"})
	respSize := 1500 + c.r.IntN(2500)
	unreachable := !fixedPort && c.r.Float64() < 0.5
	lastICMP := map[*host]int64{}
	dnsCache := map[*host][]byte{}
	// Each event is one request's answer: one or more datagrams.
	perResp := 1.0
	switch c.a.Type {
	case DNSAmplification:
		perResp = math.Ceil(float64(respSize+8+20) / 1480)
	case NTPAmplification:
		perResp = 50
	case SSDPAmplification:
		perResp = 5
	case MemcachedAmplification:
		perResp = 30
	}
	g.startProber(c.start, c.end, func(g *engine, t int64, pend *pending) int64 {
		x := c.r.Float64() * total
		k := 0
		for k < nref-1 && weights[k] < x {
			k++
		}
		rf := refl[k]
		dport := vport
		if !fixedPort {
			dport = uint16(1024 + c.r.IntN(64511))
		}
		var first pkt
		switch c.a.Type {
		case DNSAmplification:
			// a reflector answers the same question the same way
			msg, ok := dnsCache[rf]
			if !ok {
				msg = bigDNSResponse(c.r, 0, zone, respSize-100+c.r.IntN(200))
				dnsCache[rf] = msg
			}
			msg = append([]byte(nil), msg...)
			msg[0], msg[1] = byte(c.r.Uint32()), byte(c.r.Uint32())
			first = c.fragments(g, t, rf, v, sport, dport, msg, pend)
		case NTPAmplification:
			n := 10 + c.r.IntN(91)
			for j := range n {
				p := c.udp(t+int64(j)*ms(0.03+0.05*c.r.Float64()), rf, v, sport, dport, monlistResponse(c.r, j, j < n-1), 0)
				rf.ipid++
				p.ipid = rf.ipid
				if j == 0 {
					first = p
					g.emit(&p)
				} else {
					pend.push(p)
				}
			}
		case SSDPAmplification:
			n := 1 + c.r.IntN(9)
			for j := range n {
				p := c.udp(t+int64(j)*ms(0.2+c.r.Float64()), rf, v, sport, dport, ssdpResponse(c.r, t, rf.ip), 0)
				if j == 0 {
					first = p
					g.emit(&p)
				} else {
					pend.push(p)
				}
			}
		default:
			n := 5 + c.r.IntN(51)
			reqID := uint16(c.r.Uint32())
			for j := range n {
				hdr := []byte{byte(reqID >> 8), byte(reqID), byte(j >> 8), byte(j), byte(n >> 8), byte(n), 0, 0}
				if j == 0 {
					hdr = append(hdr, []byte(fmt.Sprintf("VALUE %x 0 %d\r\n", c.r.Uint32(), 1392*n))...)
				}
				p := c.udp(t+int64(j)*ms(0.02+0.03*c.r.Float64()), rf, v, sport, dport, hdr, 1400)
				if j == 0 {
					first = p
					g.emit(&p)
				} else {
					pend.push(p)
				}
			}
		}
		if unreachable && t-lastICMP[rf] >= sec(1) {
			lastICMP[rf] = t
			pend.push(c.unreachable(t+v.delay+ms(0.05), v, rf, &first))
		}
		return t + int64(c.r.ExpFloat64()*1e9*perResp/c.rate)
	})
}

// fragments writes a UDP datagram from src as IPv4 fragments: the first
// now, the others queued microseconds apart. It returns the first.
func (c *attackCtx) fragments(g *engine, t int64, src, dst *host, sport, dport uint16, msg []byte, pend *pending) pkt {
	d := udpDatagram(src.ip, dst.ip, sport, dport, msg)
	src.ipid++
	var first pkt
	for off := 0; off < len(d); off += 1480 {
		end := min(off+1480, len(d))
		p := pkt{t: t + int64(off/1480)*ms(0.012), kind: kFrag, proto: 17, ttl: src.ttl, srcMAC: src.mac, dstMAC: dst.mac,
			src: src.ip, dst: dst.ip, ipid: src.ipid, mf: end < len(d), fragOff: uint16(off / 8), pre: d[off:end]}
		if off == 0 {
			first = p
			g.emit(&p)
		} else {
			pend.push(p)
		}
	}
	first.kind, first.n, first.pre, first.sport, first.dport = kUDP, len(msg), msg[:min(len(msg), 64)], sport, dport
	return first
}

// ---- ARP spoofing ----

// arpSpoof is arpspoof/ettercap on an internal client: forged replies every
// one to two seconds claiming the gateway's address (to a victim, or to
// everyone) and in mitm mode the victim's address to the gateway; when
// stopped it re-ARPs the true addresses a few times.
func (c *attackCtx) arpSpoof(g *engine) {
	att := c.insider()
	victim := c.insider()
	for victim == att && len(c.n.clients) > 1 {
		victim = c.insider()
	}
	gw := c.n.gw
	c.source = net.HardwareAddr(att.mac[:]).String()
	mode := c.a.Variant
	interval := 1 / c.rate
	// arpspoof re-ARPs the true addresses when stopped: three times, one
	// second apart, at the end of the window.
	stop := c.end - sec(3)
	if stop-c.start < sec(3) {
		stop = c.end
	}
	g.startProber(c.start, c.end, func(g *engine, t int64, pend *pending) int64 {
		if t >= stop {
			p := arp(t, 2, gw.mac, gw.ip, victim.mac, victim.mac, victim.ip)
			p.srcMAC = att.mac
			if mode == "gateway" {
				p.dstMAC, p.tha, p.dst = broadcastMAC, broadcastMAC, gw.ip
			}
			g.emit(&p)
			if mode != "gateway" {
				q := arp(t+ms(0.1), 2, victim.mac, victim.ip, gw.mac, gw.mac, gw.ip)
				q.srcMAC = att.mac
				pend.push(q)
			}
			return t + sec(1)
		}
		switch mode {
		case "gateway":
			p := arp(t, 2, att.mac, gw.ip, broadcastMAC, broadcastMAC, gw.ip)
			g.emit(&p)
		default:
			p := arp(t, 2, att.mac, gw.ip, victim.mac, victim.mac, victim.ip)
			g.emit(&p)
			pend.push(arp(t+ms(0.1+c.r.Float64()), 2, att.mac, victim.ip, gw.mac, gw.mac, gw.ip))
		}
		return min(t+int64(interval*(0.85+0.3*c.r.Float64())*1e9), stop)
	})
}
