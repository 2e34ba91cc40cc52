package synth

import (
	"bufio"
	"cmp"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// The generator is a discrete-event simulation. Actors (a TCP connection,
// a flood, the arrival process of web sessions) sit in one min-heap keyed
// by the time of their next event; firing an actor writes at most one
// packet, at exactly that time, so the capture comes out in time order
// without holding it in memory.
//
// Every actor belongs to a stream: 0 is the benign background, i+1 is
// attack i. Ties are broken by stream and then by a per-stream sequence, and
// every stream draws from its own random source, so the background of a
// scenario is the same packet for packet with or without attacks.

type actor interface {
	// fire runs the event due at now. It returns the time of the next
	// event, or false when the actor is finished.
	fire(g *engine, now int64) (next int64, ok bool)
}

type item struct {
	t      int64
	stream int32
	seq    uint64
	a      actor
}

func (x *item) less(y *item) bool {
	if x.t != y.t {
		return x.t < y.t
	}
	if x.stream != y.stream {
		return x.stream < y.stream
	}
	return x.seq < y.seq
}

// streamStats track the packets of one stream, for the labels.
type streamStats struct {
	first, last int64
	packets     uint64
}

// dropWindow is a traffic_drop attack: each background packet passes with
// probability keep, as over a failing link.
type dropWindow struct {
	start, end int64
	keep       float64
	rng        *rand.Rand
}

type engine struct {
	s     *Scenario
	start int64 // Unix nanoseconds of the scenario start
	end   int64 // packets at or after end are not written

	h       []item
	spawned []item
	seqs    []uint64
	cur     item // the item being fired
	inFire  bool

	w     *pcapgo.Writer
	bw    *bufio.Writer
	frame []byte
	last  int64 // last written time, microseconds floored, in ns
	err   error

	stats []streamStats
	drops []dropWindow

	net  *network
	load *loadModel
}

func newEngine(s *Scenario, w io.Writer, streams int) *engine {
	g := &engine{
		s:     s,
		start: s.Start.UnixNano(),
		end:   s.Start.UnixNano() + int64(s.Duration),
		seqs:  make([]uint64, streams),
		stats: make([]streamStats, streams),
		frame: make([]byte, 70000),
		last:  math.MinInt64,
	}
	for i := range g.stats {
		g.stats[i].first = -1
	}
	g.bw = bufio.NewWriterSize(w, 1<<20)
	g.w = pcapgo.NewWriter(g.bw)
	snaplen := uint32(65535)
	if s.Snaplen > 0 {
		snaplen = uint32(s.Snaplen)
	}
	g.err = g.w.WriteFileHeader(snaplen, layers.LinkTypeEthernet)
	return g
}

// spawn schedules a new actor of the current stream at time t.
func (g *engine) spawn(a actor, t int64) { g.spawnIn(g.cur.stream, a, t) }

// spawnIn schedules a new actor of a stream at time t. An actor may not be
// scheduled before the event being fired.
func (g *engine) spawnIn(stream int32, a actor, t int64) {
	t = max(t, g.cur.t)
	it := item{t: t, stream: stream, seq: g.seqs[stream], a: a}
	g.seqs[stream]++
	if g.inFire {
		g.spawned = append(g.spawned, it)
		return
	}
	g.push(it)
}

func (g *engine) push(it item) {
	g.h = append(g.h, it)
	i := len(g.h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !g.h[i].less(&g.h[p]) {
			break
		}
		g.h[i], g.h[p] = g.h[p], g.h[i]
		i = p
	}
}

func (g *engine) down(i int) {
	n := len(g.h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && g.h[r].less(&g.h[l]) {
			m = r
		}
		if !g.h[m].less(&g.h[i]) {
			return
		}
		g.h[i], g.h[m] = g.h[m], g.h[i]
		i = m
	}
}

func (g *engine) pop() {
	n := len(g.h) - 1
	g.h[0] = g.h[n]
	g.h[n] = item{}
	g.h = g.h[:n]
	if n > 0 {
		g.down(0)
	}
}

// run fires actors until the scenario ends.
func (g *engine) run() error {
	for len(g.h) > 0 && g.err == nil {
		g.cur = g.h[0]
		if g.cur.t >= g.end {
			break
		}
		g.inFire = true
		next, ok := g.cur.a.fire(g, g.cur.t)
		g.inFire = false
		if ok {
			g.h[0].t = max(next, g.cur.t)
			g.h[0].seq = g.seqs[g.cur.stream]
			g.seqs[g.cur.stream]++
			g.down(0)
		} else {
			g.pop()
		}
		for _, it := range g.spawned {
			g.push(it)
		}
		clear(g.spawned)
		g.spawned = g.spawned[:0]
	}
	if g.err != nil {
		return g.err
	}
	return g.bw.Flush()
}

// emit writes one packet of the current stream. Its time must be the time
// being fired.
func (g *engine) emit(p *pkt) {
	if g.err != nil {
		return
	}
	t := p.t
	if t >= g.end || t < g.start {
		return
	}
	stream := g.cur.stream
	if stream == 0 {
		for i := range g.drops {
			d := &g.drops[i]
			if t >= d.start && t < d.end && d.rng.Float64() >= d.keep {
				return
			}
		}
	}
	t = t / 1000 * 1000 // the capture has microsecond timestamps
	if t < g.last {
		t = g.last
	}
	g.last = t
	n := build(g.frame, p)
	caplen := n
	if g.s.Snaplen > 0 {
		caplen = min(n, g.s.Snaplen)
	}
	g.err = g.w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(0, t), CaptureLength: caplen, Length: n}, g.frame[:caplen])
	st := &g.stats[stream]
	if st.first < 0 {
		st.first = t
	}
	st.last = t
	st.packets++
}

// queue is a session's packets waiting to be written, in time order.
type queue struct {
	p   []pkt
	i   int
	max int64 // latest time queued so far
}

func (q *queue) add(p pkt) *pkt {
	q.p = append(q.p, p)
	if p.t > q.max {
		q.max = p.t
	}
	return &q.p[len(q.p)-1]
}

// session is a scripted conversation: next appends its next packets to q,
// none earlier than the packets it appended before, and reports false when
// it has nothing more to say.
type session interface {
	next(g *engine, q *queue) bool
}

// sessionActor plays a session through its queue.
type sessionActor struct {
	s    session
	q    queue
	done bool
	tcp  []tcpTrack
}

// tcpTrack follows one direction of a TCP connection as written, so that
// a pure ACK scheduled (with jitter) after a later segment of its sender
// does not carry a stale sequence number.
type tcpTrack struct {
	src, dst     [4]byte
	sport, dport uint16
	next, ack    uint32
}

func (a *sessionActor) track(p *pkt) *tcpTrack {
	for i := range a.tcp {
		x := &a.tcp[i]
		if x.sport == p.sport && x.dport == p.dport && x.src == p.src && x.dst == p.dst {
			return x
		}
	}
	if len(a.tcp) >= 16 {
		a.tcp = a.tcp[1:] // old connections of a long session
	}
	a.tcp = append(a.tcp, tcpTrack{src: p.src, dst: p.dst, sport: p.sport, dport: p.dport, next: p.seq, ack: p.ack})
	return &a.tcp[len(a.tcp)-1]
}

// fixACKs rewrites pure ACKs that fell behind their sender's later
// segments after sorting: they take the current sequence number, and are
// dropped when they acknowledge nothing new.
func (a *sessionActor) fixACKs() {
	out := a.q.p[:0]
	for _, p := range a.q.p {
		if p.kind != kTCP {
			out = append(out, p)
			continue
		}
		x := a.track(&p)
		pure := p.n == 0 && p.flags == fACK
		if p.flags&fSYN != 0 {
			x.next, x.ack = p.seq+1, p.ack
			out = append(out, p)
			continue
		}
		if pure && int32(p.seq-x.next) < 0 {
			if int32(p.ack-x.ack) <= 0 {
				continue // a stale duplicate
			}
			p.seq = x.next
		}
		if end := p.seq + uint32(p.n); int32(end-x.next) > 0 {
			x.next = end
		}
		if p.flags&fFIN != 0 {
			x.next = p.seq + uint32(p.n) + 1
		}
		if p.flags&fACK != 0 && int32(p.ack-x.ack) > 0 {
			x.ack = p.ack
		}
		out = append(out, p)
	}
	clear(a.q.p[len(out):])
	a.q.p = out
}

// startSession schedules a session of the current stream at the time of
// its first packet; a session with nothing to say is dropped.
func (g *engine) startSession(s session) {
	a := &sessionActor{s: s}
	if !a.refill(g) {
		return
	}
	g.spawn(a, a.q.p[0].t)
}

func (a *sessionActor) refill(g *engine) bool {
	floor := a.q.max
	for !a.done {
		a.q.p, a.q.i = a.q.p[:0], 0 // keep the backing array
		if !a.s.next(g, &a.q) {
			a.done = true
		}
		if len(a.q.p) > 0 {
			slices.SortStableFunc(a.q.p, func(x, y pkt) int { return cmp.Compare(x.t, y.t) })
			a.fixACKs()
		}
		if len(a.q.p) > 0 {
			for i := range a.q.p {
				if a.q.p[i].t < floor {
					a.q.p[i].t = floor
				}
			}
			return true
		}
	}
	return false
}

func (a *sessionActor) fire(g *engine, now int64) (int64, bool) {
	g.emit(&a.q.p[a.q.i])
	a.q.i++
	if a.q.i == len(a.q.p) {
		if !a.refill(g) {
			return 0, false
		}
	}
	return a.q.p[a.q.i].t, true
}

// tick is an actor that calls f at times it chooses.
type tick struct {
	f func(g *engine, now int64) (int64, bool)
}

func (t *tick) fire(g *engine, now int64) (int64, bool) { return t.f(g, now) }

// newRand returns a random source seeded from two words.
func newRand(a, b uint64) *rand.Rand { return rand.New(rand.NewPCG(a, b)) }

// child returns a new random source seeded from r.
func child(r *rand.Rand) *rand.Rand { return rand.New(rand.NewPCG(r.Uint64(), r.Uint64())) }

// expDur returns an exponentially distributed duration with the given mean.
func expDur(r *rand.Rand, mean float64) int64 { return int64(r.ExpFloat64() * mean) }

// uniDur returns a duration uniform in [lo, hi).
func uniDur(r *rand.Rand, lo, hi time.Duration) int64 {
	if hi <= lo {
		return int64(lo)
	}
	return int64(lo) + r.Int64N(int64(hi-lo))
}

// logNormal returns exp(mu + sigma*Z) where median = exp(mu).
func logNormal(r *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(sigma*r.NormFloat64())
}

// geom returns 1 + a geometric number with the given mean above 1, capped.
func geom(r *rand.Rand, mean float64, limit int) int {
	if mean <= 1 {
		return 1
	}
	p := 1 / mean
	n := 1
	for n < limit && r.Float64() > p {
		n++
	}
	return n
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func ms(x float64) int64  { return int64(x * 1e6) }
func sec(x float64) int64 { return int64(x * 1e9) }
