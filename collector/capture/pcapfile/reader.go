// Package pcapfile reads classic pcap and pcapng capture files, plain or
// gzip-compressed, in pure Go and without allocating per packet.
//
// The input is treated as hostile: every length read from the file is
// checked before it is used, nothing is indexed by a length the file has not
// proven, and memory stays bounded by MaxRecordSize, MaxBlockSize and
// MaxInterfaces whatever the file claims.
//
// It sits below collector/capture, at the start of the flow (capture ->
// decode -> features -> detector): capture's file source replays captures
// through it. Tools and tests that read captures use it directly.
package pcapfile

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

const (
	// MaxRecordSize is the largest captured length accepted for one packet.
	// It is libpcap's largest snapshot length, so a bigger record is
	// corruption or an attack, and it caps the reader's only packet buffer.
	MaxRecordSize = 262144

	// MaxBlockSize is the largest pcapng block accepted. Real blocks hold at
	// most one MaxRecordSize packet plus options, far below it, so a larger
	// length is damage or a crafted file and must not be trusted for skipping.
	MaxBlockSize = 16 << 20

	// MaxInterfaces is the most interface descriptions accepted in one pcapng
	// section, so that a file cannot grow the interface table without bound.
	MaxInterfaces = 4096
)

var (
	// ErrNotCapture reports input that is neither pcap nor pcapng (after
	// gzip is removed), including an empty file.
	ErrNotCapture = errors.New("not a pcap or pcapng capture")

	// ErrCorrupt reports a capture whose structure is impossible or outside
	// the reader's bounds. Packets returned before it are valid.
	ErrCorrupt = errors.New("corrupt capture")

	// ErrTruncated reports a capture that ends inside a header or record.
	// Every complete packet has been returned before it, so callers usually
	// keep them and warn once.
	ErrTruncated = errors.New("truncated capture")

	errClosed = errors.New("capture reader is closed")
)

// Packet is one record. Data aliases the reader's buffer and is valid only
// until the next call to Next.
type Packet struct {
	TimeNanos     int64  // Unix time in nanoseconds
	CaptureLength int    // bytes in Data
	WireLength    int    // original length on the wire, as the file claims it; never used as an index
	LinkType      uint16 // LINKTYPE_* value of the file header or of the packet's pcapng interface
	Interface     int    // pcapng interface index within the section, 0 for classic pcap
	Data          []byte
}

// Reader reads packets from a pcap or pcapng stream. It is not safe for
// concurrent use.
type Reader struct {
	br         *bufio.Reader
	closer     io.Closer // the file opened by Open; nil when the caller owns the input
	ng         bool
	compressed bool
	bigEndian  bool
	nanos      bool   // classic pcap with the nanosecond magic
	linkType   uint16 // classic header, or the first pcapng interface seen
	haveLink   bool

	ifaces   []iface // interfaces of the current pcapng section
	buf      []byte  // packet data, reused; never larger than MaxRecordSize
	hdr      [32]byte
	lastTime int64 // for simple packet blocks, which carry no timestamp

	packets  int   // packets returned so far
	records  int   // records or blocks started so far; the current one's number in messages
	recStart int64 // offset of the current record in the (decompressed) stream
	pos      int64 // bytes consumed from the (decompressed) stream
	err      error // sticky: once set, Next keeps returning it
}

// NewReader detects the format of r by its magic number, removing one layer
// of gzip first, and reads the file header. For pcapng it also reads up to
// the first interface description so that LinkType is known; an error in
// those first blocks is returned here rather than by Next.
func NewReader(r io.Reader) (*Reader, error) {
	return newReader(r, sizeHint(r))
}

// Open opens the capture file at path. Close releases the file.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening capture: %w", err)
	}
	r, err := newReader(f, sizeHint(f))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading capture %s: %w", path, err)
	}
	r.closer = f
	return r, nil
}

// Close closes the file opened by Open. For a Reader made by NewReader the
// caller's io.Reader is left open. Next fails after Close.
func (r *Reader) Close() error {
	r.err = errClosed
	if r.closer == nil {
		return nil
	}
	c := r.closer
	r.closer = nil
	return c.Close()
}

// Format returns "pcap" or "pcapng".
func (r *Reader) Format() string {
	if r.ng {
		return "pcapng"
	}
	return "pcap"
}

// Compressed reports whether the capture was gzip-compressed.
func (r *Reader) Compressed() bool { return r.compressed }

// LinkType returns the LINKTYPE_* value of the classic pcap header, or of
// the first pcapng interface. It is 0 for a pcapng file without interfaces.
func (r *Reader) LinkType() uint16 { return r.linkType }

// Next returns the next packet. It returns io.EOF at a clean end of the
// file, and an error wrapping ErrTruncated or ErrCorrupt after the last good
// packet when the file is damaged. Errors are sticky.
func (r *Reader) Next() (Packet, error) {
	if r.err != nil {
		return Packet{}, r.err
	}
	// Nearly every record is wholly in the read buffer: take it there.
	if r.ng {
		if p, ok := r.nextEPBBuffered(); ok {
			return p, nil
		}
	} else if p, ok := r.nextPcapBuffered(); ok {
		return p, nil
	}
	var (
		p   Packet
		err error
	)
	if r.ng {
		p, err = r.nextNG()
	} else {
		p, err = r.nextPcap()
	}
	if err != nil {
		r.err = err
		return Packet{}, err
	}
	r.packets++
	return p, nil
}

const (
	maxBufSize = 1 << 20
	minBufSize = 4096
)

// sizeHint guesses the input size so that small inputs (tests, the fuzzer)
// do not pay for a 1 MiB buffer each; 0 means unknown.
func sizeHint(r io.Reader) int64 {
	switch v := r.(type) {
	case interface{ Len() int }:
		return int64(v.Len())
	case *os.File:
		if fi, err := v.Stat(); err == nil && fi.Mode().IsRegular() {
			return fi.Size()
		}
	}
	return 0
}

func bufSize(hint int64) int {
	if hint <= 0 || hint >= maxBufSize {
		return maxBufSize
	}
	return max(int(hint), minBufSize)
}

func newReader(src io.Reader, hint int64) (*Reader, error) {
	r := &Reader{br: bufio.NewReaderSize(src, bufSize(hint))}
	magic, perr := r.br.Peek(4)
	if len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(r.br)
		if err != nil {
			return nil, streamErr(err, "reading the gzip header")
		}
		// Compressed captures commonly expand several times; the hint only
		// keeps tiny inputs from allocating the full buffer.
		r.br = bufio.NewReaderSize(zr, bufSize(hint*8))
		r.compressed = true
		magic, perr = r.br.Peek(4)
	}
	if perr != nil && perr != io.EOF {
		return nil, streamErr(perr, "reading the magic number")
	}
	switch {
	case len(magic) == 4 && string(magic) == "\x0a\x0d\x0d\x0a":
		if err := r.startNG(); err != nil {
			return nil, err
		}
	case len(magic) == 4 && r.pcapMagic(magic):
		if err := r.startPcap(); err != nil {
			return nil, err
		}
	default:
		// Peek again for more bytes: some formats are recognised by longer prefixes.
		more, _ := r.br.Peek(8)
		return nil, notCapture(more, r.compressed)
	}
	return r, nil
}

// knownFormats names formats people mistake for captures, so the error can
// say what the file is.
var knownFormats = []struct{ prefix, name string }{
	{"\x34\xcd\xb2\xa1", "modified (Kuznetzov) pcap"},
	{"\xa1\xb2\xcd\x34", "modified (Kuznetzov) pcap"},
	{"snoop\x00", "Solaris snoop"},
	{"PK\x03\x04", "a zip archive; extract it first"},
	{"BZh", "bzip2-compressed; decompress it first"},
	{"\xfd7zXZ", "xz-compressed; decompress it first"},
	{"\x28\xb5\x2f\xfd", "zstd-compressed; decompress it first"},
	{"\x1f\x8b", "gzip inside gzip; decompress it once first"},
}

func notCapture(magic []byte, compressed bool) error {
	where := ""
	if compressed {
		where = " inside gzip"
	}
	if len(magic) == 0 {
		return fmt.Errorf("%w: empty file%s", ErrNotCapture, where)
	}
	var hex strings.Builder
	for i, b := range magic[:min(len(magic), 4)] {
		if i > 0 {
			hex.WriteByte(' ')
		}
		fmt.Fprintf(&hex, "%02x", b)
	}
	what := ""
	for _, k := range knownFormats {
		if strings.HasPrefix(string(magic), k.prefix) {
			what = ", looks like " + k.name
			break
		}
	}
	return fmt.Errorf("%w%s (first bytes %s%s): check the file, or convert it with editcap -F pcap",
		ErrNotCapture, where, hex.String(), what)
}

// streamErr classifies a failure of the underlying stream outside any record.
func streamErr(err error, doing string) error {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: file ends while %s", ErrTruncated, doing)
	case isCorruptStream(err):
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, doing, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// isCorruptStream reports gzip damage, which is corruption of the capture
// rather than an I/O failure the caller might retry.
func isCorruptStream(err error) bool {
	var ce flate.CorruptInputError
	return errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.As(err, &ce)
}
