package pipeline

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
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

// TestMergerProperties drives the merger with random workers: each with
// its own time-ordered packets, cut into batches of random sizes, with
// clock ticks that never run ahead of what the worker will still send.
// Every packet comes out exactly once, in time order, and no clock passed
// on is later than a packet that comes out after it.
func TestMergerProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for round := range 200 {
		workers := 2 + r.IntN(4)
		var got []int64
		var clocks []int64 // the clock passed on before each packet
		clock := int64(-1)
		m, frees, done := startMerger(workers, func(o *batch) {
			for _, info := range o.infos[:o.n] {
				got = append(got, info.Time)
				clocks = append(clocks, clock)
			}
			if o.hasClock {
				clock = max(clock, o.clock)
			}
		})
		// Each worker's packets: increasing times, some shared between
		// workers (equal stamps happen), a worker idle at times.
		sent := 0
		var feeders sync.WaitGroup
		for w := range workers {
			n := r.IntN(3000)
			times := make([]int64, n)
			now := int64(0)
			for i := range times {
				now += int64(r.IntN(2000))
				times[i] = now
			}
			sent += n
			seed := r.Uint64()
			feeders.Go(func() {
				fr := rand.New(rand.NewPCG(seed, 1))
				for i := 0; ; {
					b := <-frees[w]
					b.worker = w
					k := min(1+fr.IntN(batchSize), len(times)-i)
					for j := range k {
						b.infos[j].Time = times[i+j]
					}
					b.n = k
					i += k
					if fr.IntN(4) == 0 && i < len(times) {
						// A timeout: nothing older than the next packet
						// will come.
						b.hasClock, b.clock = true, times[i]+int64(capture.FanoutDelay)
					}
					if i == len(times) {
						b.eof = true
						m.in <- b
						return
					}
					m.in <- b
				}
			})
		}
		feeders.Wait()
		<-done
		if len(got) != sent {
			t.Fatalf("round %d: %d packets out of %d in", round, len(got), sent)
		}
		for i := 1; i < len(got); i++ {
			if got[i] < got[i-1] {
				t.Fatalf("round %d: packet %d at %d after one at %d", round, i, got[i], got[i-1])
			}
		}
		for i, c := range clocks {
			if c > got[i] {
				t.Fatalf("round %d: clock %d passed on before a packet at %d", round, c, got[i])
			}
		}
	}
}

// startMerger runs a merger of workers workers, without a pipeline around
// it: each merged batch goes to each, in order, on one goroutine, then
// back to the pool. done is closed when the merger ended. The workers take
// batches from frees and send them to m.in.
func startMerger(workers int, each func(*batch)) (m *merger, frees []chan *batch, done chan struct{}) {
	p := &Pipeline{queue: make(chan *batch, queueBatches), free: newPool(queueBatches + 2)}
	frees = make([]chan *batch, workers)
	for i := range frees {
		frees[i] = newPool(workerBatches)
	}
	m = newMerger(p, frees)
	go m.run()
	done = make(chan struct{})
	go func() {
		defer close(done)
		for o := range p.queue {
			each(o)
			o.n, o.hasClock, o.eof, o.down, o.up = 0, false, false, false, false
			p.free <- o
		}
	}()
	return m, frees, done
}
