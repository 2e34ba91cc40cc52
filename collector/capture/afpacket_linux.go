package capture

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/netanomaly/netanomaly_exporter/collector/capture/libpcap"
)

// afpacketSource reads a TPACKET_V3 ring.
type afpacketSource struct {
	r     *tpacketRing
	link  uint16
	iface string
	// ifindex is the index of the capture interface (0 for "any"), and
	// ctl a socket in the capture's network namespace used to check that
	// the interface still exists (-1 if none).
	ifindex int
	ctl     int
	// wait is how long Next waits for a packet before ErrTimeout.
	wait time.Duration
	// notBefore is when a fanout member joined its group: until then it
	// received every packet of the interface, which the group's other
	// members also count. Earlier packets in its ring are skipped.
	notBefore int64
	skipped   uint64 // packets skipped for that, left out of Stats
}

func openAFPacket(cfg LiveConfig) (Source, error) {
	var link uint16
	ifindex := 0
	wait, retire := PollInterval, 100*time.Millisecond
	if cfg.Fanout != 0 {
		wait, retire = FanoutPoll, FanoutDelay
	}
	rc := ringConfig{retire: retire, promisc: cfg.Promiscuous && cfg.Interface != "any"}
	if cfg.Interface == "any" {
		// Frames from all interfaces have different link headers: take
		// them cooked, starting at the network header.
		rc.dgram = true
		link = linkRaw
	} else {
		link = interfaceLinkType(cfg.Interface)
		ifi, err := net.InterfaceByName(cfg.Interface)
		if err != nil {
			return nil, fmt.Errorf("%w %q: list the interfaces with --capture.list-interfaces", ErrNoSuchInterface, cfg.Interface)
		}
		ifindex = ifi.Index
	}
	rc.ifindex = ifindex
	rc.frame, rc.block, rc.nr = ringSize(cfg.Snaplen, cfg.BufferBytes)

	var prog []bpf.RawInstruction
	if cfg.Filter != "" {
		var err error
		if prog, err = libpcap.CompileBPF(int(link), cfg.Snaplen, cfg.Filter); err != nil {
			return nil, fmt.Errorf("capture filter on %q: %w", cfg.Interface, err)
		}
	} else {
		// The ring holds whole frames otherwise: accept all, cut at snaplen
		// (a compiled filter returns snaplen too).
		prog, _ = bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: uint32(cfg.Snaplen)}})
	}
	rc.filter = append(skipLoopbackOutgoing(cfg.Interface), prog...)
	if cfg.Fanout != 0 {
		// Hash by flow, both directions alike (defragmented first, so a
		// datagram's fragments go with it), into group cfg.Fanout.
		rc.fanout = int(cfg.Fanout) | (unix.PACKET_FANOUT_HASH|unix.PACKET_FANOUT_FLAG_DEFRAG)<<16
	}
	r, err := openRing(rc)
	if err != nil {
		switch {
		case errors.Is(err, syscall.EPERM) || errors.Is(err, os.ErrPermission):
			return nil, fmt.Errorf("%w (%v)", liveErr(cfg.Interface, os.ErrPermission), err)
		case errors.Is(err, errFanout):
			return nil, fmt.Errorf("capture workers' fanout group %d on %q: %w (Linux 3.1 or later; another process may use the group: restart to pick another)", cfg.Fanout, cfg.Interface, err)
		}
		return nil, fmt.Errorf("open AF_PACKET socket on %q: %w", cfg.Interface, err)
	}
	ctl := -1
	if ifindex != 0 {
		// Created here, it lives in the same network namespace as the ring.
		if ctl, err = unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			r.close()
			return nil, fmt.Errorf("open control socket for %q: %w", cfg.Interface, err)
		}
	}
	return &afpacketSource{r: r, link: link, iface: cfg.Interface, ifindex: ifindex, ctl: ctl, notBefore: r.joined, wait: wait}, nil
}

// packetOutgoing is PACKET_OUTGOING, the sll_pkttype of a frame the host
// sends.
const packetOutgoing = 4

// skipLoopbackOutgoing returns BPF instructions to run before the capture
// filter that drop the outgoing copy of every loopback frame: loopback
// hands each frame to packet sockets twice, once sent and once received,
// and libpcap skips the sent one. On "any", only frames of the loopback
// interface are skipped (other interfaces' outgoing frames are traffic).
// In the kernel, so the duplicates are neither queued nor counted.
func skipLoopbackOutgoing(iface string) []bpf.RawInstruction {
	skip := []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: packetOutgoing, SkipFalse: 1},
		bpf.RetConstant{Val: 0},
	}
	if iface == "any" {
		lo := loopbackIndex()
		if lo == 0 {
			return nil
		}
		skip = append([]bpf.Instruction{
			bpf.LoadExtension{Num: bpf.ExtInterfaceIndex},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(lo), SkipFalse: uint8(len(skip))},
		}, skip...)
	} else if ifi, err := net.InterfaceByName(iface); err != nil || ifi.Flags&net.FlagLoopback == 0 {
		return nil
	}
	raw, err := bpf.Assemble(skip)
	if err != nil {
		panic(err) // a constant program
	}
	return raw
}

// loopbackIndex returns the index of the loopback interface, 0 if none.
func loopbackIndex() int {
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 {
			return i.Index
		}
	}
	return 0
}

// ringSize splits the requested ring into TPACKET_V3 blocks. Frames hold
// one snaplen-sized packet plus headers. Blocks are 4 MiB when the ring
// holds 8 of them (the default 32 MiB), down to 1 MiB for smaller rings
// (a ring split between capture workers), larger only for a frame that
// needs it. The kernel hands over a block when it is full, and the reader
// sleeps in poll(2) when it has read them all: with 1 MiB blocks it did so
// about 60 times a second at 300 k packets/s, and every such sleep keeps
// the Go runtime's monitor thread waking every 20 µs for a millisecond
// after it. 4 MiB blocks cost 8-16% less CPU a packet (alternating runs
// side by side on one veth); 8 MiB, no less.
func ringSize(snaplen, bufferBytes int) (frame, block, blocks int) {
	page := os.Getpagesize()
	frame = page
	for frame < snaplen+128 {
		frame <<= 1
	}
	block = 1 << 20
	for block < frame || block < 4<<20 && bufferBytes/(block<<1) >= 8 {
		block <<= 1
	}
	blocks = max(bufferBytes/block, 2)
	return frame, block, blocks
}

func (s *afpacketSource) Next() (Packet, error) {
	for {
		data, nanos, wire, err := s.r.next()
		if err == nil {
			if s.notBefore != 0 {
				if nanos < s.notBefore {
					s.skipped++
					continue
				}
				s.notBefore = 0
			}
			return Packet{Data: data, TimeNanos: nanos, WireLen: wire, LinkType: s.link}, nil
		}
		switch err := s.r.wait(s.wait); {
		case err == nil:
		case errors.Is(err, errRingEmpty):
			return Packet{}, ErrTimeout
		case errors.Is(err, errSocket):
			// POLLERR: the kernel set ENETDOWN on the socket because the
			// interface went down or was removed, and keeps reporting it.
			if err := s.checkInterface(); err != nil {
				return Packet{}, err
			}
			// Down: nothing to capture; wait as for a timeout, do not spin.
			time.Sleep(PollInterval)
			return Packet{}, ErrTimeout
		default:
			return Packet{}, fmt.Errorf("read packet on %q: %w", s.iface, err)
		}
	}
}

// checkInterface is called when the socket reports an error. It returns an
// error wrapping ErrNoSuchInterface when the interface no longer exists (by
// index: a new interface with the same name is another one, the socket
// never receives again), an error asking for a reopen when it is up again
// (the socket keeps failing poll), and nil while it is down.
func (s *afpacketSource) checkInterface() error {
	if s.ctl < 0 {
		return nil
	}
	ifr, err := unix.NewIfreq("")
	if err != nil {
		return nil
	}
	ifr.SetUint32(uint32(s.ifindex))
	if err := unix.IoctlIfreq(s.ctl, unix.SIOCGIFNAME, ifr); errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("%w %q: it disappeared during the capture", ErrNoSuchInterface, s.iface)
	} else if err != nil {
		return nil
	}
	if err := unix.IoctlIfreq(s.ctl, unix.SIOCGIFFLAGS, ifr); err == nil && ifr.Uint16()&unix.IFF_UP != 0 {
		return fmt.Errorf("capture on %q: the interface went down and up again: reopen the capture", s.iface)
	}
	return nil
}

func (s *afpacketSource) Clock() (int64, bool) { return time.Now().UnixNano(), true }

// Stats returns running totals of the kernel's read-and-reset
// PACKET_STATISTICS counters. The kernel counts dropped packets in
// received too.
func (s *afpacketSource) Stats() Stats {
	recv, drop := s.r.stats()
	return Stats{Received: recv - min(s.skipped, recv), KernelDropped: drop}
}

func (s *afpacketSource) Close() error {
	s.r.close()
	if s.ctl >= 0 {
		_ = unix.Close(s.ctl)
		s.ctl = -1
	}
	return nil
}
