package synth

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"sort"
	"time"
)

type osKind uint8

const (
	osLinux osKind = iota
	osWindows
	osMac
	osEmbedded
)

// host is one address on the wire.
type host struct {
	ip       [4]byte
	mac      [6]byte // MAC in frames to or from the host: the gateway's for external hosts
	ttl      uint8   // TTL of its packets when they reach the capture point
	os       osKind
	internal bool
	// delay is the time from the capture point to the host and back: a
	// packet to it is answered this much later at the capture point.
	delay int64
	name  string

	// background state of internal hosts
	port     uint16 // last ephemeral port (sequential allocators)
	resolver *host
	roles    []string
	tcp      []uint16 // open TCP ports
	udp      []uint16 // open UDP ports
	ipid     uint16
}

func (h *host) addr() netip.Addr { return netip.AddrFrom4(h.ip) }

func (h *host) String() string { return h.addr().String() }

func (h *host) hasTCP(port uint16) bool {
	for _, p := range h.tcp {
		if p == port {
			return true
		}
	}
	return false
}

func (h *host) hasUDP(port uint16) bool {
	for _, p := range h.udp {
		if p == port {
			return true
		}
	}
	return false
}

// ephemeral returns a client port for a new connection.
func (h *host) ephemeral(r *rand.Rand) uint16 {
	switch h.os {
	case osWindows:
		// Windows hands out ports roughly in sequence from 49152.
		h.port += uint16(1 + r.IntN(3))
		if h.port < 49152 {
			h.port = 49152 + uint16(r.IntN(4000))
		}
		return h.port
	case osMac:
		return 49152 + uint16(r.IntN(16384))
	default:
		return 32768 + uint16(r.IntN(28232))
	}
}

// synOpt returns the SYN option layout, window and scale of the host's OS.
func (h *host) synOpt() (opt uint8, win uint16, ws uint8) {
	switch h.os {
	case osWindows:
		return optSynWindows, 64240, 8
	case osMac:
		return optSynMac, 65535, 6
	case osEmbedded:
		return optMSS, 5840, 0
	default:
		return optSynLinux, 64240, 7
	}
}

// site is an external web site.
type site struct {
	name string
	ips  []*host
	tls  float64 // share of visits over TLS (the rest is HTTP)
	quic bool
	dns  int     // DNS answer shape: CNAMEs in the chain
	size float64 // median response size factor
}

// network is the simulated campus: internal hosts behind one gateway, a
// population of external sites and services.
type network struct {
	prefix  netip.Prefix
	gw      *host
	servers []*host
	clients []*host
	live    map[[4]byte]*host // internal addresses that answer

	resolvers []*host
	webs      []*host
	ntp       *host
	ssh       *host
	file      *host
	mail      *host
	monitor   *host
	iot       []*host // SSDP / mDNS talkers

	sites     []*site
	siteCum   []float64
	upstream  []*host // public DNS resolvers
	ntpPool   []*host
	gitHosts  []*host
	cdnHosts  []*host // software update and large download servers
	extByAddr map[[4]byte]*host
	domain    string
}

// Server roles, assigned in this order; with fewer servers a host takes
// several.
var serverRoles = []string{"dns", "web", "ssh", "file", "ntp", "dns", "web", "mail", "app", "web"}

var (
	ouiClients = [][3]byte{{0x3c, 0x52, 0x82}, {0xf4, 0x8e, 0x38}, {0xa4, 0x83, 0xe7}, {0x8c, 0x85, 0x90}, {0x98, 0xfa, 0x9b}, {0x00, 0x21, 0xcc}, {0xd4, 0x81, 0xd7}, {0x54, 0xbf, 0x64}}
	ouiServers = [][3]byte{{0x00, 0x50, 0x56}, {0x00, 0x0c, 0x29}, {0xb8, 0x2a, 0x72}, {0x52, 0x54, 0x00}}
	ouiIoT     = [][3]byte{{0xdc, 0xa6, 0x32}, {0x00, 0x1e, 0xc2}, {0x30, 0x05, 0x5c}}
	ouiGateway = [3]byte{0x00, 0x1b, 0x54}
)

func mac(r *rand.Rand, oui [3]byte) (m [6]byte) {
	copy(m[:3], oui[:])
	m[3], m[4], m[5] = byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))
	return m
}

func addrAt(p netip.Prefix, off uint32) [4]byte {
	b := p.Masked().Addr().As4()
	v := binary.BigEndian.Uint32(b[:]) + off
	var o [4]byte
	binary.BigEndian.PutUint32(o[:], v)
	return o
}

// hostOffsets lays the internal hosts out in the prefix: the gateway at .1,
// servers in the second /24 (from .10), clients in DHCP pools of 200 from
// the 11th /24 when the prefix is large, otherwise all in sequence.
func hostOffsets(p netip.Prefix, servers, clients int, extra int) (gw uint32, srv, cli []uint32, err error) {
	size := uint32(1) << (32 - p.Bits())
	gw = 1
	if p.Bits() <= 20 {
		for i := range servers {
			srv = append(srv, 256+10+uint32(i))
		}
		for i := range clients + extra {
			cli = append(cli, uint32(10+i/200)*256+20+uint32(i%200))
		}
	} else {
		next := uint32(10)
		for range servers {
			srv = append(srv, next)
			next++
		}
		next = max(next+10, 40)
		for range clients + extra {
			if next%256 == 0 || next%256 == 255 {
				next++
			}
			if next%256 == 0 {
				next++
			}
			cli = append(cli, next)
			next++
		}
	}
	all := append(append([]uint32{}, srv...), cli...)
	for _, o := range all {
		if o >= size-1 {
			return 0, nil, nil, fmt.Errorf("network %s is too small for %d servers and %d clients", p, servers, clients)
		}
	}
	return gw, srv, cli, nil
}

// publicAddr returns a random routable-looking IPv4 address outside the
// private, reserved and internal ranges.
func publicAddr(r *rand.Rand, internal netip.Prefix) [4]byte {
	for {
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], r.Uint32())
		if !isPublic(a) || internal.Contains(netip.AddrFrom4(a)) {
			continue
		}
		return a
	}
}

func isPublic(a [4]byte) bool {
	switch {
	case a[0] == 0, a[0] == 10, a[0] == 127, a[0] >= 224:
		return false
	case a[0] == 100 && a[1]&0xc0 == 64:
		return false
	case a[0] == 169 && a[1] == 254:
		return false
	case a[0] == 172 && a[1]&0xf0 == 16:
		return false
	case a[0] == 192 && a[1] == 168:
		return false
	case a[0] == 192 && a[1] == 0 && a[2] == 2, a[0] == 198 && a[1] == 51 && a[2] == 100, a[0] == 203 && a[1] == 0 && a[2] == 113:
		return false
	case a[0] == 198 && a[1]&0xfe == 18:
		return false
	}
	return a[3] != 0 && a[3] != 255
}

// providers are address blocks that hold many sites (clouds and CDNs).
var providers = [][2]byte{{13, 32}, {18, 154}, {20, 42}, {23, 45}, {34, 102}, {35, 190}, {52, 84}, {54, 230}, {104, 16}, {104, 244}, {142, 250}, {151, 101}, {157, 240}, {172, 217}, {185, 199}, {199, 232}, {3, 33}, {146, 75}, {162, 159}, {216, 58}}

var syllables = []string{"ka", "lo", "mi", "ra", "ven", "tor", "zu", "be", "qui", "sta", "no", "va", "pex", "dri", "lu", "mar", "sen", "ti", "go", "fer", "ax", "or", "el", "bri", "cam", "dex", "fin", "gal", "hub", "jet"}
var tlds = []string{"com", "com", "com", "net", "org", "io", "de", "co.uk", "fr", "info"}
var subs = []string{"www", "www", "www", "cdn", "static", "api", "img", "assets", "login", "app", "media", "edge"}

func siteName(r *rand.Rand) string {
	n := 2 + r.IntN(2)
	s := ""
	for range n {
		s += pick(r, syllables)
	}
	return pick(r, subs) + "." + s + "." + pick(r, tlds)
}

func newNetwork(s *Scenario, r *rand.Rand) (*network, error) {
	n := &network{prefix: s.Network.Masked(), live: map[[4]byte]*host{}, extByAddr: map[[4]byte]*host{}}
	n.domain = pick(r, []string{"corp.example", "office.lan", "acme.internal", "hq.example.net"})
	iotCount := 2
	gwOff, srvOff, cliOff, err := hostOffsets(n.prefix, s.Servers, s.Clients, iotCount)
	if err != nil {
		return nil, err
	}
	n.gw = &host{ip: addrAt(n.prefix, gwOff), mac: mac(r, ouiGateway), ttl: 255, os: osEmbedded, internal: true, delay: ms(0.05), name: "gateway"}
	n.live[n.gw.ip] = n.gw
	for i, off := range srvOff {
		h := &host{ip: addrAt(n.prefix, off), mac: mac(r, pick(r, ouiServers)), ttl: 64, os: osLinux, internal: true, delay: ms(0.1 + 0.3*r.Float64())}
		h.tcp = []uint16{22}
		h.ipid = uint16(r.Uint32())
		role := "app"
		if i < len(serverRoles) {
			role = serverRoles[i]
		} else if i%2 == 0 {
			role = "web"
		}
		h.roles = []string{role}
		n.servers = append(n.servers, h)
		n.live[h.ip] = h
	}
	// Services without a server of their own go to the first servers.
	have := map[string]bool{}
	for _, h := range n.servers {
		have[h.roles[0]] = true
	}
	for j, role := range serverRoles {
		if !have[role] {
			have[role] = true
			h := n.servers[j%len(n.servers)]
			h.roles = append(h.roles, role)
		}
	}
	counts := map[string]int{}
	for _, h := range n.servers {
		for k, role := range h.roles {
			counts[role]++
			if k == 0 {
				h.name = fmt.Sprintf("%s%d.%s", role, counts[role], n.domain)
			}
			switch role {
			case "dns":
				h.udp = append(h.udp, 53)
				h.tcp = append(h.tcp, 53)
				n.resolvers = append(n.resolvers, h)
			case "web":
				h.tcp = append(h.tcp, 80, 443)
				n.webs = append(n.webs, h)
			case "ssh":
				if n.ssh == nil {
					n.ssh = h
				}
				h.tcp = append(h.tcp, 21)
			case "file":
				h.tcp = append(h.tcp, 445, 139, 873)
				if n.file == nil {
					n.file = h
				}
			case "ntp":
				h.udp = append(h.udp, 123)
				if n.ntp == nil {
					n.ntp = h
				}
			case "mail":
				h.tcp = append(h.tcp, 25, 465, 587, 993)
				if n.mail == nil {
					n.mail = h
				}
			case "app":
				h.tcp = append(h.tcp, 8080, 3389)
			}
		}
	}
	if len(n.resolvers) > 2 {
		n.resolvers = n.resolvers[:2]
	}
	n.monitor = n.servers[len(n.servers)-1]
	for i, off := range cliOff {
		h := &host{ip: addrAt(n.prefix, off), ttl: 128, internal: true, delay: ms(0.15 + 0.6*r.Float64())}
		if i >= s.Clients {
			h.os = osEmbedded
			h.ttl = 64
			h.mac = mac(r, pick(r, ouiIoT))
			h.tcp = []uint16{80, 443, 8008}
			h.udp = []uint16{1900, 5353}
			h.name = fmt.Sprintf("iot%d", i-s.Clients+1)
			n.iot = append(n.iot, h)
		} else {
			switch x := r.Float64(); {
			case x < 0.6:
				h.os = osWindows
				h.tcp = []uint16{135, 139, 445}
			case x < 0.85:
				h.os = osMac
				h.ttl = 64
			default:
				h.os = osLinux
				h.ttl = 64
				h.tcp = []uint16{22}
			}
			h.mac = mac(r, pick(r, ouiClients))
			h.name = fmt.Sprintf("pc%03d", i+1)
			n.clients = append(n.clients, h)
		}
		h.port = 49152 + uint16(r.IntN(3000))
		h.ipid = uint16(r.Uint32())
		if len(n.resolvers) > 0 {
			h.resolver = n.resolvers[0]
			if len(n.resolvers) > 1 && r.Float64() < 0.4 {
				h.resolver = n.resolvers[1]
			}
		}
		n.live[h.ip] = h
	}

	// External services.
	ext := func(a [4]byte, os osKind, name string) *host {
		if h, ok := n.extByAddr[a]; ok {
			return h
		}
		h := &host{ip: a, mac: n.gw.mac, os: os, name: name}
		hops := 6 + r.IntN(14)
		switch os {
		case osWindows:
			h.ttl = uint8(128 - hops)
		case osEmbedded:
			h.ttl = uint8(255 - hops)
		default:
			h.ttl = uint8(64 - hops)
		}
		h.delay = int64(logNormal(r, 22, 0.7) * 1e6)
		h.delay = min(max(h.delay, ms(3)), ms(250))
		n.extByAddr[a] = h
		return h
	}
	extIn := func(block [2]byte) [4]byte {
		for {
			a := [4]byte{block[0], block[1], byte(r.IntN(256)), byte(1 + r.IntN(254))}
			if !n.prefix.Contains(netip.AddrFrom4(a)) {
				return a
			}
		}
	}
	for _, a := range [][4]byte{{8, 8, 8, 8}, {1, 1, 1, 1}, {9, 9, 9, 9}, {8, 8, 4, 4}} {
		if n.prefix.Contains(netip.AddrFrom4(a)) {
			continue
		}
		h := ext(a, osLinux, "resolver")
		h.delay = ms(8 + 20*r.Float64())
		n.upstream = append(n.upstream, h)
	}
	if len(n.upstream) == 0 {
		n.upstream = append(n.upstream, ext(publicAddr(r, n.prefix), osLinux, "resolver"))
	}
	for range 4 {
		n.ntpPool = append(n.ntpPool, ext(publicAddr(r, n.prefix), osLinux, "ntp"))
	}
	for range 2 {
		n.gitHosts = append(n.gitHosts, ext(extIn([2]byte{140, 82}), osLinux, "git"))
	}
	for range 6 {
		n.cdnHosts = append(n.cdnHosts, ext(extIn(pick(r, providers)), osLinux, "cdn"))
	}
	nsites := 600
	for i := range nsites {
		st := &site{name: siteName(r), tls: 0.85, size: math.Exp(0.5 * r.NormFloat64()), dns: r.IntN(3)}
		if r.Float64() < 0.1 {
			st.tls = 0.2 // an old plain-HTTP site
		}
		st.quic = i < 40 && r.Float64() < 0.6
		nip := 1 + r.IntN(2)
		for range nip {
			var a [4]byte
			if r.Float64() < 0.7 {
				a = extIn(pick(r, providers))
			} else {
				a = publicAddr(r, n.prefix)
			}
			st.ips = append(st.ips, ext(a, osLinux, st.name))
		}
		n.sites = append(n.sites, st)
	}
	// Zipf-like popularity.
	total := 0.0
	for i := range n.sites {
		total += 1 / math.Pow(float64(i+1), 0.8)
		n.siteCum = append(n.siteCum, total)
	}
	return n, nil
}

func (n *network) pickSite(r *rand.Rand) *site {
	x := r.Float64() * n.siteCum[len(n.siteCum)-1]
	i := sort.SearchFloat64s(n.siteCum, x)
	return n.sites[min(i, len(n.sites)-1)]
}

// newExternal returns an outside host at a random public address, for
// attackers and flash crowds.
func (n *network) newExternal(r *rand.Rand, os osKind) *host {
	a := publicAddr(r, n.prefix)
	h := &host{ip: a, mac: n.gw.mac, os: os}
	hops := 8 + r.IntN(16)
	switch os {
	case osWindows:
		h.ttl = uint8(128 - hops)
	default:
		h.ttl = uint8(64 - hops)
	}
	h.delay = min(max(int64(logNormal(r, 40, 0.6)*1e6), ms(5)), ms(300))
	h.port = 49152 + uint16(r.IntN(10000))
	return h
}

// isLive reports whether an internal address has a host.
func (n *network) isLive(a [4]byte) bool { _, ok := n.live[a]; return ok }

// loadModel is the background intensity over time: a daily-like sinusoid
// whose period fits the scenario, times a log-normal load per minute,
// linearly interpolated.
type loadModel struct {
	start  int64
	period float64 // seconds
	phase  float64
	minute []float64
}

func newLoad(s *Scenario, r *rand.Rand) *loadModel {
	period := min(max(s.Duration, time.Hour), 24*time.Hour)
	m := &loadModel{start: s.Start.UnixNano(), period: period.Seconds(), phase: r.Float64() * 2 * math.Pi}
	n := int(s.Duration/time.Minute) + 3
	m.minute = make([]float64, n)
	// An AR(1) process in log space: consecutive minutes are related.
	x := 0.0
	for i := range m.minute {
		x = 0.6*x + 0.8*0.22*r.NormFloat64()
		m.minute[i] = math.Exp(x - 0.22*0.22/2)
	}
	return m
}

// at returns the load multiplier at t (mean about 1).
func (m *loadModel) at(t int64) float64 {
	s := float64(t-m.start) / 1e9
	d := 1 + 0.4*math.Sin(2*math.Pi*s/m.period+m.phase)
	f := s / 60
	i := int(f)
	if i < 0 {
		i, f = 0, 0
	}
	if i+1 >= len(m.minute) {
		return d * m.minute[len(m.minute)-1]
	}
	w := f - float64(i)
	return d * (m.minute[i]*(1-w) + m.minute[i+1]*w)
}
