// Package capture provides packet sources: AF_PACKET and libpcap on live
// interfaces, and pcap/pcapng files replayed at any speed. Sources hand out
// frames; they neither decode nor count features.
//
// It is the first stage of the flow (capture -> decode -> features ->
// detector -> snapshot -> Prometheus collector): the pipeline reads
// Packets (bytes, capture time, link type) from one Source per interface,
// hands them to collector/decode, and reports the Source's cumulative
// Stats as capture health. Below it sit libpcap (live capture and filter
// compilation) and pcapfile (the capture file reader); it imports no later
// stage.
package capture

import (
	"errors"
	"time"
)

// ErrTimeout is returned by Next when no packet arrived within the poll
// interval. The caller gets a chance to close idle windows and try again.
var ErrTimeout = errors.New("capture: timeout")

// PollInterval is how long a source waits for a packet before returning
// ErrTimeout.
const PollInterval = 250 * time.Millisecond

// A member of a fanout group (LiveConfig.Fanout) waits FanoutPoll for a
// packet before returning ErrTimeout, and a packet it received waits at
// most FanoutDelay in its ring before Next can return it. So a timeout at
// time t says it holds no packet older than t - FanoutDelay: what merging
// the members' packets in time order needs to know, and soon.
const (
	FanoutPoll  = 50 * time.Millisecond
	FanoutDelay = 20 * time.Millisecond
)

// Packet is one captured frame. Data aliases the source's buffer and is
// valid only until the next call to Next.
type Packet struct {
	Data      []byte
	TimeNanos int64 // Unix nanoseconds
	WireLen   int
	LinkType  uint16
}

// Stats are cumulative since the source was opened.
type Stats struct {
	Received      uint64 // packets handed out by the kernel or read from the file
	KernelDropped uint64 // packets the kernel dropped for lack of buffer space
	IfDropped     uint64 // packets the interface dropped, where reported
	FileErrors    uint64 // capture file passes ended early by a corrupt record
}

// Source is a packet source for one interface or file.
type Source interface {
	// Next returns the next packet, ErrTimeout when none arrived within
	// PollInterval, or io.EOF when a file ended.
	Next() (Packet, error)
	// Clock returns the current time on the packet clock: the wall clock
	// for live captures, the replayed time for paced files, and false when
	// there is no such clock (files replayed as fast as possible).
	Clock() (int64, bool)
	// Stats returns cumulative counters.
	Stats() Stats
	Close() error
}
