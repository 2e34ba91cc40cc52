package collector

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/netanomaly/netanomaly_exporter/collector/capture"
	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// fakeSource hands out scripted packets and timeouts; its clock is set by
// the test, like a live interface's wall clock.
type fakeSource struct {
	mu     sync.Mutex
	frames [][]byte
	times  []int64
	clock  int64
	failAt int // return an error instead of the packet at this index; -1 never
	eof    bool
	closed bool
	i      int
}

var synFrame = []byte{
	// Ethernet
	0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x08, 0x00,
	// IPv4, TCP, 192.0.2.1 -> 192.0.2.2
	0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
	// TCP 40000 -> 80, SYN
	0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
}

// synSource returns a live-like fake source (its clock at base) holding n
// SYNs, gap apart from base; with eof it ends after them, like a file.
func synSource(base int64, n int, gap time.Duration, eof bool) *fakeSource {
	s := &fakeSource{failAt: -1, clock: base, eof: eof}
	for i := range n {
		s.frames = append(s.frames, synFrame)
		s.times = append(s.times, base+int64(i)*int64(gap))
	}
	return s
}

func (s *fakeSource) Next() (capture.Packet, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.i == s.failAt {
		s.failAt = -1
		return capture.Packet{}, errors.New("interface went away")
	}
	if s.i < len(s.frames) {
		f, t := s.frames[s.i], s.times[s.i]
		s.i++
		return capture.Packet{Data: f, TimeNanos: t, WireLen: len(f), LinkType: 1}, nil
	}
	if s.eof {
		return capture.Packet{}, io.EOF
	}
	s.mu.Unlock()
	time.Sleep(time.Millisecond)
	s.mu.Lock()
	return capture.Packet{}, capture.ErrTimeout
}

func (s *fakeSource) Clock() (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clock, true
}

func (s *fakeSource) setClock(t int64) {
	s.mu.Lock()
	s.clock = t
	s.mu.Unlock()
}

func (s *fakeSource) Stats() capture.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return capture.Stats{Received: uint64(s.i)}
}

func (s *fakeSource) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPipelineIdleFlush: a quiet live link still closes windows, with zero
// traffic, as its clock moves on.
func TestPipelineIdleFlush(t *testing.T) {
	const sec = int64(time.Second)
	base := int64(1_700_000_000) * sec
	src := synSource(base, 5, time.Second, false)
	p := NewPipeline(PipelineConfig{Interface: "eth0", Features: features.DefaultConfig()}, src, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)

	waitFor(t, "the packets", func() bool { return p.Snapshot().Counters.Packets[0] == 5 })
	if p.Snapshot().Window != nil {
		t.Fatal("a window closed before its end")
	}
	// 35 s later on the link's clock, minus the 1 s grace: three windows.
	src.setClock(base + 36*sec)
	waitFor(t, "idle windows", func() bool { return p.Snapshot().Counters.Windows == 3 })
	w := p.Snapshot().Window
	if w.Features[features.PacketsPerSecond] != 0 || w.Start != base+20*sec {
		t.Errorf("last window starts at %d with %v packets/s, want an empty window at %d", w.Start, w.Features[features.PacketsPerSecond], base+20*sec)
	}
	if !p.Up() {
		t.Error("pipeline reports down")
	}
	cancel()
	<-p.Done()
	if !src.closed {
		t.Error("source not closed on shutdown")
	}
}

// TestPipelineReopen: a failing live source is reported down, reopened,
// and counting resumes without a restart.
func TestPipelineReopen(t *testing.T) {
	base := int64(1_700_000_000) * int64(time.Second)
	first := &fakeSource{failAt: 2, clock: base, frames: [][]byte{synFrame, synFrame}, times: []int64{base, base + 1}}
	second := &fakeSource{failAt: -1, clock: base, frames: [][]byte{synFrame, synFrame, synFrame}, times: []int64{base + 2, base + 3, base + 4}}
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
	waitFor(t, "the packets after reopening", func() bool { return p.Snapshot().Counters.Packets[0] == 5 })
	waitFor(t, "the reopen count", func() bool { return p.Snapshot().Reopens == 1 })
	if !first.closed {
		t.Error("failed source not closed")
	}
	if !p.Up() {
		t.Error("pipeline down after reopening")
	}
}

// TestExporterCollect checks the metrics a scrape gets from a pipeline fed
// by a file, and that the output is a valid exposition.
func TestExporterCollect(t *testing.T) {
	src, err := capture.OpenFile(capture.FileConfig{Path: "../cmd/netanomaly_exporter/testdata/ftp_bruteforce.pcap"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	p := NewPipeline(PipelineConfig{Interface: "ftp", Features: features.DefaultConfig(), Lossless: true}, src, slog.New(slog.DiscardHandler))
	p.Run(context.Background())
	anon, _ := NewAnonymizer(PrivacyFull, nil)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewExporter([]*Pipeline{p}, anon, 0))
	want := `
# HELP netanomaly_capture_up Whether the capture source is open and delivering (1) or not (0: see netanomaly_capture_state for why).
# TYPE netanomaly_capture_up gauge
netanomaly_capture_up{interface="ftp"} 0
# HELP netanomaly_capture_state Capture state, 1 for the current one: capturing, reopening (failed, being reopened), paused (stopped through the admin API), finished (a capture file ended), failed (cannot be reopened).
# TYPE netanomaly_capture_state gauge
netanomaly_capture_state{interface="ftp",state="capturing"} 0
netanomaly_capture_state{interface="ftp",state="failed"} 0
netanomaly_capture_state{interface="ftp",state="finished"} 1
netanomaly_capture_state{interface="ftp",state="paused"} 0
netanomaly_capture_state{interface="ftp",state="reopening"} 0
# HELP netanomaly_packets_total Packets by outer layer-4 protocol.
# TYPE netanomaly_packets_total counter
netanomaly_packets_total{interface="ftp",protocol="arp"} 0
netanomaly_packets_total{interface="ftp",protocol="icmp"} 0
netanomaly_packets_total{interface="ftp",protocol="icmpv6"} 0
netanomaly_packets_total{interface="ftp",protocol="other"} 0
netanomaly_packets_total{interface="ftp",protocol="tcp"} 606
netanomaly_packets_total{interface="ftp",protocol="udp"} 0
# HELP netanomaly_capture_packets_received_total Packets received from the kernel or read from the file.
# TYPE netanomaly_capture_packets_received_total counter
netanomaly_capture_packets_received_total{interface="ftp"} 606
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "netanomaly_capture_up", "netanomaly_capture_state", "netanomaly_packets_total", "netanomaly_capture_packets_received_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n < 60 {
		t.Errorf("gathered %d series, err %v", n, err)
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
		src := synSource(base, n, 10*time.Microsecond, true)
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
