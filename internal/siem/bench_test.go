package siem

import (
	"context"
	"net"
	"testing"
	"time"
)

// BenchmarkSend measures what Send costs the detector goroutine: a
// record queued (or dropped when the writer is behind), never a write.
func BenchmarkSend(b *testing.B) {
	sink, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := sink.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	s, err := New(Config{Address: sink.LocalAddr().String(), Transport: TransportUDP}, nil)
	if err != nil {
		b.Fatal(err)
	}
	rec := attackStart()
	b.ReportAllocs()
	for b.Loop() {
		s.Send(rec)
	}
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.Close(ctx)
}
