package pcapfile

import (
	"fmt"
	"io"
)

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
