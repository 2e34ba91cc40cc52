// Package pcapfile reads classic pcap and pcapng capture files, plain or
// gzip-compressed, in pure Go and without allocating per packet.
//
// The input is treated as hostile: every length read from the file is
// checked before it is used, nothing is indexed by a length the file has not
// proven, and memory stays bounded by MaxRecordSize, MaxBlockSize and
// MaxInterfaces whatever the file claims.
package pcapfile

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
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

// iface is what a pcapng interface description contributes to its packets.
type iface struct {
	linkType    uint16
	snapLen     uint32
	binary      bool   // if_tsresol is 2^-shift
	shift       uint8  // binary resolution exponent
	mul, div    uint64 // decimal resolution: ns = units*mul, or units/div when div != 0
	offsetNanos int64  // if_tsoffset
}

// Block types of pcapng that the reader interprets; every other type is skipped.
const (
	blockSHB = 0x0a0d0d0a
	blockIDB = 0x00000001
	blockPB  = 0x00000002 // obsolete Packet Block
	blockSPB = 0x00000003
	blockEPB = 0x00000006
)

// The pcapng option codes the reader needs.
const (
	optEnd      = 0
	optTSResol  = 9
	optTSOffset = 14
)

const (
	maxBufSize     = 1 << 20
	minBufSize     = 4096
	byteOrderMagic = 0x1a2b3c4d
)

var pow10 = [...]uint64{
	1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
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

// pcapMagic recognises the four classic pcap magics and sets byte order and
// timestamp precision from it.
func (r *Reader) pcapMagic(m []byte) bool {
	switch string(m) {
	case "\xd4\xc3\xb2\xa1":
	case "\xa1\xb2\xc3\xd4":
		r.bigEndian = true
	case "\x4d\x3c\xb2\xa1":
		r.nanos = true
	case "\xa1\xb2\x3c\x4d":
		r.bigEndian, r.nanos = true, true
	default:
		return false
	}
	return true
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

func (r *Reader) u16(b []byte) uint16 {
	if r.bigEndian {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (r *Reader) u32(b []byte) uint32 {
	if r.bigEndian {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (r *Reader) u64(b []byte) uint64 {
	if r.bigEndian {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}

// toInt keeps a 32-bit length non-negative on 32-bit platforms.
func toInt(v uint32) int {
	if uint64(v) > math.MaxInt {
		return math.MaxInt
	}
	return int(v)
}

// read fills b and returns io.ReadFull's error unchanged, so that callers
// can tell a clean end (io.EOF before any byte) from a cut record.
func (r *Reader) read(b []byte) error {
	n, err := io.ReadFull(r.br, b)
	r.pos += int64(n)
	return err
}

func (r *Reader) discard(n int) error {
	d, err := r.br.Discard(n)
	r.pos += int64(d)
	return err
}

// grow returns the packet buffer resized to n, which callers have already
// bounded by MaxRecordSize.
func (r *Reader) grow(n int) []byte {
	if cap(r.buf) < n {
		r.buf = make([]byte, min(max(n, 2*cap(r.buf), 2048), MaxRecordSize))
	}
	return r.buf[:n]
}

func (r *Reader) unit() string {
	if r.ng {
		return "block"
	}
	return "record"
}

// recordErr classifies a read failure inside the current record.
func (r *Reader) recordErr(err error) error {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: file ends inside %s %d at offset %d, after %d complete packets",
			ErrTruncated, r.unit(), r.records, r.recStart, r.packets)
	case isCorruptStream(err):
		return fmt.Errorf("%w: %s %d at offset %d: %w", ErrCorrupt, r.unit(), r.records, r.recStart, err)
	}
	return fmt.Errorf("reading %s %d at offset %d: %w", r.unit(), r.records, r.recStart, err)
}

func (r *Reader) corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s %d at offset %d: %s", ErrCorrupt, r.unit(), r.records, r.recStart, fmt.Sprintf(format, args...))
}

// beginRecord reads the fixed start of the next record; a clean io.EOF means
// the file ended on a record boundary.
func (r *Reader) beginRecord(h []byte) error {
	r.records++
	r.recStart = r.pos
	if err := r.read(h); err != nil {
		if err == io.EOF {
			return io.EOF
		}
		return r.recordErr(err)
	}
	return nil
}

func (r *Reader) startPcap() error {
	h := r.hdr[:24]
	if n, err := io.ReadFull(r.br, h); err != nil {
		return streamErr(err, fmt.Sprintf("reading the pcap file header (%d of 24 bytes)", n))
	}
	r.pos = 24
	// The upper bits carry the FCS length and flags, not the link type.
	r.linkType = uint16(r.u32(h[20:24]))
	r.haveLink = true
	return nil
}

// nextPcapBuffered returns the next classic pcap record in place when the
// read buffer holds all of it and it is well formed, which is nearly every
// time: one look at the buffer instead of two reads. Otherwise it returns
// false and consumes nothing, and nextPcap reads the record or reports it.
func (r *Reader) nextPcapBuffered() (Packet, bool) {
	b := r.buffered(16)
	if b == nil {
		return Packet{}, false
	}
	capLen := r.u32(b[8:])
	if capLen > MaxRecordSize || uint64(capLen) > uint64(len(b)-16) {
		return Packet{}, false
	}
	rec := 16 + int(capLen)
	p := Packet{
		TimeNanos:     r.pcapTime(r.u32(b[0:]), r.u32(b[4:])),
		CaptureLength: int(capLen),
		WireLength:    toInt(r.u32(b[12:])),
		LinkType:      r.linkType,
		Data:          b[16:rec:rec],
	}
	r.consumed(rec)
	return p, true
}

// pcapTime converts a classic pcap timestamp to Unix nanoseconds. The
// seconds field is unsigned, as in current libpcap, which gives the format
// its range to 2106.
func (r *Reader) pcapTime(sec, frac uint32) int64 {
	if r.nanos {
		return int64(sec)*1e9 + int64(frac)
	}
	return int64(sec)*1e9 + int64(frac)*1e3
}

func (r *Reader) nextPcap() (Packet, error) {
	h := r.hdr[:16]
	if err := r.beginRecord(h); err != nil {
		return Packet{}, err
	}
	sec, frac := r.u32(h[0:]), r.u32(h[4:])
	capLen, wire := r.u32(h[8:]), r.u32(h[12:])
	if capLen > MaxRecordSize {
		return Packet{}, r.corrupt("captured length %d exceeds the maximum %d", capLen, MaxRecordSize)
	}
	data := r.grow(int(capLen))
	if err := r.read(data); err != nil {
		return Packet{}, r.recordErr(err)
	}
	return Packet{
		TimeNanos:     r.pcapTime(sec, frac),
		CaptureLength: len(data),
		WireLength:    toInt(wire),
		LinkType:      r.linkType,
		Data:          data,
	}, nil
}

func (r *Reader) startNG() error {
	h, err := r.br.Peek(12)
	if err != nil {
		return streamErr(err, fmt.Sprintf("reading the pcapng section header (%d of 12 bytes)", len(h)))
	}
	if bom := binary.LittleEndian.Uint32(h[8:]); bom != byteOrderMagic && bom != bits.ReverseBytes32(byteOrderMagic) {
		return notCapture(h[:8], r.compressed)
	}
	r.ng = true
	// Blocks before the first interface cannot be packets, so reading them
	// now loses nothing and makes LinkType valid before the first Next.
	for !r.haveLink {
		_, _, err := r.readBlock()
		if err == io.EOF {
			r.err = io.EOF
			break
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *Reader) nextNG() (Packet, error) {
	for {
		p, ok, err := r.readBlock()
		if err != nil || ok {
			return p, err
		}
	}
}

// minBlockLen is the smallest total length of each interpreted block type.
func minBlockLen(typ uint32) uint32 {
	switch typ {
	case blockSHB:
		return 28
	case blockIDB:
		return 20
	case blockEPB, blockPB:
		return 32
	case blockSPB:
		return 16
	}
	return 12
}

// readBlock consumes one pcapng block; ok reports that it held a packet.
func (r *Reader) readBlock() (p Packet, ok bool, err error) {
	h := r.hdr[:8]
	if err := r.beginRecord(h); err != nil {
		return Packet{}, false, err
	}
	typ := r.u32(h)
	if typ == blockSHB {
		// The length is in the byte order the section is about to declare.
		bom := r.hdr[8:12]
		if err := r.read(bom); err != nil {
			return Packet{}, false, r.recordErr(err)
		}
		switch binary.LittleEndian.Uint32(bom) {
		case byteOrderMagic:
			r.bigEndian = false
		case bits.ReverseBytes32(byteOrderMagic):
			r.bigEndian = true
		default:
			return Packet{}, false, r.corrupt("section header has unknown byte-order magic % x", bom)
		}
	}
	blen := r.u32(h[4:])
	if blen < minBlockLen(typ) || blen%4 != 0 || blen > MaxBlockSize {
		return Packet{}, false, r.corrupt("block type 0x%08x has invalid length %d", typ, blen)
	}
	switch typ {
	case blockSHB:
		return Packet{}, false, r.readSHB(blen)
	case blockIDB:
		return Packet{}, false, r.readIDB(blen)
	case blockEPB, blockPB:
		p, err := r.readEPB(blen, typ == blockPB)
		return p, err == nil, err
	case blockSPB:
		p, err := r.readSPB(blen)
		return p, err == nil, err
	}
	return Packet{}, false, r.finish(blen-8, blen)
}

// finish skips the rest of a block, rem bytes including the trailing length,
// and checks that trailing length: a mismatch means the reader has lost
// block framing, and everything after would be garbage.
func (r *Reader) finish(rem, blen uint32) error {
	if rem > 4 {
		if err := r.discard(int(rem - 4)); err != nil {
			return r.recordErr(err)
		}
	}
	t := r.hdr[28:32]
	if err := r.read(t); err != nil {
		return r.recordErr(err)
	}
	if tl := r.u32(t); tl != blen {
		return r.corrupt("trailing block length %d does not match leading length %d", tl, blen)
	}
	return nil
}

func (r *Reader) readSHB(blen uint32) error {
	v := r.hdr[12:16]
	if err := r.read(v); err != nil {
		return r.recordErr(err)
	}
	if major, minor := r.u16(v), r.u16(v[2:]); major != 1 {
		return r.corrupt("unsupported pcapng version %d.%d", major, minor)
	}
	r.ifaces = r.ifaces[:0]
	return r.finish(blen-16, blen)
}

func (r *Reader) readIDB(blen uint32) error {
	if len(r.ifaces) >= MaxInterfaces {
		return r.corrupt("more than %d interfaces in one section", MaxInterfaces)
	}
	b := r.hdr[8:16]
	if err := r.read(b); err != nil {
		return r.recordErr(err)
	}
	ifc := iface{linkType: r.u16(b), snapLen: r.u32(b[4:]), mul: 1e3}
	rem := blen - 16 // options and trailing length
	for rem > 4 {
		o := r.hdr[16:20]
		if err := r.read(o); err != nil {
			return r.recordErr(err)
		}
		rem -= 4
		code, olen := r.u16(o), uint32(r.u16(o[2:]))
		if code == optEnd {
			break
		}
		padded := (olen + 3) &^ 3
		if padded > rem-4 {
			return r.corrupt("interface option %d of length %d overruns the block", code, olen)
		}
		switch {
		case code == optTSResol && olen == 1:
			v := r.hdr[20:24]
			if err := r.read(v); err != nil {
				return r.recordErr(err)
			}
			ifc.setResolution(v[0])
		case code == optTSOffset && olen == 8:
			v := r.hdr[20:28]
			if err := r.read(v); err != nil {
				return r.recordErr(err)
			}
			// Wrapping on absurd offsets is harmless; only hostile files have them.
			ifc.offsetNanos = int64(r.u64(v)) * 1e9
		default:
			if err := r.discard(int(padded)); err != nil {
				return r.recordErr(err)
			}
		}
		rem -= padded
	}
	if err := r.finish(rem, blen); err != nil {
		return err
	}
	r.ifaces = append(r.ifaces, ifc)
	if !r.haveLink {
		r.linkType, r.haveLink = ifc.linkType, true
	}
	return nil
}

// setResolution applies if_tsresol: a power of ten, or of two when the high
// bit is set.
func (f *iface) setResolution(v uint8) {
	exp := v & 0x7f
	f.mul, f.div, f.binary, f.shift = 0, 0, false, 0
	switch {
	case v&0x80 != 0:
		f.binary, f.shift = true, exp
	case exp <= 9:
		f.mul = pow10[9-exp]
	case int(exp-9) < len(pow10):
		f.div = pow10[exp-9]
	}
	// A finer decimal resolution than pow10 covers leaves mul and div 0:
	// every timestamp is then below one nanosecond.
}

// nanos converts a timestamp in interface units to Unix nanoseconds with
// integer arithmetic only, rounding toward zero.
func (f *iface) nanos(units uint64) int64 {
	var ns uint64
	switch {
	case f.binary:
		// units*1e9 needs up to 94 bits before the shift.
		hi, lo := bits.Mul64(units, 1e9)
		if f.shift >= 64 {
			ns = hi >> (f.shift - 64)
		} else {
			ns = lo>>f.shift | hi<<(64-f.shift)
		}
	case f.div != 0:
		ns = units / f.div
	default:
		ns = units * f.mul
	}
	return int64(ns) + f.offsetNanos
}

// readEPB reads an Enhanced Packet Block, or an obsolete Packet Block whose
// layout differs only in a 16-bit interface id.
func (r *Reader) readEPB(blen uint32, obsolete bool) (Packet, error) {
	b := r.hdr[8:28]
	if err := r.read(b); err != nil {
		return Packet{}, r.recordErr(err)
	}
	id := r.u32(b)
	if obsolete {
		id = uint32(r.u16(b))
	}
	units := uint64(r.u32(b[4:]))<<32 | uint64(r.u32(b[8:]))
	capLen, wire := r.u32(b[12:]), r.u32(b[16:])
	if msg := r.epbProblem(id, capLen, blen); msg != "" {
		return Packet{}, r.corrupt("%s", msg)
	}
	data := r.grow(int(capLen))
	if err := r.read(data); err != nil {
		return Packet{}, r.recordErr(err)
	}
	if err := r.finish(blen-28-capLen, blen); err != nil {
		return Packet{}, err
	}
	return r.epbPacket(id, units, wire, data), nil
}

// epbProblem describes what makes a packet block's fields impossible, or
// returns "".
func (r *Reader) epbProblem(id, capLen, blen uint32) string {
	switch {
	case id >= uint32(len(r.ifaces)):
		return fmt.Sprintf("packet for unknown interface %d (interfaces described in this section: %d)", id, len(r.ifaces))
	case capLen > MaxRecordSize:
		return fmt.Sprintf("captured length %d exceeds the maximum %d", capLen, MaxRecordSize)
	case capLen > blen-32:
		return fmt.Sprintf("captured length %d does not fit in block length %d", capLen, blen)
	}
	return ""
}

// epbPacket is the packet of a checked packet block.
func (r *Reader) epbPacket(id uint32, units uint64, wire uint32, data []byte) Packet {
	ifc := &r.ifaces[id]
	t := ifc.nanos(units)
	r.lastTime = t
	return Packet{
		TimeNanos:     t,
		CaptureLength: len(data),
		WireLength:    toInt(wire),
		LinkType:      ifc.linkType,
		Interface:     int(id),
		Data:          data,
	}
}

// nextEPBBuffered is nextPcapBuffered for pcapng: the next block, when it
// is an enhanced packet block wholly in the read buffer and well formed,
// is returned in place. Otherwise it returns false and consumes nothing.
func (r *Reader) nextEPBBuffered() (Packet, bool) {
	b := r.buffered(32)
	if b == nil {
		return Packet{}, false
	}
	blen := r.u32(b[4:])
	if r.u32(b) != blockEPB || blen < 32 || blen%4 != 0 || uint64(blen) > uint64(len(b)) || r.u32(b[blen-4:]) != blen {
		return Packet{}, false
	}
	id, capLen := r.u32(b[8:]), r.u32(b[20:])
	if r.epbProblem(id, capLen, blen) != "" {
		return Packet{}, false
	}
	units := uint64(r.u32(b[12:]))<<32 | uint64(r.u32(b[16:]))
	p := r.epbPacket(id, units, r.u32(b[24:]), b[28:28+capLen:28+capLen])
	r.consumed(int(blen))
	return p, true
}

// buffered returns what the read buffer holds, without reading, or nil if
// that is less than min bytes.
func (r *Reader) buffered(min int) []byte {
	if r.br.Buffered() < min {
		return nil
	}
	b, _ := r.br.Peek(r.br.Buffered())
	return b
}

// consumed accounts a record that a buffered fast path returned.
func (r *Reader) consumed(n int) {
	_, _ = r.br.Discard(n) // cannot fail: the bytes are buffered
	r.records++
	r.recStart = r.pos
	r.pos += int64(n)
	r.packets++
}

// readSPB reads a Simple Packet Block: interface 0, no timestamp, and a
// captured length implied by the block length and the snapshot length.
func (r *Reader) readSPB(blen uint32) (Packet, error) {
	b := r.hdr[8:12]
	if err := r.read(b); err != nil {
		return Packet{}, r.recordErr(err)
	}
	if len(r.ifaces) == 0 {
		return Packet{}, r.corrupt("simple packet block, but the section describes no interface")
	}
	ifc := &r.ifaces[0]
	wire := r.u32(b)
	capLen := min(wire, blen-16)
	if ifc.snapLen != 0 {
		capLen = min(capLen, ifc.snapLen)
	}
	if capLen > MaxRecordSize {
		return Packet{}, r.corrupt("captured length %d exceeds the maximum %d", capLen, MaxRecordSize)
	}
	data := r.grow(int(capLen))
	if err := r.read(data); err != nil {
		return Packet{}, r.recordErr(err)
	}
	if err := r.finish(blen-12-capLen, blen); err != nil {
		return Packet{}, err
	}
	return Packet{
		// The block has no timestamp; the previous packet's time keeps a
		// time series monotonic where 0 would jump back to 1970.
		TimeNanos:     r.lastTime,
		CaptureLength: len(data),
		WireLength:    toInt(wire),
		LinkType:      ifc.linkType,
		Data:          data,
	}, nil
}
