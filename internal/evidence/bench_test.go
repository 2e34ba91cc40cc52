package evidence

import (
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/internal/testutil"
)

// benchFrames are 1514-byte Ethernet/IPv4/TCP frames from 16 sources,
// so that Packet copies a whole snaplen of each. They are few, so hot in
// the cache as a frame the capture loop has just decoded is.
func benchFrames(b *testing.B) (frames [][]byte, srcs [][16]byte) {
	b.Helper()
	for i := range 16 {
		src := v4(10, 0, byte(i>>8), byte(i))
		f := tcp4Frame(b, src, v4(192, 0, 2, 1), 1460)
		frames = append(frames, f)
		srcs = append(srcs, src)
	}
	return frames, srcs
}

func benchRecorder(b *testing.B) *Recorder {
	b.Helper()
	s, err := Open(Config{Dir: b.TempDir()}, nil)
	if err != nil {
		b.Fatal(err)
	}
	r, err := s.NewRecorder(Interface{Name: "eth0", LinkType: decode.LinkEthernet})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return r
}

func benchPacket(b *testing.B, r *Recorder) {
	frames, srcs := benchFrames(b)
	dst := v4(192, 0, 2, 1)
	ts := int64(1_700_000_000e9)
	b.ReportAllocs()
	b.SetBytes(int64(DefaultSnaplen))
	b.ResetTimer()
	cpu := testutil.ProcessCPU()
	for i := range b.N {
		j := i & 15
		ts += 1000
		r.Packet(ts, frames[j], len(frames[j]), srcs[j], dst)
	}
	// CPU time, unlike ns/op, does not count the time other processes of
	// a shared machine had the core.
	if cpu := testutil.ProcessCPU() - cpu; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkPacket is the capture loop's cost per packet with no attack
// being recorded: a snaplen copy into a 16 MiB ring.
func BenchmarkPacket(b *testing.B) {
	benchPacket(b, benchRecorder(b))
}

// BenchmarkPacketRecording is the same while an attack from other hosts
// is recorded: each packet is also matched against its addresses.
func BenchmarkPacketRecording(b *testing.B) {
	r := benchRecorder(b)
	if _, err := r.Start(Attack{ID: "a", Type: "syn_flood", Start: 1_700_000_000e9, Sources: [][16]byte{v4(198, 51, 100, 1)}, Targets: [][16]byte{v4(203, 0, 113, 9)}}); err != nil {
		b.Fatal(err)
	}
	benchPacket(b, r)
}

// BenchmarkRewrite is the writer's cost of anonymizing one packet.
func BenchmarkRewrite(b *testing.B) {
	f := tcp4Frame(b, v4(10, 0, 0, 1), v4(192, 0, 2, 1), 1460)[:DefaultSnaplen]
	buf := make([]byte, len(f))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, f)
		if _, ok := rewrite(decode.LinkEthernet, buf, flipAddr); !ok {
			b.Fatal("rewrite failed")
		}
	}
}

// BenchmarkBackfill is the capture loop's stall when it serves a Start: a
// walk over a full 16 MiB ring (about 95,000 packets) copying the attack's
// packets, here one in 16.
func BenchmarkBackfill(b *testing.B) {
	r := benchRecorder(b)
	frames, srcs := benchFrames(b)
	dst := v4(192, 0, 2, 1)
	ts := int64(1_700_000_000e9)
	for i := range DefaultRingBytes / recSize(DefaultSnaplen) {
		j := i & 15
		ts += 1000
		r.Packet(ts, frames[j], len(frames[j]), srcs[j], dst)
	}
	rec := newRecording(Attack{ID: "a", Type: "syn_flood", Start: ts, Sources: srcs[:1]}, r.cfg)
	b.ReportAllocs()
	for b.Loop() {
		if len(r.backfill(rec)) == 0 {
			b.Fatal("nothing matched")
		}
	}
}
