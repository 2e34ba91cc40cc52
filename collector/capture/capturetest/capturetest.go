// Package capturetest provides a scripted capture.Source for the tests of
// the stages after capture: packets, timeouts, a failure and a clock the
// test moves, like a live interface's.
package capturetest

import (
	"errors"
	"io"
	"sync"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/capture"
)

// SYNFrame is an Ethernet frame holding one TCP SYN, 192.0.2.1:40000 ->
// 192.0.2.2:80.
var SYNFrame = []byte{
	// Ethernet
	0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x08, 0x00,
	// IPv4, TCP, 192.0.2.1 -> 192.0.2.2
	0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
	// TCP 40000 -> 80, SYN
	0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
}

// Source hands out Frames at Times, then timeouts (or io.EOF with EOF).
// At index FailAt (once; -1 never) it returns an error instead, as an
// interface that went away.
type Source struct {
	Frames [][]byte
	Times  []int64
	FailAt int
	EOF    bool

	mu     sync.Mutex
	clock  int64
	closed bool
	i      int
}

// New returns a source whose clock is at clock, failing at failAt (-1:
// never), holding frames at times.
func New(clock int64, failAt int, frames [][]byte, times []int64) *Source {
	return &Source{Frames: frames, Times: times, FailAt: failAt, clock: clock}
}

// SYNs returns a live-like source (its clock at base) holding n SYNs, gap
// apart from base; with eof it ends after them, like a file.
func SYNs(base int64, n int, gap time.Duration, eof bool) *Source {
	s := &Source{FailAt: -1, clock: base, EOF: eof}
	for i := range n {
		s.Frames = append(s.Frames, SYNFrame)
		s.Times = append(s.Times, base+int64(i)*int64(gap))
	}
	return s
}

// Next returns the next frame, the scripted failure, io.EOF or a timeout.
func (s *Source) Next() (capture.Packet, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.i == s.FailAt {
		s.FailAt = -1
		return capture.Packet{}, errors.New("interface went away")
	}
	if s.i < len(s.Frames) {
		f, t := s.Frames[s.i], s.Times[s.i]
		s.i++
		return capture.Packet{Data: f, TimeNanos: t, WireLen: len(f), LinkType: 1}, nil
	}
	if s.EOF {
		return capture.Packet{}, io.EOF
	}
	s.mu.Unlock()
	time.Sleep(time.Millisecond)
	s.mu.Lock()
	return capture.Packet{}, capture.ErrTimeout
}

// Clock returns the clock the test set.
func (s *Source) Clock() (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock, true
}

// SetClock moves the source's clock, as time passing on a quiet link.
func (s *Source) SetClock(t int64) {
	s.mu.Lock()
	s.clock = t
	s.mu.Unlock()
}

// Stats counts the packets handed out.
func (s *Source) Stats() capture.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return capture.Stats{Received: uint64(s.i)}
}

// Close marks the source closed.
func (s *Source) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

// Closed reports whether Close was called.
func (s *Source) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
