package pcapfile

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"testing"
)

// Hand-built captures cover what gopacket's writers cannot produce: big
// endian files, odd pcapng blocks and deliberately broken structure.

// byteOrder is what the builders need from binary.LittleEndian and BigEndian.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// pcapHeader builds a classic pcap file header.
func pcapHeader(order byteOrder, nanos bool, snaplen, linkType uint32) []byte {
	magic := uint32(0xa1b2c3d4)
	if nanos {
		magic = 0xa1b23c4d
	}
	b := make([]byte, 24)
	order.PutUint32(b[0:], magic)
	order.PutUint16(b[4:], 2)
	order.PutUint16(b[6:], 4)
	order.PutUint32(b[16:], snaplen)
	order.PutUint32(b[20:], linkType)
	return b
}

// pcapRecord builds a classic pcap record header followed by data.
func pcapRecord(order byteOrder, sec, frac uint32, data []byte, wire uint32) []byte {
	b := make([]byte, 16, 16+len(data))
	order.PutUint32(b[0:], sec)
	order.PutUint32(b[4:], frac)
	order.PutUint32(b[8:], uint32(len(data)))
	order.PutUint32(b[12:], wire)
	return append(b, data...)
}

// ng builds pcapng blocks in one byte order.
type ng struct {
	order byteOrder
	buf   []byte
}

func newNG(order byteOrder) *ng { return &ng{order: order} }

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// block appends a block with a correct total length on both ends.
func (n *ng) block(typ uint32, body []byte) *ng {
	body = pad4(body)
	l := uint32(12 + len(body))
	n.buf = n.order.AppendUint32(n.buf, typ)
	n.buf = n.order.AppendUint32(n.buf, l)
	n.buf = append(n.buf, body...)
	n.buf = n.order.AppendUint32(n.buf, l)
	return n
}

func (n *ng) shb() *ng {
	var body []byte
	body = n.order.AppendUint32(body, 0x1a2b3c4d)
	body = n.order.AppendUint16(body, 1)
	body = n.order.AppendUint16(body, 0)
	body = n.order.AppendUint64(body, ^uint64(0))  // section length unknown
	body = n.opt(body, 4, []byte("pcapfile test")) // shb_userappl
	body = n.opt(body, 0, nil)
	return n.block(blockSHB, body)
}

// opt appends one option, padded.
func (n *ng) opt(b []byte, code uint16, v []byte) []byte {
	b = n.order.AppendUint16(b, code)
	b = n.order.AppendUint16(b, uint16(len(v)))
	return pad4(append(b, v...))
}

// idb appends an interface; opts are raw option bytes made with opt.
func (n *ng) idb(linkType uint16, snaplen uint32, opts ...[]byte) *ng {
	var body []byte
	body = n.order.AppendUint16(body, linkType)
	body = n.order.AppendUint16(body, 0)
	body = n.order.AppendUint32(body, snaplen)
	for _, o := range opts {
		body = append(body, o...)
	}
	if len(opts) > 0 {
		body = n.opt(body, 0, nil)
	}
	return n.block(blockIDB, body)
}

func (n *ng) tsresol(v uint8) []byte { return n.opt(nil, optTSResol, []byte{v}) }

func (n *ng) tsoffset(sec int64) []byte {
	return n.opt(nil, optTSOffset, n.order.AppendUint64(nil, uint64(sec)))
}

func (n *ng) epb(id uint32, ts uint64, data []byte, wire uint32) *ng {
	var body []byte
	body = n.order.AppendUint32(body, id)
	body = n.order.AppendUint32(body, uint32(ts>>32))
	body = n.order.AppendUint32(body, uint32(ts))
	body = n.order.AppendUint32(body, uint32(len(data)))
	body = n.order.AppendUint32(body, wire)
	body = pad4(append(body, data...))
	body = n.opt(body, 1, []byte("a comment that must be skipped")) // opt_comment
	body = n.opt(body, 0, nil)
	return n.block(blockEPB, body)
}

// pb appends an obsolete Packet Block.
func (n *ng) pb(id uint16, ts uint64, data []byte, wire uint32) *ng {
	var body []byte
	body = n.order.AppendUint16(body, id)
	body = n.order.AppendUint16(body, 0) // drops
	body = n.order.AppendUint32(body, uint32(ts>>32))
	body = n.order.AppendUint32(body, uint32(ts))
	body = n.order.AppendUint32(body, uint32(len(data)))
	body = n.order.AppendUint32(body, wire)
	return n.block(blockPB, append(body, data...))
}

func (n *ng) spb(data []byte, wire uint32) *ng {
	body := n.order.AppendUint32(nil, wire)
	return n.block(blockSPB, append(body, data...))
}

func (n *ng) bytes() []byte { return bytes.Clone(n.buf) }

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// frame returns n distinct bytes so that tests can check Data is the right record.
func frame(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}
