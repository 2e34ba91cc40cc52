// Command trim shortens the packets of a capture for the variant corpus in
// test/corpus/testdata and writes them as a gzipped classic pcap with
// nanosecond timestamps, keeping every packet's original length.
//
//	go run ./test/corpus/trim IN.pcap OUT.pcap.gz
//
// Each packet keeps what a detector reads and little else: for TCP every
// header (link, VLAN, IP with options or IPv6 extension headers, TCP with
// options) and the first 32 payload bytes, enough for the start of an HTTP
// request line; for UDP the first 256 bytes, enough for DNS names; for
// anything else, or a packet whose headers do not parse, the first 128.
// IN may be pcap or pcapng, plain or gzipped (it is read with
// collector/capture/pcapfile).
package main

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/netanomaly/netanomaly_exporter/collector/capture/pcapfile"
)

// Bytes kept, see the package comment.
const (
	tcpPayloadKeep = 32
	udpKeep        = 256
	otherKeep      = 128
)

// LINKTYPE_* values whose link header cut knows.
const (
	linkEthernet  = 1
	linkRaw       = 101
	linkLinuxSLL  = 113
	linkIPv4      = 228
	linkIPv6      = 229
	linkLinuxSLL2 = 276
)

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

func run(args []string, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, "usage: trim IN.pcap OUT.pcap.gz")
		return 2
	}
	st, err := trimFile(args[0], args[1])
	if err != nil {
		fmt.Fprintf(stderr, "trim: %v\n", err)
		return 1
	}
	if st.truncated {
		fmt.Fprintf(stderr, "trim: %s: warning: the capture ends inside a record; the %d packets before it are kept\n", args[0], st.packets)
	}
	fmt.Fprintf(stderr, "trim: %s: %d packets, %d of %d captured bytes kept\n", args[1], st.packets, st.keptBytes, st.inBytes)
	return 0
}

type stats struct {
	packets            int
	inBytes, keptBytes int64
	truncated          bool // the input ended inside a record
}

// trimFile reads in and writes out through a temporary file, so that out
// is either the old file or the whole new one.
func trimFile(in, out string) (stats, error) {
	r, err := pcapfile.Open(in)
	if err != nil {
		return stats{}, fmt.Errorf("open capture %q: %w", in, err)
	}
	defer func() { _ = r.Close() }()
	tmp, err := os.CreateTemp(filepath.Dir(out), ".trim-*")
	if err != nil {
		return stats{}, fmt.Errorf("create output: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // gone once renamed
	st, err := trim(r, tmp)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return st, fmt.Errorf("trim %q: %w", in, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return st, err
	}
	return st, os.Rename(tmp.Name(), out)
}

// packetSource is what trim needs of *pcapfile.Reader.
type packetSource interface {
	LinkType() uint16
	Next() (pcapfile.Packet, error)
}

// trim copies the packets of r to w, each cut by cut, as a gzipped classic
// pcap. A capture that ends in a truncated record keeps the packets before
// it; a packet whose link type differs from the first one is an error,
// since a classic pcap has one link type.
func trim(r packetSource, w io.Writer) (stats, error) {
	var st stats
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return st, err
	}
	bw := bufio.NewWriterSize(zw, 1<<16)
	link := r.LinkType()
	hdr := pcapfile.Header(link, pcapfile.MaxRecordSize)
	if _, err := bw.Write(hdr[:]); err != nil {
		return st, err
	}
	var rec [pcapfile.RecordHeaderSize]byte
	for {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, pcapfile.ErrTruncated) {
			st.truncated = true
			break
		}
		if err != nil {
			return st, err
		}
		if p.LinkType != link {
			return st, fmt.Errorf("packet %d has link type %d, the file %d", st.packets+1, p.LinkType, link)
		}
		n := cut(link, p.Data)
		wire := max(p.WireLength, p.CaptureLength)
		pcapfile.PutRecordHeader(rec[:], p.TimeNanos, n, wire)
		if _, err := bw.Write(rec[:]); err != nil {
			return st, err
		}
		if _, err := bw.Write(p.Data[:n]); err != nil {
			return st, err
		}
		st.packets++
		st.inBytes += int64(p.CaptureLength)
		st.keptBytes += int64(n)
	}
	if err := bw.Flush(); err != nil {
		return st, err
	}
	return st, zw.Close()
}

// cut returns how many leading bytes of the captured packet data to keep.
// It never returns more than len(data).
func cut(link uint16, data []byte) int {
	n := cutLen(link, data)
	return min(n, len(data))
}

func cutLen(link uint16, data []byte) int {
	off, ethType, ok := linkHeader(link, data)
	if !ok {
		return otherKeep
	}
	var l4 int
	var proto byte
	switch ethType {
	case 0x0800:
		l4, proto, ok = ipv4Header(data, off)
	case 0x86dd:
		l4, proto, ok = ipv6Header(data, off)
	default:
		return otherKeep
	}
	if !ok {
		return otherKeep
	}
	switch proto {
	case 6:
		if len(data) < l4+20 {
			return otherKeep
		}
		thl := int(data[l4+12]>>4) * 4
		if thl < 20 || len(data) < l4+thl {
			return otherKeep
		}
		return l4 + thl + tcpPayloadKeep
	case 17:
		return udpKeep
	}
	return otherKeep
}

// linkHeader returns where the network header starts and its EtherType,
// after any 802.1Q/802.1ad tags.
func linkHeader(link uint16, data []byte) (off int, ethType uint16, ok bool) {
	be := binary.BigEndian
	switch link {
	case linkEthernet:
		off = 14
		if len(data) < off {
			return 0, 0, false
		}
		ethType = be.Uint16(data[12:])
	case linkLinuxSLL:
		off = 16
		if len(data) < off {
			return 0, 0, false
		}
		ethType = be.Uint16(data[14:])
	case linkLinuxSLL2:
		off = 20
		if len(data) < off {
			return 0, 0, false
		}
		ethType = be.Uint16(data[0:])
	case linkRaw, linkIPv4, linkIPv6:
		if len(data) < 1 {
			return 0, 0, false
		}
		switch data[0] >> 4 {
		case 4:
			return 0, 0x0800, true
		case 6:
			return 0, 0x86dd, true
		}
		return 0, 0, false
	default:
		return 0, 0, false
	}
	for tags := 0; (ethType == 0x8100 || ethType == 0x88a8) && tags < 4; tags++ {
		if len(data) < off+4 {
			return 0, 0, false
		}
		ethType = be.Uint16(data[off+2:])
		off += 4
	}
	return off, ethType, true
}

// ipv4Header returns where the transport header starts. A fragment other
// than the first has no transport header.
func ipv4Header(data []byte, off int) (l4 int, proto byte, ok bool) {
	if len(data) < off+20 || data[off]>>4 != 4 {
		return 0, 0, false
	}
	ihl := int(data[off]&0x0f) * 4
	if ihl < 20 || len(data) < off+ihl {
		return 0, 0, false
	}
	if binary.BigEndian.Uint16(data[off+6:])&0x1fff != 0 {
		return 0, 0, false
	}
	return off + ihl, data[off+9], true
}

// ipv6Header walks the extension headers to the transport header.
func ipv6Header(data []byte, off int) (l4 int, proto byte, ok bool) {
	if len(data) < off+40 || data[off]>>4 != 6 {
		return 0, 0, false
	}
	next := data[off+6]
	off += 40
	for range 8 {
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(data) < off+2 {
				return 0, 0, false
			}
			next, off = data[off], off+(int(data[off+1])+1)*8
		case 51: // authentication header
			if len(data) < off+2 {
				return 0, 0, false
			}
			next, off = data[off], off+(int(data[off+1])+2)*4
		case 44: // fragment
			if len(data) < off+8 {
				return 0, 0, false
			}
			if binary.BigEndian.Uint16(data[off+2:])&0xfff8 != 0 {
				return 0, 0, false
			}
			next, off = data[off], off+8
		default:
			return off, next, true
		}
	}
	return 0, 0, false
}
