package pipeline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/capture"
	"github.com/netanomaly/netanomaly_exporter/collector/decode"
)

// Worker is a capture worker's source and how to reopen it.
type Worker struct {
	Source capture.Source
	Reopen Opener
}

// capturer is stage one, a capture worker: it reads one source, decodes
// and batches. An interface has one, or one per member of an AF_PACKET
// fanout group (--capture.workers), whose batches a merger joins in
// packet-time order before the feature stage.
type capturer struct {
	p       *Pipeline
	id      int
	src     capture.Source
	reopen  Opener
	up      atomic.Bool
	decoder *decode.Decoder
	// out takes the batches (the feature stage's queue, or the merger's
	// input); free gives them back.
	out, free chan *batch
	reopens   uint64
	stats     capture.Stats
	// statsBase holds the counters of the sources closed before the
	// current one: reopening must not reset cumulative counters.
	statsBase capture.Stats
}

func newCapturer(p *Pipeline, id int, src capture.Source, reopen Opener, out, free chan *batch) *capturer {
	c := &capturer{p: p, id: id, src: src, reopen: reopen, decoder: decode.NewDecoder(), out: out, free: free}
	c.up.Store(src != nil)
	return c
}

// loop reads, decodes and batches until ctx is cancelled or the source
// ends for good. Its last batch has eof set.
func (c *capturer) loop(ctx context.Context) {
	p := c.p
	if p.merger == nil {
		defer close(c.out)
	}
	b := <-c.free
	lastStats := time.Now()
	backoff := reopenMin
	for n := 0; ; n++ {
		// A cancelled context is seen within 64 packets, or at once when
		// no packet came: its Err locks a mutex, too dear per packet.
		if (n&63 == 0 || b.n == 0) && ctx.Err() != nil {
			c.closeSource()
			c.send(b, true, true)
			return
		}
		if p.paused.Load() {
			if c.src != nil {
				c.updateStats()
				c.closeSource()
				b.down, b.at = true, time.Now().UnixNano()
				if c.id == 0 {
					p.logger.Info("capture stopped through the admin API")
				}
			}
			p.evidenceIdle()
			// Keep closing windows on the wall clock while stopped.
			b.clock, b.hasClock = time.Now().UnixNano(), true
			b = c.send(b, false, false)
			select {
			case <-ctx.Done():
			case <-time.After(capture.PollInterval):
			}
			continue
		}
		if c.src == nil {
			if b = c.reopenSource(ctx, &backoff, b); c.src == nil {
				continue
			}
		}
		pkt, err := c.src.Next()
		switch {
		case err == nil:
			info := &b.infos[b.n]
			info.Time = pkt.TimeNanos
			info.WireLen = uint32(pkt.WireLen)
			if !c.decoder.Decode(pkt.LinkType, pkt.Data, info) {
				p.unsupWarn.Do(func() {
					p.logger.Warn("skipping frames of an unsupported link type; they are counted in netanomaly_decode_unsupported_link_total", "link_type", pkt.LinkType)
				})
				continue
			}
			if p.cfg.Evidence != nil {
				p.evidencePacket(&pkt, info)
			}
			b.n++
			// A batch goes when it is full, or when it spans batchSpan of
			// packet time: a slow link must not hold a window's last
			// packets (and so its close) until 256 have arrived.
			if b.n == batchSize || info.Time-b.infos[0].Time >= batchSpan {
				if now := time.Now(); now.Sub(lastStats) >= statsInterval {
					lastStats = now
					c.updateStats()
				}
				b = c.send(b, false, false)
			}
		case errors.Is(err, capture.ErrTimeout):
			p.evidenceIdle()
			c.updateStats()
			b = c.send(b, false, true)
		case errors.Is(err, io.EOF):
			p.evidenceIdle()
			c.updateStats()
			c.closeSource()
			p.end(StateFinished)
			c.send(b, true, false)
			return
		default:
			c.updateStats()
			c.closeSource()
			if c.reopen == nil {
				p.logger.Error("capture failed", "err", err)
				p.end(StateFailed)
				c.send(b, true, false)
				return
			}
			c.logger().Error("capture failed; reopening", "err", err)
			b.down, b.at = true, time.Now().UnixNano()
			b = c.send(b, false, false)
		}
	}
}

// logger names the worker when there are several.
func (c *capturer) logger() *slog.Logger {
	if len(c.p.capturers) > 1 {
		return c.p.logger.With("worker", c.id)
	}
	return c.p.logger
}

// reopenSource tries to open the source again after a failure, sending
// clock ticks meanwhile so that quiet windows still close. It sends b and
// returns the batch to fill next.
func (c *capturer) reopenSource(ctx context.Context, backoff *time.Duration, b *batch) *batch {
	src, err := c.reopen()
	if err == nil {
		c.src = src
		c.reopens++
		c.up.Store(true)
		*backoff = reopenMin
		c.logger().Info("capture reopened")
		b.up, b.at = true, time.Now().UnixNano()
		return c.send(b, false, false)
	}
	c.logger().Warn("capture still down; retrying", "err", err, "retry_in", *backoff)
	b.clock, b.hasClock = time.Now().UnixNano(), true
	b = c.send(b, false, false)
	select {
	case <-ctx.Done():
	case <-time.After(*backoff):
	}
	*backoff = min(*backoff*2, reopenMax)
	return b
}

// updateStats reads the source's counters, added to those of the sources
// it replaced.
func (c *capturer) updateStats() {
	s := c.src.Stats()
	c.stats = capture.Stats{
		Received:      c.statsBase.Received + s.Received,
		KernelDropped: c.statsBase.KernelDropped + s.KernelDropped,
		IfDropped:     c.statsBase.IfDropped + s.IfDropped,
		FileErrors:    c.statsBase.FileErrors + s.FileErrors,
	}
}

func (c *capturer) closeSource() {
	if c.src != nil {
		c.statsBase = c.stats
		_ = c.src.Close()
		c.src = nil
	}
	c.up.Store(false)
}

// send hands b on and returns an empty batch to fill.
func (c *capturer) send(b *batch, eof, tick bool) *batch {
	b.eof, b.worker = eof, c.id
	if tick && c.src != nil {
		b.clock, b.hasClock = c.src.Clock()
	}
	b.decodeErrors = c.decoder.Errors
	b.unsupportedLink = c.decoder.UnsupportedLink
	b.source = c.stats
	b.reopens = c.reopens
	if c.p.cfg.Lossless || eof {
		c.out <- b
		if eof {
			return nil
		}
		return <-c.free
	}
	select {
	case c.out <- b:
		return <-c.free
	default:
	}
	// The feature stage is behind, as for a moment at each window close:
	// wait, and let the kernel ring (32 MiB by default, about 100,000
	// packets) absorb the stall, rather than drop what the queue (16,384
	// packets, 55 ms at 300 k packets/s) cannot hold. Only a feature stage
	// behind for longer than queueWait loses this batch, counted.
	t := time.NewTimer(queueWait)
	defer t.Stop()
	select {
	case c.out <- b:
		return <-c.free
	case <-t.C:
		// A source going down or up is kept for the next batch.
		c.p.dropped.Add(uint64(b.n))
		b.n, b.hasClock = 0, false
		return b
	}
}

// merger joins the batches of several capture workers into one stream in
// packet-time order, as one socket would have delivered them, so that the
// feature stage counts what one worker capturing everything would.
//
// Each worker's packets come in time order. A worker has delivered every
// packet up to its watermark: the time of the last packet it sent, or on
// a timeout its clock less capture.FanoutDelay. The merger passes on the
// packets no later than the lowest watermark, earliest first; a worker
// that is down or ended holds nothing back.
type merger struct {
	p  *Pipeline
	in chan *batch
	ws []mergeInput
	// down is how many workers are down; ended how many sent their last
	// batch.
	down, ended int
	// The state to pass on with the next batch: a clock tick (the latest
	// clock a worker gave, and the lowest watermark: the clock passed on
	// is never later than a packet still to come), the link going down
	// or up.
	tick      bool
	clock     int64
	limit     int64
	goDown    bool
	goUp      bool
	changedAt int64
}

type mergeInput struct {
	free    chan *batch
	pending []*batch // received, not wholly passed on, oldest first, from head
	head    int
	pos     int   // next packet of pending[head]
	mark    int64 // watermark
	down    bool
	ended   bool
	// The worker's cumulative counters, from its latest batch.
	decodeErrors    [decode.NumLayers]uint64
	unsupportedLink uint64
	source          capture.Stats
	reopens         uint64
}

const noMark = int64(^uint64(0) >> 1)

func newMerger(p *Pipeline, frees []chan *batch) *merger {
	m := &merger{p: p, in: make(chan *batch, queueBatches*len(frees))}
	for _, f := range frees {
		m.ws = append(m.ws, mergeInput{free: f, mark: -noMark})
	}
	return m
}

// run merges until every worker has sent its last batch, then closes the
// feature stage's queue.
func (m *merger) run() {
	defer close(m.p.queue)
	for b := range m.in {
		w := &m.ws[b.worker]
		w.decodeErrors, w.unsupportedLink, w.source, w.reopens = b.decodeErrors, b.unsupportedLink, b.source, b.reopens
		if b.n > 0 {
			w.mark = max(w.mark, b.infos[b.n-1].Time)
		}
		if b.hasClock {
			w.mark = max(w.mark, b.clock-int64(capture.FanoutDelay))
			m.tick, m.clock = true, max(m.clock, b.clock)
		}
		m.state(w, b)
		if b.n > 0 {
			w.pending = append(w.pending, b)
		} else {
			m.recycle(w, b)
		}
		m.merge()
		if m.ended == len(m.ws) {
			return
		}
	}
}

// state follows a worker going down, up or ending. The link is down from
// the first worker down until the last is up again.
func (m *merger) state(w *mergeInput, b *batch) {
	if b.down && !w.down {
		w.down = true
		if m.down++; m.down == 1 {
			m.goDown, m.goUp, m.changedAt = true, false, b.at
		}
	}
	if b.up && w.down {
		w.down = false
		w.mark = max(w.mark, b.at)
		if m.down--; m.down == 0 {
			m.goUp, m.changedAt = true, b.at
		}
	}
	if b.eof && !w.ended {
		w.ended = true
		m.ended++
	}
}

func (m *merger) recycle(w *mergeInput, b *batch) {
	b.n, b.hasClock, b.eof, b.down, b.up = 0, false, false, false, false
	if !w.ended {
		w.free <- b
	}
}

// A packet stamped more than mergeSkew after every other worker's
// watermark (a clock stepped back under it, a bad timestamp) goes on out
// of order once its worker has mergePressure batches waiting behind it:
// it must not hold them until the other workers' clocks catch up with it,
// an hour later perhaps. Workers' ordinary lag (a poll, a block timeout)
// is far under mergeSkew, so the order holds otherwise.
const (
	mergeSkew     = int64(time.Second)
	mergePressure = workerBatches / 2
)

// merge passes on every packet no later than the lowest watermark, and
// the state changes seen, in batches of the feature stage's pool.
func (m *merger) merge() {
	limit := noMark
	for i := range m.ws {
		if w := &m.ws[i]; !w.down && !w.ended {
			limit = min(limit, w.mark)
		}
	}
	m.limit = limit
	out := <-m.p.free
	for {
		// The worker with the earliest packet passes on its packets
		// until another's is earlier: runs, not one scan a packet.
		best, bt, next := -1, int64(0), limit
		for i := range m.ws {
			w := &m.ws[i]
			if w.head == len(w.pending) {
				continue
			}
			t := w.pending[w.head].infos[w.pos].Time
			switch {
			case t > limit && (t-limit < mergeSkew || len(w.pending)-w.head < mergePressure):
			case best < 0 || t < bt:
				if best >= 0 {
					next = min(next, bt)
				}
				best, bt = i, t
			default:
				next = min(next, t)
			}
		}
		if best < 0 {
			break
		}
		w := &m.ws[best]
		for first := true; w.head < len(w.pending); first = false {
			in := w.pending[w.head]
			if !first && in.infos[w.pos].Time > next {
				break
			}
			out.infos[out.n] = in.infos[w.pos]
			out.n++
			if w.pos++; w.pos == in.n {
				w.pending[w.head] = nil
				w.head, w.pos = w.head+1, 0
				if w.head == len(w.pending) {
					w.pending, w.head = w.pending[:0], 0
				}
				m.recycle(w, in)
			}
			if out.n == batchSize {
				m.send(out, false, false)
				out = <-m.p.free
			}
		}
	}
	m.send(out, m.ended == len(m.ws), true)
}

// send passes out on with the workers' counters summed and the state
// changes since the last batch; an empty batch with nothing to say goes
// back to the pool.
func (m *merger) send(out *batch, eof, last bool) {
	out.eof = eof
	if last {
		// The clock and the link's state go with the round's last batch,
		// after every packet they may follow. No clock until every
		// worker said where it is.
		out.hasClock, out.clock = m.tick && m.limit != -noMark, min(m.clock, m.limit)
		out.down, out.up, out.at = m.goDown, m.goUp, m.changedAt
	}
	if out.n == 0 && !out.hasClock && !out.down && !out.up && !eof {
		m.p.free <- out
		return
	}
	out.decodeErrors, out.unsupportedLink, out.source, out.reopens = [decode.NumLayers]uint64{}, 0, capture.Stats{}, 0
	for i := range m.ws {
		w := &m.ws[i]
		for l := range w.decodeErrors {
			out.decodeErrors[l] += w.decodeErrors[l]
		}
		out.unsupportedLink += w.unsupportedLink
		out.source.Received += w.source.Received
		out.source.KernelDropped += w.source.KernelDropped
		out.source.IfDropped += w.source.IfDropped
		out.source.FileErrors += w.source.FileErrors
		out.reopens += w.reopens
	}
	if last {
		m.tick = m.tick && !out.hasClock
		m.goDown, m.goUp = false, false
	}
	m.p.queue <- out
}
