package pcapfile

import "encoding/binary"

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
