package synth

import "math"

// pending is a min-heap of packets waiting for their time, ties in
// insertion order.
type pending struct {
	p   []pkt
	seq []uint64
	n   uint64
}

func (h *pending) len() int { return len(h.p) }

func (h *pending) less(i, j int) bool {
	if h.p[i].t != h.p[j].t {
		return h.p[i].t < h.p[j].t
	}
	return h.seq[i] < h.seq[j]
}

func (h *pending) swap(i, j int) {
	h.p[i], h.p[j] = h.p[j], h.p[i]
	h.seq[i], h.seq[j] = h.seq[j], h.seq[i]
}

func (h *pending) push(p pkt) {
	h.p = append(h.p, p)
	h.seq = append(h.seq, h.n)
	h.n++
	i := len(h.p) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			break
		}
		h.swap(i, parent)
		i = parent
	}
}

func (h *pending) pop() pkt {
	top := h.p[0]
	n := len(h.p) - 1
	h.swap(0, n)
	h.p[n] = pkt{}
	h.p, h.seq = h.p[:n], h.seq[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			break
		}
		h.swap(i, m)
		i = m
	}
	return top
}

// prober is an attack that sends one probe (or flood packet) at a time and
// schedules the answers it provokes. probe writes the packets due at t
// (through g.emit), queues later ones in pend, and returns the time of the
// next probe; probes stop at end.
type prober struct {
	next  int64
	end   int64
	pend  pending
	probe func(g *engine, t int64, pend *pending) int64
}

func (a *prober) fire(g *engine, now int64) (int64, bool) {
	if a.pend.len() > 0 && a.pend.p[0].t <= now {
		p := a.pend.pop()
		g.emit(&p)
	} else {
		a.next = a.probe(g, now, &a.pend)
		if a.next <= now {
			a.next = now + 1
		}
	}
	nt := int64(math.MaxInt64)
	if a.next < a.end {
		nt = a.next
	}
	if a.pend.len() > 0 {
		nt = min(nt, a.pend.p[0].t)
	}
	if nt == math.MaxInt64 {
		return 0, false
	}
	return nt, true
}

// startProber schedules a prober whose first probe is at start.
func (g *engine) startProber(start, end int64, probe func(g *engine, t int64, pend *pending) int64) {
	g.spawn(&prober{next: start, end: end, probe: probe}, start)
}
