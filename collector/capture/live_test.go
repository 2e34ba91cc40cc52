//go:build linux

package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/netanomaly/netanomaly_exporter/collector/capture/libpcap"
	"github.com/netanomaly/netanomaly_exporter/internal/netnstest"
)

// vethLab is the test's two namespaces and their veth pair.
type vethLab struct{ *netnstest.Lab }

func newVethLab(t *testing.T) *vethLab { return &vethLab{netnstest.New(t, "cap")} }

// openIn opens a live capture inside namespace ns.
func openIn(t *testing.T, ns string, cfg LiveConfig) (Source, error) {
	t.Helper()
	var src Source
	err := netnstest.Do(ns, func() error {
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
	err := netnstest.Do(ns, func() error {
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

// forEachMethod runs fn as a subtest per capture method. The pcap method,
// and every method when needsLibpcap (filters are compiled by libpcap), is
// skipped when libpcap cannot be loaded.
func forEachMethod(t *testing.T, needsLibpcap bool, fn func(t *testing.T, method string)) {
	for _, m := range []string{MethodAFPacket, MethodPcap} {
		t.Run(m, func(t *testing.T) {
			if m == MethodPcap || needsLibpcap {
				if err := libpcap.Load(); err != nil {
					t.Skipf("skipping: %v", err)
				}
			}
			fn(t, m)
		})
	}
}

// capturedIPv4 is the part of a captured IPv4 packet the tests look at,
// copied out of the capture buffer.
type capturedIPv4 struct {
	proto    byte
	src, dst net.IP
	l4       []byte
}

func parseCapturedIPv4(b []byte) (capturedIPv4, bool) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return capturedIPv4{}, false
	}
	ihl, total := int(b[0]&0x0f)*4, int(binary.BigEndian.Uint16(b[2:]))
	if ihl < 20 || total < ihl || len(b) < ihl {
		return capturedIPv4{}, false
	}
	end := min(total, len(b))
	return capturedIPv4{
		proto: b[9],
		src:   net.IP(slices.Clone(b[12:16])),
		dst:   net.IP(slices.Clone(b[16:20])),
		l4:    slices.Clone(b[ihl:end]),
	}, true
}

// parseCapturedEther parses an Ethernet frame carrying IPv4.
func parseCapturedEther(frame []byte) (capturedIPv4, bool) {
	if len(frame) < 14 || binary.BigEndian.Uint16(frame[12:]) != 0x0800 {
		return capturedIPv4{}, false
	}
	return parseCapturedIPv4(frame[14:])
}

// ports returns the UDP ports, ok false for anything else.
func (p capturedIPv4) ports() (src, dst int, ok bool) {
	if p.proto != 17 || len(p.l4) < 8 {
		return 0, 0, false
	}
	return int(binary.BigEndian.Uint16(p.l4[0:])), int(binary.BigEndian.Uint16(p.l4[2:])), true
}

// labSender sends bounded traffic from namespace A to b0's address.
type labSender struct {
	icmp, udp net.PacketConn
	peer      net.IP
	id        uint16
	marker    []byte
}

func (l *vethLab) newSender(t *testing.T) *labSender {
	t.Helper()
	return &labSender{
		icmp:   listenIn(t, l.A, "ip4:icmp", l.AddrA.String()),
		udp:    listenIn(t, l.A, "udp4", l.AddrA.String()+":0"),
		peer:   l.AddrB,
		id:     uint16(os.Getpid()),
		marker: fmt.Appendf(nil, "netanomaly live test %d", os.Getpid()),
	}
}

func (s *labSender) ping(seq uint16) error {
	_, err := s.icmp.WriteTo(echoRequest(s.id, seq, s.marker), &net.IPAddr{IP: s.peer})
	return err
}

func (s *labSender) sendUDP(port int, seq byte) error {
	_, err := s.udp.WriteTo(append(slices.Clone(s.marker), seq), &net.UDPAddr{IP: s.peer, Port: port})
	return err
}

// pingAsync sends n echo requests, every apart, from a goroutine that the
// test's cleanup waits for.
func (s *labSender) pingAsync(t *testing.T, n int, every time.Duration) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			if err := s.ping(uint16(i)); err != nil {
				t.Errorf("ping %d: %v", i, err)
				return
			}
			time.Sleep(every)
		}
	}()
	t.Cleanup(func() { <-done })
}

// echoSeq returns the sequence number of one of s's echo requests.
func (s *labSender) echoSeq(p capturedIPv4) (uint16, bool) {
	if p.proto != 1 || len(p.l4) < 8 || p.l4[0] != 8 || binary.BigEndian.Uint16(p.l4[4:]) != s.id || !bytes.Equal(p.l4[8:], s.marker) {
		return 0, false
	}
	return binary.BigEndian.Uint16(p.l4[6:]), true
}

// readUntil calls Next until done returns true, for at most limit. It
// returns the number of packets read.
func readUntil(t *testing.T, src Source, limit time.Duration, each func(Packet), done func() bool) int {
	t.Helper()
	n := 0
	for deadline := time.Now().Add(limit); !done(); {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v and %d packets", limit, n)
		}
		p, err := src.Next()
		if errors.Is(err, ErrTimeout) {
			continue
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		n++
		each(p)
	}
	return n
}

// drainUntilTimeout reads until a timeout, passing the packets to each.
func drainUntilTimeout(t *testing.T, src Source, each func(Packet)) int {
	t.Helper()
	n := 0
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		p, err := src.Next()
		if errors.Is(err, ErrTimeout) {
			return n
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		n++
		each(p)
	}
	t.Fatal("no timeout within 3s on a quiet link")
	return n
}

func TestLiveCapture(t *testing.T) {
	l := newVethLab(t)
	forEachMethod(t, false, func(t *testing.T, method string) {
		src, err := openIn(t, l.B, LiveConfig{Interface: "b0", Method: method, Snaplen: 256, BufferBytes: 1 << 20})
		if err != nil {
			t.Fatalf("OpenLive(b0, %s): %v", method, err)
		}
		s := l.newSender(t)
		const n = 20
		s.pingAsync(t, n, 50*time.Millisecond)
		seen := map[uint16]bool{}
		wantLen := 14 + 20 + 8 + len(s.marker)
		readUntil(t, src, 5*time.Second, func(p Packet) {
			if p.LinkType != linkEthernet {
				t.Fatalf("LinkType %d; want Ethernet (1)", p.LinkType)
			}
			if d := time.Since(time.Unix(0, p.TimeNanos)); d < -2*time.Second || d > 5*time.Second {
				t.Errorf("packet time %v is %v away from now", time.Unix(0, p.TimeNanos), d)
			}
			ip, ok := parseCapturedEther(p.Data)
			if !ok {
				return // ARP
			}
			seq, ok := s.echoSeq(ip)
			if !ok {
				return // echo replies
			}
			if !ip.src.Equal(l.AddrA) || !ip.dst.Equal(l.AddrB) {
				t.Errorf("echo request %d from %v to %v; want %v to %v", seq, ip.src, ip.dst, l.AddrA, l.AddrB)
			}
			if len(p.Data) != wantLen || p.WireLen != wantLen {
				t.Errorf("echo request %d: captured %d of %d bytes; want %d of %d", seq, len(p.Data), p.WireLen, wantLen, wantLen)
			}
			seen[seq] = true
		}, func() bool { return len(seen) == n })
		if st := src.Stats(); st.Received < n {
			t.Errorf("Stats() = %+v; want Received >= %d", st, n)
		}
		if c, ok := src.Clock(); !ok || time.Since(time.Unix(0, c)).Abs() > time.Second {
			t.Errorf("Clock() = %v, %v; want the wall clock", time.Unix(0, c), ok)
		}
	})
}

func TestLiveSnaplen(t *testing.T) {
	l := newVethLab(t)
	for _, filter := range []string{"", "icmp"} {
		t.Run(fmt.Sprintf("filter=%q", filter), func(t *testing.T) {
			forEachMethod(t, filter != "", func(t *testing.T, method string) {
				src, err := openIn(t, l.B, LiveConfig{Interface: "b0", Method: method, Filter: filter, Snaplen: 64})
				if err != nil {
					t.Fatal(err)
				}
				s := l.newSender(t)
				s.marker = bytes.Repeat([]byte("x"), 500)
				s.pingAsync(t, 3, 20*time.Millisecond)
				got := 0
				readUntil(t, src, 5*time.Second, func(p Packet) {
					if p.WireLen == 14+20+8+500 {
						got++
						if len(p.Data) != 64 {
							t.Errorf("captured %d bytes with snaplen 64", len(p.Data))
						}
					}
				}, func() bool { return got >= 3 })
			})
		})
	}
}

func TestLiveFilter(t *testing.T) {
	l := newVethLab(t)
	forEachMethod(t, true, func(t *testing.T, method string) {
		for _, tc := range []struct {
			filter string
			match  func(capturedIPv4) bool
		}{
			{"icmp", func(p capturedIPv4) bool { return p.proto == 1 }},
			{"udp port 9", func(p capturedIPv4) bool {
				sp, dp, ok := p.ports()
				return ok && (sp == 9 || dp == 9)
			}},
		} {
			t.Run(tc.filter, func(t *testing.T) {
				src, err := openIn(t, l.B, LiveConfig{Interface: "b0", Method: method, Filter: tc.filter, Snaplen: 256})
				if err != nil {
					t.Fatalf("OpenLive with filter %q: %v", tc.filter, err)
				}
				// Traffic on both sides of the matching packets: 5 UDP
				// datagrams to port 7, 5 echo requests, 5 datagrams to
				// port 9 (and the replies b0 sends back).
				s := l.newSender(t)
				const n = 5
				for i := range n {
					if err := s.sendUDP(7, byte(i)); err != nil {
						t.Fatal(err)
					}
				}
				for i := range n {
					if err := s.ping(uint16(i)); err != nil {
						t.Fatal(err)
					}
				}
				for i := range n {
					if err := s.sendUDP(9, byte(i)); err != nil {
						t.Fatal(err)
					}
				}
				var echoes, port9 int
				check := func(p Packet) {
					ip, ok := parseCapturedEther(p.Data)
					if !ok || !tc.match(ip) {
						t.Errorf("filter %q let through %x", tc.filter, p.Data)
						return
					}
					if _, ok := s.echoSeq(ip); ok {
						echoes++
					}
					if _, dp, ok := ip.ports(); ok && dp == 9 && bytes.HasPrefix(ip.l4[8:], s.marker) {
						port9++
					}
				}
				want := &echoes
				if tc.filter != "icmp" {
					want = &port9
				}
				read := readUntil(t, src, 5*time.Second, check, func() bool { return *want == n })
				// Whatever else passed the filter has arrived by now.
				read += drainUntilTimeout(t, src, check)
				if echoes+port9 != n {
					t.Errorf("saw %d echo requests and %d datagrams to port 9; want only %d of the matching kind", echoes, port9, n)
				}
				// The kernel counts only what the filter accepted.
				if st := src.Stats(); st.Received != uint64(read) {
					t.Errorf("Stats().Received = %d; want the %d packets the filter accepted", st.Received, read)
				}
			})
		}
	})
}

func TestLiveTimeout(t *testing.T) {
	l := newVethLab(t)
	forEachMethod(t, false, func(t *testing.T, method string) {
		src, err := openIn(t, l.B, LiveConfig{Interface: "b0", Method: method, Snaplen: 256})
		if err != nil {
			t.Fatal(err)
		}
		// Nothing is sent: IPv6 is off and nobody talks on the link.
		timeouts := 0
		for i := 0; i < 10 && timeouts < 3; i++ {
			start := time.Now()
			_, err := src.Next()
			d := time.Since(start)
			if err == nil {
				continue // a stray packet
			}
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("Next on a quiet link: %v; want ErrTimeout", err)
			}
			timeouts++
			if d > PollInterval+500*time.Millisecond {
				t.Errorf("ErrTimeout after %v; want about PollInterval (%v)", d, PollInterval)
			}
			if d < PollInterval/2 {
				t.Errorf("ErrTimeout after only %v; want about PollInterval (%v)", d, PollInterval)
			}
		}
		if timeouts < 3 {
			t.Errorf("%d timeouts in 10 calls on a quiet link", timeouts)
		}
	})
}

// promiscuity returns the kernel's promiscuity count of dev in ns.
// Promiscuous mode requested by a packet socket (PACKET_MR_PROMISC, used by
// both methods) raises this count; the PROMISC flag that `ip link show`
// prints only reflects `ip link set promisc on`.
func promiscuity(t *testing.T, ns, dev string) int {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns, "-d", "link", "show", dev).CombinedOutput()
	if err != nil {
		t.Fatalf("ip link show: %v: %s", err, out)
	}
	f := strings.Fields(string(out))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "promiscuity" {
			n, err := strconv.Atoi(f[i+1])
			if err != nil {
				t.Fatalf("promiscuity %q: %v", f[i+1], err)
			}
			return n
		}
	}
	t.Fatalf("no promiscuity count in %s", out)
	return 0
}

func TestLivePromiscuous(t *testing.T) {
	l := newVethLab(t)
	forEachMethod(t, false, func(t *testing.T, method string) {
		if n := promiscuity(t, l.B, "b0"); n != 0 {
			t.Fatalf("promiscuity %d before opening", n)
		}
		plain, err := openIn(t, l.B, LiveConfig{Interface: "b0", Method: method, Snaplen: 256})
		if err != nil {
			t.Fatal(err)
		}
		if n := promiscuity(t, l.B, "b0"); n != 0 {
			t.Errorf("promiscuity %d with Promiscuous false", n)
		}
		plain.Close()
		src, err := openIn(t, l.B, LiveConfig{Interface: "b0", Method: method, Snaplen: 256, Promiscuous: true})
		if err != nil {
			t.Fatalf("OpenLive with Promiscuous: %v", err)
		}
		if n := promiscuity(t, l.B, "b0"); n != 1 {
			t.Errorf("promiscuity %d while open with Promiscuous true; want 1", n)
		}
		src.Close()
		if n := promiscuity(t, l.B, "b0"); n != 0 {
			t.Errorf("promiscuity %d after Close; want 0", n)
		}
	})
}

func TestLiveAnyAFPacket(t *testing.T) {
	l := newVethLab(t)
	// Loopback traffic inside namespace B: sockets bound to 127.0.0.1 so
	// that nothing answers with port unreachable.
	sink := listenIn(t, l.B, "udp4", "127.0.0.1:0")
	other := listenIn(t, l.B, "udp4", "127.0.0.1:0")
	from := listenIn(t, l.B, "udp4", "127.0.0.1:0")
	port := sink.LocalAddr().(*net.UDPAddr).Port
	otherPort := other.LocalAddr().(*net.UDPAddr).Port
	marker := fmt.Appendf(nil, "netanomaly any %d", os.Getpid())
	send := func(t *testing.T, to, n int) {
		for i := range n {
			if _, err := from.WriteTo(append(slices.Clone(marker), byte(i)), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: to}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, filter := range []string{"", fmt.Sprintf("udp dst port %d", port)} {
		t.Run(fmt.Sprintf("filter=%q", filter), func(t *testing.T) {
			if filter != "" {
				if err := libpcap.Load(); err != nil {
					t.Skipf("skipping: %v", err)
				}
			}
			src, err := openIn(t, l.B, LiveConfig{Interface: "any", Method: MethodAFPacket, Filter: filter, Snaplen: 256})
			if err != nil {
				t.Fatalf("OpenLive(any): %v", err)
			}
			const n = 10
			send(t, otherPort, n)
			send(t, port, n)
			seen := map[byte]bool{}
			check := func(p Packet) {
				if p.LinkType != linkRaw {
					t.Fatalf("LinkType %d on any; want raw IP (%d)", p.LinkType, linkRaw)
				}
				ip, ok := parseCapturedIPv4(p.Data)
				if !ok {
					return
				}
				_, dp, ok := ip.ports()
				if !ok {
					return
				}
				if filter != "" && dp != port {
					t.Errorf("filter %q let through a datagram to port %d", filter, dp)
				}
				if dp == port && bytes.HasPrefix(ip.l4[8:], marker) && ip.dst.Equal(net.IPv4(127, 0, 0, 1)) {
					seen[ip.l4[len(ip.l4)-1]] = true
				}
			}
			readUntil(t, src, 5*time.Second, check, func() bool { return len(seen) == n })
			if filter != "" {
				drainUntilTimeout(t, src, check)
			}
		})
	}
}

func TestLiveBadFilter(t *testing.T) {
	l := newVethLab(t)
	forEachMethod(t, true, func(t *testing.T, method string) {
		const expr = "tcp port 80 and host"
		_, err := openIn(t, l.B, LiveConfig{Interface: "b0", Method: method, Filter: expr, Snaplen: 256})
		if err == nil || !strings.Contains(err.Error(), expr) {
			t.Fatalf("OpenLive with filter %q = %v; want an error quoting it", expr, err)
		}
	})
}

func TestOpenLiveErrors(t *testing.T) {
	for _, snaplen := range []int{-1, 0, 63, 262145} {
		_, err := OpenLive(LiveConfig{Interface: "lo", Method: MethodAFPacket, Snaplen: snaplen})
		if err == nil || !strings.Contains(err.Error(), "snaplen") {
			t.Errorf("snaplen %d: %v; want a snaplen error", snaplen, err)
		}
	}
	for _, method := range []string{MethodAFPacket, MethodPcap} {
		const name = "nosuch-na0"
		_, err := OpenLive(LiveConfig{Interface: name, Method: method, Snaplen: 256})
		if !errors.Is(err, ErrNoSuchInterface) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s on a missing interface: %v; want ErrNoSuchInterface naming it", method, err)
		}
	}
	if _, err := OpenLive(LiveConfig{Interface: "lo", Method: "dpdk", Snaplen: 256}); err == nil || !strings.Contains(err.Error(), "dpdk") {
		t.Errorf("unknown method: %v; want an error naming it", err)
	}
}

func TestLiveNoSuchInterfaceInNetns(t *testing.T) {
	l := newVethLab(t)
	forEachMethod(t, false, func(t *testing.T, method string) {
		// a0 exists, but in namespace A, not in B.
		_, err := openIn(t, l.B, LiveConfig{Interface: "a0", Method: method, Snaplen: 256})
		if !errors.Is(err, ErrNoSuchInterface) {
			t.Fatalf("OpenLive(a0) in %s: %v; want ErrNoSuchInterface", l.B, err)
		}
	})
}

func TestLiveInterfaceRemoved(t *testing.T) {
	l := newVethLab(t)
	forEachMethod(t, false, func(t *testing.T, method string) {
		src, err := openIn(t, l.B, LiveConfig{Interface: "b0", Method: method, Snaplen: 256})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := src.Next(); err != nil && !errors.Is(err, ErrTimeout) {
			t.Fatalf("Next before removal: %v", err)
		}
		if err := netnstest.IP("-n", l.A, "link", "del", "a0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.AddLink(t) })
		start := time.Now()
		calls := 0
		for {
			_, err := src.Next()
			calls++
			if err == nil || errors.Is(err, ErrTimeout) {
				if time.Since(start) > 3*time.Second {
					t.Fatalf("Next still returns %v %v after the interface was removed (%d calls)", err, time.Since(start), calls)
				}
				continue
			}
			if !strings.Contains(err.Error(), "b0") {
				t.Errorf("error %q does not name the interface", err)
			}
			if method == MethodAFPacket && !errors.Is(err, ErrNoSuchInterface) {
				t.Errorf("error %v; want ErrNoSuchInterface", err)
			}
			t.Logf("after %v and %d calls: %v", time.Since(start), calls, err)
			break
		}
	})
}

func TestLiveLinkDownUp(t *testing.T) {
	l := newVethLab(t)
	forEachMethod(t, false, func(t *testing.T, method string) {
		src, err := openIn(t, l.B, LiveConfig{Interface: "b0", Method: method, Snaplen: 256})
		if err != nil {
			t.Fatal(err)
		}
		if err := netnstest.IP("-n", l.B, "link", "set", "b0", "down"); err != nil {
			t.Fatal(err)
		}
		// Down is not gone: timeouts at the usual pace, no spinning.
		calls := 0
		for start := time.Now(); time.Since(start) < time.Second; calls++ {
			if _, err := src.Next(); err != nil && !errors.Is(err, ErrTimeout) {
				t.Fatalf("Next on a down interface: %v; want ErrTimeout", err)
			}
		}
		if max := int(time.Second/PollInterval) + 2; calls > max {
			t.Errorf("%d calls to Next in 1s on a down interface; want at most %d (one per PollInterval)", calls, max)
		}
		if err := netnstest.IP("-n", l.B, "link", "set", "b0", "up"); err != nil {
			t.Fatal(err)
		}
		netnstest.WaitCarrier(t, l.A, "a0")
		netnstest.WaitCarrier(t, l.B, "b0")
		if method == MethodAFPacket {
			// The AF_PACKET socket keeps reporting the error of the down
			// event: once the link is back the source asks for a reopen
			// (Pipeline reopens at once) rather than fail every poll.
			start := time.Now()
			for err = nil; err == nil || errors.Is(err, ErrTimeout); _, err = src.Next() {
				if time.Since(start) > 3*time.Second {
					t.Fatalf("no reopen request within 3s of the link coming back")
				}
			}
			if errors.Is(err, ErrNoSuchInterface) || !strings.Contains(err.Error(), "b0") {
				t.Fatalf("Next after the link came back: %v; want an error naming b0, not ErrNoSuchInterface", err)
			}
			t.Logf("after %v: %v", time.Since(start), err)
			src.Close()
			if src, err = openIn(t, l.B, LiveConfig{Interface: "b0", Method: method, Snaplen: 256}); err != nil {
				t.Fatal(err)
			}
		}
		// The capture resumes when the link is back.
		s := l.newSender(t)
		const n = 10
		s.pingAsync(t, n, 50*time.Millisecond)
		seen := map[uint16]bool{}
		readUntil(t, src, 5*time.Second, func(p Packet) {
			if ip, ok := parseCapturedEther(p.Data); ok {
				if seq, ok := s.echoSeq(ip); ok {
					seen[seq] = true
				}
			}
		}, func() bool { return len(seen) == n })
	})
}

// TestLiveLoopbackOnce checks that each loopback packet is captured once,
// as libpcap and tcpdump see it (loopback hands packet sockets a sent and
// a received copy), on lo and on any, and that the received counter agrees
// with the packets handed out.
func TestLiveLoopbackOnce(t *testing.T) {
	l := newVethLab(t)
	sink := listenIn(t, l.B, "udp4", "127.0.0.1:0")
	from := listenIn(t, l.B, "udp4", "127.0.0.1:0")
	port := sink.LocalAddr().(*net.UDPAddr).Port
	marker := fmt.Appendf(nil, "netanomaly lo %d", os.Getpid())
	const n = 200
	forEachMethod(t, false, func(t *testing.T, method string) {
		for _, iface := range []string{"lo", "any"} {
			t.Run(iface, func(t *testing.T) {
				src, err := openIn(t, l.B, LiveConfig{Interface: iface, Method: method, Snaplen: 256, BufferBytes: 4 << 20})
				if err != nil {
					t.Fatalf("OpenLive(%s): %v", iface, err)
				}
				for i := range n {
					if _, err := from.WriteTo(append(slices.Clone(marker), byte(i)), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}); err != nil {
						t.Fatal(err)
					}
				}
				ours := 0
				total := drainUntilTimeout(t, src, func(p Packet) {
					hdr := map[uint16]int{linkEthernet: 14, uint16(layers.LinkTypeLinuxSLL): 16, uint16(layers.LinkTypeLinuxSLL2): 20}[p.LinkType]
					if len(p.Data) < hdr {
						return
					}
					data := p.Data[hdr:]
					if ip, ok := parseCapturedIPv4(data); ok && ip.proto == 17 && len(ip.l4) > 8 && bytes.HasPrefix(ip.l4[8:], marker) {
						ours++
					}
				})
				if ours != n {
					t.Errorf("captured %d of our %d datagrams on %s, want each once", ours, n, iface)
				}
				if st := src.Stats(); st.Received != uint64(total) {
					t.Errorf("received counter %d, but %d packets were handed out (drops %d)", st.Received, total, st.KernelDropped)
				}
			})
		}
	})
}

// The ring is split into blocks of 4 MiB when it holds 8 of them, so that
// the reader sleeps rarely at high rates, and never into fewer than 8
// blocks when a smaller block does, so that the kernel has free blocks to
// fill while the reader holds one.
func TestRingSize(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		snaplen, buffer     int
		frame, block, count int
	}{
		{256, 32 * mib, 4096, 4 * mib, 8},  // the defaults
		{256, 64 * mib, 4096, 4 * mib, 16}, // a larger ring: more blocks
		{256, 16 * mib, 4096, 2 * mib, 8},  // split between 2 workers
		{256, 8 * mib, 4096, 1 * mib, 8},   // between 4
		{256, 3 * mib, 4096, 1 * mib, 3},   // blocks stay at least 1 MiB
		{256, 1 * mib, 4096, 1 * mib, 2},   // and at least 2 of them
		{65535, 32 * mib, 128 << 10, 4 * mib, 8},
		{262144, 32 * mib, 512 << 10, 4 * mib, 8},
	} {
		frame, block, count := ringSize(c.snaplen, c.buffer)
		if frame != c.frame || block != c.block || count != c.count {
			t.Errorf("ringSize(%d, %d MiB) = frame %d, %d blocks of %d KiB; want frame %d, %d blocks of %d KiB",
				c.snaplen, c.buffer/mib, frame, count, block>>10, c.frame, c.count, c.block>>10)
		}
	}
}

// An interface that goes down while the AF_PACKET reader waits for a block
// ends the wait with the socket's error at once, not at the wait's end:
// the poller reports POLLERR together with the socket's being writable.
func TestLiveDownDuringWait(t *testing.T) {
	l := newVethLab(t)
	src, err := openIn(t, l.B, LiveConfig{Interface: "b0", Method: MethodAFPacket, Snaplen: 256})
	if err != nil {
		t.Fatal(err)
	}
	r := src.(*afpacketSource).r
	for {
		if _, _, _, err := r.next(); errors.Is(err, errRingEmpty) {
			break // nothing held: the wait below waits
		}
	}
	down := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		down <- netnstest.IP("-n", l.B, "link", "set", "b0", "down")
	}()
	start := time.Now()
	err = r.wait(5 * time.Second)
	took := time.Since(start)
	if err := <-down; err != nil {
		t.Fatal(err)
	}
	if !errors.Is(err, errSocket) || took > 2*time.Second {
		t.Errorf("wait while the interface went down: %v after %v; want errSocket within a second or so", err, took)
	}
}
