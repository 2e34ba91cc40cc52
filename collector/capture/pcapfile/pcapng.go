package pcapfile

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
)

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

const byteOrderMagic = 0x1a2b3c4d

var pow10 = [...]uint64{
	1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
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
