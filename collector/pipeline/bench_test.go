package pipeline

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/capture/pcapfile"
	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/internal/synth"
)

var (
	captureOnce                 sync.Once
	flood, normalLink, sessions []byte
)

// captures are 1M packets each, 3 µs apart (3 s, about 330k packets/s):
// a flood where every packet comes from a new random source and opens a
// new flow, and a busy normal link of 2000 hosts whose flows carry many
// packets.
func captures(b *testing.B) (floodData, normalData []byte) {
	captureOnce.Do(func() {
		var f, n bytes.Buffer
		if err := synth.WriteFlood(&f, 1_000_000, 1, 3000); err != nil {
			b.Fatal(err)
		}
		if err := synth.WriteTraffic(&n, 1_000_000, 1, 3000, 2000); err != nil {
			b.Fatal(err)
		}
		var s bytes.Buffer
		if err := synth.WriteSessions(&s, 1_000_000, 1, 3000, 5000); err != nil {
			b.Fatal(err)
		}
		flood, normalLink, sessions = f.Bytes(), n.Bytes(), s.Bytes()
	})
	return flood, normalLink
}

// BenchmarkPipeline measures read, decode, features and flows on one core,
// the whole per-packet path of the exporter.
func BenchmarkPipeline(b *testing.B) {
	f, n := captures(b)
	b.Run("normal", func(b *testing.B) { benchPipeline(b, n) })
	b.Run("flood", func(b *testing.B) { benchPipeline(b, f) })
	b.Run("sessions", func(b *testing.B) { benchPipeline(b, sessions) })
}

func benchPipeline(b *testing.B, data []byte) {
	d := decode.NewDecoder()
	agg := features.NewAggregator(features.DefaultConfig(), "bench", nil)
	// Packets are decoded and aggregated in batches, as the pipeline does.
	infos := make([]decode.PacketInfo, 256)
	packets := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r, err := pcapfile.NewReader(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			p, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			info := &infos[n]
			info.Time, info.WireLen = p.TimeNanos, uint32(p.WireLength)
			d.Decode(p.LinkType, p.Data, info)
			if n++; n == len(infos) {
				agg.AddBatch(infos)
				n = 0
			}
			packets++
		}
		agg.AddBatch(infos[:n])
	}
	b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "packets/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(packets), "ns/packet")
}

// BenchmarkMerge measures the merger alone: the cost a packet pays for
// being captured by one of several workers and put back in time order.
func BenchmarkMerge(b *testing.B) {
	for _, workers := range []int{2, 4, 8} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			got := 0
			m, frees, done := startMerger(workers, func(o *batch) { got += o.n })
			// The workers' packets interleave: worker w holds every
			// workers-th microsecond.
			t, sent := int64(0), 0
			b.ReportAllocs()
			for b.Loop() {
				for w := range workers {
					in := <-frees[w]
					for i := range batchSize {
						in.infos[i].Time = t + int64((i*workers+w)*1000)
					}
					in.n, in.worker = batchSize, w
					m.in <- in
				}
				t += int64(batchSize * workers * 1000)
				sent += batchSize * workers
			}
			for w := range workers {
				in := <-frees[w]
				in.n, in.worker, in.eof = 0, w, true
				m.in <- in
			}
			<-done
			if got != sent {
				b.Fatalf("merged %d packets of %d", got, sent)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(sent), "ns/packet")
		})
	}
}
