package capture

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/capture/pcapfile"
)

// MaxReplayGap caps how long a paced replay waits between two packets, so
// that a capture spanning years (merged traces) still moves.
const MaxReplayGap = 5 * time.Minute

// FileConfig configures a capture file replay.
type FileConfig struct {
	Path string // shown in errors and logs
	Data []byte // if set, replayed instead of reading Path

	Speed float64 // 1 = real time, 0 = as fast as possible
	Loop  bool
}

// FileSource replays a pcap or pcapng file, optionally gzip-compressed.
type FileSource struct {
	cfg    FileConfig
	logger *slog.Logger
	r      *pcapfile.Reader

	received uint64
	corrupt  uint64 // passes cut short by a corrupt record
	firstErr error  // the first corruption, with file and offset

	// Loop state: each pass is shifted so that time keeps moving forward.
	offset       int64
	first, last  int64
	passPackets  uint64
	seenPacket   bool
	warnedTrunc  bool
	pending      Packet
	pendingValid bool

	// Pacing: packet time base maps to wall time base.
	paceBase int64
	wallBase time.Time
	paced    bool
	nowFunc  func() time.Time
	sleep    func(time.Duration)
}

// OpenFile opens a capture file. Errors name the file and what to do.
func OpenFile(cfg FileConfig, logger *slog.Logger) (*FileSource, error) {
	if cfg.Speed < 0 {
		return nil, fmt.Errorf("replay speed %v is negative: use 1 for real time or 0 for as fast as possible", cfg.Speed)
	}
	s := &FileSource{cfg: cfg, logger: logger, nowFunc: time.Now, sleep: time.Sleep}
	r, err := s.open()
	if err != nil {
		return nil, fmt.Errorf("open capture %q: %w", cfg.Path, err)
	}
	s.r = r
	return s, nil
}

func (s *FileSource) open() (*pcapfile.Reader, error) {
	if s.cfg.Data != nil {
		return pcapfile.NewReader(bytes.NewReader(s.cfg.Data))
	}
	return pcapfile.Open(s.cfg.Path)
}

// LinkType returns the link type of the file's first interface.
func (s *FileSource) LinkType() uint16 { return s.r.LinkType() }

// Format returns "pcap" or "pcapng".
func (s *FileSource) Format() string { return s.r.Format() }

// Next returns the next packet, pacing it to the configured speed.
func (s *FileSource) Next() (Packet, error) {
	if s.cfg.Speed > 0 && s.pendingValid {
		return s.pace()
	}
	p, err := s.read()
	if err != nil {
		return Packet{}, err
	}
	if s.cfg.Speed <= 0 {
		return p, nil
	}
	s.pending = p
	s.pendingValid = true
	return s.pace()
}

// pace waits until the pending packet is due, at most PollInterval at a time.
func (s *FileSource) pace() (Packet, error) {
	p := s.pending
	now := s.nowFunc()
	if !s.paced {
		s.paced = true
		s.paceBase, s.wallBase = p.TimeNanos, now
	}
	due := s.wallBase.Add(time.Duration(float64(p.TimeNanos-s.paceBase) / s.cfg.Speed))
	if wait := due.Sub(now); wait > 0 {
		if wait > MaxReplayGap {
			// Shift the base so the gap shrinks to MaxReplayGap.
			s.wallBase = s.wallBase.Add(-(wait - MaxReplayGap))
			wait = MaxReplayGap
		}
		if wait > PollInterval {
			s.sleep(PollInterval)
			return Packet{}, ErrTimeout
		}
		if wait > time.Millisecond {
			s.sleep(wait)
		}
	} else if -wait > time.Second {
		// We fell behind (a slow consumer, a stopped process): catch up by
		// moving the base rather than bursting everything at once.
		s.paceBase, s.wallBase = p.TimeNanos, now
	}
	s.pendingValid = false
	return p, nil
}

// read returns the next packet of the file, looping if configured.
func (s *FileSource) read() (Packet, error) {
	for {
		rp, err := s.r.Next()
		if err == nil {
			t := rp.TimeNanos + s.offset
			if !s.seenPacket {
				s.first = t
				s.seenPacket = true
			}
			s.last = max(s.last, t)
			s.received++
			s.passPackets++
			return Packet{Data: rp.Data, TimeNanos: t, WireLen: rp.WireLength, LinkType: rp.LinkType}, nil
		}
		switch {
		case errors.Is(err, pcapfile.ErrTruncated):
			// A capture cut short (tcpdump killed) is an end, not damage.
			if !s.warnedTrunc {
				s.warnedTrunc = true
				s.logger.Warn("capture file is truncated; keeping the packets read before the cut", "file", s.cfg.Path, "err", err)
			}
			err = io.EOF
		case errors.Is(err, pcapfile.ErrCorrupt):
			// The rest of the file cannot be trusted: end the pass here,
			// keep what came before, and say so (Err, Stats.FileErrors).
			s.corrupt++
			if s.firstErr == nil {
				s.firstErr = fmt.Errorf("capture %q: %w", s.cfg.Path, err)
				s.logger.Error("capture file is corrupt; keeping the packets read before the damage and ending the pass there", "file", s.cfg.Path, "err", err)
			}
			err = io.EOF
		}
		if err != io.EOF {
			return Packet{}, fmt.Errorf("read capture %q: %w", s.cfg.Path, err)
		}
		if !s.cfg.Loop || s.passPackets == 0 {
			return Packet{}, io.EOF
		}
		if err := s.rewind(); err != nil {
			return Packet{}, err
		}
	}
}

// rewind reopens the file for another pass, shifted to follow the last.
func (s *FileSource) rewind() error {
	_ = s.r.Close()
	r, err := s.open()
	if err != nil {
		return fmt.Errorf("reopen capture %q for the next loop: %w", s.cfg.Path, err)
	}
	s.r = r
	span := s.last - s.first
	gap := int64(time.Millisecond)
	if s.passPackets > 1 {
		gap = max(span/int64(s.passPackets-1), 1)
	}
	// The next pass starts one mean gap after this one ended, in the same
	// file-time frame: add the span of this pass.
	s.offset += span + gap
	s.first = s.last + gap
	s.passPackets = 0
	return nil
}

// Clock returns the replayed time when pacing.
func (s *FileSource) Clock() (int64, bool) {
	if s.cfg.Speed <= 0 || !s.paced {
		return 0, false
	}
	return s.paceBase + int64(float64(s.nowFunc().Sub(s.wallBase))*s.cfg.Speed), true
}

// Stats returns the packets read so far and the passes a corrupt record
// cut short.
func (s *FileSource) Stats() Stats { return Stats{Received: s.received, FileErrors: s.corrupt} }

// Err returns the first corruption met (naming the file, the record and
// its offset), or nil: a replay that hit one ended early, though it
// returned io.EOF like a clean end.
func (s *FileSource) Err() error { return s.firstErr }

// Close closes the file.
func (s *FileSource) Close() error { return s.r.Close() }
