// Package siem sends the exporter's event records (attack starts, attack
// ends, anomalous windows: the detector.VerdictJSON lines of the event
// log) to a SIEM over syslog. It sits at the end of the flow, beside the
// event log: the detector hands each record to Sender.Send, which queues
// it and returns at once; one goroutine turns records into RFC 5424
// messages whose MSG is an Elastic Common Schema JSON document, and
// writes them over UDP (RFC 5426), TCP (RFC 6587 octet counting) or TLS
// (RFC 5425), reconnecting with backoff. Nothing here blocks the
// detector, and what cannot be sent is counted, never waited for.
package siem

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netanomaly/netanomaly_exporter/detector"
)

// minBackoff is the wait after the first failed attempt; it doubles with
// each failure up to Config.MaxBackoff.
const minBackoff = 100 * time.Millisecond

// Sender sends event records to a syslog receiver. Send never blocks;
// one goroutine formats and writes. It is safe for concurrent use.
type Sender struct {
	cfg    Config
	tls    *tls.Config
	logger *slog.Logger
	fmt    Formatter

	// mu orders Send against Close: no record enters the queue once
	// Close has begun, so the writer's drain sees them all.
	mu      sync.RWMutex
	closed  bool
	queue   chan *item
	closing chan struct{} // closed by Close: drain the queue and stop
	ctx     context.Context
	abort   context.CancelFunc // gives up on what is left
	done    chan struct{}      // closed when the writer has stopped

	// connMu guards conn for Close's interrupt; the writer owns it.
	connMu sync.Mutex
	conn   net.Conn

	sent, dropped, errs, trimmed atomic.Uint64
	connected, dropping          atomic.Bool
}

type item struct {
	rec    detector.VerdictJSON
	queued time.Time
}

// Stats are a sender's counts since it started, for metrics.
type Stats struct {
	Transport string
	// Sent counts records written to the receiver.
	Sent uint64
	// Dropped counts records never sent: the queue was full, Send came
	// after Close, or Close gave up on them.
	Dropped uint64
	// Errors counts failed connects (TLS handshakes included), failed
	// writes, and records too large for MaxMessageBytes.
	Errors uint64
	// Trimmed counts records sent with fields dropped to fit
	// MaxMessageBytes.
	Trimmed uint64
	// Queued is how many records wait for the writer.
	Queued int
	// Connected is true while the sender holds a connection (for UDP: a
	// socket) to the receiver.
	Connected bool
}

// New validates cfg and starts a sender. It does not wait for the
// receiver: the writer connects in the background, and a receiver that
// is down only delays the records.
func New(cfg Config, logger *slog.Logger) (*Sender, error) {
	tlsCfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sender{
		cfg:    cfg,
		tls:    tlsCfg,
		logger: logger.With("address", cfg.Address, "transport", cfg.Transport),
		fmt: Formatter{
			Facility: facilities[cfg.Facility], Hostname: cfg.Hostname,
			ProcID: strconv.Itoa(os.Getpid()), MaxBytes: cfg.MaxMessageBytes,
		},
		queue:   make(chan *item, cfg.QueueSize),
		closing: make(chan struct{}),
		ctx:     ctx,
		abort:   cancel,
		done:    make(chan struct{}),
	}
	go s.run()
	return s, nil
}

// Send queues a record and returns at once; when the queue is full the
// record is dropped and counted. The sender keeps rec: its slices must not
// change afterwards (the detector builds fresh ones for every record).
func (s *Sender) Send(rec detector.VerdictJSON) {
	it := &item{rec: rec, queued: time.Now()}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		s.dropped.Add(1)
		return
	}
	select {
	case s.queue <- it:
		if s.dropping.Load() {
			s.dropping.Store(false)
		}
	default:
		s.dropped.Add(1)
		if !s.dropping.Swap(true) {
			s.logger.Warn("syslog queue full: dropping event records until the receiver catches up", "queue_size", s.cfg.QueueSize)
		}
	}
}

// Stats returns the sender's counts.
func (s *Sender) Stats() Stats {
	return Stats{
		Transport: s.cfg.Transport,
		Sent:      s.sent.Load(),
		Dropped:   s.dropped.Load(),
		Errors:    s.errs.Load(),
		Trimmed:   s.trimmed.Load(),
		Queued:    len(s.queue),
		Connected: s.connected.Load(),
	}
}

// Close stops taking records and sends those queued until ctx ends; then
// it gives up on the rest, counts them as dropped, and says how many in
// its error. It closes the connection either way. Calls after the first
// return nil at once.
func (s *Sender) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	s.mu.Unlock()
	defer s.abort()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
	}
	before := s.dropped.Load()
	s.abort()
	s.connMu.Lock()
	if s.conn != nil {
		// Unblocks a write in progress; the writer closes the conn.
		_ = s.conn.SetDeadline(time.Now())
	}
	s.connMu.Unlock()
	<-s.done
	if lost := s.dropped.Load() - before; lost > 0 {
		return fmt.Errorf("syslog: gave up on %d event records queued for %s at shutdown: %w", lost, s.cfg.Address, ctx.Err())
	}
	return nil
}

// run is the writer: it takes records off the queue, formats and
// delivers them, until Close has drained the queue or given up.
func (s *Sender) run() {
	defer close(s.done)
	defer s.disconnect()
	var msg, frame []byte
	fails := 0
	if err := s.connect(); err != nil {
		s.connectFailed(err, 0)
		fails = 1
	}
	for {
		var it *item
		select {
		case it = <-s.queue:
		case <-s.ctx.Done():
		case <-s.closing:
			select {
			case it = <-s.queue:
			default:
				return
			}
		}
		if it == nil {
			s.dropRest(0)
			return
		}
		var trimmed bool
		var err error
		msg, trimmed, err = s.fmt.Format(msg[:0], &it.rec, it.queued)
		if err != nil {
			s.errs.Add(1)
			s.logger.Error("syslog record dropped", "kind", it.rec.Kind, "err", err)
			continue
		}
		if trimmed {
			s.trimmed.Add(1)
		}
		if s.cfg.Transport != TransportUDP {
			// RFC 6587 octet counting: MSG-LEN SP SYSLOG-MSG.
			frame = strconv.AppendInt(frame[:0], int64(len(msg)), 10)
			frame = append(frame, ' ')
			frame = append(frame, msg...)
		} else {
			frame = append(frame[:0], msg...)
		}
		if !s.deliver(frame, &fails) {
			s.dropRest(1)
			return
		}
	}
}

// deliver writes one message, reconnecting and retrying with backoff
// until it is written or the sender is aborted (false).
func (s *Sender) deliver(frame []byte, fails *int) bool {
	for {
		if s.ctx.Err() != nil {
			return false
		}
		if s.conn != nil && s.cfg.Transport != TransportUDP && peerClosed(s.conn) {
			// A receiver that went away: writing would seem to succeed
			// once and lose the record.
			s.logger.Info("syslog receiver closed the connection: reconnecting")
			s.disconnect()
		}
		if s.conn == nil {
			if *fails > 0 && !s.sleep(backoff(*fails, s.cfg.MaxBackoff)) {
				return false
			}
			if err := s.connect(); err != nil {
				s.connectFailed(err, *fails)
				*fails++
				continue
			}
		}
		_ = s.conn.SetWriteDeadline(time.Now().Add(s.cfg.Timeout))
		if _, err := s.conn.Write(frame); err != nil {
			// A part written leaves the stream out of step: start a new
			// connection and resend the whole record.
			s.errs.Add(1)
			s.disconnect()
			if s.ctx.Err() != nil {
				return false
			}
			s.logger.Warn("syslog write failed: reconnecting to resend", "err", err)
			*fails++
			continue
		}
		s.sent.Add(1)
		*fails = 0
		return true
	}
}

// dropRest counts as dropped the records left in the queue and the
// inHand ones the writer holds.
func (s *Sender) dropRest(inHand int) {
	n := uint64(inHand)
	for {
		select {
		case <-s.queue:
			n++
		default:
			s.dropped.Add(n)
			return
		}
	}
}

func (s *Sender) connect() error {
	d := &net.Dialer{Timeout: s.cfg.Timeout}
	var c net.Conn
	var err error
	switch s.cfg.Transport {
	case TransportTLS:
		c, err = (&tls.Dialer{NetDialer: d, Config: s.tls}).DialContext(s.ctx, "tcp", s.cfg.Address)
	default:
		c, err = d.DialContext(s.ctx, s.cfg.Transport, s.cfg.Address)
	}
	if err != nil {
		s.errs.Add(1)
		return err
	}
	s.connMu.Lock()
	s.conn = c
	s.connMu.Unlock()
	if !s.connected.Swap(true) {
		s.logger.Info("syslog connected")
	}
	return nil
}

// connectFailed logs a failed connect: a warning for the first of a
// series, the retries at debug level.
func (s *Sender) connectFailed(err error, fails int) {
	if s.ctx.Err() != nil {
		return
	}
	next := backoff(fails+1, s.cfg.MaxBackoff)
	if fails == 0 {
		s.logger.Warn("syslog connect failed: retrying with backoff while records wait", "err", err, "retry_in", next)
		return
	}
	s.logger.Debug("syslog connect failed", "err", err, "attempt", fails+1, "retry_in", next)
}

func (s *Sender) disconnect() {
	s.connMu.Lock()
	c := s.conn
	s.conn = nil
	s.connMu.Unlock()
	if c != nil {
		_ = c.Close()
	}
	s.connected.Store(false)
}

// sleep waits d, or less if the sender is aborted (false).
func (s *Sender) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// backoff is the wait before attempt number fails+1: minBackoff doubled
// per failure, capped, with ±20% jitter so that exporters cut off
// together do not reconnect together.
func backoff(fails int, limit time.Duration) time.Duration {
	d := minBackoff
	for i := 1; i < fails && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
