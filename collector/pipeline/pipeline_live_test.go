//go:build linux

package pipeline

import (
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/capture"
	"github.com/netanomaly/netanomaly_exporter/collector/capture/libpcap"
	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/internal/netnstest"
	"github.com/netanomaly/netanomaly_exporter/internal/testutil"
)

// liveLab is the test's two namespaces and their veth pair.
type liveLab struct{ *netnstest.Lab }

func newLiveLab(t *testing.T) *liveLab { return &liveLab{netnstest.New(t, "pipe")} }

// open opens a live capture on b0 in namespace B.
func (l *liveLab) open(cfg capture.LiveConfig) (capture.Source, error) {
	var src capture.Source
	err := netnstest.Do(l.B, func() error {
		var err error
		src, err = capture.OpenLive(cfg)
		return err
	})
	return src, err
}

// ping sends n ICMP echo requests from a0 to b0, every apart, and returns
// when they are sent.
func (l *liveLab) ping(t *testing.T, n int, every time.Duration) {
	t.Helper()
	var c net.PacketConn
	if err := netnstest.Do(l.A, func() error {
		var err error
		c, err = net.ListenPacket("ip4:icmp", l.AddrA.String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range n {
		msg := []byte{8, 0, 0, 0, 0x6e, 0x61, 0, byte(i)}
		binary.BigEndian.PutUint16(msg[2:], ^(0x0800 + 0x6e61 + uint16(i)))
		if _, err := c.WriteTo(msg, &net.IPAddr{IP: l.AddrB}); err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
		time.Sleep(every)
	}
}

func liveWait(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
	}
}

func snapshotPackets(s *Snapshot) uint64 {
	var n uint64
	for _, v := range s.Counters.Packets {
		n += v
	}
	return n
}

// TestPipelineLiveReopen removes the captured interface under a running
// pipeline and brings it back.
// With three capture workers (a fanout group), every worker goes down,
// reopens and pauses, and the merged stream follows.
func TestPipelineLiveReopen(t *testing.T) {
	for _, method := range []string{capture.MethodAFPacket, capture.MethodPcap, "afpacket-workers"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel() // each subtest has namespaces of its own
			lab := newLiveLab(t)
			workers := 1
			if method == "afpacket-workers" {
				method, workers = capture.MethodAFPacket, 3
			}
			if method == capture.MethodPcap {
				if err := libpcap.Load(); err != nil {
					t.Skipf("skipping: %v", err)
				}
			}
			cfg := capture.LiveConfig{Interface: "b0", Method: method, Snaplen: 256, BufferBytes: 4 << 20}
			if workers > 1 {
				cfg.Fanout = capture.FanoutGroup(7)
			}
			var opens atomic.Int64
			reopen := func() (capture.Source, error) {
				opens.Add(1)
				return lab.open(cfg)
			}
			src, err := lab.open(cfg)
			if err != nil {
				t.Fatalf("OpenLive: %v", err)
			}
			var logs testutil.SyncBuffer
			fcfg := features.DefaultConfig()
			fcfg.Window = time.Second
			var winMu sync.Mutex
			var wins []*features.Window
			onWindow := func(w *features.Window) {
				winMu.Lock()
				wins = append(wins, w)
				winMu.Unlock()
			}
			pcfg := PipelineConfig{Interface: "b0", Features: fcfg, Reopen: reopen, OnWindow: onWindow}
			for range workers - 1 {
				w, err := lab.open(cfg)
				if err != nil {
					t.Fatalf("OpenLive of a worker: %v", err)
				}
				pcfg.Workers = append(pcfg.Workers, Worker{Source: w, Reopen: reopen})
			}
			p := NewPipeline(pcfg, src, slog.New(slog.NewTextHandler(&logs, nil)))
			ctx, cancel := context.WithCancel(context.Background())
			go p.Run(ctx)
			t.Cleanup(func() {
				cancel()
				select {
				case <-p.Done():
				case <-time.After(10 * time.Second):
					t.Error("pipeline did not stop within 10s of cancel")
				}
				if t.Failed() {
					t.Logf("pipeline log:\n%s", logs.String())
				}
			})

			// Traffic is counted.
			lab.ping(t, 20, 20*time.Millisecond)
			liveWait(t, 5*time.Second, "20 packets counted", func() bool {
				s := p.Snapshot()
				return snapshotPackets(s) >= 20 && s.Source.Received >= 20
			})
			if !p.Up() || p.State() != StateCapturing {
				t.Fatalf("Up() %v, State() %q while capturing", p.Up(), p.State())
			}
			before := p.Snapshot()

			// The interface disappears: the pipeline goes down but runs on.
			if err := netnstest.IP("-n", lab.A, "link", "del", "a0"); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: removed b0", time.Now().Format("15:04:05.000"))
			liveWait(t, 3*time.Second, "Up() false after the interface was removed", func() bool { return !p.Up() })
			down := p.Snapshot()
			// Quiet windows keep closing and snapshots keep coming. Two: the
			// first may have started before the interface went.
			liveWait(t, 5*time.Second, "a whole window closed while down", func() bool {
				s := p.Snapshot()
				return s != down && s.Counters.Windows >= down.Counters.Windows+2
			})
			select {
			case <-p.Done():
				t.Fatal("pipeline stopped when the interface went away")
			default:
			}
			s := p.Snapshot()
			if p.Up() || s.Interface != "b0" || snapshotPackets(s) < snapshotPackets(before) || s.Reopens != 0 {
				t.Fatalf("while down: Up %v, snapshot %q with %d packets, %d reopens; want down, b0, >= %d packets, 0 reopens",
					p.Up(), s.Interface, snapshotPackets(s), s.Reopens, snapshotPackets(before))
			}
			if opens.Load() == 0 {
				t.Error("no reopen attempt while down")
			}
			if st := p.State(); st != StateReopening {
				t.Errorf("State() %q while the interface is gone, want %q", st, StateReopening)
			}

			// The interface comes back under the same name.
			t.Logf("%s: down, recreating b0", time.Now().Format("15:04:05.000"))
			lab.AddLink(t)
			t.Logf("%s: b0 is back", time.Now().Format("15:04:05.000"))
			liveWait(t, 10*time.Second, "Up() true after the interface came back", p.Up)
			liveWait(t, 3*time.Second, "Reopens >= 1", func() bool { return p.Snapshot().Reopens >= 1 })
			after := snapshotPackets(p.Snapshot())
			lab.ping(t, 20, 20*time.Millisecond)
			liveWait(t, 5*time.Second, "20 more packets counted after the reopen", func() bool {
				s := p.Snapshot()
				return snapshotPackets(s) >= after+20 && s.Source.Received >= before.Source.Received+20
			})
			if s := p.Snapshot(); s.Source.Received < before.Source.Received {
				t.Errorf("received counter went back from %d to %d", before.Source.Received, s.Source.Received)
			}
			if !p.Up() || p.State() != StateCapturing {
				t.Errorf("Up() %v, State() %q after counting again", p.Up(), p.State())
			}
			// Stopped on purpose: paused, not down; then capturing again.
			if err := p.StopCapture(); err != nil {
				t.Fatal(err)
			}
			liveWait(t, 3*time.Second, "Up() false after StopCapture", func() bool { return !p.Up() })
			if st := p.State(); st != StatePaused {
				t.Errorf("State() %q after StopCapture, want %q", st, StatePaused)
			}
			p.StartCapture()
			liveWait(t, 5*time.Second, "capturing after StartCapture", func() bool { return p.State() == StateCapturing })
			// The windows say what the capture saw: the first is partial
			// (the capture started inside it), and while the interface was
			// gone the windows saw nothing at all, which is no quiet link.
			winMu.Lock()
			defer winMu.Unlock()
			if len(wins) == 0 || !wins[0].Partial {
				t.Errorf("first window not partial: %+v", wins[:min(1, len(wins))])
			}
			blind := 0
			for _, w := range wins {
				if w.Partial && w.Seconds == 0 {
					blind++
				}
				if w.Seconds > fcfg.Window.Seconds() || (!w.Partial && w.Seconds != fcfg.Window.Seconds()) {
					t.Errorf("window at %d: %v s, partial %v", w.Start, w.Seconds, w.Partial)
				}
			}
			if blind == 0 {
				t.Errorf("no window saw nothing while the interface was gone (%d windows)", len(wins))
			}
		})
	}
}

// TestPipelineLiveWorkers: an interface captured by four workers of an
// AF_PACKET fanout group counts every packet once, as one socket beside
// them does, and the flows are spread over the workers.
func TestPipelineLiveWorkers(t *testing.T) {
	lab := newLiveLab(t)
	cfg := capture.LiveConfig{Interface: "b0", Method: capture.MethodAFPacket, Snaplen: 256, BufferBytes: 8 << 20}
	plain, err := lab.open(cfg)
	if err != nil {
		t.Fatalf("OpenLive: %v", err)
	}
	cfg.Fanout = capture.FanoutGroup(9)
	var srcs []capture.Source
	var workers []Worker
	for i := range 4 {
		src, err := lab.open(cfg)
		if err != nil {
			t.Fatalf("OpenLive of worker %d: %v", i, err)
		}
		srcs = append(srcs, src)
		if i > 0 {
			workers = append(workers, Worker{Source: src})
		}
	}
	fcfg := features.DefaultConfig()
	fcfg.Window = time.Second
	logger := slog.New(slog.DiscardHandler)
	one := NewPipeline(PipelineConfig{Interface: "b0", Features: fcfg}, plain, logger)
	many := NewPipeline(PipelineConfig{Interface: "b0", Features: fcfg, Workers: workers}, srcs[0], logger)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go one.Run(ctx)
	go many.Run(ctx)

	// 64 UDP flows of 25 datagrams each, and 50 pings: 1,650 packets.
	var conns []net.PacketConn
	if err := netnstest.Do(lab.A, func() error {
		for range 64 {
			c, err := net.ListenPacket("udp4", lab.AddrA.String()+":0")
			if err != nil {
				return err
			}
			conns = append(conns, c)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 25 {
		for _, c := range conns {
			if _, err := c.WriteTo([]byte{byte(i)}, &net.UDPAddr{IP: lab.AddrB, Port: 9999}); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, c := range conns {
		c.Close()
	}
	lab.ping(t, 50, time.Millisecond)
	// B answers the pings and refuses the datagrams (port unreachable):
	// both pipelines see the same replies.
	liveWait(t, 10*time.Second, "every packet on both pipelines", func() bool {
		a, b := snapshotPackets(one.Snapshot()), snapshotPackets(many.Snapshot())
		return a >= 1650 && a == b
	})
	time.Sleep(300 * time.Millisecond) // anything late or counted twice shows now
	// The link may carry a packet of its own (IPv6 neighbour discovery)
	// between two reads: the counts must agree at some moment.
	same := func() bool {
		a, b := one.Snapshot(), many.Snapshot()
		return a.Counters.Packets == b.Counters.Packets && a.Counters.Bytes == b.Counters.Bytes && a.Source.Received == b.Source.Received
	}
	for deadline := time.Now().Add(3 * time.Second); !same() && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if a, b := one.Snapshot(), many.Snapshot(); !same() {
		t.Errorf("one socket counted %v packets, %v bytes, received %d; four workers %v, %v, %d", a.Counters.Packets, a.Counters.Bytes, a.Source.Received,
			b.Counters.Packets, b.Counters.Bytes, b.Source.Received)
	}
	cancel()
	<-one.Done()
	<-many.Done()
	busy := 0
	for i, src := range srcs {
		n := src.Stats().Received
		t.Logf("worker %d received %d packets", i, n)
		if n > 0 {
			busy++
		}
	}
	if busy < 3 {
		t.Errorf("%d of 4 workers received packets: the flows were not spread", busy)
	}
}
