package capture

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/netanomaly/netanomaly_exporter/collector/capture/libpcap"
)

// afpacketSource reads a TPACKET_V3 ring.
type afpacketSource struct {
	tp    *afpacket.TPacket
	link  uint16
	iface string
	// ifindex is the index of the capture interface (0 for "any"), and
	// ctl a socket in the capture's network namespace used to check that
	// the interface still exists (-1 if none).
	ifindex int
	ctl     int
	// gopacket keeps 32-bit running totals that wrap.
	recv, drop wrapCounter
	// notBefore is when a fanout member joined its group: until then it
	// received every packet of the interface, which the group's other
	// members also count. Earlier packets in its ring are skipped.
	notBefore int64
	skipped   uint64 // packets skipped for that, left out of Stats
}

func openAFPacket(cfg LiveConfig) (Source, error) {
	var link uint16
	ifindex := 0
	poll, retire := PollInterval, 100*time.Millisecond
	if cfg.Fanout != 0 {
		poll, retire = FanoutPoll, FanoutDelay
	}
	opts := []any{
		afpacket.OptTPacketVersion(afpacket.TPacketVersion3),
		afpacket.OptPollTimeout(poll),
		afpacket.OptBlockTimeout(retire),
	}
	if cfg.Interface == "any" {
		// Frames from all interfaces have different link headers: take
		// them cooked, starting at the network header.
		opts = append(opts, afpacket.SocketDgram)
		link = linkRaw
	} else {
		opts = append(opts, afpacket.OptInterface(cfg.Interface))
		link = interfaceLinkType(cfg.Interface)
		ifi, err := net.InterfaceByName(cfg.Interface)
		if err != nil {
			return nil, fmt.Errorf("%w %q: list the interfaces with --capture.list-interfaces", ErrNoSuchInterface, cfg.Interface)
		}
		ifindex = ifi.Index
	}
	frame, block, blocks := ringSize(cfg.Snaplen, cfg.BufferBytes)
	opts = append(opts, afpacket.OptFrameSize(frame), afpacket.OptBlockSize(block), afpacket.OptNumBlocks(blocks))

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
	prog = append(skipLoopbackOutgoing(cfg.Interface), prog...)
	tp, err := afpacket.NewTPacket(opts...)
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, os.ErrPermission) {
			return nil, liveErr(cfg.Interface, os.ErrPermission)
		}
		return nil, fmt.Errorf("open AF_PACKET socket on %q: %w", cfg.Interface, err)
	}
	if len(prog) > 0 {
		if err := tp.SetBPF(prog); err != nil {
			tp.Close()
			return nil, fmt.Errorf("attach capture filter on %q: %w", cfg.Interface, err)
		}
	}
	var joined int64
	if cfg.Fanout != 0 {
		if err := tp.SetFanout(afpacket.FanoutHashWithDefrag, cfg.Fanout); err != nil {
			tp.Close()
			return nil, fmt.Errorf("join capture workers' fanout group %d on %q: %w (Linux 3.1 or later; another process may use the group: restart to pick another)", cfg.Fanout, cfg.Interface, err)
		}
		joined = time.Now().UnixNano()
	}
	if cfg.Promiscuous && cfg.Interface != "any" {
		if err := tp.SetPromiscuous(true); err != nil {
			tp.Close()
			if errors.Is(err, syscall.EPERM) {
				return nil, liveErr(cfg.Interface, os.ErrPermission)
			}
			return nil, fmt.Errorf("promiscuous mode on %q: %w", cfg.Interface, err)
		}
	}
	ctl := -1
	if ifindex != 0 {
		// Created here, it lives in the same network namespace as tp.
		if ctl, err = unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			tp.Close()
			return nil, fmt.Errorf("open control socket for %q: %w", cfg.Interface, err)
		}
	}
	return &afpacketSource{tp: tp, link: link, iface: cfg.Interface, ifindex: ifindex, ctl: ctl, notBefore: joined}, nil
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
	data, ci, err := s.tp.ZeroCopyReadPacketData()
	for err == nil && s.notBefore != 0 {
		if ci.Timestamp.UnixNano() >= s.notBefore {
			s.notBefore = 0
			break
		}
		s.skipped++
		data, ci, err = s.tp.ZeroCopyReadPacketData()
	}
	if err != nil {
		if errors.Is(err, afpacket.ErrTimeout) {
			return Packet{}, ErrTimeout
		}
		if errors.Is(err, afpacket.ErrPoll) {
			// POLLERR: the kernel set ENETDOWN on the socket because the
			// interface went down or was removed. gopacket never reads
			// that error, so every later poll fails at once.
			if err := s.checkInterface(); err != nil {
				return Packet{}, err
			}
			// Down: nothing to capture; wait as for a timeout, do not spin.
			time.Sleep(PollInterval)
			return Packet{}, ErrTimeout
		}
		return Packet{}, fmt.Errorf("read packet on %q: %w", s.iface, err)
	}
	return Packet{Data: data, TimeNanos: ci.Timestamp.UnixNano(), WireLen: ci.Length, LinkType: s.link}, nil
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

// Stats returns running totals: gopacket accumulates the kernel's
// read-and-reset PACKET_STATISTICS counters in 32 bits, we widen them.
// The kernel counts dropped packets in received too.
func (s *afpacketSource) Stats() Stats {
	if _, v3, err := s.tp.SocketStats(); err == nil {
		s.recv.update(uint64(v3.Packets()))
		s.drop.update(uint64(v3.Drops()))
	}
	return Stats{Received: s.recv.total - min(s.skipped, s.recv.total), KernelDropped: s.drop.total}
}

func (s *afpacketSource) Close() error {
	s.tp.Close()
	if s.ctl >= 0 {
		_ = unix.Close(s.ctl)
		s.ctl = -1
	}
	return nil
}
