package ipfix

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Stats are an Exporter's counters, cumulative over its life, for
// metrics.
type Stats struct {
	RecordsSent  uint64 // data records written to the transport
	MessagesSent uint64 // IPFIX messages written, template-only ones included
	// RecordsDropped counts flows that were never sent: the queue was
	// full, the exporter was closed, Close gave up at its deadline, or a
	// message failed tuning.maxAttempts sends in a row.
	RecordsDropped uint64
	SendErrors     uint64 // failed connects and writes, and connections the collector closed
	// Connected reports the transport up as far as the last send knows;
	// for UDP, that the socket is open.
	Connected bool
}

// tuning holds the sender's timings: fixed in production, shortened by
// tests.
type tuning struct {
	flushEvery   time.Duration // longest a record waits in a message that is not full
	minBackoff   time.Duration // first wait before reconnecting
	maxBackoff   time.Duration // cap of the doubling wait
	stableAfter  time.Duration // a connection that lasted this long resets the backoff
	dialTimeout  time.Duration
	writeTimeout time.Duration // TCP: a collector that stops reading
	maxAttempts  int           // failed sends of one message before its records are dropped
}

var defaultTuning = tuning{
	flushEvery:   time.Second,
	minBackoff:   100 * time.Millisecond,
	maxBackoff:   30 * time.Second,
	stableAfter:  30 * time.Second,
	dialTimeout:  5 * time.Second,
	writeTimeout: 10 * time.Second,
	maxAttempts:  3,
}

// errPeerClosed reports a TCP collector that closed its end.
var errPeerClosed = errors.New("the collector closed the connection")

// Exporter sends flows to one IPFIX collector. Export is safe for
// concurrent use and never blocks; a single goroutine packs and sends
// until Close, which must be called to stop it.
//
// The sequence number of each message counts the data records sent
// before it in the same transport session: a new TCP connection, or a
// new UDP socket after a send error, starts again from zero with fresh
// templates, which is how a collector sees a new session (RFC 7011
// section 10.3.2).
type Exporter struct {
	cfg    Config
	tune   tuning
	logger *slog.Logger

	mu     sync.RWMutex // shared by Export, exclusive while Close shuts the queue
	closed bool
	queue  chan Flow

	closeOnce sync.Once
	closing   chan struct{}           // closed by Close: drain, flush, stop
	lost      chan net.Conn           // TCP connections whose peer went away
	ctx       context.Context         // cancelled when Close stops waiting
	abort     context.CancelCauseFunc // cancels ctx
	done      chan struct{}           // closed when the sender goroutine has ended
	closeErr  error                   // set by the sender before done

	recordsSent, messagesSent, recordsDropped, sendErrors atomic.Uint64
	connected                                             atomic.Bool

	// Sender state, owned by the sender goroutine.
	pk            *packer
	conn          net.Conn
	peerGone      *atomic.Bool // TCP: the collector closed its end
	unhook        func() bool  // detaches conn from abort
	connAt        time.Time    // when conn was opened
	seq           uint32       // data records sent in this transport session
	nextTemplates time.Time    // UDP: when the templates are due again
	held          Flow         // a flow that did not fit while the transport was down
	hasHeld       bool
	attempts      int // failed sends of the pending message
	backoff       time.Duration
	retry         *time.Timer
	waiting       bool // retry is armed: no connect before it fires
	failing       bool // the last connect or send failed (log once per outage)
}

// New validates cfg and starts an Exporter sending to cfg.Address. It
// fails only on a bad configuration: an unreachable collector is retried
// with a capped backoff and shows in Stats. logger may be nil.
func New(cfg Config, logger *slog.Logger) (*Exporter, error) {
	return newExporter(cfg, logger, defaultTuning)
}

func newExporter(cfg Config, logger *slog.Logger, tune tuning) (*Exporter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, abort := context.WithCancelCause(context.Background())
	e := &Exporter{
		cfg:     cfg,
		tune:    tune,
		logger:  logger.With("address", cfg.Address, "transport", cfg.Transport),
		queue:   make(chan Flow, cfg.QueueSize),
		closing: make(chan struct{}),
		lost:    make(chan net.Conn, 1),
		ctx:     ctx,
		abort:   abort,
		done:    make(chan struct{}),
		pk:      newPacker(cfg.MTU, cfg.ObservationDomain),
		backoff: tune.minBackoff,
		retry:   time.NewTimer(time.Hour),
	}
	e.retry.Stop()
	go e.run()
	return e, nil
}

// Export queues a copy of f for sending and reports whether it was
// queued. It never blocks: when the queue is full or the exporter closed,
// the flow is dropped and counted. A nil f is ignored.
func (e *Exporter) Export(f *Flow) bool {
	if f == nil {
		return false
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if !e.closed {
		select {
		case e.queue <- *f:
			return true
		default:
		}
	}
	e.recordsDropped.Add(1)
	return false
}

// Close stops accepting flows, sends what is queued and closes the
// transport. If ctx ends first (say, the collector is down), Close drops
// what is left, counts it, and returns an error saying how many records
// were lost. Close is idempotent; later calls return the first result.
func (e *Exporter) Close(ctx context.Context) error {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		e.closed = true
		e.mu.Unlock()
		close(e.closing)
	})
	select {
	case <-e.done:
	case <-ctx.Done():
		e.abort(context.Cause(ctx))
		<-e.done // every blocking step of the sender ends on abort
	}
	return e.closeErr
}

// Stats returns the counters.
func (e *Exporter) Stats() Stats {
	return Stats{
		RecordsSent:    e.recordsSent.Load(),
		MessagesSent:   e.messagesSent.Load(),
		RecordsDropped: e.recordsDropped.Load(),
		SendErrors:     e.sendErrors.Load(),
		Connected:      e.connected.Load(),
	}
}

// run is the sender goroutine: it takes flows from the queue only while
// the transport is up, so an outage leaves them queued (up to the
// queue's size) rather than lost.
func (e *Exporter) run() {
	defer close(e.done)
	tick := time.NewTicker(e.tune.flushEvery)
	defer tick.Stop()
	closing := e.closing
	shutting := false
	for {
		if shutting && e.idle() {
			e.disconnect()
			return
		}
		if e.conn == nil && !e.waiting {
			e.connect()
		}
		if e.conn != nil && e.hasHeld {
			f := e.held
			e.hasHeld = false
			e.add(&f)
		}
		if shutting && e.conn != nil {
			e.drain(-1)
			e.flush()
			if e.idle() {
				e.disconnect()
				return
			}
		}
		var queue <-chan Flow
		if e.conn != nil && !shutting {
			queue = e.queue
		}
		select {
		case f := <-queue:
			e.add(&f)
			e.drain(len(e.queue))
		case <-tick.C:
			e.tick()
		case <-e.retry.C:
			e.waiting = false
		case c := <-e.lost:
			if c == e.conn { // not one closed since
				e.sendErrors.Add(1)
				e.fail("connection", errPeerClosed)
				e.disconnect()
				e.schedule()
			}
		case <-closing:
			shutting, closing = true, nil
		case <-e.ctx.Done():
			e.giveUp()
			return
		}
	}
}

// idle reports whether nothing waits to be sent: Close may end.
func (e *Exporter) idle() bool {
	return e.pk.count == 0 && !e.hasHeld && len(e.queue) == 0
}

// drain packs up to n queued flows (all, when n < 0) while the
// transport is up.
func (e *Exporter) drain(n int) {
	for ; n != 0 && e.conn != nil; n-- {
		select {
		case f := <-e.queue:
			e.add(&f)
		default:
			return
		}
	}
}

// add packs f, sending the message first when f does not fit. If that
// send fails, f is held until the transport is back.
func (e *Exporter) add(f *Flow) {
	fam := family(f)
	if !e.pk.fits(fam) {
		e.flush()
		if e.pk.count > 0 {
			e.held, e.hasHeld = *f, true
			return
		}
	}
	if e.pk.count == 0 && e.cfg.Transport == "udp" && !time.Now().Before(e.nextTemplates) {
		// A record and the templates always fit: MTU >= minMessage.
		e.pk.templates = true
	}
	e.pk.add(f, fam)
}

// tick sends what waits, or the templates when a UDP refresh is due.
func (e *Exporter) tick() {
	if e.conn == nil {
		return
	}
	if e.pk.count > 0 {
		e.flush()
		return
	}
	now := time.Now()
	if e.cfg.Transport == "udp" && !now.Before(e.nextTemplates) {
		if e.write(e.pk.templateMessage(uint32(now.Unix()), e.seq)) {
			e.messagesSent.Add(1)
			e.nextTemplates = now.Add(e.cfg.TemplateRefresh)
		}
	}
}

// flush sends the pending records. On failure they stay pending for the
// next connection, unless this message has failed maxAttempts times.
func (e *Exporter) flush() {
	if e.conn == nil || e.pk.count == 0 {
		return
	}
	now := time.Now()
	n := e.pk.count
	if !e.write(e.pk.message(uint32(now.Unix()), e.seq)) {
		e.attempts++
		if e.attempts >= e.tune.maxAttempts {
			e.logger.Warn("ipfix message dropped after repeated send failures", "records", n, "attempts", e.attempts)
			e.recordsDropped.Add(uint64(n))
			e.pk.reset()
			e.attempts = 0
		}
		return
	}
	e.attempts = 0
	if e.failing {
		// Only delivered data tells: over UDP, a new socket and its
		// templates go out even to a port nobody listens on.
		e.failing = false
		e.logger.Info("ipfix export to the collector works again")
	}
	if e.pk.templates {
		e.nextTemplates = now.Add(e.cfg.TemplateRefresh)
	}
	e.seq += uint32(n)
	e.recordsSent.Add(uint64(n))
	e.messagesSent.Add(1)
	e.pk.reset()
}

// connect opens the transport and sends the templates, or arms the
// retry timer.
func (e *Exporter) connect() {
	ctx, cancel := context.WithTimeout(e.ctx, e.tune.dialTimeout)
	var d net.Dialer
	conn, err := d.DialContext(ctx, e.cfg.Transport, e.cfg.Address)
	cancel()
	if err != nil {
		e.sendErrors.Add(1)
		e.fail("connect", err)
		e.schedule()
		return
	}
	e.conn, e.connAt, e.seq = conn, time.Now(), 0
	// Close's deadline closes the socket, ending a blocked write at once.
	e.unhook = context.AfterFunc(e.ctx, func() { conn.Close() })
	if e.cfg.Transport == "tcp" {
		gone := new(atomic.Bool)
		e.peerGone = gone
		go e.watchPeer(conn, gone)
	}
	now := time.Now()
	if !e.write(e.pk.templateMessage(uint32(now.Unix()), e.seq)) {
		return
	}
	e.messagesSent.Add(1)
	e.nextTemplates = now.Add(e.cfg.TemplateRefresh)
	e.connected.Store(true)
}

// watchPeer reads conn until it fails, which for a collector that never
// speaks means the peer closed it (or we did). The sender then
// reconnects at once, rather than at its next write into a dead
// connection, whose data would be lost.
func (e *Exporter) watchPeer(conn net.Conn, gone *atomic.Bool) {
	var b [128]byte
	for {
		if _, err := conn.Read(b[:]); err != nil {
			gone.Store(true)
			select {
			case e.lost <- conn:
			case <-e.done:
			}
			return
		}
	}
}

// write sends one message; on failure it closes the transport and arms
// the retry timer.
func (e *Exporter) write(msg []byte) bool {
	var err error
	if e.peerGone != nil && e.peerGone.Load() {
		err = errPeerClosed
	} else {
		if e.cfg.Transport == "tcp" {
			err = e.conn.SetWriteDeadline(time.Now().Add(e.tune.writeTimeout))
		}
		if err == nil {
			_, err = e.conn.Write(msg)
		}
	}
	if err != nil {
		e.sendErrors.Add(1)
		e.fail("send", err)
		e.disconnect()
		e.schedule()
		return false
	}
	return true
}

func (e *Exporter) disconnect() {
	if e.conn == nil {
		return
	}
	e.unhook()
	e.conn.Close()
	e.conn, e.peerGone, e.unhook = nil, nil, nil
	e.connected.Store(false)
}

// schedule arms the retry timer with the current backoff, jittered by
// ±20% so exporters that lost the same collector do not return in step,
// and doubles the backoff up to its cap. A connection that lasted
// stableAfter resets it first.
func (e *Exporter) schedule() {
	if !e.connAt.IsZero() && time.Since(e.connAt) >= e.tune.stableAfter {
		e.backoff = e.tune.minBackoff
	}
	e.connAt = time.Time{}
	b := e.backoff
	wait := b - b/5 + time.Duration(rand.Int64N(int64(b/5)*2+1))
	e.backoff = min(2*b, e.tune.maxBackoff)
	e.retry.Reset(wait)
	e.waiting = true
}

// fail logs the first failure of an outage as a warning, the rest at
// debug level: Stats counts them all.
func (e *Exporter) fail(what string, err error) {
	if e.failing {
		e.logger.Debug("ipfix "+what+" failed", "err", err)
		return
	}
	e.failing = true
	e.logger.Warn("ipfix "+what+" failed; flows wait in the queue and are dropped when it is full", "err", err)
}

// giveUp ends the sender when Close stopped waiting: everything not sent
// is counted as dropped and reported by Close.
func (e *Exporter) giveUp() {
	lost := uint64(e.pk.count)
	if e.hasHeld {
		lost++
	}
	for len(e.queue) > 0 {
		<-e.queue
		lost++
	}
	e.recordsDropped.Add(lost)
	e.disconnect()
	if lost > 0 {
		e.closeErr = fmt.Errorf("ipfix close: %d flow records not delivered to %s collector %s: %w", lost, e.cfg.Transport, e.cfg.Address, context.Cause(e.ctx))
	}
}
