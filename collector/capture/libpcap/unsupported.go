//go:build !(linux && (amd64 || arm64 || loong64 || ppc64le || riscv64))

package libpcap

import (
	"errors"
	"runtime"
	"time"

	"golang.org/x/net/bpf"
)

var errUnsupported = errors.New("libpcap: not supported on " + runtime.GOOS + "/" + runtime.GOARCH + " (64-bit Linux only)")

// Load always fails on this platform.
func Load() error { return errUnsupported }

// CompileBPF always fails on this platform.
func CompileBPF(linkType int, snaplen int, expr string) ([]bpf.RawInstruction, error) {
	return nil, errUnsupported
}

// Version returns "" on this platform.
func Version() string { return "" }

// Handle is a live libpcap capture handle; it cannot be created on this
// platform.
type Handle struct{}

// OpenLive always fails on this platform.
func OpenLive(device string, snaplen int, promisc bool, bufferBytes int, timeout time.Duration) (*Handle, error) {
	return nil, errUnsupported
}

// SetFilter returns ErrClosed.
func (h *Handle) SetFilter(expr string) error { return ErrClosed }

// LinkType returns -1.
func (h *Handle) LinkType() int { return -1 }

// ReadPacket returns ErrClosed.
func (h *Handle) ReadPacket() (data []byte, tsNanos int64, wireLen int, err error) {
	return nil, 0, 0, ErrClosed
}

// Stats returns ErrClosed.
func (h *Handle) Stats() (received, dropped, ifDropped uint64, err error) {
	return 0, 0, 0, ErrClosed
}

// BreakLoop does nothing.
func (h *Handle) BreakLoop() {}

// Close does nothing.
func (h *Handle) Close() {}
