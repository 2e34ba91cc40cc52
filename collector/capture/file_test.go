package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/netanomaly/netanomaly_exporter/collector/capture/pcapfile"
	"github.com/netanomaly/netanomaly_exporter/internal/synth"
	"github.com/netanomaly/netanomaly_exporter/internal/testutil"
)

// fileT0 is the timestamp of the first packet of the generated captures.
var fileT0 = time.Date(2024, 3, 1, 12, 0, 0, 123456789, time.UTC)

type fileRec struct {
	at   time.Time
	data []byte
}

// udpFrame returns a small Ethernet/IPv4/UDP frame whose payload carries i.
func udpFrame(i int) []byte {
	b := make([]byte, 14+20+8+4)
	copy(b[0:6], []byte{0x02, 0, 0, 0, 0, 1})
	copy(b[6:12], []byte{0x02, 0, 0, 0, 0, 2})
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], 20+8+4)
	ip[8], ip[9] = 64, 17
	copy(ip[12:16], []byte{10, 0, 0, 1})
	copy(ip[16:20], []byte{10, 0, 0, 2})
	udp := ip[20:]
	binary.BigEndian.PutUint16(udp[0:], 40000)
	binary.BigEndian.PutUint16(udp[2:], 53)
	binary.BigEndian.PutUint16(udp[4:], 8+4)
	binary.BigEndian.PutUint32(udp[8:], uint32(i))
	return b
}

// fileRecords returns one frame per offset from fileT0.
func fileRecords(offsets ...time.Duration) []fileRec {
	out := make([]fileRec, len(offsets))
	for i, o := range offsets {
		out[i] = fileRec{at: fileT0.Add(o), data: udpFrame(i)}
	}
	return out
}

// pcapOf writes recs as a nanosecond pcap with gopacket's writer.
func pcapOf(t *testing.T, recs []fileRec) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriterNanos(&buf)
	if err := w.WriteFileHeader(65536, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		ci := gopacket.CaptureInfo{Timestamp: r.at, CaptureLength: len(r.data), Length: len(r.data)}
		if err := w.WritePacket(ci, r.data); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// writeTempCapture writes b to a file in t.TempDir.
func writeTempCapture(t *testing.T, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openTestFile(t *testing.T, cfg FileConfig, logger *slog.Logger) *FileSource {
	t.Helper()
	if logger == nil {
		logger = quietLogger()
	}
	s, err := OpenFile(cfg, logger)
	if err != nil {
		t.Fatalf("OpenFile(%q): %v", cfg.Path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// replayClock replaces a FileSource's wall clock: sleeping advances it.
type replayClock struct {
	now    time.Time
	slept  time.Duration
	sleeps int
}

func (c *replayClock) install(s *FileSource) {
	s.nowFunc = func() time.Time { return c.now }
	s.sleep = func(d time.Duration) {
		if d < 0 {
			panic(fmt.Sprintf("negative sleep %v", d))
		}
		c.now = c.now.Add(d)
		c.slept += d
		c.sleeps++
	}
}

func newReplayClock() *replayClock {
	return &replayClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// nextPacketAfterTimeouts calls Next until it returns something other than
// ErrTimeout and reports how many timeouts came first.
func nextPacketAfterTimeouts(t *testing.T, s Source, maxTimeouts int) (Packet, int, error) {
	t.Helper()
	for n := 0; ; n++ {
		p, err := s.Next()
		if !errors.Is(err, ErrTimeout) {
			return p, n, err
		}
		if n >= maxTimeouts {
			t.Fatalf("still ErrTimeout after %d calls", n+1)
		}
	}
}

func TestFileSourceFastReplay(t *testing.T) {
	recs := fileRecords(0, 10*time.Millisecond, 10*time.Millisecond, 3*time.Second, 3*time.Hour)
	path := writeTempCapture(t, "small.pcap", pcapOf(t, recs))
	s := openTestFile(t, FileConfig{Path: path}, nil)
	if s.LinkType() != linkEthernet || s.Format() != "pcap" {
		t.Errorf("LinkType, Format = %d, %q; want 1, pcap", s.LinkType(), s.Format())
	}
	if _, ok := s.Clock(); ok {
		t.Error("Clock() ok at speed 0; want no packet clock")
	}
	for i, r := range recs {
		p, err := s.Next()
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if p.TimeNanos != r.at.UnixNano() || !bytes.Equal(p.Data, r.data) || p.WireLen != len(r.data) || p.LinkType != linkEthernet {
			t.Errorf("packet %d = {t %d, len %d, wire %d, link %d}; want {t %d, len %d, wire %d, link 1}",
				i, p.TimeNanos, len(p.Data), p.WireLen, p.LinkType, r.at.UnixNano(), len(r.data), len(r.data))
		}
	}
	for range 2 {
		if _, err := s.Next(); err != io.EOF {
			t.Fatalf("Next after the last packet = %v; want io.EOF", err)
		}
	}
	if got := s.Stats(); got != (Stats{Received: uint64(len(recs))}) {
		t.Errorf("Stats() = %+v; want Received %d", got, len(recs))
	}
	if _, ok := s.Clock(); ok {
		t.Error("Clock() ok at speed 0 after the replay")
	}
}

func TestFileSourceTestpcapFlood(t *testing.T) {
	const n, gap = 1000, int64(1500)
	var buf bytes.Buffer
	if err := synth.WriteFlood(&buf, n, 7, gap); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  FileConfig
	}{
		{"file", FileConfig{Path: writeTempCapture(t, "flood.pcap", buf.Bytes())}},
		{"data", FileConfig{Path: "in-memory flood", Data: buf.Bytes()}},
		{"gzip", FileConfig{Path: writeTempCapture(t, "flood.pcap.gz", gzipBytes(t, buf.Bytes()))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTestFile(t, tc.cfg, nil)
			first := int64(0)
			for i := range n {
				p, err := s.Next()
				if err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
				if i == 0 {
					first = p.TimeNanos
				}
				if want := first + int64(i)*gap; p.TimeNanos != want {
					t.Fatalf("packet %d at %d; want %d (in order, %d ns apart)", i, p.TimeNanos, want, gap)
				}
			}
			if _, err := s.Next(); err != io.EOF {
				t.Fatalf("Next after %d packets = %v; want io.EOF", n, err)
			}
			if got := s.Stats().Received; got != n {
				t.Errorf("Received = %d; want %d", got, n)
			}
		})
	}
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestFileSourceLoop(t *testing.T) {
	for _, tc := range []struct {
		name    string
		offsets []time.Duration
		// want: file offsets of three passes, relative to fileT0.
		want []time.Duration
	}{
		{
			// Span 3 s over 2 gaps: the mean gap is 1.5 s, so each pass
			// starts 1.5 s after the previous one ended.
			name:    "three packets",
			offsets: []time.Duration{0, time.Second, 3 * time.Second},
			want: []time.Duration{
				0, time.Second, 3 * time.Second,
				4500 * time.Millisecond, 5500 * time.Millisecond, 7500 * time.Millisecond,
				9 * time.Second, 10 * time.Second, 12 * time.Second,
			},
		},
		{
			// One packet has no gap: passes are 1 ms apart.
			name:    "one packet",
			offsets: []time.Duration{0},
			want:    []time.Duration{0, time.Millisecond, 2 * time.Millisecond},
		},
		{
			// Equal timestamps: the gap is at least 1 ns.
			name:    "same timestamp",
			offsets: []time.Duration{0, 0},
			want:    []time.Duration{0, 0, 1, 1, 2, 2},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs := fileRecords(tc.offsets...)
			s := openTestFile(t, FileConfig{Path: writeTempCapture(t, "loop.pcap", pcapOf(t, recs)), Loop: true}, nil)
			for i, off := range tc.want {
				p, err := s.Next()
				if err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
				if want := fileT0.Add(off).UnixNano(); p.TimeNanos != want {
					t.Errorf("packet %d (pass %d) at fileT0%+v; want fileT0%+v", i, i/len(recs)+1,
						time.Duration(p.TimeNanos-fileT0.UnixNano()), off)
				}
				if want := recs[i%len(recs)].data; !bytes.Equal(p.Data, want) {
					t.Errorf("packet %d: data %x; want %x", i, p.Data, want)
				}
			}
			if got := s.Stats().Received; got != uint64(len(tc.want)) {
				t.Errorf("Received = %d; want %d", got, len(tc.want))
			}
		})
	}
}

func TestFileSourceLoopEmpty(t *testing.T) {
	s := openTestFile(t, FileConfig{Path: writeTempCapture(t, "empty.pcap", pcapOf(t, nil)), Loop: true}, nil)
	for range 3 {
		if _, err := s.Next(); err != io.EOF {
			t.Fatalf("Next on an empty looped capture = %v; want io.EOF (no endless loop)", err)
		}
	}
}

func TestFileSourcePacedRealTime(t *testing.T) {
	recs := fileRecords(0, 2*time.Second)
	s := openTestFile(t, FileConfig{Path: writeTempCapture(t, "paced.pcap", pcapOf(t, recs)), Speed: 1}, nil)
	clk := newReplayClock()
	clk.install(s)
	start := clk.now

	if _, ok := s.Clock(); ok {
		t.Error("Clock() ok before the first packet")
	}
	p, err := s.Next()
	if err != nil || p.TimeNanos != recs[0].at.UnixNano() {
		t.Fatalf("first packet: %v, t %d", err, p.TimeNanos)
	}
	if clk.sleeps != 0 {
		t.Errorf("the first packet waited %v; want it at once", clk.slept)
	}
	if c, ok := s.Clock(); !ok || c != recs[0].at.UnixNano() {
		t.Errorf("Clock() = %d, %v; want the first packet's time %d", c, ok, recs[0].at.UnixNano())
	}
	// 2 s to the next packet, waited in PollInterval steps: 7 timeouts
	// (1.75 s), then the last 250 ms and the packet.
	for i := 1; i <= 7; i++ {
		if _, err := s.Next(); !errors.Is(err, ErrTimeout) {
			t.Fatalf("call %d before the packet is due: %v; want ErrTimeout", i, err)
		}
		if got, want := clk.now.Sub(start), time.Duration(i)*PollInterval; got != want {
			t.Errorf("after timeout %d the wall clock moved %v; want %v", i, got, want)
		}
		if c, ok := s.Clock(); !ok || c != recs[0].at.Add(time.Duration(i)*PollInterval).UnixNano() {
			t.Errorf("after timeout %d Clock() = fileT0%+v; want fileT0%+v", i, time.Duration(c-fileT0.UnixNano()), time.Duration(i)*PollInterval)
		}
	}
	p, err = s.Next()
	if err != nil || p.TimeNanos != recs[1].at.UnixNano() || !bytes.Equal(p.Data, recs[1].data) {
		t.Fatalf("second packet: %v, t %d", err, p.TimeNanos)
	}
	if clk.slept != 2*time.Second {
		t.Errorf("slept %v in total; want 2s", clk.slept)
	}
	if c, _ := s.Clock(); c != recs[1].at.UnixNano() {
		t.Errorf("Clock() = fileT0%+v after the second packet; want fileT0+2s", time.Duration(c-fileT0.UnixNano()))
	}
	if _, err := s.Next(); err != io.EOF {
		t.Fatalf("Next after the last packet = %v; want io.EOF", err)
	}
}

func TestFileSourcePacedSpeed10(t *testing.T) {
	recs := fileRecords(0, 2*time.Second, 12*time.Second)
	s := openTestFile(t, FileConfig{Path: writeTempCapture(t, "fast.pcap", pcapOf(t, recs)), Speed: 10}, nil)
	clk := newReplayClock()
	clk.install(s)
	start := clk.now

	if _, n, err := nextPacketAfterTimeouts(t, s, 0); err != nil || n != 0 {
		t.Fatalf("first packet: %v after %d timeouts", err, n)
	}
	// 2 s of capture at speed 10: one 200 ms sleep, no timeout.
	p, n, err := nextPacketAfterTimeouts(t, s, 100)
	if err != nil || p.TimeNanos != recs[1].at.UnixNano() {
		t.Fatalf("second packet: %v", err)
	}
	if n != 0 || clk.now.Sub(start) != 200*time.Millisecond {
		t.Errorf("second packet after %d timeouts and %v; want 0 and 200ms", n, clk.now.Sub(start))
	}
	if c, _ := s.Clock(); c != recs[1].at.UnixNano() {
		t.Errorf("Clock() = fileT0%+v; want fileT0+2s", time.Duration(c-fileT0.UnixNano()))
	}
	// 10 s of capture: 1 s of wall time, 3 timeouts then 250 ms; the packet
	// clock runs 10 times as fast as the wall clock.
	if _, err := s.Next(); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Next = %v; want ErrTimeout", err)
	}
	if c, _ := s.Clock(); c != recs[1].at.Add(10*PollInterval).UnixNano() {
		t.Errorf("Clock() = fileT0%+v after one timeout; want fileT0+4.5s", time.Duration(c-fileT0.UnixNano()))
	}
	p, n, err = nextPacketAfterTimeouts(t, s, 100)
	if err != nil || p.TimeNanos != recs[2].at.UnixNano() {
		t.Fatalf("third packet: %v", err)
	}
	if n != 2 || clk.now.Sub(start) != 1200*time.Millisecond {
		t.Errorf("third packet after %d more timeouts and %v in total; want 2 and 1.2s", n, clk.now.Sub(start))
	}
}

func TestFileSourceMaxReplayGap(t *testing.T) {
	recs := fileRecords(0, time.Hour, time.Hour+time.Second)
	s := openTestFile(t, FileConfig{Path: writeTempCapture(t, "gap.pcap", pcapOf(t, recs)), Speed: 1}, nil)
	clk := newReplayClock()
	clk.install(s)

	if _, _, err := nextPacketAfterTimeouts(t, s, 0); err != nil {
		t.Fatal(err)
	}
	start := clk.now
	p, n, err := nextPacketAfterTimeouts(t, s, 10000)
	if err != nil || p.TimeNanos != recs[1].at.UnixNano() {
		t.Fatalf("packet after the gap: %v", err)
	}
	if waited := clk.now.Sub(start); waited != MaxReplayGap {
		t.Errorf("waited %v for a 1h gap; want MaxReplayGap %v", waited, MaxReplayGap)
	}
	if want := int(MaxReplayGap/PollInterval) - 1; n != want {
		t.Errorf("%d timeouts; want %d", n, want)
	}
	// The packet clock jumped over the rest of the gap.
	if c, _ := s.Clock(); c != recs[1].at.UnixNano() {
		t.Errorf("Clock() = fileT0%+v; want fileT0+1h", time.Duration(c-fileT0.UnixNano()))
	}
	// Pacing goes on normally after the gap.
	start = clk.now
	if p, n, err := nextPacketAfterTimeouts(t, s, 100); err != nil || p.TimeNanos != recs[2].at.UnixNano() || n != 3 || clk.now.Sub(start) != time.Second {
		t.Errorf("packet 1s later: %v after %d timeouts and %v; want 3 timeouts and 1s", err, n, clk.now.Sub(start))
	}
}

func TestFileSourcePacedCatchUp(t *testing.T) {
	recs := fileRecords(0, time.Second, 2*time.Second)
	s := openTestFile(t, FileConfig{Path: writeTempCapture(t, "late.pcap", pcapOf(t, recs)), Speed: 1}, nil)
	clk := newReplayClock()
	clk.install(s)
	if _, _, err := nextPacketAfterTimeouts(t, s, 0); err != nil {
		t.Fatal(err)
	}
	// The consumer stalls for 10 s: the overdue packet comes at once...
	clk.now = clk.now.Add(10 * time.Second)
	if _, n, err := nextPacketAfterTimeouts(t, s, 0); err != nil || n != 0 || clk.sleeps != 0 {
		t.Fatalf("overdue packet: %v, %d timeouts, %d sleeps", err, n, clk.sleeps)
	}
	// ...and the next one keeps its 1 s spacing instead of bursting.
	start := clk.now
	if _, n, err := nextPacketAfterTimeouts(t, s, 100); err != nil || n != 3 || clk.now.Sub(start) != time.Second {
		t.Errorf("packet after catching up: %v after %d timeouts and %v; want 3 and 1s", err, n, clk.now.Sub(start))
	}
}

func TestFileSourceTruncated(t *testing.T) {
	recs := fileRecords(0, time.Millisecond, 2*time.Millisecond, 3*time.Millisecond, 4*time.Millisecond)
	full := pcapOf(t, recs)
	cut := full[:len(full)-10] // inside the last packet's data
	for _, loop := range []bool{false, true} {
		t.Run(fmt.Sprintf("loop=%v", loop), func(t *testing.T) {
			var logs testutil.SyncBuffer
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			path := writeTempCapture(t, "cut.pcap", cut)
			s := openTestFile(t, FileConfig{Path: path, Loop: loop}, logger)
			passes := 1
			if loop {
				passes = 3
			}
			for i := range passes * (len(recs) - 1) {
				p, err := s.Next()
				if err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
				if !bytes.Equal(p.Data, recs[i%(len(recs)-1)].data) {
					t.Fatalf("packet %d: wrong data", i)
				}
			}
			if !loop {
				for range 2 {
					if _, err := s.Next(); err != io.EOF {
						t.Fatalf("Next after the complete packets = %v; want io.EOF", err)
					}
				}
			}
			out := logs.String()
			if n := strings.Count(out, "level=WARN"); n != 1 || strings.Count(out, "\n") != 1 {
				t.Fatalf("logged %d warnings; want exactly one:\n%s", n, out)
			}
			if !strings.Contains(out, "truncated") || !strings.Contains(out, path) {
				t.Errorf("warning does not say truncated or name the file: %s", out)
			}
		})
	}
}

func TestFileSourceCorrupt(t *testing.T) {
	recs := fileRecords(0, time.Millisecond, 2*time.Millisecond)
	good := pcapOf(t, recs)

	t.Run("not a capture", func(t *testing.T) {
		path := writeTempCapture(t, "notes.pcap", []byte("this is a text file, not a packet capture\n"))
		_, err := OpenFile(FileConfig{Path: path}, quietLogger())
		if err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, pcapfile.ErrNotCapture) {
			t.Fatalf("OpenFile = %v; want ErrNotCapture naming %s", err, path)
		}
	})
	t.Run("cut in the header", func(t *testing.T) {
		path := writeTempCapture(t, "header.pcap", good[:10])
		_, err := OpenFile(FileConfig{Path: path}, quietLogger())
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("OpenFile = %v; want an error naming %s", err, path)
		}
	})
	t.Run("missing", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope.pcap")
		_, err := OpenFile(FileConfig{Path: path}, quietLogger())
		if err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("OpenFile = %v; want ErrNotExist naming %s", err, path)
		}
	})
	t.Run("impossible record", func(t *testing.T) {
		bad := bytes.Clone(good)
		// Second record: captured length field after 24 + 16 + 46 bytes.
		off := 24 + 16 + len(recs[0].data) + 8
		binary.LittleEndian.PutUint32(bad[off:], 1<<30)
		path := writeTempCapture(t, "bad.pcap", bad)
		// Once: the packet before the damage, then the end, with the
		// damage named (file and offset) and counted.
		s := openTestFile(t, FileConfig{Path: path}, nil)
		if _, err := s.Next(); err != nil {
			t.Fatalf("first packet: %v", err)
		}
		if _, err := s.Next(); err != io.EOF {
			t.Fatalf("Next on a corrupt record = %v; want io.EOF after the good packets", err)
		}
		err := s.Err()
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "at offset 86") || !errors.Is(err, pcapfile.ErrCorrupt) {
			t.Fatalf("Err() = %v; want ErrCorrupt naming %s and the offset", err, path)
		}
		if st := s.Stats(); st.Received != 1 || st.FileErrors != 1 {
			t.Errorf("stats %+v, want 1 packet received and 1 file error", st)
		}
		// In a loop: each pass keeps the good packet and goes on past the
		// damage, counting it.
		s = openTestFile(t, FileConfig{Path: path, Loop: true}, nil)
		var last int64
		for i := range 5 {
			p, err := s.Next()
			if err != nil {
				t.Fatalf("loop packet %d: %v", i, err)
			}
			if i > 0 && p.TimeNanos <= last {
				t.Errorf("loop packet %d at %d, not after %d", i, p.TimeNanos, last)
			}
			last = p.TimeNanos
		}
		if st := s.Stats(); st.Received != 5 || st.FileErrors != 4 {
			t.Errorf("loop stats %+v, want 5 packets and 4 file errors", st)
		}
	})
	t.Run("negative speed", func(t *testing.T) {
		if _, err := OpenFile(FileConfig{Path: "x.pcap", Data: good, Speed: -1}, quietLogger()); err == nil {
			t.Fatal("OpenFile with speed -1 succeeded")
		}
	})
}
