package pipeline

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/capture"
	"github.com/netanomaly/netanomaly_exporter/collector/capture/capturetest"
	"github.com/netanomaly/netanomaly_exporter/collector/capture/pcapfile"
	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/collector/features/sketch"
	"github.com/netanomaly/netanomaly_exporter/internal/synth"
	nettest "github.com/netanomaly/netanomaly_exporter/internal/testutil"
)

// TestCaptureWorkersMerge: an interface captured by several workers, each
// getting whole flows as an AF_PACKET fanout group hands them out (one of
// them nothing at all), gives the very windows, features and counters one
// worker capturing everything gives.
func TestCaptureWorkersMerge(t *testing.T) {
	var buf bytes.Buffer
	// 60 s of TCP connections: handshakes, turns, closes; 6 windows.
	if err := synth.WriteSessions(&buf, 60_000, 3, int64(time.Millisecond), 300); err != nil {
		t.Fatal(err)
	}
	r, err := pcapfile.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	const workers = 4 // the last one gets nothing: a quiet member
	var all, split [workers][][]byte
	var allTimes, splitTimes [workers][]int64
	d := decode.NewDecoder()
	var last int64
	for {
		pkt, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		frame := slices.Clone(pkt.Data)
		var info decode.PacketInfo
		if !d.Decode(pkt.LinkType, frame, &info) {
			t.Fatal("undecodable frame")
		}
		// Both directions of a flow to one worker, as PACKET_FANOUT_HASH.
		a, b := sketch.HashAddr(info.Src)^uint64(info.SrcPort), sketch.HashAddr(info.Dst)^uint64(info.DstPort)
		w := int(sketch.Mix64(min(a, b)^max(a, b)*31) % (workers - 1))
		split[w] = append(split[w], frame)
		splitTimes[w] = append(splitTimes[w], pkt.TimeNanos)
		all[0] = append(all[0], frame)
		allTimes[0] = append(allTimes[0], pkt.TimeNanos)
		last = pkt.TimeNanos
	}
	for w := range workers - 1 {
		if len(split[w]) < 5000 {
			t.Fatalf("worker %d got %d packets: the split is not a test of merging", w, len(split[w]))
		}
	}

	run := func(frames [workers][][]byte, times [workers][]int64, n int) ([]*features.Window, *Snapshot) {
		var mu sync.Mutex
		var wins []*features.Window
		cfg := PipelineConfig{Interface: "eth0", Features: features.DefaultConfig(), OnWindow: func(w *features.Window) {
			mu.Lock()
			wins = append(wins, w)
			mu.Unlock()
		}}
		var first capture.Source
		for i := range n {
			// Time passes on the link: every window closes once the
			// packets are in.
			var src capture.Source = capturetest.New(last+int64(30*time.Second), -1, frames[i], times[i])
			if i == 0 {
				// The first is slow to deliver: the quiet worker has
				// told the time long before.
				first = &slowStart{Source: src, wait: 100 * time.Millisecond}
				continue
			}
			cfg.Workers = append(cfg.Workers, Worker{Source: src})
		}
		p := NewPipeline(cfg, first, slog.New(slog.DiscardHandler))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go p.Run(ctx)
		nettest.WaitFor(t, "the windows", func() bool { mu.Lock(); defer mu.Unlock(); return len(wins) >= 8 })
		cancel()
		<-p.Done()
		return wins, p.Snapshot()
	}
	one, oneSnap := run(all, allTimes, 1)
	many, manySnap := run(split, splitTimes, workers)
	if len(one) != len(many) {
		t.Fatalf("%d windows with one worker, %d with %d", len(one), len(many), workers)
	}
	for i := range one {
		a, b := one[i], many[i]
		if a.Start != b.Start || a.Features != b.Features || a.Packets != b.Packets || a.Bytes != b.Bytes {
			t.Errorf("window %d differs:\none worker: %d %v %v\n%d workers: %d %v %v", i, a.Start, a.Packets, a.Features, workers, b.Start, b.Packets, b.Features)
		}
	}
	if oneSnap.Counters.Packets != manySnap.Counters.Packets || oneSnap.Counters.Flows != manySnap.Counters.Flows {
		t.Errorf("counters differ: one worker %v %+v, %d workers %v %+v", oneSnap.Counters.Packets, oneSnap.Counters.Flows, workers, manySnap.Counters.Packets, manySnap.Counters.Flows)
	}
	if got, want := manySnap.Source.Received, uint64(len(all[0])); got != want {
		t.Errorf("received %d summed over the workers, want %d", got, want)
	}
}

// slowStart delays its source's first packet.
type slowStart struct {
	capture.Source
	wait    time.Duration
	started bool
}

func (s *slowStart) Next() (capture.Packet, error) {
	if !s.started {
		s.started = true
		time.Sleep(s.wait)
	}
	return s.Source.Next()
}

// TestCaptureWorkersFutureStamp: a packet stamped an hour ahead (a clock
// stepped back under it, a bad timestamp) does not hold back its
// worker's later packets until the other workers' clocks reach it.
func TestCaptureWorkersFutureStamp(t *testing.T) {
	const sec = int64(time.Second)
	base := int64(1_700_000_000) * sec
	var frames [][]byte
	var times []int64
	frames, times = append(frames, capturetest.SYNFrame), append(times, base+3600*sec)
	for i := range 20_000 {
		frames, times = append(frames, capturetest.SYNFrame), append(times, base+int64(i)*int64(time.Millisecond))
	}
	ahead := capturetest.New(base+60*sec, -1, frames, times)
	other := capturetest.SYNs(base, 100, 100*time.Millisecond, false)
	other.SetClock(base + 60*sec)
	p := NewPipeline(PipelineConfig{Interface: "eth0", Features: features.DefaultConfig(), Workers: []Worker{{Source: ahead}}}, other, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	nettest.WaitFor(t, "every packet", func() bool { return p.Snapshot().Counters.Packets[0] == 20_101 })
}
