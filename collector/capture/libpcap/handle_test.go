//go:build linux && (amd64 || arm64 || loong64 || ppc64le || riscv64)

package libpcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// requireCapture skips when libpcap is missing or the process cannot
// capture (not root / no CAP_NET_RAW).
func requireCapture(t *testing.T) {
	t.Helper()
	requireLibpcap(t)
	h, err := OpenLive("lo", 128, false, 0, 10*time.Millisecond)
	if errors.Is(err, ErrPermission) {
		t.Skipf("skipping live capture test: needs root or CAP_NET_RAW: %v", err)
	}
	if err != nil {
		t.Fatalf("OpenLive(lo): %v", err)
	}
	h.Close()
}

// udpDstPort returns the UDP destination port of an Ethernet/IPv4 frame as
// captured on lo (DLT_EN10MB), or -1.
func udpDstPort(frame []byte) int {
	if len(frame) < 14+20+8 || binary.BigEndian.Uint16(frame[12:14]) != 0x0800 {
		return -1
	}
	ip := frame[14:]
	ihl := int(ip[0]&0x0f) * 4
	if ip[0]>>4 != 4 || ip[9] != 17 || len(ip) < ihl+8 {
		return -1
	}
	return int(binary.BigEndian.Uint16(ip[ihl+2 : ihl+4]))
}

func TestOpenLiveCapture(t *testing.T) {
	requireCapture(t)

	// A bound UDP socket on a free port: the datagrams are delivered to it
	// (no ICMP port unreachable) and the port is ours alone.
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	port := sink.LocalAddr().(*net.UDPAddr).Port
	go func() { // drain
		buf := make([]byte, 2048)
		for {
			if _, err := sink.Read(buf); err != nil {
				return
			}
		}
	}()

	h, err := OpenLive("lo", 256, false, 1<<20, 100*time.Millisecond)
	if err != nil {
		t.Fatalf("OpenLive: %v", err)
	}
	defer h.Close()
	if lt := h.LinkType(); lt != 1 {
		t.Fatalf("LinkType() = %d, want 1 (DLT_EN10MB on lo)", lt)
	}
	t.Logf("lo: link type %d, nanosecond timestamps: %v", h.LinkType(), h.nano)
	if err := h.SetFilter(fmt.Sprintf("udp and dst port %d", port)); err != nil {
		t.Fatalf("SetFilter: %v", err)
	}
	if err := h.SetFilter("tcp prot 80"); err == nil || !strings.Contains(err.Error(), "syntax error") {
		t.Fatalf("SetFilter with a bad expression: %v", err)
	}
	// The previous, valid filter stays installed.

	// Send a bounded number of datagrams, only to 127.0.0.1:port: at most
	// 50, one every 20 ms, and never for more than 2 s.
	done := make(chan struct{})
	var stopOnce sync.Once
	stop := func() { stopOnce.Do(func() { close(done) }) }
	defer stop()
	var senderWG sync.WaitGroup
	senderWG.Add(1)
	go func() {
		defer senderWG.Done()
		conn, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			t.Errorf("dial: %v", err)
			return
		}
		defer conn.Close()
		deadline := time.Now().Add(2 * time.Second)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < 50 && time.Now().Before(deadline); i++ {
			if _, err := conn.Write([]byte("netanomaly libpcap test")); err != nil {
				t.Errorf("send: %v", err)
				return
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()

	got, timeouts := 0, 0
	deadline := time.Now().Add(3 * time.Second)
	for got < 3 && time.Now().Before(deadline) {
		data, ts, wireLen, err := h.ReadPacket()
		if errors.Is(err, ErrTimeout) {
			timeouts++
			continue
		}
		if err != nil {
			t.Fatalf("ReadPacket: %v", err)
		}
		if p := udpDstPort(data); p != port {
			t.Fatalf("read a packet not matching the filter (dst port %d, want %d): % x", p, port, data)
		}
		if d := time.Since(time.Unix(0, ts)); d < -time.Second || d > 5*time.Second {
			t.Errorf("timestamp %v is %v away from now", time.Unix(0, ts), d)
		}
		if wireLen < len(data) || len(data) == 0 {
			t.Errorf("wireLen %d < caplen %d", wireLen, len(data))
		}
		if want := 14 + 20 + 8 + len("netanomaly libpcap test"); wireLen != want {
			t.Errorf("wireLen = %d, want %d", wireLen, want)
		}
		got++
	}
	if got == 0 {
		t.Fatalf("no packet captured in 3 s (%d timeouts)", timeouts)
	}
	t.Logf("captured %d packets (%d timeouts)", got, timeouts)

	// ReadPacket must not allocate, whether it returns a packet or times out.
	allocs := testing.AllocsPerRun(5, func() {
		if _, _, _, err := h.ReadPacket(); err != nil && !errors.Is(err, ErrTimeout) {
			t.Errorf("ReadPacket: %v", err)
		}
	})
	switch {
	case allocs == 0:
	case raceEnabled:
		// Under -race, sync.Pool (used inside purego) randomly drops
		// items, so an occasional allocation is expected there.
		t.Logf("ReadPacket: %v allocations per call under -race (sync.Pool drops items in race mode)", allocs)
	default:
		t.Errorf("ReadPacket allocates %v times per call, want 0", allocs)
	}

	stop()
	senderWG.Wait()

	recv, drop, ifdrop, err := h.Stats()
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	t.Logf("Stats: received %d, dropped %d, ifdropped %d", recv, drop, ifdrop)
	if recv == 0 {
		t.Errorf("Stats: received = 0, want > 0")
	}

	// BreakLoop makes the next read return io.EOF at once.
	h.BreakLoop()
	start := time.Now()
	for {
		_, _, _, err := h.ReadPacket()
		if errors.Is(err, io.EOF) {
			if d := time.Since(start); d > 50*time.Millisecond {
				t.Errorf("io.EOF after BreakLoop took %v", d)
			}
			break
		}
		if err != nil && !errors.Is(err, ErrTimeout) {
			t.Fatalf("ReadPacket after BreakLoop: %v", err)
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("ReadPacket did not return io.EOF after BreakLoop")
		}
	}

	h.Close()
	h.Close() // idempotent
	if _, _, _, err := h.ReadPacket(); !errors.Is(err, ErrClosed) {
		t.Errorf("ReadPacket after Close: %v, want ErrClosed", err)
	}
	if _, _, _, err := h.Stats(); !errors.Is(err, ErrClosed) {
		t.Errorf("Stats after Close: %v, want ErrClosed", err)
	}
	if err := h.SetFilter("udp"); !errors.Is(err, ErrClosed) {
		t.Errorf("SetFilter after Close: %v, want ErrClosed", err)
	}
	if lt := h.LinkType(); lt != -1 {
		t.Errorf("LinkType after Close = %d, want -1", lt)
	}
	h.BreakLoop() // no-op
}

// quietFilter matches nothing that this test suite sends.
const quietFilter = "udp and src port 9 and dst port 9 and host 127.0.0.254"

// TestReadTimeoutQuiet checks that ReadPacket returns ErrTimeout on a
// handle that sees no packets. With libpcap's blocking pcap_next_ex on Linux
// (TPACKET_V3) this would block forever.
func TestReadTimeoutQuiet(t *testing.T) {
	requireCapture(t)
	const timeout = 100 * time.Millisecond
	h, err := OpenLive("lo", 128, false, 0, timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if !h.nonblock {
		t.Logf("libpcap handle is in blocking mode: timeout relies on libpcap")
	}
	if err := h.SetFilter(quietFilter); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		start := time.Now()
		done := make(chan error, 1)
		go func() {
			_, _, _, err := h.ReadPacket()
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("read %d: %v, want ErrTimeout", i, err)
			}
			if d := time.Since(start); d < timeout-10*time.Millisecond || d > timeout+500*time.Millisecond {
				t.Errorf("read %d: ErrTimeout after %v, want about %v", i, d, timeout)
			}
		case <-time.After(5 * time.Second):
			h.Close() // unblocks the goroutine
			t.Fatalf("read %d: ReadPacket still blocked after 5 s with a %v timeout", i, timeout)
		}
	}
	// The timeout path (ppoll) does not allocate either.
	allocs := testing.AllocsPerRun(2, func() {
		if _, _, _, err := h.ReadPacket(); !errors.Is(err, ErrTimeout) {
			t.Errorf("ReadPacket: %v", err)
		}
	})
	if allocs != 0 && !raceEnabled {
		t.Errorf("ReadPacket (timeout) allocates %v times per call, want 0", allocs)
	}
}

// TestCloseInterruptsRead checks that Close from another goroutine ends a
// blocked ReadPacket without waiting for a long timeout, and that concurrent
// Stats calls are safe (run with -race).
func TestCloseInterruptsRead(t *testing.T) {
	requireCapture(t)
	// No timeout: only Close can end the read.
	h, err := OpenLive("lo", 128, false, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A filter nothing matches, so the read blocks.
	if err := h.SetFilter(quietFilter); err != nil {
		t.Fatal(err)
	}
	readErr := make(chan error, 1)
	go func() {
		for {
			_, _, _, err := h.ReadPacket()
			if err != nil && !errors.Is(err, ErrTimeout) {
				readErr <- err
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 20 {
				if _, _, _, err := h.Stats(); err != nil && !errors.Is(err, ErrClosed) {
					t.Errorf("Stats: %v", err)
				}
			}
		})
	}
	wg.Wait()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	h.Close()
	select {
	case err := <-readErr:
		if !errors.Is(err, io.EOF) && !errors.Is(err, ErrClosed) {
			t.Errorf("ReadPacket ended with %v, want io.EOF or ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadPacket still blocked 10 s after Close")
	}
	t.Logf("Close returned after %v", time.Since(start))
}

func TestOpenLiveNoSuchDevice(t *testing.T) {
	requireLibpcap(t)
	h, err := OpenLive("nonexistent0", 256, false, 0, 100*time.Millisecond)
	if err == nil {
		h.Close()
		t.Fatal("OpenLive(nonexistent0) succeeded")
	}
	if errors.Is(err, ErrPermission) {
		t.Skipf("skipping: not allowed to capture, libpcap reports permission before device: %v", err)
	}
	if !errors.Is(err, ErrNoSuchDevice) {
		t.Fatalf("OpenLive(nonexistent0) = %v, want ErrNoSuchDevice", err)
	}
	if want := `no such interface "nonexistent0": list interfaces with --capture.list-interfaces`; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

// TestOpenLivePermission runs this test binary as user nobody and checks that
// OpenLive reports ErrPermission there.
func TestOpenLivePermission(t *testing.T) {
	if os.Getenv("LIBPCAP_TEST_PERMISSION_CHILD") == "1" {
		h, err := OpenLive("lo", 128, false, 0, 100*time.Millisecond)
		if err == nil {
			h.Close()
			fmt.Println("RESULT: opened")
			return
		}
		fmt.Printf("RESULT: ErrPermission=%v err=%v\n", errors.Is(err, ErrPermission), err)
		return
	}
	requireLibpcap(t)
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root to start a child process as user nobody")
	}
	// Copy the test binary where nobody can execute it.
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "libpcap.test")
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestOpenLivePermission$", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LIBPCAP_TEST_PERMISSION_CHILD=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	s := string(out)
	switch {
	case strings.Contains(s, "RESULT: opened"):
		t.Skip("skipping: user nobody can capture here (capabilities granted?)")
	case !strings.Contains(s, "RESULT: ErrPermission=true"):
		t.Fatalf("child did not get ErrPermission:\n%s", s)
	case !strings.Contains(s, `permission denied opening "lo": the exporter needs CAP_NET_RAW`):
		t.Errorf("unexpected permission message:\n%s", s)
	}
	t.Logf("child output: %s", strings.TrimSpace(s))
}
