//go:build linux

package capture

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// requireNetns skips unless the test can create network namespaces.
func requireNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping live capture test: needs root to create network namespaces and capture")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipping live capture test: needs the ip command (iproute2)")
	}
}

var nsSeq atomic.Int64

func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// vethLab is a veth pair between two network namespaces created for one
// test: a0 (10.251.N.1/24) in nsA, b0 (10.251.N.2/24) in nsB. Nothing is
// routed anywhere else: the namespaces have no default route.
type vethLab struct {
	nsA, nsB     string
	addrA, addrB net.IP
}

func newVethLab(t *testing.T) *vethLab {
	t.Helper()
	requireNetns(t)
	id := fmt.Sprintf("%d-%d", os.Getpid(), nsSeq.Add(1))
	l := &vethLab{
		nsA:   "natest-a-" + id,
		nsB:   "natest-b-" + id,
		addrA: net.IPv4(10, 251, 77, 1).To4(),
		addrB: net.IPv4(10, 251, 77, 2).To4(),
	}
	for _, ns := range []string{l.nsA, l.nsB} {
		if err := ipCmd("netns", "add", ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := ipCmd("netns", "del", ns); err != nil {
				t.Error(err)
			}
		})
		// Quiet links: no IPv6 autoconfiguration chatter.
		_ = exec.Command("ip", "netns", "exec", ns, "sh", "-c",
			"echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6").Run()
		if err := ipCmd("-n", ns, "link", "set", "lo", "up"); err != nil {
			t.Fatal(err)
		}
	}
	l.addLink(t)
	return l
}

// addLink (re)creates the veth pair.
func (l *vethLab) addLink(t *testing.T) {
	t.Helper()
	steps := [][]string{
		{"-n", l.nsA, "link", "add", "a0", "type", "veth", "peer", "name", "b0", "netns", l.nsB},
		{"-n", l.nsA, "addr", "add", l.addrA.String() + "/24", "dev", "a0"},
		{"-n", l.nsB, "addr", "add", l.addrB.String() + "/24", "dev", "b0"},
		{"-n", l.nsA, "link", "set", "a0", "up"},
		{"-n", l.nsB, "link", "set", "b0", "up"},
	}
	for _, s := range steps {
		if err := ipCmd(s...); err != nil {
			t.Fatal(err)
		}
	}
}

// inNetns runs fn on an OS thread switched to the named namespace. Sockets
// created by fn stay in that namespace and may be used from anywhere.
func inNetns(name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is unlocked only once back in its own namespace;
		// otherwise it dies with this goroutine.
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open("/var/run/netns/" + name)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", name, err)
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

// openIn opens a live capture inside namespace ns.
func openIn(t *testing.T, ns string, cfg LiveConfig) (Source, error) {
	t.Helper()
	var src Source
	err := inNetns(ns, func() error {
		var err error
		src, err = OpenLive(cfg)
		return err
	})
	if err == nil {
		t.Cleanup(func() { src.Close() })
	}
	return src, err
}

// listenIn opens a packet socket (net.ListenPacket) inside namespace ns.
func listenIn(t *testing.T, ns, network, addr string) net.PacketConn {
	t.Helper()
	var c net.PacketConn
	err := inNetns(ns, func() error {
		var err error
		c, err = net.ListenPacket(network, addr)
		return err
	})
	if err != nil {
		t.Fatalf("listen %s %s in %s: %v", network, addr, ns, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// echoRequest builds an ICMP echo request carrying payload.
func echoRequest(id, seq uint16, payload []byte) []byte {
	b := make([]byte, 8+len(payload))
	b[0] = 8
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	copy(b[8:], payload)
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(b[2:], ^uint16(sum))
	return b
}

func TestExperimentDelete(t *testing.T) {
	l := newVethLab(t)
	for _, m := range []string{MethodAFPacket, MethodPcap} {
		src, err := openIn(t, l.nsB, LiveConfig{Interface: "b0", Method: m, Snaplen: 256})
		if err != nil {
			t.Fatal(err)
		}
		if err := ipCmd("-n", l.nsB, "link", "set", "b0", "down"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		n := 0
		for time.Since(start) < time.Second {
			_, err := src.Next()
			n++
			if n < 5 || n%1000 == 0 {
				t.Logf("%s down: %v after %v", m, err, time.Since(start))
			}
		}
		t.Logf("%s down: %d calls", m, n)
		if err := ipCmd("-n", l.nsB, "link", "del", "b0"); err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		n = 0
		for time.Since(start) < time.Second {
			_, err := src.Next()
			n++
			if n < 5 || n%1000 == 0 {
				t.Logf("%s deleted: %v after %v", m, err, time.Since(start))
			}
		}
		t.Logf("%s deleted: %d calls", m, n)
		l.addLink(t)
	}
}
