package ipfix

import (
	"context"
	"net"
	"testing"
	"time"
)

// discardUDP is a loopback UDP socket that reads and drops everything.
func discardUDP(b *testing.B) string {
	b.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	b.Cleanup(func() { conn.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			if _, err := conn.Read(buf); err != nil {
				return
			}
		}
	}()
	return conn.LocalAddr().String()
}

// benchFlows is a mix of IPv4 and IPv6 flows.
func benchFlows() []Flow {
	flows := make([]Flow, 64)
	for i := range flows {
		if i%4 == 0 {
			flows[i] = numbered(udpFlow6, i)
		} else {
			flows[i] = numbered(tcpFlow4, i)
		}
	}
	return flows
}

// BenchmarkExport is the cost to the caller (the flow table) of handing
// over one flow, with the sender running against a UDP collector.
func BenchmarkExport(b *testing.B) {
	e, err := New(Config{Address: discardUDP(b)}, nil)
	if err != nil {
		b.Fatal(err)
	}
	flows := benchFlows()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e.Export(&flows[i&63])
		i++
	}
	b.StopTimer()
	b.ReportMetric(float64(e.Stats().RecordsDropped)/float64(i), "dropped/op")
	closeBench(b, e)
}

// BenchmarkExportParallel is Export from several pipelines at once.
func BenchmarkExportParallel(b *testing.B) {
	e, err := New(Config{Address: discardUDP(b)}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		flows := benchFlows()
		i := 0
		for pb.Next() {
			e.Export(&flows[i&63])
			i++
		}
	})
	b.StopTimer()
	closeBench(b, e)
}

// BenchmarkPack is the encoding alone: flows packed into full messages
// at the default MTU.
func BenchmarkPack(b *testing.B) {
	p := newPacker(DefaultMTU, 1)
	flows := benchFlows()
	var bytes int
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		f := &flows[i&63]
		fam := family(f)
		if !p.fits(fam) {
			bytes += len(p.message(1, uint32(i)))
			p.reset()
		}
		p.add(f, fam)
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "flows/s")
	b.ReportMetric(float64(bytes)/float64(i), "bytes/flow")
}

// BenchmarkSenderUDP is the sender goroutine's throughput: flows through
// the queue, packed and written to a loopback UDP socket. The queue is
// fed with blocking sends so that nothing is dropped.
func BenchmarkSenderUDP(b *testing.B) {
	e, err := newExporter(Config{Address: discardUDP(b)}, nil, defaultTuning)
	if err != nil {
		b.Fatal(err)
	}
	flows := benchFlows()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e.queue <- flows[i&63]
		i++
	}
	closeBench(b, e) // flushes the rest: part of the work
	b.StopTimer()
	st := e.Stats()
	if st.RecordsSent != uint64(i) {
		b.Fatalf("sent %d of %d records: %+v", st.RecordsSent, i, st)
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "flows/s")
	b.ReportMetric(float64(st.MessagesSent)/float64(i), "msgs/flow")
}

func closeBench(b *testing.B, e *Exporter) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		b.Fatal(err)
	}
}
