package pcapfile

import (
	"encoding/binary"
	"math"
)

// HeaderSize is the length of a classic pcap file header.
const HeaderSize = 24

// Header returns the file header of a little-endian, nanosecond classic
// pcap (version 2.4) of link type link whose records are cut at snaplen:
// what the evidence captures, the corpus trimmer and the synthesizer
// write, and what this package reads back exactly.
func Header(link uint16, snaplen uint32) [HeaderSize]byte {
	var h [HeaderSize]byte
	binary.LittleEndian.PutUint32(h[0:], 0xa1b23c4d) // nanosecond pcap
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], snaplen)
	binary.LittleEndian.PutUint32(h[20:], uint32(link))
	return h
}

// RecordHeaderSize is the length of a classic pcap record header.
const RecordHeaderSize = 16

// PutRecordHeader writes into b the little-endian record header of a
// packet at ts Unix nanoseconds, captured bytes of wire on the wire, for
// a file written with Header. A time before 1970 is written as 0, one
// past what 32 bits of seconds say as the last nanosecond they can.
func PutRecordHeader(b []byte, ts int64, captured, wire int) {
	sec, nsec := uint32(ts/1e9), uint32(ts%1e9)
	switch {
	case ts < 0:
		sec, nsec = 0, 0
	case ts/1e9 > math.MaxUint32:
		sec, nsec = math.MaxUint32, 999_999_999
	}
	binary.LittleEndian.PutUint32(b[0:], sec)
	binary.LittleEndian.PutUint32(b[4:], nsec)
	binary.LittleEndian.PutUint32(b[8:], uint32(captured))
	binary.LittleEndian.PutUint32(b[12:], uint32(wire))
}
