//go:build linux && (amd64 || arm64 || loong64 || ppc64le || riscv64)

package libpcap

import (
	"encoding/binary"
	"fmt"
	"io"
	"runtime"
	"strings"
	"structs"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"
	"golang.org/x/sys/unix"
)

// pcapPkthdr mirrors struct pcap_pkthdr on LP64 Linux:
// {struct timeval ts {long tv_sec; long tv_usec}; bpf_u_int32 caplen; bpf_u_int32 len;}.
type pcapPkthdr struct {
	_      structs.HostLayout
	Sec    int64
	Usec   int64 // nanoseconds when the handle uses PCAP_TSTAMP_PRECISION_NANO
	Caplen uint32
	Len    uint32
}

// pcapStat mirrors struct pcap_stat on Linux: {u_int ps_recv, ps_drop, ps_ifdrop;}.
type pcapStat struct {
	_      structs.HostLayout
	Recv   uint32
	Drop   uint32
	IfDrop uint32
}

var (
	_ [24 - unsafe.Sizeof(pcapPkthdr{})]struct{}
	_ [unsafe.Sizeof(pcapPkthdr{}) - 24]struct{}
	_ [12 - unsafe.Sizeof(pcapStat{})]struct{}
	_ [unsafe.Sizeof(pcapStat{}) - 12]struct{}
)

// readState is the per-Handle scratch memory used by ReadPacket. It is
// allocated on the Go heap once per Handle (heap objects do not move) and
// is what makes ReadPacket allocation-free.
type readState struct {
	// pcap_next_ex's two output pointers. They only ever hold C pointers,
	// stored as uintptr so the GC never looks at them.
	hdr  uintptr // const struct pcap_pkthdr *
	data uintptr // const u_char *
	// args holds pcap_next_ex's arguments. Passing an existing slice to the
	// variadic purego.SyscallN avoids the per-call heap allocation of its
	// argument slice (SyscallN is go:uintptrescapes, so a literal argument
	// list escapes). The pointers stored here point into this same object.
	args [3]uintptr

	pfds [2]unix.PollFd // pcap socket, wake eventfd
	ts   unix.Timespec  // ppoll timeout
	buf  [8]byte        // eventfd counter
}

// Handle is a live libpcap capture handle.
//
// ReadPacket and SetFilter are serialised with each other; Stats, LinkType
// and BreakLoop may be called concurrently with ReadPacket (for example
// Stats from a metrics scrape while another goroutine reads). Close may be
// called from any goroutine; it interrupts a pending ReadPacket and waits
// for it to return.
type Handle struct {
	// mu protects the lifetime of p and wakeFd: every operation holds it
	// shared, Close holds it exclusively.
	mu     sync.RWMutex
	p      uintptr // pcap_t *, 0 once closed
	readMu sync.Mutex
	statMu sync.Mutex
	rs     *readState
	nano   bool // timestamps are in nanoseconds
	link   int

	// In non-blocking mode (always used when libpcap supports it) ReadPacket
	// waits with ppoll on the pcap socket and wakeFd itself, which is what
	// makes the read timeout reliable (see OpenLive). wakeFd is -1 in
	// blocking mode.
	nonblock bool
	wakeFd   int
	timeout  time.Duration // <= 0: wait forever
	breakReq atomic.Bool

	device  string
	cleanup runtime.Cleanup
}

// OpenLive opens device for live capture with pcap_create/pcap_activate.
//
// snaplen <= 0 means 262144. bufferBytes <= 0 keeps libpcap's default kernel
// buffer size (2 MiB on Linux). timeout is the read timeout: ReadPacket
// returns ErrTimeout when no packet arrived within it; timeout <= 0 makes
// ReadPacket wait until a packet arrives or BreakLoop/Close is called.
// Immediate mode is left off, so on Linux (TPACKET_V3) packets are delivered
// in batches, at the latest when the timeout expires. Nanosecond timestamps
// are requested when libpcap supports them.
//
// libpcap's own timeout is not reliable on Linux with TPACKET_V3: the kernel
// only retires non-empty blocks, so a blocking pcap_next_ex on a quiet
// interface never returns. The handle is therefore switched to non-blocking
// mode and ReadPacket waits with ppoll on libpcap's selectable descriptor and
// on an eventfd used by BreakLoop and Close. If that is not possible (very
// old libpcap) the handle stays blocking and relies on libpcap's timeout.
//
// A missing interface yields an error wrapping ErrNoSuchDevice, missing
// privileges an error wrapping ErrPermission. Activation warnings (such as
// promiscuous mode not supported) are ignored.
func OpenLive(device string, snaplen int, promisc bool, bufferBytes int, timeout time.Duration) (*Handle, error) {
	if err := Load(); err != nil {
		return nil, err
	}
	if device == "" || strings.IndexByte(device, 0) >= 0 {
		return nil, fmt.Errorf("open %q: invalid interface name", device)
	}
	if snaplen <= 0 {
		snaplen = defaultSnaplen
	}
	if snaplen > 1<<30 || bufferBytes > 1<<31-1 {
		return nil, fmt.Errorf("open %q: snaplen %d or buffer size %d out of range", device, snaplen, bufferBytes)
	}
	var ms int64
	if timeout > 0 {
		ms = int64((timeout + time.Millisecond - 1) / time.Millisecond)
		if ms > 1<<31-1 {
			ms = 1<<31 - 1
		}
	}

	errbuf := make([]byte, pcapErrbufSize)
	p := pcapCreate(device, &errbuf[0])
	if p == 0 {
		return nil, fmt.Errorf("open %q: pcap_create: %s", device, cstr(errbuf))
	}
	fail := func(what string, rc int32) error {
		err := fmt.Errorf("open %q: %s: %s", device, what, statusText(p, rc))
		pcapClose(p)
		return err
	}
	if rc := pcapSetSnaplen(p, int32(snaplen)); rc != 0 {
		return nil, fail("set snaplen", rc)
	}
	promiscFlag := int32(0)
	if promisc {
		promiscFlag = 1
	}
	if rc := pcapSetPromisc(p, promiscFlag); rc != 0 {
		return nil, fail("set promiscuous mode", rc)
	}
	if rc := pcapSetTimeout(p, int32(ms)); rc != 0 {
		return nil, fail("set timeout", rc)
	}
	if bufferBytes > 0 {
		if rc := pcapSetBufSize(p, int32(bufferBytes)); rc != 0 {
			return nil, fail("set buffer size", rc)
		}
	}
	if pcapSetImmediate != nil {
		_ = pcapSetImmediate(p, 0) // the default; rely on the timeout
	}
	nano := false
	if pcapSetTsPrec != nil {
		nano = pcapSetTsPrec(p, pcapTstampPrecisionNano) == 0
	}

	switch rc := pcapActivate(p); {
	case rc >= 0:
		// 0 or a warning (PCAP_WARNING*): usable.
	case rc == pcapErrorNoSuchDevice:
		pcapClose(p)
		return nil, fmt.Errorf("%w %q: list interfaces with --capture.list-interfaces", ErrNoSuchDevice, device)
	case rc == pcapErrorPermDenied || rc == pcapErrorPromiscPermDenied:
		pcapClose(p)
		return nil, fmt.Errorf("%w opening %q: the exporter needs CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous mode): run as root or setcap cap_net_raw,cap_net_admin+eip on the binary", ErrPermission, device)
	default:
		return nil, fail("activate", rc)
	}
	if pcapGetTsPrec != nil {
		nano = pcapGetTsPrec(p) == pcapTstampPrecisionNano
	}

	h := &Handle{
		p:       p,
		rs:      new(readState),
		nano:    nano,
		link:    int(pcapDatalink(p)),
		wakeFd:  -1,
		timeout: timeout,
		device:  device,
	}
	if pcapSetnonblock != nil && pcapSelectableFd != nil {
		if fd := pcapSelectableFd(p); fd >= 0 {
			efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
			if err == nil && pcapSetnonblock(p, 1, &errbuf[0]) == 0 {
				h.nonblock, h.wakeFd = true, efd
				h.rs.pfds = [2]unix.PollFd{
					{Fd: fd, Events: unix.POLLIN},
					{Fd: int32(efd), Events: unix.POLLIN},
				}
			} else if err == nil {
				_ = unix.Close(efd)
			}
		}
	}
	// Release the pcap_t (and eventfd) if the Handle is dropped without
	// Close.
	h.cleanup = runtime.AddCleanup(h, func(r [2]uintptr) {
		pcapClose(r[0])
		if int(r[1]) >= 0 {
			_ = unix.Close(int(r[1]))
		}
	}, [2]uintptr{p, uintptr(h.wakeFd)})
	return h, nil
}

// cstr returns the NUL-terminated string at the start of b.
func cstr(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// SetFilter compiles expr on the live handle and installs it
// (pcap_compile + pcap_setfilter). On Linux libpcap attaches the program to
// the kernel socket, with VLAN-aware code generation. It waits for a pending
// ReadPacket to return: at most the read timeout, but with a timeout <= 0
// until a packet arrives, so install the filter before starting to read.
func (h *Handle) SetFilter(expr string) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.p == 0 {
		return ErrClosed
	}
	h.readMu.Lock()
	defer h.readMu.Unlock()
	_, err := compile(h.p, expr, func(prog *bpfProgram) error {
		// libpcap copies the program (and the kernel copies it again), so
		// prog may be freed right after this call.
		if rc := pcapSetfilter(h.p, prog); rc != 0 {
			return fmt.Errorf("set filter %q on %q: %s", expr, h.device, statusText(h.p, rc))
		}
		return nil
	})
	return err
}

// LinkType returns the handle's data link type (pcap_datalink), e.g. 1 for
// Ethernet. It returns -1 after Close.
func (h *Handle) LinkType() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.p == 0 {
		return -1
	}
	return h.link
}

// ReadPacket returns the next packet (pcap_next_ex).
//
// data aliases libpcap's capture buffer: it is only valid until the next
// ReadPacket, SetFilter or Close call on h, and must be copied to be kept.
// tsNanos is the capture timestamp in nanoseconds since the Unix epoch and
// wireLen the packet's original length (len(data) is the captured length,
// at most the snap length).
//
// It returns ErrTimeout when the read timeout expired with no packet, io.EOF
// when the read was interrupted by BreakLoop or Close, ErrClosed after Close,
// and an error carrying libpcap's message otherwise. It does not allocate.
// ReadPacket calls are serialised; use one reading goroutine per Handle.
func (h *Handle) ReadPacket() (data []byte, tsNanos int64, wireLen int, err error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.p == 0 {
		return nil, 0, 0, ErrClosed
	}
	h.readMu.Lock()
	defer h.readMu.Unlock()

	rs := h.rs
	var deadline time.Time
	errWait := false
	for {
		if h.nonblock && h.breakReq.Swap(false) {
			h.drainWake()
			return nil, 0, 0, io.EOF
		}
		rs.args = [3]uintptr{h.p, uintptr(unsafe.Pointer(&rs.hdr)), uintptr(unsafe.Pointer(&rs.data))}
		r1, _, _ := purego.SyscallN(pcapNextExSym, rs.args[:]...)
		switch rc := int32(r1); rc {
		case pcapNextExOK:
			return h.packet()
		case pcapNextExTimeout:
			if !h.nonblock {
				return nil, 0, 0, ErrTimeout
			}
		case pcapNextExEOF:
			return nil, 0, 0, io.EOF
		default:
			return nil, 0, 0, fmt.Errorf("read packet on %q: %s", h.device, statusText(h.p, rc))
		}

		// Non-blocking mode and nothing to read: wait for the socket, a
		// BreakLoop/Close, or the deadline.
		ts := &rs.ts
		if h.timeout > 0 {
			now := time.Now()
			if deadline.IsZero() {
				deadline = now.Add(h.timeout)
			}
			rem := deadline.Sub(now)
			if rem <= 0 {
				return nil, 0, 0, ErrTimeout
			}
			*ts = unix.NsecToTimespec(int64(rem))
		} else {
			ts = nil
		}
		fds := rs.pfds[:]
		if errWait {
			// The socket reported an error condition that libpcap
			// handled without returning a packet or an error (e.g.
			// ENETDOWN while it checks whether the interface is gone).
			// Follow libpcap's required select timeout of 1 ms instead
			// of spinning on the socket; keep listening for BreakLoop.
			fds = rs.pfds[1:]
			if ts == nil || ts.Nano() > int64(time.Millisecond) {
				rs.ts = unix.NsecToTimespec(int64(time.Millisecond))
				ts = &rs.ts
			}
		}
		rs.pfds[0].Revents, rs.pfds[1].Revents = 0, 0
		if _, err := unix.Ppoll(fds, ts, nil); err != nil && err != unix.EINTR {
			return nil, 0, 0, fmt.Errorf("read packet on %q: poll: %w", h.device, err)
		}
		errWait = !errWait && rs.pfds[0].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0
		if rs.pfds[1].Revents&unix.POLLIN != 0 && !h.breakReq.Load() {
			h.drainWake() // stale wake-up from an already consumed BreakLoop
		}
	}
}

// packet converts the header and data returned by pcap_next_ex.
func (h *Handle) packet() (data []byte, tsNanos int64, wireLen int, err error) {
	rs := h.rs
	// Both pointers refer to C memory owned by libpcap (the header lives in
	// the pcap_t, the data in the capture ring). Converting through
	// *unsafe.Pointer avoids a uintptr->unsafe.Pointer conversion, which vet
	// reports.
	hdr := (*pcapPkthdr)(*(*unsafe.Pointer)(unsafe.Pointer(&rs.hdr)))
	ts := hdr.Sec * 1e9
	if h.nano {
		ts += hdr.Usec
	} else {
		ts += hdr.Usec * 1e3
	}
	if hdr.Caplen > 0 {
		data = unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&rs.data))), hdr.Caplen)
	}
	return data, ts, int(hdr.Len), nil
}

// drainWake resets the wake eventfd.
func (h *Handle) drainWake() {
	_, _ = unix.Read(h.wakeFd, h.rs.buf[:])
}

// Stats returns libpcap's counters (pcap_stats): packets received by the
// filter, dropped because the buffer was full, and dropped by the interface
// (Linux: only maintained in promiscuous mode). They are the raw 32-bit
// libpcap values, which wrap around; the caller has to handle wrapping.
func (h *Handle) Stats() (received, dropped, ifDropped uint64, err error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.p == 0 {
		return 0, 0, 0, ErrClosed
	}
	h.statMu.Lock()
	defer h.statMu.Unlock()
	var st pcapStat
	if rc := pcapStats(h.p, &st); rc != 0 {
		return 0, 0, 0, fmt.Errorf("stats on %q: %s", h.device, statusText(h.p, rc))
	}
	return uint64(st.Recv), uint64(st.Drop), uint64(st.IfDrop), nil
}

// BreakLoop makes a pending ReadPacket, or the next one if none is
// pending, return io.EOF (like pcap_breakloop). It is a no-op after Close.
func (h *Handle) BreakLoop() {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.p == 0 {
		return
	}
	if !h.nonblock {
		// Wakes a blocked read with libpcap >= 1.10; older versions
		// return when the timeout expires (if packets flow).
		pcapBreakloop(h.p)
		return
	}
	h.breakReq.Store(true)
	var one [8]byte // eventfd counter increment, in host byte order
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(h.wakeFd, one[:])
}

// Close interrupts a pending ReadPacket, waits for the handle's operations
// to finish and releases the handle (pcap_close). It is idempotent and safe
// to call concurrently.
func (h *Handle) Close() {
	h.BreakLoop()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.p == 0 {
		return
	}
	h.cleanup.Stop()
	pcapClose(h.p)
	h.p = 0
	if h.wakeFd >= 0 {
		_ = unix.Close(h.wakeFd)
		h.wakeFd = -1
	}
}
