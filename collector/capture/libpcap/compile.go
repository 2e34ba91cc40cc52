//go:build linux && (amd64 || arm64 || loong64 || ppc64le || riscv64)

package libpcap

import (
	"fmt"
	"runtime"
	"strings"
	"structs"
	"sync"
	"unsafe"

	"golang.org/x/net/bpf"
)

// bpfProgram mirrors struct bpf_program {u_int bf_len; struct bpf_insn *bf_insns;}.
// It always lives in Go memory and holds no Go pointer: Insns is set by
// pcap_compile to memory malloc'ed by libpcap and released by pcap_freecode.
type bpfProgram struct {
	_     structs.HostLayout
	Len   uint32
	_     uint32 // padding before the 8-byte aligned pointer
	Insns uintptr
}

// bpfInsn mirrors struct bpf_insn {u_short code; u_char jt; u_char jf; bpf_u_int32 k;}.
type bpfInsn struct {
	_    structs.HostLayout
	Code uint16
	Jt   uint8
	Jf   uint8
	K    uint32
}

var (
	_ [16 - unsafe.Sizeof(bpfProgram{})]struct{}
	_ [unsafe.Sizeof(bpfProgram{}) - 16]struct{}
	_ [8 - unsafe.Sizeof(bpfInsn{})]struct{}
	_ [unsafe.Sizeof(bpfInsn{}) - 8]struct{}
)

// compileMu serialises every pcap_compile call in the process: before
// libpcap 1.8 the filter compiler (lex/yacc state, optimizer) is not
// thread-safe.
var compileMu sync.Mutex

// compile runs pcap_compile on p and returns a copy of the program.
func compile(p uintptr, expr string, withProgram func(*bpfProgram) error) ([]bpf.RawInstruction, error) {
	if strings.IndexByte(expr, 0) >= 0 {
		return nil, fmt.Errorf("compile filter %q: expression contains a NUL byte", expr)
	}
	// prog is passed to C only for the duration of the calls below and
	// contains no Go pointers. Go's collector does not move heap objects,
	// but pinning documents (and enforces) that C sees a stable address.
	prog := new(bpfProgram)
	var pin runtime.Pinner
	pin.Pin(prog)
	defer pin.Unpin()

	compileMu.Lock()
	rc := pcapCompile(p, prog, expr, pcapOptimize, pcapNetmaskUnknown)
	var msg string
	if rc != 0 {
		msg = geterr(p) // read before another compile can overwrite it
	}
	compileMu.Unlock()
	if rc != 0 {
		if msg == "" {
			msg = fmt.Sprintf("pcap_compile returned %d", rc)
		}
		return nil, fmt.Errorf("compile filter %q: %s", expr, msg)
	}
	defer pcapFreecode(prog)

	out := make([]bpf.RawInstruction, prog.Len)
	if prog.Len > 0 {
		// Insns is C memory owned by libpcap until pcap_freecode.
		insns := unsafe.Slice((*bpfInsn)(*(*unsafe.Pointer)(unsafe.Pointer(&prog.Insns))), prog.Len)
		for i, in := range insns {
			out[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
		}
	}
	if withProgram != nil {
		if err := withProgram(prog); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// CompileBPF compiles the tcpdump-syntax filter expr into classic BPF for
// packets of the given link type (a DLT_ value as accepted by
// pcap_open_dead, e.g. 1 for Ethernet, 113 for Linux cooked capture, 12 for
// raw IP; LINKTYPE_RAW 101 is accepted as an alias of DLT_RAW) captured with
// the given snap length (<= 0 means 262144). The program is optimised and
// compiled with an unknown netmask, so "ip broadcast" style primitives that
// need the netmask fail.
//
// The returned instructions are a copy in Go memory; they can be attached to
// a socket with SO_ATTACH_FILTER. An empty expression yields an accept-all
// program.
//
// Note for AF_PACKET users: the program is generated for the plain link
// layer, like tcpdump -r does. On Linux, VLAN tags are usually stripped from
// the packet data seen by a socket filter (they are kept in metadata), so
// "vlan" primitives compiled here do not match tagged frames on an AF_PACKET
// socket; libpcap's own live handles (OpenLive + SetFilter) handle that case.
func CompileBPF(linkType int, snaplen int, expr string) ([]bpf.RawInstruction, error) {
	if err := Load(); err != nil {
		return nil, err
	}
	if linkType == linkTypeRaw {
		linkType = dltRaw
	}
	if snaplen <= 0 {
		snaplen = defaultSnaplen
	}
	if linkType < 0 || linkType > 0xffff || snaplen > 1<<30 {
		return nil, fmt.Errorf("compile filter %q: invalid link type %d or snaplen %d", expr, linkType, snaplen)
	}
	p := pcapOpenDead(int32(linkType), int32(snaplen))
	if p == 0 {
		return nil, fmt.Errorf("compile filter %q: pcap_open_dead(linktype %d, snaplen %d) failed", expr, linkType, snaplen)
	}
	defer pcapClose(p)
	return compile(p, expr, nil)
}
