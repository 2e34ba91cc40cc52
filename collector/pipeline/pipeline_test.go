package pipeline

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/capture"
	"github.com/netanomaly/netanomaly_exporter/collector/capture/capturetest"
	"github.com/netanomaly/netanomaly_exporter/collector/features"
	nettest "github.com/netanomaly/netanomaly_exporter/internal/testutil"
)

// TestPipelineIdleFlush: a quiet live link still closes windows, with zero
// traffic, as its clock moves on.
func TestPipelineIdleFlush(t *testing.T) {
	const sec = int64(time.Second)
	base := int64(1_700_000_000) * sec
	src := capturetest.SYNs(base, 5, time.Second, false)
	p := NewPipeline(PipelineConfig{Interface: "eth0", Features: features.DefaultConfig()}, src, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)

	nettest.WaitFor(t, "the packets", func() bool { return p.Snapshot().Counters.Packets[0] == 5 })
	if p.Snapshot().Window != nil {
		t.Fatal("a window closed before its end")
	}
	// 35 s later on the link's clock, minus the 1 s grace: three windows.
	src.SetClock(base + 36*sec)
	nettest.WaitFor(t, "idle windows", func() bool { return p.Snapshot().Counters.Windows == 3 })
	w := p.Snapshot().Window
	if w.Features[features.PacketsPerSecond] != 0 || w.Start != base+20*sec {
		t.Errorf("last window starts at %d with %v packets/s, want an empty window at %d", w.Start, w.Features[features.PacketsPerSecond], base+20*sec)
	}
	if !p.Up() {
		t.Error("pipeline reports down")
	}
	cancel()
	<-p.Done()
	if !src.Closed() {
		t.Error("source not closed on shutdown")
	}
}

// TestPipelineReopen: a failing live source is reported down, reopened,
// and counting resumes without a restart.
func TestPipelineReopen(t *testing.T) {
	base := int64(1_700_000_000) * int64(time.Second)
	first := capturetest.New(base, 2, [][]byte{capturetest.SYNFrame, capturetest.SYNFrame}, []int64{base, base + 1})
	second := capturetest.New(base, -1, [][]byte{capturetest.SYNFrame, capturetest.SYNFrame, capturetest.SYNFrame}, []int64{base + 2, base + 3, base + 4})
	var mu sync.Mutex
	opened := 0
	reopen := func() (capture.Source, error) {
		mu.Lock()
		defer mu.Unlock()
		opened++
		return second, nil
	}
	p := NewPipeline(PipelineConfig{Interface: "eth0", Features: features.DefaultConfig(), Reopen: reopen}, first, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	nettest.WaitFor(t, "the packets after reopening", func() bool { return p.Snapshot().Counters.Packets[0] == 5 })
	nettest.WaitFor(t, "the reopen count", func() bool { return p.Snapshot().Reopens == 1 })
	if !first.Closed() {
		t.Error("failed source not closed")
	}
	if !p.Up() {
		t.Error("pipeline down after reopening")
	}
}

// TestPipelineStallAtWindowClose: a live source whose feature stage stalls
// for a moment (as at a window close) loses nothing: capture waits for the
// queue and the kernel ring holds the packets meanwhile. A stage stalled
// for longer than queueWait loses batches, counted.
func TestPipelineStallAtWindowClose(t *testing.T) {
	const n = 30000 // more than the queue holds (64 batches of 256)
	for _, c := range []struct {
		stall     time.Duration
		wantDrops bool
	}{{150 * time.Millisecond, false}, {3 * queueWait, true}} {
		base := int64(1_700_000_000)*int64(time.Second) + int64(9900*time.Millisecond)
		src := capturetest.SYNs(base, n, 10*time.Microsecond, true)
		var once sync.Once
		cfg := PipelineConfig{Interface: "eth0", Features: features.DefaultConfig(),
			OnWindow: func(*features.Window) { once.Do(func() { time.Sleep(c.stall) }) }}
		p := NewPipeline(cfg, src, slog.New(slog.DiscardHandler))
		p.Run(context.Background())
		s := p.Snapshot()
		var counted uint64
		for _, v := range s.Counters.Packets {
			counted += v
		}
		if c.wantDrops {
			if s.QueueDropped == 0 || counted+s.QueueDropped != n {
				t.Errorf("stall %v: %d counted, %d dropped; want drops, and the two adding up to %d", c.stall, counted, s.QueueDropped, n)
			}
			continue
		}
		if s.QueueDropped != 0 || counted != n {
			t.Errorf("stall %v: %d counted, %d dropped from the queue; want all %d counted", c.stall, counted, s.QueueDropped, n)
		}
	}
}
