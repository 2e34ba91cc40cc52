package pcapfile

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// benchCapture builds an in-memory capture of n 64-byte frames.
func benchCapture(tb testing.TB, kind string, n int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	data := frame(64, 0)
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	switch kind {
	case "pcap", "pcap.gz":
		w := pcapgo.NewWriter(&buf)
		if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
			tb.Fatal(err)
		}
		for i := range n {
			ci := gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Microsecond), CaptureLength: 64, Length: 64}
			if err := w.WritePacket(ci, data); err != nil {
				tb.Fatal(err)
			}
		}
		if kind == "pcap.gz" {
			return gzipBytes(tb, buf.Bytes())
		}
	case "pcapng":
		w, err := pcapgo.NewNgWriter(&buf, layers.LinkTypeEthernet)
		if err != nil {
			tb.Fatal(err)
		}
		for i := range n {
			ci := gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Microsecond), CaptureLength: 64, Length: 64}
			if err := w.WritePacket(ci, data); err != nil {
				tb.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			tb.Fatal(err)
		}
	case "pcapng with skipped blocks":
		ng := newNG(le).shb().idb(1, 0, newNG(le).tsresol(9))
		for i := range n {
			ng.epb(0, uint64(ts.UnixNano())+uint64(i)*1000, data, 64)
			ng.block(0x40000bad, make([]byte, 24)) // custom block: must be skipped without allocating
		}
		return ng.bytes()
	default:
		tb.Fatalf("unknown capture kind %q", kind)
	}
	return buf.Bytes()
}

// BenchmarkReader reads a 100k-packet capture per iteration. allocs/op and
// B/op are per file (the Reader, its bufio buffer, the packet buffer, and
// gzip state for .gz), not per packet: divided by 100k packets they are 0;
// TestZeroAllocsPerPacket asserts exactly 0 in steady state.
func BenchmarkReader(b *testing.B) {
	const pkts = 100_000
	for _, kind := range []string{"pcap", "pcapng", "pcapng with skipped blocks", "pcap.gz"} {
		b.Run(kind, func(b *testing.B) {
			file := benchCapture(b, kind, pkts)
			b.SetBytes(int64(len(file)))
			b.ReportAllocs()
			for b.Loop() {
				r, err := NewReader(bytes.NewReader(file))
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for {
					_, err := r.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n != pkts {
					b.Fatalf("read %d packets, want %d", n, pkts)
				}
			}
			total := float64(pkts) * float64(b.N)
			b.ReportMetric(total/b.Elapsed().Seconds(), "packets/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/packet")
		})
	}
}
