package synth

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"
)

// background generates the benign traffic of a scenario. All its actors are
// in stream 0 and draw from random sources seeded from its own.
type background struct {
	s    *Scenario
	n    *network
	load *loadModel
	r    *rand.Rand
	// scale is BaseRate relative to the rate the session intensities were
	// calibrated for.
	scale     float64
	clientCum []float64
	// dnsCache remembers which client looked which site up recently.
	dnsCache map[dnsKey]int64
	// quic is the share of visits to QUIC sites made over QUIC: the
	// network's browsers and policies differ.
	quic float64
}

type dnsKey struct {
	c    *host
	name string
}

// calibrated is the base rate the intensities below produce.
const calibrated = 300.0

func newBackground(s *Scenario, n *network, load *loadModel, r *rand.Rand) *background {
	b := &background{s: s, n: n, load: load, r: r, scale: s.BaseRate / calibrated, dnsCache: map[dnsKey]int64{}, quic: 0.3 + 0.5*r.Float64()}
	total := 0.0
	for range n.clients {
		total += logNormal(r, 1, 0.8)
		b.clientCum = append(b.clientCum, total)
	}
	return b
}

func (b *background) client(r *rand.Rand) *host {
	x := r.Float64() * b.clientCum[len(b.clientCum)-1]
	return b.n.clients[min(sort.SearchFloat64s(b.clientCum, x), len(b.n.clients)-1)]
}

// start schedules the background processes.
func (b *background) start(g *engine) {
	t0 := g.start
	// Each network has its own habits: how much its users use SSH, the
	// file server, mail, ping; how often backups run.
	habit := func() float64 { return math.Exp((b.r.Float64() - 0.5) * 1.4) } // 0.5x to 2x
	every := func(lo, hi time.Duration) (time.Duration, time.Duration) {
		f := habit()
		return time.Duration(float64(lo) * f), time.Duration(float64(hi) * f)
	}
	// Arrival processes: rate per second at load 1 and the session maker.
	b.poisson(g, t0, 1.2, b.browse)
	b.poisson(g, t0, 0.22*habit(), b.appLookup)
	b.poisson(g, t0, habit()/600, b.sshSession)
	b.poisson(g, t0, habit()/400, b.gitFetch)
	b.poisson(g, t0, habit()/360, b.fileCopy)
	b.poisson(g, t0, habit()/90, b.mailCheck)
	b.poisson(g, t0, habit()/900, b.pingBurst)
	// Benign bursts: not labelled, and they must not look like attacks.
	lo, hi := every(25*time.Minute, 70*time.Minute)
	b.rare(g, t0, lo, hi, b.backup)
	lo, hi = every(20*time.Minute, 60*time.Minute)
	b.rare(g, t0, lo, hi, b.update)
	lo, hi = every(4*time.Minute, 14*time.Minute)
	b.rare(g, t0, lo, hi, b.heavyPage)
	lo, hi = every(30*time.Second, 90*time.Second)
	b.rare(g, t0, lo, hi, b.lanChatter)
	lo, hi = every(2*time.Minute, 10*time.Minute)
	b.rare(g, t0, lo, hi, b.strayUnreachable)

	// Per-host periodic processes.
	for _, h := range b.n.clients {
		b.ntpClient(g, h)
		b.arpRefresh(g, h)
		if b.r.Float64() < 0.35 {
			b.pushChannel(g, child(b.r), g.start+uniDur(b.r, 0, 3*time.Minute))
		}
	}
	for _, h := range b.n.servers {
		b.arpRefresh(g, h)
	}
	for _, h := range b.n.iot {
		b.arpRefresh(g, h)
		b.ssdpNotify(g, h)
	}
	b.ntpServer(g)
	b.monitor(g)
}

// poisson runs an arrival process of rate per second at load 1 (scaled by
// the base rate) and starts a session at each arrival.
func (b *background) poisson(g *engine, t0 int64, rate float64, f func(g *engine, r *rand.Rand, t int64)) {
	r := child(b.r)
	rate *= b.scale
	first := true
	g.spawnIn(0, &tick{f: func(g *engine, now int64) (int64, bool) {
		if !first {
			f(g, child(r), now)
		}
		first = false
		return now + expDur(r, 1e9/(rate*b.load.at(now))), true
	}}, t0)
}

// rare runs a process with uniformly distributed gaps; it does not follow
// the load.
func (b *background) rare(g *engine, t0 int64, lo, hi time.Duration, f func(g *engine, r *rand.Rand, t int64)) {
	r := child(b.r)
	first := true
	g.spawnIn(0, &tick{f: func(g *engine, now int64) (int64, bool) {
		if !first {
			f(g, child(r), now)
		}
		first = false
		return now + uniDur(r, lo, hi), true
	}}, t0+uniDur(r, 0, lo))
}

// ---- UDP helpers ----

func udp(t int64, src, dst *host, sport, dport uint16, payload []byte, n int) pkt {
	if n < len(payload) {
		n = len(payload)
	}
	src.ipid++
	p := pkt{t: t, kind: kUDP, ttl: src.ttl, srcMAC: src.mac, dstMAC: dst.mac, src: src.ip, dst: dst.ip,
		sport: sport, dport: dport, ipid: src.ipid, n: n, pre: payload, fill: uint32(t) ^ uint32(sport)}
	if src.os == osLinux || !src.internal {
		p.noDF = false
	} else {
		p.noDF = true
	}
	return p
}

// ---- DNS ----

// lookup queues a client's DNS lookup through its resolver and returns
// when the answer reached the client. Lookups cached by the client cost
// nothing.
func (b *background) lookup(q *queue, r *rand.Rand, c *host, name string, t int64, chain int, ips [][4]byte, internal bool) int64 {
	key := dnsKey{c, name}
	if exp, ok := b.dnsCache[key]; ok && exp > t {
		return t
	}
	b.dnsCache[key] = t + sec(60+r.Float64()*600)
	if len(b.dnsCache) > 20000 {
		for k, e := range b.dnsCache {
			if e < t {
				delete(b.dnsCache, k)
			}
		}
	}
	res := c.resolver
	if res == nil {
		return t
	}
	port := c.ephemeral(r)
	types := []uint16{1}
	switch x := r.Float64(); {
	case x < 0.35:
		types = []uint16{1, 28}
	case x < 0.45 && !internal:
		types = []uint16{65, 1, 28}
	}
	nx := r.Float64() < 0.03
	done := t
	for i, qt := range types {
		ts := t + int64(i)*int64(20000+r.IntN(200000))
		id := uint16(r.Uint32())
		q.add(udp(ts, c, res, port, 53, dnsQuery(id, name, qt, c.os != osWindows && r.Float64() < 0.5), 0))
		at := ts + res.delay/2 + ms(0.05+0.3*r.Float64())
		if !internal && r.Float64() < 0.45 {
			// cache miss: forward upstream
			up := pick(r, b.n.upstream)
			uport := uint16(1024 + r.IntN(64000))
			uid := uint16(r.Uint32())
			q.add(udp(at, res, up, uport, 53, dnsQuery(uid, name, qt, true), 0))
			at += up.delay + ms(r.ExpFloat64()*15)
			q.add(udp(at, up, res, 53, uport, dnsAnswer(r, uid, name, qt, chain, nx, ips), 0))
			at += ms(0.05 + 0.2*r.Float64())
		}
		q.add(udp(at, res, c, 53, port, dnsAnswer(r, id, name, qt, chain, nx, ips), 0))
		done = max(done, at+c.delay/2)
	}
	if nx {
		return -1
	}
	return done
}

// appLookup is a lookup made by a background application or a search
// suffix, sometimes for a name that does not exist.
func (b *background) appLookup(g *engine, r *rand.Rand, t int64) {
	c := b.client(r)
	var name string
	switch x := r.Float64(); {
	case x < 0.25:
		name = pick(r, []string{"wpad", "isatap", "_ldap._tcp.dc._msdcs", "printer", "fileserver"}) + "." + b.n.domain
	case x < 0.4:
		name = b.n.pickSite(r).name + "." + b.n.domain // search suffix appended
	default:
		name = pick(r, []string{"ctldl.windowsupdate.com", "clients4.google.com", "ocsp.digicert.com", "time.apple.com", "settings-win.data.microsoft.com", "mobile.events.data.microsoft.com", "gateway.icloud.com", "safebrowsing.googleapis.com", "update.googleapis.com", "teams.microsoft.com"})
	}
	s := &oneShot{}
	s.f = func(g *engine, q *queue) {
		b.lookup(q, r, c, name, t, r.IntN(2), [][4]byte{publicAddr(r, b.n.prefix)}, strings.HasSuffix(name, b.n.domain))
	}
	g.startSession(s)
}

// oneShot is a session that queues its packets in one go.
type oneShot struct {
	f    func(g *engine, q *queue)
	done bool
}

func (s *oneShot) next(g *engine, q *queue) bool {
	if !s.done {
		s.done = true
		s.f(g, q)
	}
	return false
}

// ---- Web ----

// browse is a page visit: a lookup, then a few parallel connections.
func (b *background) browse(g *engine, r *rand.Rand, t int64) {
	c := b.client(r)
	var dst *host
	var name string
	var st *site
	if len(b.n.webs) > 0 && r.Float64() < 0.1 {
		dst = pick(r, b.n.webs)
		name = dst.name
	} else {
		st = b.n.pickSite(r)
		dst = pick(r, st.ips)
		name = st.name
	}
	s := &oneShot{}
	s.f = func(g *engine, q *queue) {
		var ips [][4]byte
		chain := 0
		if st != nil {
			for _, h := range st.ips {
				ips = append(ips, h.ip)
			}
			chain = st.dns
		} else {
			ips = [][4]byte{dst.ip}
		}
		tc := b.lookup(q, r, c, name, t, chain, ips, st == nil)
		if tc < 0 {
			return // NXDOMAIN: nothing to connect to
		}
		tc += ms(r.ExpFloat64() * 5)
		conns := geom(r, 2.2, 6)
		if st == nil {
			conns = geom(r, 1.3, 3) // an intranet application over HTTP/2
		}
		tlsShare, size := 0.9, 1.0
		if st != nil {
			tlsShare, size = st.tls, st.size
		}
		useTLS := r.Float64() < tlsShare
		if st != nil && st.quic && c.os != osMac && r.Float64() < b.quic {
			g.startSession(b.newQUIC(r, c, dst, tc, size))
			return
		}
		for i := range conns {
			start := tc + int64(i)*ms(r.ExpFloat64()*30)
			w := b.newWeb(child(r), c, dst, name, useTLS, start, size)
			if i > 0 {
				w.reqs = geom(r, 4, 30)
			}
			g.startSession(w)
		}
	}
	g.startSession(s)
}

type webConn struct {
	b     *background
	r     *rand.Rand
	k     *conn
	name  string
	tls   bool
	t     int64
	phase int
	reqs  int
	size  float64
	quick bool // closes soon after the last request
}

func (b *background) newWeb(r *rand.Rand, c, s *host, name string, tls bool, t int64, size float64) *webConn {
	return b.newWebPort(r, c, s, name, tls, t, size, c.ephemeral(r))
}

// newWebPort is newWeb with a given client port, leaving the client's port
// allocator alone.
func (b *background) newWebPort(r *rand.Rand, c, s *host, name string, tls bool, t int64, size float64, cport uint16) *webConn {
	port := uint16(443)
	if !tls {
		port = 80
	}
	k := newConn(r, c, s, cport, port)
	return &webConn{b: b, r: r, k: k, name: name, tls: tls, t: t, reqs: geom(r, 6.5, 80), size: size}
}

func (w *webConn) next(g *engine, q *queue) bool {
	k, r := w.k, w.r
	switch w.phase {
	case 0:
		w.phase = 1
		if !w.k.h[1].internal && r.Float64() < 0.006 {
			// a dead server: refused or silently dropped
			k.failedConnect(q, w.t, r.Float64() < 0.5)
			return false
		}
		w.t = k.handshake(q, w.t)
		if w.tls {
			pq := r.Float64() < 0.35
			hello := 517
			if pq {
				hello = 1750 + r.IntN(150)
			} else if r.Float64() < 0.2 {
				hello = 250 + r.IntN(300)
			}
			ch := clientHello(r, w.name, hello, pq)
			last, _ := k.send(q, w.t+ms(0.1), c2s, len(ch), ch, false, ackNone)
			flight := 2400 + r.IntN(3000)
			last, _ = k.send(q, last+k.jit(k.delay(c2s))+ms(r.ExpFloat64()*3), s2c, flight, serverFlight(r, flight), false, ackNone)
			last, _ = k.send(q, last+k.jit(k.delay(s2c)), c2s, clientFinishedLen, clientFinished, false, ackNone)
			w.t = last
		}
		return true
	case 1:
		if w.reqs <= 0 {
			w.phase = 2
			return w.next(g, q)
		}
		w.reqs--
		reqSize := int(logNormal(r, 420, 0.35))
		respSize := min(int(logNormal(r, 6500*w.size, 1.3)), 2<<20)
		think := ms(logNormal(r, 25, 1.0))
		var reqPre, respPre []byte
		if w.tls {
			reqSize = max(int(logNormal(r, 260, 0.45)), 60)
		} else {
			reqPre = httpRequest(r, w.name, reqSize)
			reqSize = len(reqPre)
			status := "200 OK"
			switch x := r.Float64(); {
			case x < 0.08:
				status = "304 Not Modified"
				respSize = 0
			case x < 0.1:
				status = "404 Not Found"
				respSize = 150 + r.IntN(300)
			}
			respPre = httpResponseHeader(r, w.t, respSize, status)
			respSize += len(respPre)
		}
		w.t = k.exchange(q, w.t, reqSize, reqPre, think, respSize, respPre, w.tls)
		// Gap before the next request on this connection: the rest of the
		// page, or the user's next click.
		if r.Float64() < 0.75 || w.quick {
			w.t += ms(logNormal(r, 30, 1.2))
		} else {
			w.t += sec(logNormal(r, 6, 0.9))
		}
		return true
	default:
		// idle keep-alive, then one side closes
		if w.quick {
			w.t += ms(200 + 2000*r.Float64())
		} else {
			w.t += sec(min(logNormal(r, 8, 0.9), 110))
		}
		switch x := r.Float64(); {
		case x < 0.45:
			k.close(q, w.t, c2s)
		case x < 0.8:
			k.close(q, w.t, s2c)
		case x < 0.96:
			k.reset(q, w.t, c2s)
		default:
			k.reset(q, w.t, s2c)
		}
		return false
	}
}

// quicSession is an HTTP/3 visit over UDP 443.
type quicSession struct {
	b           *background
	r           *rand.Rand
	c, s        *host
	port        uint16
	odcid       []byte // the client's first destination connection ID
	cc, sc      []byte // client and server connection IDs
	t           int64
	phase, reqs int
	size        float64
}

func (b *background) newQUIC(r *rand.Rand, c, s *host, t int64, size float64) *quicSession {
	r = child(r)
	return &quicSession{b: b, r: r, c: c, s: s, port: c.ephemeral(r), odcid: randBytes(r, 8), cc: randBytes(r, 8), sc: randBytes(r, 8), t: t, reqs: geom(r, 10, 80), size: size}
}

func (w *quicSession) pkt(q *queue, t int64, fromClient bool, n int, pre []byte) {
	if fromClient {
		q.add(udp(t, w.c, w.s, w.port, 443, pre, n))
	} else {
		q.add(udp(t, w.s, w.c, 443, w.port, pre, n))
	}
}

func (w *quicSession) next(g *engine, q *queue) bool {
	r := w.r
	rtt := w.s.delay
	switch w.phase {
	case 0:
		w.phase = 1
		w.pkt(q, w.t, true, 1250, quicLong(0, w.odcid, w.cc, 1250))
		t := w.t + rtt + ms(r.ExpFloat64()*2)
		n := 1200 + r.IntN(52)
		w.pkt(q, t, false, n, quicLong(0, w.cc, w.sc, n))
		for i := range 1 + r.IntN(2) {
			n := 1000 + r.IntN(252)
			w.pkt(q, t+int64(i+1)*ms(0.05), false, n, quicLong(2, w.cc, w.sc, n))
		}
		t += w.c.delay + ms(0.3)
		w.pkt(q, t, true, 1250, quicLong(0, w.sc, w.cc, 1250))
		n = 90 + r.IntN(40)
		w.pkt(q, t+ms(0.02), true, n, quicLong(2, w.sc, w.cc, n))
		w.t = t + ms(0.05)
		return true
	case 1:
		if w.reqs <= 0 {
			w.phase = 2
			return true
		}
		w.reqs--
		w.pkt(q, w.t, true, 60+r.IntN(300), quicShort(w.sc))
		resp := min(int(logNormal(r, 8500*w.size, 1.3)), 2<<20)
		t := w.t + rtt + ms(logNormal(r, 20, 1))
		gap := int64(1250 / logNormal(r, 5e6, 0.7) * 1e9)
		n := 0
		for resp > 0 {
			size := min(resp+30, 1252)
			w.pkt(q, t, false, size, quicShort(w.cc))
			resp -= size - 30
			n++
			if n%2 == 0 || resp <= 0 {
				w.pkt(q, t+w.c.delay, true, 40+r.IntN(20), quicShort(w.sc))
			}
			t += gap + int64(r.ExpFloat64()*float64(gap)*0.2)
			if n%20 == 0 {
				t += rtt / 2
			}
		}
		w.t = t + w.c.delay + ms(0.1)
		if r.Float64() < 0.7 {
			w.t += ms(logNormal(r, 40, 1.2))
		} else {
			w.t += sec(logNormal(r, 5, 0.9))
		}
		return true
	default:
		// idle timeout, sometimes an explicit close, with a last ping
		w.t += sec(logNormal(r, 6, 0.8))
		if r.Float64() < 0.5 {
			w.pkt(q, w.t, true, 45+r.IntN(20), quicShort(w.sc))
		}
		return false
	}
}

// heavyPage is a user opening a page with many resources: about 30
// connections within a second to a handful of servers.
func (b *background) heavyPage(g *engine, r *rand.Rand, t int64) {
	c := b.client(r)
	servers := 3 + r.IntN(6)
	n := 20 + r.IntN(12)
	var sites []*site
	for len(sites) < servers {
		st := b.n.pickSite(r)
		if !slices.Contains(sites, st) {
			sites = append(sites, st)
		}
	}
	s := &oneShot{}
	s.f = func(g *engine, q *queue) {
		tc := t
		for _, st := range sites {
			var ips [][4]byte
			for _, h := range st.ips {
				ips = append(ips, h.ip)
			}
			if d := b.lookup(q, r, c, st.name, t, st.dns, ips, false); d > tc {
				tc = d
			}
		}
		for i := range n {
			st := sites[i%len(sites)]
			w := b.newWeb(child(r), c, pick(r, st.ips), st.name, true, tc+ms(r.Float64()*800), st.size)
			w.reqs = geom(r, 2, 6)
			g.startSession(w)
		}
	}
	g.startSession(s)
}

// pushChannel is a long-lived TLS connection of a notification service:
// rare small heartbeats, sometimes a push.
type pushChannel struct {
	k   *conn
	r   *rand.Rand
	t   int64
	end int64
	ph  int
}

func (b *background) pushChannel(g *engine, r *rand.Rand, t int64) {
	c := b.client(r)
	dst := pick(r, b.n.sites[:20])
	k := newConn(r, c, pick(r, dst.ips), c.ephemeral(r), pick(r, []uint16{443, 443, 5223}))
	g.startSession(&pushChannel{k: k, r: r, t: t, end: t + sec(logNormal(r, 1800, 0.8))})
}

func (p *pushChannel) next(g *engine, q *queue) bool {
	k, r := p.k, p.r
	if p.ph == 0 {
		p.ph = 1
		p.t = k.handshake(q, p.t)
		ch := clientHello(r, "push.example.net", 517, false)
		last, _ := k.send(q, p.t, c2s, len(ch), ch, false, ackNone)
		flight := 3000 + r.IntN(1000)
		last, _ = k.send(q, last+k.delay(c2s), s2c, flight, serverFlight(r, flight), false, ackNone)
		last, _ = k.send(q, last+k.delay(s2c), c2s, clientFinishedLen, clientFinished, false, ackDelayed)
		p.t = last
		return true
	}
	p.t += sec(60 + r.Float64()*240)
	if p.t > p.end {
		k.close(q, p.t, c2s)
		return false
	}
	if r.Float64() < 0.8 {
		p.t = k.exchange(q, p.t, 31+r.IntN(20), nil, ms(1), 31+r.IntN(20), nil, true)
	} else {
		last, _ := k.send(q, p.t, s2c, 200+r.IntN(2000), nil, true, ackDelayed)
		p.t = last
	}
	return true
}

// ---- SSH ----

type sshSession struct {
	k     *conn
	r     *rand.Rand
	t     int64
	end   int64
	phase int
	git   bool
}

func (b *background) sshSession(g *engine, r *rand.Rand, t int64) {
	if b.n.ssh == nil {
		return
	}
	c := b.client(r)
	dst := b.n.ssh
	if r.Float64() < 0.3 {
		dst = pick(r, b.n.servers)
	}
	k := newConn(r, c, dst, c.ephemeral(r), 22)
	g.startSession(&sshSession{k: k, r: r, t: t, end: t + sec(min(logNormal(r, 900, 0.9), 4*3600))})
}

func (b *background) gitFetch(g *engine, r *rand.Rand, t int64) {
	c := b.client(r)
	k := newConn(r, c, pick(r, b.n.gitHosts), c.ephemeral(r), 22)
	g.startSession(&sshSession{k: k, r: r, t: t, git: true})
}

func (s *sshSession) next(g *engine, q *queue) bool {
	k, r := s.k, s.r
	switch s.phase {
	case 0:
		s.phase = 1
		s.t = sshLogin(q, r, k, k.handshake(q, s.t), pick(r, sshClientBanners), true)
		if s.git {
			s.t = k.exchange(q, s.t, 100+r.IntN(200), nil, ms(30), 300+r.IntN(2000), nil, false)
			s.t = k.exchange(q, s.t, 200+r.IntN(3000), nil, ms(50), int(logNormal(r, 40000, 1.5)), nil, false)
			s.phase = 2
		}
		return true
	case 1:
		if s.t > s.end {
			s.phase = 2
			return s.next(g, q)
		}
		// idle, then a burst of typing and the command's output
		idle := sec(logNormal(r, 12, 1.2))
		if idle > sec(60) {
			// keepalives while idle
			for x := s.t + sec(60); x < s.t+idle; x += sec(60) {
				k.exchange(q, x, 36, nil, ms(0.2), 28, nil, false)
			}
		}
		s.t += idle
		keys := 3 + r.IntN(35)
		for range keys {
			last, _ := k.send(q, s.t, c2s, 36, nil, false, ackNone)
			echo := last + k.jit(k.delay(c2s)) + ms(0.1)
			k.send(q, echo, s2c, 36, nil, false, ackDelayed)
			s.t = echo + ms(logNormal(r, 150, 0.5))
		}
		out := int(logNormal(r, 600, 1.6))
		last, _ := k.send(q, s.t, c2s, 36, nil, false, ackNone)
		_, end := k.send(q, last+k.jit(k.delay(c2s))+ms(logNormal(r, 20, 1.2)), s2c, min(out, 2<<20), nil, false, ackDelayed)
		s.t = end
		return true
	default:
		// exit: the server closes after the channel close messages
		last, _ := k.send(q, s.t+ms(100), c2s, 36, nil, false, ackNone)
		last, _ = k.send(q, last+k.delay(c2s), s2c, 100+r.IntN(60), nil, false, ackNone)
		k.close(q, last+ms(1), s2c)
		return false
	}
}

// sshLogin queues banners, key exchange and authentication from t and
// returns when the session is open. ok false ends in a failure message.
func sshLogin(q *queue, r *rand.Rand, k *conn, t int64, banner string, ok bool) int64 {
	last, _ := k.send(q, t+ms(0.3), s2c, len(sshServerBanner), []byte(sshServerBanner), false, ackDelayed)
	last, _ = k.send(q, last+k.delay(s2c)+ms(1), c2s, len(banner), []byte(banner), false, ackDelayed)
	ck := sshKexInit(r, false)
	last, _ = k.send(q, last+ms(0.5), c2s, len(ck), ck, false, ackNone)
	sk := sshKexInit(r, true)
	last, _ = k.send(q, last+k.delay(c2s)+ms(0.3), s2c, len(sk), sk, false, ackNone)
	last, _ = k.send(q, last+k.delay(s2c)+ms(1), c2s, 48, sshPacket(r, append([]byte{30, 0, 0, 0, 32}, randBytes(r, 32)...)), false, ackNone)
	reply := sshECDHReply(r)
	last, _ = k.send(q, last+k.delay(c2s)+ms(2+3*r.Float64()), s2c, len(reply), reply, false, ackNone)
	last, _ = k.send(q, last+k.delay(s2c)+ms(1), c2s, 16, sshPacket(r, []byte{21}), false, ackNone)
	// encrypted from here: service request, auth
	last, _ = k.send(q, last+ms(0.2), c2s, 44, nil, false, ackNone)
	last, _ = k.send(q, last+k.delay(c2s), s2c, 44, nil, false, ackNone)
	last, _ = k.send(q, last+k.delay(s2c)+ms(2), c2s, 68+r.IntN(40), nil, false, ackNone)
	wait := k.delay(c2s)
	if !ok {
		wait += ms(1500 + 1500*r.Float64()) // sshd's delay after a failed password
	}
	last, _ = k.send(q, last+wait, s2c, 52+r.IntN(30), nil, false, ackNone)
	if !ok {
		return last
	}
	last, _ = k.send(q, last+k.delay(s2c)+ms(logNormal(r, 300, 1)), c2s, 84+r.IntN(400), nil, false, ackNone)
	_, end := k.send(q, last+k.delay(c2s)+ms(5+20*r.Float64()), s2c, 28+r.IntN(600), nil, false, ackDelayed)
	return end + ms(50)
}

// ---- bulk transfers ----

// bulk is a large transfer paced at a rate: file copies (SMB2 reads and
// writes), backups (rsync), updates and uploads (TLS).
type bulk struct {
	k     *conn
	r     *rand.Rand
	t     int64
	dir   int
	left  int
	off   uint64
	msgID uint64
	phase int
	port  uint16
}

func (b *background) startBulk(g *engine, r *rand.Rand, c, s *host, port uint16, t int64, dir int, bytes int, pps float64) {
	k := newConn(r, c, s, c.ephemeral(r), port)
	k.bw[dir] = pps * float64(k.mss)
	g.startSession(&bulk{k: k, r: r, t: t, dir: dir, left: bytes, port: port, msgID: uint64(r.IntN(1000))})
}

func (x *bulk) next(g *engine, q *queue) bool {
	k, r := x.k, x.r
	tls := x.port == 443
	switch x.phase {
	case 0:
		x.phase = 1
		x.t = k.handshake(q, x.t)
		switch x.port {
		case 443:
			ch := clientHello(r, "dl.example-cdn.net", 517, false)
			last, _ := k.send(q, x.t, c2s, len(ch), ch, false, ackNone)
			flight := 3000 + r.IntN(2000)
			last, _ = k.send(q, last+k.delay(c2s), s2c, flight, serverFlight(r, flight), false, ackNone)
			last, _ = k.send(q, last+k.delay(s2c), c2s, clientFinishedLen, clientFinished, false, ackNone)
			x.t = last
		case 445:
			for range 2 {
				x.msgID++
				req, resp := smbEcho(false, x.msgID), smbEcho(true, x.msgID)
				x.t = k.exchange(q, x.t, len(req), req, ms(0.3), len(resp), resp, false)
			}
		case 873:
			greet := "@RSYNCD: 31.0 sha512 sha256 sha1 md5 md4\n"
			last, _ := k.send(q, x.t+ms(0.5), s2c, len(greet), []byte(greet), false, ackNone)
			last, _ = k.send(q, last+k.delay(s2c), c2s, len(greet), []byte(greet), false, ackNone)
			last, _ = k.send(q, last+ms(0.1), c2s, 7, []byte("backup\n"), false, ackNone)
			x.t, _ = k.send(q, last+k.delay(c2s)+ms(1), s2c, 12, []byte("@RSYNCD: OK\n"), false, ackDelayed)
		}
		return true
	case 1:
		if x.left <= 0 {
			x.phase = 2
			return true
		}
		chunk := min(x.left, 256<<10)
		x.left -= chunk
		x.msgID++
		var pre []byte
		if x.port == 445 {
			if x.dir == s2c {
				req := smbRead(false, x.msgID, chunk, x.off)
				last, _ := k.send(q, x.t, c2s, len(req), req, false, ackNone)
				x.t = last + k.delay(c2s)
				pre = smbRead(true, x.msgID, chunk, x.off)
			} else {
				pre = smbWrite(false, x.msgID, chunk, x.off)
			}
			x.off += uint64(chunk)
		} else if x.dir == s2c {
			// a range request for the next part
			last, _ := k.send(q, x.t, c2s, 90+r.IntN(60), nil, tls, ackNone)
			x.t = last + k.delay(c2s)
		}
		_, end := k.send(q, x.t, x.dir, len(pre)+chunk, pre, tls, ackDelayed)
		x.t = end
		if x.port == 445 && x.dir == c2s {
			resp := smbWrite(true, x.msgID, chunk, 0)
			x.t, _ = k.send(q, x.t+ms(0.3), s2c, len(resp), resp, false, ackDelayed)
		}
		return true
	default:
		k.close(q, x.t+ms(r.ExpFloat64()*200), c2s)
		return false
	}
}

// fileCopy is a user copying a file to or from the file server.
func (b *background) fileCopy(g *engine, r *rand.Rand, t int64) {
	if b.n.file == nil {
		return
	}
	c := b.client(r)
	dir := s2c
	if r.Float64() < 0.3 {
		dir = c2s
	}
	size := int(min(logNormal(r, 2e6, 1.2), 50e6))
	b.startBulk(g, r, c, b.n.file, 445, t, dir, size, b.s.BaseRate*b.load.at(t)*(0.1+0.15*r.Float64()))
}

// backup is a nightly-style job running now: a server pushes a few large
// flows to the file server or to cloud storage for a minute or two.
func (b *background) backup(g *engine, r *rand.Rand, t int64) {
	src := pick(r, b.n.servers)
	var dst *host
	port := uint16(873)
	if b.n.file != nil && b.n.file != src && r.Float64() < 0.5 {
		dst = b.n.file
	} else {
		dst = pick(r, b.n.cdnHosts)
		port = 443
	}
	flows := 2 + r.IntN(3)
	dur := 45 + 75*r.Float64()
	for i := range flows {
		pps := b.s.BaseRate * b.load.at(t) * (0.35 + 0.2*r.Float64()) / float64(flows)
		b.startBulk(g, child(r), src, dst, port, t+int64(i)*ms(r.Float64()*2000), c2s, int(pps*dur*1400), pps)
	}
}

// update is a client downloading a software update over a few connections.
func (b *background) update(g *engine, r *rand.Rand, t int64) {
	c := b.client(r)
	dst := pick(r, b.n.cdnHosts)
	flows := 2 + r.IntN(3)
	dur := 30 + 60*r.Float64()
	s := &oneShot{}
	s.f = func(g *engine, q *queue) {
		tc := b.lookup(q, r, c, "download.windowsupdate.com", t, 2, [][4]byte{dst.ip}, false)
		if tc < 0 {
			tc = t
		}
		for i := range flows {
			pps := b.s.BaseRate * b.load.at(t) * (0.35 + 0.2*r.Float64()) / float64(flows)
			b.startBulk(g, child(r), c, dst, 443, tc+int64(i)*ms(r.Float64()*300), s2c, int(pps*dur*1400), pps)
		}
	}
	g.startSession(s)
}

// mailCheck is a mail client polling IMAPS, or sending mail.
func (b *background) mailCheck(g *engine, r *rand.Rand, t int64) {
	if b.n.mail == nil {
		return
	}
	c := b.client(r)
	port := uint16(993)
	if r.Float64() < 0.2 {
		port = 465
	}
	w := b.newWeb(r, c, b.n.mail, b.n.mail.name, true, t, 0.5)
	w.k.port[1] = port
	w.reqs = geom(r, 3, 12)
	g.startSession(w)
}

// ---- NTP, ARP, ICMP, LAN chatter ----

func (b *background) ntpClient(g *engine, h *host) {
	if b.n.ntp == nil {
		return
	}
	r := child(b.r)
	interval := sec(64 * math.Pow(2, float64(r.IntN(5))))
	port := uint16(123)
	if h.os != osWindows && r.Float64() < 0.5 {
		port = 0 // chrony and timed use a new port per poll
	}
	srv := b.n.ntp
	g.spawnIn(0, &tick{f: func(g *engine, now int64) (int64, bool) {
		p := port
		if p == 0 {
			p = h.ephemeral(r)
		}
		q := udp(now, h, srv, p, 123, ntpClient(now), 0)
		emitAt(g, &q)
		return now + interval + ms(r.Float64()*2000), true
	}}, g.start+int64(r.Float64()*float64(interval)))
}

// emitAt writes a packet now and, for NTP requests, schedules the answer as
// an event of its own.
func emitAt(g *engine, p *pkt) {
	g.emit(p)
	if p.kind == kUDP && p.dport == 123 {
		req := *p
		srv := hostOf(g, req.dst)
		cli := hostOf(g, req.src)
		if srv == nil || cli == nil {
			return
		}
		t := req.t + srv.delay + ms(0.05)
		resp := udp(t, srv, cli, 123, req.sport, ntpServer(t, req.t, 2, g.net.upstream[0].ip), 0)
		g.spawn(&single{p: resp}, t)
	}
}

func hostOf(g *engine, a [4]byte) *host {
	if h, ok := g.net.live[a]; ok {
		return h
	}
	return g.net.extByAddr[a]
}

// single is an actor that writes one packet.
type single struct{ p pkt }

func (s *single) fire(g *engine, now int64) (int64, bool) {
	g.emit(&s.p)
	return 0, false
}

func (b *background) ntpServer(g *engine) {
	if b.n.ntp == nil {
		return
	}
	r := child(b.r)
	srv := b.n.ntp
	for _, up := range b.n.ntpPool {
		interval := sec(64 * math.Pow(2, float64(2+r.IntN(3))))
		g.spawnIn(0, &tick{f: func(g *engine, now int64) (int64, bool) {
			q := udp(now, srv, up, 123, 123, ntpClient(now), 0)
			emitAt(g, &q)
			return now + interval, true
		}}, g.start+int64(r.Float64()*float64(interval)))
	}
}

func arp(t int64, op uint8, sha [6]byte, spa [4]byte, dstMAC, tha [6]byte, tpa [4]byte) pkt {
	return pkt{t: t, kind: kARP, flags: op, srcMAC: sha, sha: sha, dstMAC: dstMAC, src: spa, tha: tha, dst: tpa}
}

// arpRefresh: the host re-resolves the gateway (and its resolver) as its
// ARP cache entries expire, and the gateway re-resolves the host.
func (b *background) arpRefresh(g *engine, h *host) {
	r := child(b.r)
	gw := b.n.gw
	g.spawnIn(0, &tick{f: func(g *engine, now int64) (int64, bool) {
		s := &oneShot{}
		s.f = func(g *engine, q *queue) {
			target := gw
			if h.resolver != nil && r.Float64() < 0.25 {
				target = h.resolver
			}
			if r.Float64() < 0.15 {
				// the gateway asks for the host
				q.add(arp(now, 1, gw.mac, gw.ip, broadcastMAC, [6]byte{}, h.ip))
				q.add(arp(now+h.delay/2+ms(0.05), 2, h.mac, h.ip, gw.mac, gw.mac, gw.ip))
				return
			}
			dst := broadcastMAC
			if h.os == osLinux && r.Float64() < 0.7 {
				dst = target.mac // a unicast refresh
			}
			q.add(arp(now, 1, h.mac, h.ip, dst, [6]byte{}, target.ip))
			q.add(arp(now+target.delay/2+ms(0.03), 2, target.mac, target.ip, h.mac, h.mac, h.ip))
			if r.Float64() < 0.01 {
				// a gratuitous announcement of its own address (link up)
				q.add(arp(now+sec(1), 1, h.mac, h.ip, broadcastMAC, [6]byte{}, h.ip))
			}
		}
		g.startSession(s)
		return now + sec(20+r.Float64()*100), true
	}}, g.start+sec(r.Float64()*60))
}

// monitor pings every server once a minute.
func (b *background) monitor(g *engine) {
	r := child(b.r)
	mon := b.n.monitor
	seq := uint16(0)
	id := uint16(r.Uint32())
	g.spawnIn(0, &tick{f: func(g *engine, now int64) (int64, bool) {
		s := &oneShot{}
		s.f = func(g *engine, q *queue) {
			t := now
			for _, h := range append([]*host{b.n.gw}, b.n.servers...) {
				if h == mon {
					continue
				}
				seq++
				q.add(echo(t, mon, h, 8, id, seq, 56))
				q.add(echo(t+h.delay+ms(0.02), h, mon, 0, id, seq, 56))
				t += ms(1 + r.Float64()*5)
			}
		}
		g.startSession(s)
		return now + sec(60) + ms(r.Float64()*500), true
	}}, g.start+sec(r.Float64()*60))
}

func echo(t int64, src, dst *host, typ uint8, id, seq uint16, n int) pkt {
	src.ipid++
	return pkt{t: t, kind: kICMP, flags: typ, ttl: src.ttl, srcMAC: src.mac, dstMAC: dst.mac, src: src.ip, dst: dst.ip, sport: id, dport: seq, ipid: src.ipid, n: n, fill: uint32(id)}
}

// pingBurst is a user pinging something four times.
func (b *background) pingBurst(g *engine, r *rand.Rand, t int64) {
	c := b.client(r)
	var dst *host
	if r.Float64() < 0.5 {
		dst = pick(r, b.n.upstream)
	} else {
		dst = pick(r, b.n.servers)
	}
	n := 32
	if c.os != osWindows {
		n = 56
	}
	s := &oneShot{}
	s.f = func(g *engine, q *queue) {
		id := uint16(r.Uint32())
		for i := range 4 {
			ts := t + sec(float64(i))
			q.add(echo(ts, c, dst, 8, id, uint16(i+1), n))
			q.add(echo(ts+dst.delay, dst, c, 0, id, uint16(i+1), n))
		}
	}
	g.startSession(s)
}

// strayUnreachable is an ICMP port unreachable for a late DNS answer or a
// closed UDP port: rare but normal.
func (b *background) strayUnreachable(g *engine, r *rand.Rand, t int64) {
	c := b.client(r)
	if c.resolver == nil {
		return
	}
	s := &oneShot{}
	s.f = func(g *engine, q *queue) {
		late := udp(t, c.resolver, c, 53, c.ephemeral(r), dnsAnswer(r, uint16(r.Uint32()), b.n.pickSite(r).name, 1, 0, false, [][4]byte{publicAddr(r, b.n.prefix)}), 0)
		q.add(late)
		u := echo(t+c.delay, c, c.resolver, 3, 0, 0, 28)
		u.code = 3
		u.pre = quote(&late)
		q.add(u)
	}
	g.startSession(s)
}

// lanChatter is discovery traffic: SSDP searches answered by devices, mDNS
// and NetBIOS name queries.
func (b *background) lanChatter(g *engine, r *rand.Rand, t int64) {
	c := b.client(r)
	s := &oneShot{}
	s.f = func(g *engine, q *queue) {
		switch x := r.Float64(); {
		case x < 0.4:
			mc := &host{ip: [4]byte{239, 255, 255, 250}, mac: [6]byte{1, 0, 0x5e, 0x7f, 0xff, 0xfa}}
			port := c.ephemeral(r)
			for i := range 2 {
				p := udp(t+int64(i)*ms(100), c, mc, port, 1900, ssdpSearch(r), 0)
				p.ttl = 1
				q.add(p)
			}
			for _, d := range b.n.iot {
				if r.Float64() < 0.8 {
					at := t + ms(50+r.Float64()*900)
					q.add(udp(at, d, c, 1900, port, ssdpResponse(r, at, d.ip), 0))
				}
			}
		case x < 0.75:
			mc := &host{ip: [4]byte{224, 0, 0, 251}, mac: [6]byte{1, 0, 0x5e, 0, 0, 0xfb}}
			p := udp(t, c, mc, 5353, 5353, mdnsQuery(r), 0)
			p.ttl = 255
			q.add(p)
		default:
			bc := &host{ip: addrAt(b.n.prefix, uint32(1)<<(32-b.n.prefix.Bits())-1), mac: broadcastMAC}
			for i := range 3 {
				q.add(udp(t+int64(i)*ms(750), c, bc, 137, 137, netbiosQuery(r), 0))
			}
		}
	}
	g.startSession(s)
}

// ssdpNotify: a device announces itself every few minutes.
func (b *background) ssdpNotify(g *engine, h *host) {
	r := child(b.r)
	mc := &host{ip: [4]byte{239, 255, 255, 250}, mac: [6]byte{1, 0, 0x5e, 0x7f, 0xff, 0xfa}}
	g.spawnIn(0, &tick{f: func(g *engine, now int64) (int64, bool) {
		s := &oneShot{}
		s.f = func(g *engine, q *queue) {
			for i := range 3 {
				msg := []byte("NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\nLOCATION: http://" + h.addr().String() + ":8008/ssdp/device-desc.xml\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\nSERVER: Linux/3.8.13, UPnP/1.0, Portable SDK for UPnP devices/1.6.18\r\nUSN: uuid:" + h.name + "-0000-1000-8000::upnp:rootdevice\r\n\r\n")
				p := udp(now+int64(i)*ms(30), h, mc, 1900, 1900, msg, 0)
				p.ttl = 2
				q.add(p)
			}
		}
		g.startSession(s)
		return now + sec(90+r.Float64()*200), true
	}}, g.start+sec(r.Float64()*120))
}
