package testpcap

import (
	"io"
	"os"

	"github.com/netanomaly/netanomaly_exporter/collector/capture/pcapfile"
	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// Aggregate reads the capture in r to its end through the exporter's
// reader and decoder into agg, in batches as the pipeline feeds it, and
// flushes agg's last window. It returns the reader's error, or nil at a
// clean end; packets read before an error are aggregated.
func Aggregate(r io.Reader, agg *features.Aggregator) error {
	return AggregateShifted(r, agg, 0)
}

// AggregateShifted is Aggregate with every packet's time moved by shift
// nanoseconds: the same capture on another alignment of the window grid.
func AggregateShifted(r io.Reader, agg *features.Aggregator, shift int64) error {
	pr, err := pcapfile.NewReader(r)
	if err != nil {
		return err
	}
	d := decode.NewDecoder()
	batch := make([]decode.PacketInfo, 0, 256)
	for {
		p, err := pr.Next()
		if err != nil {
			agg.AddBatch(batch)
			agg.Flush()
			if err == io.EOF {
				return nil
			}
			return err
		}
		batch = batch[:len(batch)+1]
		info := &batch[len(batch)-1]
		info.Time, info.WireLen = p.TimeNanos+shift, uint32(p.WireLength)
		if !d.Decode(p.LinkType, p.Data, info) {
			batch = batch[:len(batch)-1] // an unsupported link type
			continue
		}
		if len(batch) == cap(batch) {
			agg.AddBatch(batch)
			batch = batch[:0]
		}
	}
}

// AggregateFile is Aggregate on the capture file at path.
func AggregateFile(path string, agg *features.Aggregator) error {
	return AggregateFileShifted(path, agg, 0)
}

// AggregateFileShifted is AggregateShifted on the capture file at path.
func AggregateFileShifted(path string, agg *features.Aggregator, shift int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return AggregateShifted(f, agg, shift)
}
