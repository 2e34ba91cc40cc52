package synth

import (
	"fmt"
	"math/rand/v2"
)

// ---- brute force ----

var bfPorts = map[string]uint16{"ssh": 22, "ftp": 21, "rdp": 3389, "telnet": 23, "http_login": 80}

// bfAttempt is the typical length of one attempt, for the parallelism.
var bfAttempt = map[string]float64{"ssh": 2.6, "ftp": 2.2, "rdp": 1.2, "telnet": 3.0, "http_login": 0.4}

var bfUsers = []string{"root", "admin", "user", "test", "ubuntu", "oracle", "postgres", "guest", "administrator", "pi", "support", "ftp"}

// bruteForce is hydra-like: a few parallel tasks, each a new connection per
// attempt: connect, the protocol's greeting, a login that fails after the
// server's delay, close.
func (c *attackCtx) bruteForce(g *engine) {
	v := c.a.Variant
	port := bfPorts[v]
	var tgt *host
	for _, h := range c.n.servers {
		if h.hasTCP(port) {
			tgt = h
			break
		}
	}
	if tgt == nil {
		if v == "telnet" && len(c.n.iot) > 0 {
			tgt = c.n.iot[0]
		} else if len(c.n.webs) > 0 {
			tgt = c.n.webs[0]
		} else {
			tgt = c.n.servers[0]
		}
	}
	var att *host
	if c.r.Float64() < 0.25 && len(c.n.clients) > 0 {
		ins := c.insider()
		// a copy: the attack keeps its own port counter
		cp := *ins
		att = &cp
	} else {
		att = c.external(osLinux)
	}
	c.source = att.String()
	att.port = uint16(33000 + c.r.IntN(20000))
	d := bfAttempt[v]
	tasks := max(1, int(c.rate*d+0.5))
	period := float64(tasks) / c.rate // seconds between a task's attempts
	perConn := 1
	if v == "ssh" && c.r.Float64() < 0.4 {
		perConn = 3
		period *= 3
	}
	clientBanner := pick(c.r, []string{"SSH-2.0-libssh_0.9.6\r\n", "SSH-2.0-Go\r\n", "SSH-2.0-libssh2_1.10.0\r\n", "SSH-2.0-PUTTY\r\n"})
	for i := range tasks {
		r := child(c.r)
		start := c.start
		if i > 0 {
			start += int64(r.Float64() * float64(sec(min(period, 1))))
		}
		task := &bfTask{c: c, r: r, att: att, tgt: tgt, port: port, t: start, period: sec(period), perConn: perConn, banner: clientBanner}
		g.startSession(task)
	}
}

type bfTask struct {
	c       *attackCtx
	r       *rand.Rand
	att     *host
	tgt     *host
	port    uint16
	t       int64
	period  int64
	perConn int
	banner  string
}

func (b *bfTask) next(g *engine, q *queue) bool {
	c, r := b.c, b.r
	if b.t >= c.end-sec(bfAttempt[c.a.Variant]) && b.t > c.start {
		return false
	}
	start := b.t
	b.att.port++
	if b.att.port < 1024 {
		b.att.port = 33000
	}
	k := newConn(r, b.att, b.tgt, b.att.port, b.port)
	t := k.handshake(q, b.t)
	switch c.a.Variant {
	case "ssh":
		t = sshLogin(q, r, k, t, b.banner, false)
		for range b.perConn - 1 {
			last, _ := k.send(q, t+k.delay(s2c)+ms(1), c2s, 68+r.IntN(40), nil, false, ackNone)
			t, _ = k.send(q, last+k.delay(c2s)+ms(1500+1500*r.Float64()), s2c, 52+r.IntN(30), nil, false, ackDelayed)
		}
		// the client disconnects
		last, _ := k.send(q, t+k.delay(s2c)+ms(1), c2s, 36, nil, false, ackNone)
		t = k.close(q, last+ms(0.1), c2s)
	case "ftp":
		t = c.say(q, k, t+ms(0.5), s2c, "220 (vsFTPd 3.0.5)\r\n")
		user := pick(r, bfUsers)
		t = c.say(q, k, t+k.delay(s2c)+ms(1), c2s, "USER "+user+"\r\n")
		t = c.say(q, k, t+k.delay(c2s), s2c, "331 Please specify the password.\r\n")
		t = c.say(q, k, t+k.delay(s2c)+ms(1), c2s, fmt.Sprintf("PASS %s%d\r\n", pick(r, []string{"123456", "password", "qwerty", "letmein", "admin"}), r.IntN(1000)))
		t = c.say(q, k, t+k.delay(c2s)+ms(1000+2000*r.Float64()), s2c, "530 Login incorrect.\r\n")
		if r.Float64() < 0.5 {
			t = c.say(q, k, t+k.delay(s2c)+ms(1), c2s, "QUIT\r\n")
			t = c.say(q, k, t+k.delay(c2s), s2c, "221 Goodbye.\r\n")
			t = k.close(q, t+ms(0.2), s2c)
		} else {
			t = k.close(q, t+k.delay(s2c)+ms(1), c2s)
		}
	case "telnet":
		t = c.say(q, k, t+ms(1), s2c, "\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27")
		t = c.say(q, k, t+k.delay(s2c)+ms(1), c2s, "\xff\xfc\x18\xff\xfc\x20\xff\xfc\x23\xff\xfc\x27")
		t = c.say(q, k, t+k.delay(c2s), s2c, "\xff\xfb\x03\xff\xfd\x01\xff\xfd\x1f\xff\xfb\x05\xff\xfd\x21")
		t = c.say(q, k, t+k.delay(s2c)+ms(1), c2s, "\xff\xfe\x03\xff\xfc\x01\xff\xfc\x1f\xff\xfe\x05\xff\xfc\x21")
		t = c.say(q, k, t+k.delay(c2s)+ms(2), s2c, "\r\nlogin: ")
		t = c.say(q, k, t+k.delay(s2c)+ms(1), c2s, pick(r, bfUsers)+"\r\n")
		t = c.say(q, k, t+k.delay(c2s)+ms(1), s2c, "Password: ")
		t = c.say(q, k, t+k.delay(s2c)+ms(1), c2s, pick(r, []string{"xc3511", "vizxv", "admin", "888888", "default", "12345"})+"\r\n")
		t = c.say(q, k, t+k.delay(c2s)+ms(2000+1500*r.Float64()), s2c, "\r\nLogin incorrect\r\nlogin: ")
		t = k.close(q, t+k.delay(s2c)+ms(1), c2s)
	case "rdp":
		x224 := "\xe0\x00\x00\x00\x00\x00Cookie: mstshash=" + pick(r, bfUsers) + "\r\n\x01\x00\x08\x00\x03\x00\x00\x00"
		n := 4 + 1 + len(x224)
		cr := string([]byte{3, 0, byte(n >> 8), byte(n), byte(len(x224))}) + x224
		t = c.say(q, k, t+ms(0.2), c2s, cr)
		t = c.say(q, k, t+k.delay(c2s)+ms(1), s2c, "\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x02\x1f\x08\x00\x02\x00\x00\x00")
		ch := clientHello(r, "", 190+r.IntN(80), false)
		last, _ := k.send(q, t+k.delay(s2c)+ms(1), c2s, len(ch), ch, false, ackNone)
		flight := 1100 + r.IntN(400)
		last, _ = k.send(q, last+k.delay(c2s)+ms(2), s2c, flight, serverFlight(r, flight), false, ackNone)
		last, _ = k.send(q, last+k.delay(s2c)+ms(1), c2s, 150+r.IntN(60), nil, true, ackNone)
		last, _ = k.send(q, last+k.delay(c2s)+ms(1), s2c, 51, nil, true, ackNone)
		// CredSSP / NTLM negotiate, challenge, authenticate, error
		last, _ = k.send(q, last+k.delay(s2c)+ms(1), c2s, 80+r.IntN(40), nil, true, ackNone)
		last, _ = k.send(q, last+k.delay(c2s)+ms(2), s2c, 280+r.IntN(80), nil, true, ackNone)
		last, _ = k.send(q, last+k.delay(s2c)+ms(2), c2s, 500+r.IntN(200), nil, true, ackNone)
		last, _ = k.send(q, last+k.delay(c2s)+ms(50+100*r.Float64()), s2c, 60+r.IntN(30), nil, true, ackDelayed)
		if r.Float64() < 0.5 {
			t = k.close(q, last+ms(1), s2c)
		} else {
			t = k.reset(q, last+k.delay(s2c)+ms(1), c2s)
		}
	case "http_login":
		user := pick(r, bfUsers)
		body := fmt.Sprintf("log=%s&pwd=%s%d&wp-submit=Log+In&redirect_to=%%2Fwp-admin%%2F&testcookie=1", user, pick(r, []string{"123456", "password", "qwerty", "admin"}), r.IntN(10000))
		req := fmt.Sprintf("POST /wp-login.php HTTP/1.1\r\nHost: %s\r\nUser-Agent: Mozilla/5.0 (Hydra)\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", b.tgt.addr(), len(body), body)
		last, _ := k.send(q, t+ms(0.1), c2s, len(req), []byte(req), false, ackNone)
		n := 3000 + r.IntN(3000)
		hdr := httpResponseHeader(r, last, n, "200 OK")
		_, end := k.send(q, last+k.delay(c2s)+ms(30+120*r.Float64()), s2c, n+len(hdr), hdr, false, ackNone)
		t = k.close(q, end+ms(0.1), s2c)
	}
	// the task's next attempt
	b.t = max(t+ms(1+5*r.Float64()), start+b.period+int64(r.NormFloat64()*0.1*float64(b.period)))
	return b.t < c.end
}

// say queues one message and returns the time of its last segment.
func (c *attackCtx) say(q *queue, k *conn, t int64, dir int, msg string) int64 {
	last, _ := k.send(q, t, dir, len(msg), []byte(msg), false, ackNone)
	return last
}

// ---- slowloris ----

// slowloris opens many connections to port 80 and keeps them open for the
// whole attack by sending one more header line on each every sleep seconds
// (the server has no request read timeout: Apache without mod_reqtimeout).
func (c *attackCtx) slowloris(g *engine) {
	v := c.n.servers[0]
	if len(c.n.webs) > 0 {
		v = pick(c.r, c.n.webs)
	}
	nconn := max(1, int(c.rate))
	srcs := 1
	if c.a.Variant == "few" {
		srcs = 3 + c.r.IntN(3)
	}
	var atts []*host
	for range srcs {
		if c.r.Float64() < 0.2 && len(c.n.clients) > 0 {
			cp := *c.insider()
			atts = append(atts, &cp)
		} else {
			atts = append(atts, c.external(osLinux))
		}
	}
	if srcs == 1 {
		c.source = atts[0].String()
	}
	for _, a := range atts {
		a.port = uint16(35000 + c.r.IntN(20000))
	}
	sleep := sec(15)
	if c.r.Float64() < 0.3 {
		sleep = sec(10 + 5*c.r.Float64())
	}
	ua := pick(c.r, userAgents[:4])
	t := c.start
	for i := range nconn {
		a := atts[i%srcs]
		r := child(c.r)
		s := &slowConn{c: c, r: r, att: a, v: v, t: t, sleep: sleep, ua: ua, slot: i}
		g.startSession(s)
		// the tool connects one socket after the other
		t += max(a.delay/int64(srcs), ms(1)) + ms(r.Float64())
	}
}

type slowConn struct {
	c      *attackCtx
	r      *rand.Rand
	att, v *host
	k      *conn
	t      int64
	sleep  int64
	ua     string
	slot   int
	phase  int
}

func (s *slowConn) next(g *engine, q *queue) bool {
	c, r := s.c, s.r
	stop := c.end - sec(1)
	switch s.phase {
	case 0: // connect and send the first header lines
		s.att.port++
		if s.att.port < 1024 {
			s.att.port = 35000
		}
		s.k = newConn(r, s.att, s.v, s.att.port, 80)
		t := s.k.handshake(q, s.t)
		first := fmt.Sprintf("GET /?%d HTTP/1.1\r\n", r.IntN(2000))
		for _, line := range []string{first, "User-Agent: " + s.ua + "\r\n", "Accept-language: en-US,en,q=0.5\r\n"} {
			last, _ := s.k.send(q, t+ms(0.05), c2s, len(line), []byte(line), false, ackDelayed)
			t = last
		}
		s.t = t
		s.phase = 1
		return true
	case 1: // keep-alive header lines, one per cycle
		// cycles are aligned on the attack start; this socket's turn comes
		// after the sockets before it in the loop
		cyc := (s.t-c.start)/s.sleep + 1
		next := c.start + cyc*s.sleep + int64(s.slot)*ms(0.05) + ms(r.Float64()*0.05)
		if next >= stop {
			s.phase = 3
			return s.next(g, q)
		}
		line := fmt.Sprintf("X-a: %d\r\n", 1+r.IntN(5000))
		last, _ := s.k.send(q, next, c2s, len(line), []byte(line), false, ackDelayed)
		s.t = last
		return true
	default: // the tool is stopped: its sockets close
		s.k.close(q, stop+int64(s.slot)*ms(0.02)+ms(r.Float64()), c2s)
		return false
	}
}

// ---- traffic spike ----

// spike is a flash crowd: many outside clients load pages from an internal
// web server (inbound), or every client fetches from one outside site
// (outbound), on top of the background, ramping up and down.
func (c *attackCtx) spike(g *engine) {
	factor := c.rate
	inbound := c.a.Variant != "outbound"
	var v *host
	if len(c.n.webs) > 0 {
		v = pick(c.r, c.n.webs)
	} else {
		v = c.n.servers[0]
	}
	site := c.n.sites[c.r.IntN(10)]
	ext := pick(c.r, site.ips)
	var crowd []*host
	if inbound {
		for range 300 + c.r.IntN(1500) {
			crowd = append(crowd, c.external(pick(c.r, []osKind{osWindows, osWindows, osMac, osLinux})))
		}
	}
	// one page visit here is about this many packets (measured)
	perVisit := 130.0
	if !inbound {
		perVisit = 170
	}
	dur := float64(c.end - c.start)
	first := true
	r := c.r
	g.spawn(&tick{f: func(g *engine, now int64) (int64, bool) {
		// ramp over the first and last tenth
		x := float64(now-c.start) / dur
		ramp := min(1, x/0.1, (1-x)/0.1)
		ramp = max(ramp, 0.05)
		if first {
			ramp = 1
		}
		rate := (factor - 1) * c.bg.s.BaseRate * c.bg.load.at(now) * ramp / perVisit
		rr := child(r)
		start := now
		if inbound {
			cl := pick(rr, crowd)
			useTLS := rr.Float64() < 0.8
			conns := geom(rr, 1.8, 4)
			for i := range conns {
				w := c.bg.newWebPort(child(rr), cl, v, v.name, useTLS, start+int64(i)*ms(rr.ExpFloat64()*20), 1.2, uint16(1024+rr.IntN(64000)))
				w.reqs = geom(rr, 3, 8)
				w.quick = true
				if first && i == 0 {
					w.t = c.start
				}
				g.startSession(w)
			}
		} else {
			cl := pick(rr, c.n.clients)
			w := c.bg.newWebPort(child(rr), cl, ext, site.name, true, start, 3, uint16(49152+rr.IntN(16000)))
			w.reqs = geom(rr, 3, 8)
			w.quick = true
			g.startSession(w)
		}
		first = false
		next := now + max(int64(r.ExpFloat64()*1e9/rate), 1000)
		if next >= c.end-sec(2) {
			return 0, false
		}
		return next, true
	}}, c.start)
}
