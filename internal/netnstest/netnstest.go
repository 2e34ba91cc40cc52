//go:build linux

// Package netnstest builds what live-capture tests need: two network
// namespaces of the test's own joined by a veth pair, with no route out,
// and a way to run code inside one of them.
//
// It is a test helper beside the flow: only tests import it, those of
// collector/capture and of the packages above it that capture live.
package netnstest

import (
	"bytes"
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

// Lab is a veth pair between two namespaces created for one test: a0
// (AddrA/24) in namespace A, b0 (AddrB/24) in namespace B. The namespaces
// have no default route, so nothing sent in them leaves.
type Lab struct {
	A, B         string
	AddrA, AddrB net.IP
}

var seq atomic.Int64

// New creates the namespaces (removed when the test ends) and the pair.
// It skips the test unless it runs as root with the ip command (iproute2).
// name tells the namespaces of one test package from another's.
func New(t *testing.T, name string) *Lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping live capture test: needs root to create network namespaces and capture")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("skipping live capture test: needs the ip command (iproute2)")
	}
	id := fmt.Sprintf("%s-%d-%d", name, os.Getpid(), seq.Add(1))
	l := &Lab{
		A:     "na-a-" + id,
		B:     "na-b-" + id,
		AddrA: net.IPv4(10, 251, 77, 1).To4(),
		AddrB: net.IPv4(10, 251, 77, 2).To4(),
	}
	for _, ns := range []string{l.A, l.B} {
		if err := IP("netns", "add", ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := IP("netns", "del", ns); err != nil {
				t.Error(err)
			}
		})
		// Quiet links: no IPv6 autoconfiguration chatter.
		_ = exec.Command("ip", "netns", "exec", ns, "sh", "-c",
			"echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6").Run()
		if err := IP("-n", ns, "link", "set", "lo", "up"); err != nil {
			t.Fatal(err)
		}
	}
	l.AddLink(t)
	return l
}

// AddLink (re)creates the veth pair and waits until both ends have
// carrier.
func (l *Lab) AddLink(t *testing.T) {
	t.Helper()
	for _, s := range [][]string{
		{"-n", l.A, "link", "add", "a0", "type", "veth", "peer", "name", "b0", "netns", l.B},
		{"-n", l.A, "addr", "add", l.AddrA.String() + "/24", "dev", "a0"},
		{"-n", l.B, "addr", "add", l.AddrB.String() + "/24", "dev", "b0"},
		{"-n", l.A, "link", "set", "a0", "up"},
		{"-n", l.B, "link", "set", "b0", "up"},
	} {
		if err := IP(s...); err != nil {
			t.Fatal(err)
		}
	}
	WaitCarrier(t, l.A, "a0")
	WaitCarrier(t, l.B, "b0")
}

// WaitCarrier waits until dev in namespace ns has carrier: before that the
// kernel drops what is sent on it.
func WaitCarrier(t *testing.T, ns, dev string) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		out, err := exec.Command("ip", "-n", ns, "link", "show", dev).CombinedOutput()
		if err == nil && bytes.Contains(out, []byte("LOWER_UP")) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s in %s has no carrier after 3s: %v %s", dev, ns, err, out)
		}
	}
}

// IP runs the ip command and returns its output in the error.
func IP(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// Do runs fn on an OS thread switched to namespace ns. Sockets fn creates
// stay in that namespace and may be used from anywhere.
func Do(ns string, fn func() error) error {
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
