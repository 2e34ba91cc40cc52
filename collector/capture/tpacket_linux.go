package capture

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// tpacketRing is an AF_PACKET socket with a TPACKET_V3 receive ring: the
// kernel fills blocks of packets in memory shared with the process and
// hands each over whole (once full, or after the block timeout); the
// reader walks the block's packets and gives it back.
//
// While the ring is empty the reader waits in Go's network poller, not in
// a poll(2) system call: a goroutine blocked in a system call holds its
// thread, and the runtime's monitor, which hands such a thread's processor
// to others, then wakes every 20 µs for a millisecond after each wait; at
// 300 k packets/s that was a tenth of the exporter's CPU.
type tpacketRing struct {
	fd   int
	file *os.File        // fd, registered with the poller
	conn syscall.RawConn // nil if the poller refused it: poll(2) then
	ring []byte
	// blockSize and blocks are the ring's geometry; cur is the block the
	// reader is at, held says it holds that block (its packets are being
	// read), left and off are the packets left in it and the next one's
	// offset in the block.
	blockSize, blocks int
	cur               int
	held              bool
	left              uint32
	off               int
	// stats are the kernel's PACKET_STATISTICS, which reset when read,
	// added up.
	received, dropped uint64
	// joined is when the socket joined its fanout group (0: none).
	joined int64
}

// Offsets in struct tpacket_block_desc (with its tpacket_hdr_v1) and
// struct tpacket3_hdr, from linux/if_packet.h.
const (
	blockStatusOff = 8  // block_status
	blockNumOff    = 12 // num_pkts
	blockFirstOff  = 16 // offset_to_first_pkt
	pktNextOff     = 0  // tp_next_offset
	pktSecOff      = 4  // tp_sec
	pktNsecOff     = 8  // tp_nsec
	pktSnapOff     = 12 // tp_snaplen
	pktLenOff      = 16 // tp_len
	pktMacOff      = 24 // tp_mac (16 bits)
	pktHdrLen      = 48 // sizeof(struct tpacket3_hdr)
)

// errFanout is a failure to join the fanout group.
var errFanout = errors.New("join the fanout group")

// errRingEmpty says the ring holds no packet now.
var errRingEmpty = errors.New("capture: ring empty")

// ringConfig is what openRing sets up, in the order that lets no packet in
// unfiltered: the ring and the filter are in place before the socket is
// bound to a protocol and an interface.
type ringConfig struct {
	dgram            bool // SOCK_DGRAM: cooked frames from the network header ("any")
	ifindex          int  // 0: every interface
	frame, block, nr int
	retire           time.Duration
	filter           []bpf.RawInstruction
	fanout           int // PACKET_FANOUT argument, 0 for none
	promisc          bool
}

func openRing(c ringConfig) (*tpacketRing, error) {
	typ := unix.SOCK_RAW
	if c.dgram {
		typ = unix.SOCK_DGRAM
	}
	// Protocol 0: the socket receives nothing until bound below.
	fd, err := unix.Socket(unix.AF_PACKET, typ|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	r := &tpacketRing{fd: fd, blockSize: c.block, blocks: c.nr}
	fail := func(what string, err error) (*tpacketRing, error) {
		r.close()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fail("TPACKET_V3 (Linux 3.2 or later)", err)
	}
	req := unix.TpacketReq3{
		Block_size:     uint32(c.block),
		Block_nr:       uint32(c.nr),
		Frame_size:     uint32(c.frame),
		Frame_nr:       uint32(c.block / c.frame * c.nr),
		Retire_blk_tov: uint32(c.retire / time.Millisecond),
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fail(fmt.Sprintf("receive ring of %d blocks of %d KiB", c.nr, c.block>>10), err)
	}
	if r.ring, err = unix.Mmap(fd, 0, c.block*c.nr, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		return fail("map the receive ring", err)
	}
	if len(c.filter) > 0 {
		prog := unix.SockFprog{Len: uint16(len(c.filter)), Filter: (*unix.SockFilter)(unsafe.Pointer(&c.filter[0]))}
		if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog); err != nil {
			return fail("attach the capture filter", err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: c.ifindex}); err != nil {
		return fail("bind", err)
	}
	if c.fanout != 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, c.fanout); err != nil {
			r.close()
			return nil, fmt.Errorf("%w: %w", errFanout, err)
		}
		r.joined = time.Now().UnixNano()
	}
	if c.promisc {
		mreq := unix.PacketMreq{Ifindex: int32(c.ifindex), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return fail("promiscuous mode", err)
		}
	}
	// The counters start at the bind, with the first packet: nothing to
	// clear (a fanout member's packets from before it joined are counted
	// here and skipped by the source, which takes them out of Received).
	r.file = os.NewFile(uintptr(fd), "packet socket")
	if r.file.SetReadDeadline(time.Time{}) == nil {
		r.conn, _ = r.file.SyscallConn()
	}
	return r, nil
}

// htons returns v in network byte order, whatever the host's.
func htons(v uint16) uint16 {
	b := [2]byte{byte(v >> 8), byte(v)}
	return *(*uint16)(unsafe.Pointer(&b[0]))
}

func (r *tpacketRing) u32(off int) uint32 { return *(*uint32)(unsafe.Pointer(&r.ring[off])) }

// status is the block_status word of block b, read as the kernel wrote it
// last: the kernel sets TP_STATUS_USER after it has filled the block.
func (r *tpacketRing) status(b int) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.ring[b*r.blockSize+blockStatusOff]))
}

// next returns the next packet: its bytes (valid until the next call),
// time and length on the wire, or errRingEmpty.
func (r *tpacketRing) next() (data []byte, nanos int64, wire int, err error) {
	for {
		if r.held {
			if r.left > 0 {
				if data, nanos, wire, ok := r.packet(); ok {
					return data, nanos, wire, nil
				}
			}
			// Done with the block: the kernel may fill it again.
			atomic.StoreUint32(r.status(r.cur), unix.TP_STATUS_KERNEL)
			r.held = false
			r.cur = (r.cur + 1) % r.blocks
		}
		if atomic.LoadUint32(r.status(r.cur))&unix.TP_STATUS_USER == 0 {
			return nil, 0, 0, errRingEmpty
		}
		base := r.cur * r.blockSize
		r.held, r.left, r.off = true, r.u32(base+blockNumOff), int(r.u32(base+blockFirstOff))
	}
}

// packet reads the packet at r.off in the held block and moves on. The
// kernel wrote the headers; they are bounds-checked all the same, and a
// block that does not add up is left at that packet (false).
func (r *tpacketRing) packet() ([]byte, int64, int, bool) {
	base := r.cur * r.blockSize
	off := r.off
	if off < 0 || off+pktHdrLen > r.blockSize {
		return nil, 0, 0, false
	}
	p := base + off
	// In 64 bits: a header's 32-bit fields overflow an int on 32-bit hosts.
	mac := uint64(*(*uint16)(unsafe.Pointer(&r.ring[p+pktMacOff])))
	snap, next := uint64(r.u32(p+pktSnapOff)), uint64(r.u32(p+pktNextOff))
	if mac < pktHdrLen || uint64(off)+mac+snap > uint64(r.blockSize) {
		return nil, 0, 0, false
	}
	r.left--
	if next == 0 || uint64(off)+next >= uint64(r.blockSize) {
		r.left = 0 // the block's last packet, or a block that does not add up
	}
	r.off = off + int(min(next, uint64(r.blockSize)))
	nanos := int64(r.u32(p+pktSecOff))*1e9 + int64(r.u32(p+pktNsecOff))
	data := r.ring[p+int(mac) : p+int(mac+snap) : p+int(mac+snap)]
	return data, nanos, int(r.u32(p + pktLenOff)), true
}

// wait waits up to d for the kernel to hand over a block. It returns nil
// when one is there, errRingEmpty after d, errSocket when the socket has
// an error (POLLERR: the interface went down or away), and the poller's
// error otherwise.
func (r *tpacketRing) wait(d time.Duration) error {
	ready := func() bool { return atomic.LoadUint32(r.status(r.cur))&unix.TP_STATUS_USER != 0 }
	if r.held || ready() {
		return nil
	}
	if r.conn == nil {
		if err := r.poll(d); err != nil || ready() {
			return err
		}
		return errRingEmpty
	}
	if err := r.file.SetReadDeadline(time.Now().Add(d)); err != nil {
		return err
	}
	// The kernel sets the socket's error when the interface goes down and
	// keeps it until the socket is closed. The poller wakes the read on it
	// but reports it as an error only when it comes alone (a packet socket
	// is writable as well): each look at the ring checks it too, the first
	// at once.
	sockErr := false
	err := r.conn.Read(func(uintptr) bool {
		if ready() {
			return true
		}
		sockErr = r.pollError()
		return sockErr
	})
	switch {
	case sockErr:
		return errSocket
	case err == nil:
		return nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errRingEmpty
	case r.pollError():
		return errSocket
	}
	return err
}

// pollError reports whether the socket has an error (POLLERR) now. A raw
// system call: it does not block, and one made the usual way wakes the
// runtime's monitor (to hand the thread's processor on should it block),
// which then polls every 20 µs for a millisecond.
func (r *tpacketRing) pollError() bool {
	fds := [1]unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLIN}}
	var now unix.Timespec
	n, _, errno := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), 1, uintptr(unsafe.Pointer(&now)), 0, 0, 0)
	return errno == 0 && n > 0 && fds[0].Revents&unix.POLLERR != 0
}

// poll waits up to d in poll(2) and returns errSocket on POLLERR.
func (r *tpacketRing) poll(d time.Duration) error {
	fds := []unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, int(d/time.Millisecond))
	switch {
	case err != nil && !errors.Is(err, unix.EINTR):
		return err
	case n > 0 && fds[0].Revents&unix.POLLERR != 0:
		return errSocket
	}
	return nil
}

// errSocket is an error reported on the socket (POLLERR).
var errSocket = errors.New("capture: error on the packet socket")

// stats adds the kernel's counters since the last call and returns the
// totals: packets received (dropped ones included) and dropped.
func (r *tpacketRing) stats() (received, dropped uint64) {
	if s, err := unix.GetsockoptTpacketStatsV3(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
		r.received += uint64(s.Packets)
		r.dropped += uint64(s.Drops)
	}
	return r.received, r.dropped
}

func (r *tpacketRing) close() {
	if r.ring != nil {
		_ = unix.Munmap(r.ring)
		r.ring = nil
	}
	if r.file != nil {
		_ = r.file.Close()
		r.file = nil
	} else if r.fd >= 0 {
		_ = unix.Close(r.fd)
	}
	r.fd = -1
}
