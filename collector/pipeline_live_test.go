//go:build linux

package collector

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netanomaly/netanomaly_exporter/collector/capture"
	"github.com/netanomaly/netanomaly_exporter/collector/capture/libpcap"
	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// liveLab is a veth pair between two network namespaces of this test run:
// a0 (10.251.78.1/24) in nsA, b0 (10.251.78.2/24) in nsB, no routes out.
type liveLab struct {
	nsA, nsB string
}

var liveLabSeq atomic.Int64

func liveIP(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func newLiveLab(t *testing.T) *liveLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping live pipeline test: needs root to create network namespaces and capture")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipping live pipeline test: needs the ip command (iproute2)")
	}
	id := fmt.Sprintf("%d-%d", os.Getpid(), liveLabSeq.Add(1))
	l := &liveLab{nsA: "napipe-a-" + id, nsB: "napipe-b-" + id}
	for _, ns := range []string{l.nsA, l.nsB} {
		if err := liveIP("netns", "add", ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := liveIP("netns", "del", ns); err != nil {
				t.Error(err)
			}
		})
		_ = exec.Command("ip", "netns", "exec", ns, "sh", "-c",
			"echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6").Run()
		if err := liveIP("-n", ns, "link", "set", "lo", "up"); err != nil {
			t.Fatal(err)
		}
	}
	l.addLink(t)
	return l
}

// addLink (re)creates the veth pair and waits for its carrier.
func (l *liveLab) addLink(t *testing.T) {
	t.Helper()
	for _, s := range [][]string{
		{"-n", l.nsA, "link", "add", "a0", "type", "veth", "peer", "name", "b0", "netns", l.nsB},
		{"-n", l.nsA, "addr", "add", "10.251.78.1/24", "dev", "a0"},
		{"-n", l.nsB, "addr", "add", "10.251.78.2/24", "dev", "b0"},
		{"-n", l.nsA, "link", "set", "a0", "up"},
		{"-n", l.nsB, "link", "set", "b0", "up"},
	} {
		if err := liveIP(s...); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range [][2]string{{l.nsA, "a0"}, {l.nsB, "b0"}} {
		for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			out, err := exec.Command("ip", "-n", d[0], "link", "show", d[1]).CombinedOutput()
			if err == nil && bytes.Contains(out, []byte("LOWER_UP")) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s in %s has no carrier after 3s: %v %s", d[1], d[0], err, out)
			}
		}
	}
}

// in runs fn on an OS thread switched to namespace ns; sockets fn creates
// stay there.
func (l *liveLab) in(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Unlocked only once back home; otherwise the thread exits with
		// the goroutine.
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		ferr := fn()
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

// open opens a live capture on b0 in namespace B.
func (l *liveLab) open(cfg capture.LiveConfig) (capture.Source, error) {
	var src capture.Source
	err := l.in(l.nsB, func() error {
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
	if err := l.in(l.nsA, func() error {
		var err error
		c, err = net.ListenPacket("ip4:icmp", "10.251.78.1")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range n {
		msg := []byte{8, 0, 0, 0, 0x6e, 0x61, 0, byte(i)}
		binary.BigEndian.PutUint16(msg[2:], ^(0x0800 + 0x6e61 + uint16(i)))
		if _, err := c.WriteTo(msg, &net.IPAddr{IP: net.IPv4(10, 251, 78, 2)}); err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
		time.Sleep(every)
	}
}

// liveLogBuffer collects the pipeline's log, shown when the test fails.
type liveLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *liveLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *liveLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
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
func TestPipelineLiveReopen(t *testing.T) {
	for _, method := range []string{capture.MethodAFPacket, capture.MethodPcap} {
		t.Run(method, func(t *testing.T) {
			t.Parallel() // each subtest has namespaces of its own
			lab := newLiveLab(t)
			if method == capture.MethodPcap {
				if err := libpcap.Load(); err != nil {
					t.Skipf("skipping: %v", err)
				}
			}
			cfg := capture.LiveConfig{Interface: "b0", Method: method, Snaplen: 256, BufferBytes: 4 << 20}
			var opens atomic.Int64
			reopen := func() (capture.Source, error) {
				opens.Add(1)
				return lab.open(cfg)
			}
			src, err := lab.open(cfg)
			if err != nil {
				t.Fatalf("OpenLive: %v", err)
			}
			var logs liveLogBuffer
			fcfg := features.DefaultConfig()
			fcfg.Window = time.Second
			p := NewPipeline(PipelineConfig{Interface: "b0", Features: fcfg, Reopen: reopen}, src, slog.New(slog.NewTextHandler(&logs, nil)))
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
			if !p.Up() {
				t.Fatal("Up() false while capturing")
			}
			before := p.Snapshot()

			// The interface disappears: the pipeline goes down but runs on.
			if err := liveIP("-n", lab.nsA, "link", "del", "a0"); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: removed b0", time.Now().Format("15:04:05.000"))
			liveWait(t, 3*time.Second, "Up() false after the interface was removed", func() bool { return !p.Up() })
			down := p.Snapshot()
			// Quiet windows keep closing and snapshots keep coming.
			liveWait(t, 4*time.Second, "a window closed while down", func() bool {
				s := p.Snapshot()
				return s != down && s.Counters.Windows > down.Counters.Windows
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

			// The interface comes back under the same name.
			t.Logf("%s: down, recreating b0", time.Now().Format("15:04:05.000"))
			lab.addLink(t)
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
			if !p.Up() {
				t.Error("Up() false after counting again")
			}
		})
	}
}
