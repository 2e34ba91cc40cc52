//go:build linux && (amd64 || arm64 || loong64 || ppc64le || riscv64)

package libpcap

import (
	"fmt"
	"strings"
	"sync"

	"github.com/ebitengine/purego"
)

// Constants from pcap/pcap.h.
const (
	pcapErrbufSize = 256

	pcapErrorBreak                   = -2
	pcapErrorNoSuchDevice            = -5
	pcapErrorPermDenied              = -8
	pcapErrorPromiscPermDenied       = -11
	pcapTstampPrecisionNano          = 1
	pcapNetmaskUnknown               = 0xffffffff
	defaultSnaplen                   = 262144 // MAXIMUM_SNAPLEN
	dltRaw                           = 12     // DLT_RAW on Linux
	linkTypeRaw                      = 101    // LINKTYPE_RAW (pcap file value of DLT_RAW)
	pcapNextExOK                     = 1
	pcapNextExTimeout                = 0
	pcapNextExEOF                    = pcapErrorBreak
	pcapOptimize               int32 = 1
)

// C types are mapped as follows (LP64 Linux):
//
//	pcap_t *          -> uintptr (opaque, C memory, never dereferenced in Go)
//	int               -> int32 (results must be int32: with a Go int result
//	                     purego would keep the undefined upper half of RAX, so
//	                     -1 would read as 4294967295)
//	bpf_u_int32       -> uint32
//	const char * arg  -> string (purego copies it to a NUL-terminated buffer
//	                     valid for the duration of the call)
//	const char * res  -> string (purego copies the C string)
//	struct X *        -> *X pointing to Go memory that holds no Go pointers
//	                     and that C does not retain after the call.
var (
	pcapOpenDead     func(linktype, snaplen int32) uintptr
	pcapCompile      func(p uintptr, fp *bpfProgram, str string, optimize int32, netmask uint32) int32
	pcapFreecode     func(fp *bpfProgram)
	pcapClose        func(p uintptr)
	pcapGeterr       func(p uintptr) string
	pcapCreate       func(source string, errbuf *byte) uintptr
	pcapSetSnaplen   func(p uintptr, snaplen int32) int32
	pcapSetPromisc   func(p uintptr, promisc int32) int32
	pcapSetTimeout   func(p uintptr, ms int32) int32
	pcapSetBufSize   func(p uintptr, size int32) int32
	pcapActivate     func(p uintptr) int32
	pcapSetfilter    func(p uintptr, fp *bpfProgram) int32
	pcapDatalink     func(p uintptr) int32
	pcapStats        func(p uintptr, ps *pcapStat) int32
	pcapBreakloop    func(p uintptr)
	pcapLibVersion   func() string
	pcapSetImmediate func(p uintptr, on int32) int32   // optional (libpcap >= 1.5)
	pcapSetTsPrec    func(p uintptr, prec int32) int32 // optional (libpcap >= 1.5)
	pcapGetTsPrec    func(p uintptr) int32             // optional (libpcap >= 1.5)
	pcapStatusToStr  func(status int32) string         // optional (libpcap >= 1.0)
	pcapSetnonblock  func(p uintptr, nonblock int32, errbuf *byte) int32
	pcapSelectableFd func(p uintptr) int32

	// pcap_next_ex is called through purego.SyscallN rather than a
	// RegisterFunc wrapper: the reflect-based wrapper allocates on every
	// call, SyscallN does not.
	pcapNextExSym uintptr
)

var (
	loadOnce sync.Once
	loadErr  error
)

// Load opens libpcap (libpcap.so.1, libpcap.so.0.8, then libpcap.so) and
// resolves the functions used by this package. The work is done once; later
// calls, including concurrent ones, return the same result. It returns
// ErrNotFound when no library can be opened. CompileBPF, OpenLive and Version
// call Load themselves.
func Load() error {
	loadOnce.Do(func() {
		loadErr = load(libNames)
	})
	return loadErr
}

// load opens the first library of names that dlopen accepts and binds the
// symbols. It is separate from Load so tests can exercise the failure path.
func load(names []string) error {
	var (
		lib  uintptr
		name string
	)
	for _, n := range names {
		h, err := purego.Dlopen(n, purego.RTLD_NOW|purego.RTLD_LOCAL)
		if err == nil {
			lib, name = h, n
			break
		}
	}
	if lib == 0 {
		return ErrNotFound
	}
	// The library is never dlclosed: the function variables point into it.
	required := []struct {
		fptr any
		sym  string
	}{
		{&pcapOpenDead, "pcap_open_dead"},
		{&pcapCompile, "pcap_compile"},
		{&pcapFreecode, "pcap_freecode"},
		{&pcapClose, "pcap_close"},
		{&pcapGeterr, "pcap_geterr"},
		{&pcapCreate, "pcap_create"},
		{&pcapSetSnaplen, "pcap_set_snaplen"},
		{&pcapSetPromisc, "pcap_set_promisc"},
		{&pcapSetTimeout, "pcap_set_timeout"},
		{&pcapSetBufSize, "pcap_set_buffer_size"},
		{&pcapActivate, "pcap_activate"},
		{&pcapSetfilter, "pcap_setfilter"},
		{&pcapDatalink, "pcap_datalink"},
		{&pcapStats, "pcap_stats"},
		{&pcapBreakloop, "pcap_breakloop"},
		{&pcapLibVersion, "pcap_lib_version"},
	}
	optional := []struct {
		fptr any
		sym  string
	}{
		{&pcapSetImmediate, "pcap_set_immediate_mode"},
		{&pcapSetTsPrec, "pcap_set_tstamp_precision"},
		{&pcapGetTsPrec, "pcap_get_tstamp_precision"},
		{&pcapStatusToStr, "pcap_statustostr"},
		{&pcapSetnonblock, "pcap_setnonblock"},
		{&pcapSelectableFd, "pcap_get_selectable_fd"},
	}
	var missing []string
	// Resolve everything before registering anything, so a failed load
	// leaves no half-initialised state behind.
	reqSyms := make([]uintptr, len(required))
	for i, r := range required {
		sym, err := purego.Dlsym(lib, r.sym)
		if err != nil || sym == 0 {
			missing = append(missing, r.sym)
			continue
		}
		reqSyms[i] = sym
	}
	nextEx, err := purego.Dlsym(lib, "pcap_next_ex")
	if err != nil || nextEx == 0 {
		missing = append(missing, "pcap_next_ex")
	}
	if len(missing) > 0 {
		return fmt.Errorf("libpcap (%s) is too old or unusable, missing symbols %s: install libpcap >= 1.5 with \"apt-get install libpcap0.8\", or run without --capture.filter and with --capture.method=afpacket",
			name, strings.Join(missing, ", "))
	}
	for i, r := range required {
		purego.RegisterFunc(r.fptr, reqSyms[i])
	}
	for _, o := range optional {
		if sym, err := purego.Dlsym(lib, o.sym); err == nil && sym != 0 {
			purego.RegisterFunc(o.fptr, sym)
		}
	}
	pcapNextExSym = nextEx
	return nil
}

// Version returns libpcap's version string (pcap_lib_version), or "" when
// libpcap cannot be loaded.
func Version() string {
	if Load() != nil {
		return ""
	}
	return pcapLibVersion()
}

// geterr returns the last error message of p (pcap_geterr).
func geterr(p uintptr) string {
	return pcapGeterr(p)
}

// statusText describes a negative pcap_activate/pcap_set_* status, preferring
// the handle's error buffer (which libpcap fills for PCAP_ERROR and most
// specific errors) and falling back to pcap_statustostr.
func statusText(p uintptr, status int32) string {
	if msg := geterr(p); msg != "" {
		return msg
	}
	if pcapStatusToStr != nil {
		return pcapStatusToStr(status)
	}
	return fmt.Sprintf("libpcap status %d", status)
}
