// Package testpcap assembles captures for tests from their packets and runs
// captures through the exporter's reader, decoder and feature stage. The
// synthetic traffic itself comes from internal/synth.
package testpcap

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"io"
	"slices"

	"github.com/netanomaly/netanomaly_exporter/collector/capture/pcapfile"
)

// Packet is one frame of a capture being assembled by a test.
type Packet struct {
	Time    int64 // Unix nanoseconds
	Data    []byte
	WireLen int // 0 means len(Data)
}

// WriteSorted writes Ethernet frames, sorted by time, as a nanosecond pcap.
func WriteSorted(w io.Writer, pkts []Packet) error {
	sorted := slices.Clone(pkts)
	slices.SortStableFunc(sorted, func(a, b Packet) int { return cmp.Compare(a.Time, b.Time) })
	bw := bufio.NewWriterSize(w, 1<<20)
	hdr := pcapfile.Header(1, 262144)
	if _, err := bw.Write(hdr[:]); err != nil {
		return err
	}
	rec := make([]byte, 16)
	for _, p := range sorted {
		wire := p.WireLen
		if wire == 0 {
			wire = len(p.Data)
		}
		binary.LittleEndian.PutUint32(rec[0:], uint32(p.Time/1e9))
		binary.LittleEndian.PutUint32(rec[4:], uint32(p.Time%1e9))
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(p.Data)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(wire))
		if _, err := bw.Write(rec); err != nil {
			return err
		}
		if _, err := bw.Write(p.Data); err != nil {
			return err
		}
	}
	return bw.Flush()
}
