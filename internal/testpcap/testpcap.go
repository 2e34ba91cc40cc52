// Package testpcap assembles captures for tests from their packets and runs
// captures through the exporter's reader, decoder and feature stage. The
// synthetic traffic itself comes from internal/synth.
package testpcap

import (
	"bufio"
	"cmp"
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
		pcapfile.PutRecordHeader(rec, p.Time, len(p.Data), wire)
		if _, err := bw.Write(rec); err != nil {
			return err
		}
		if _, err := bw.Write(p.Data); err != nil {
			return err
		}
	}
	return bw.Flush()
}
