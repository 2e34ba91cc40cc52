package pcapfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	le byteOrder = binary.LittleEndian
	be byteOrder = binary.BigEndian
)

// readAll reads until an error, copying Data because the reader reuses it.
func readAll(t testing.TB, r *Reader) ([]Packet, error) {
	t.Helper()
	var ps []Packet
	for range 1_000_000 {
		p, err := r.Next()
		if err != nil {
			return ps, err
		}
		if p.CaptureLength != len(p.Data) {
			t.Fatalf("packet %d: CaptureLength %d but len(Data) %d", len(ps), p.CaptureLength, len(p.Data))
		}
		p.Data = bytes.Clone(p.Data)
		ps = append(ps, p)
	}
	t.Fatal("reader never ended")
	return nil, nil
}

func checkPackets(t *testing.T, got, want []Packet) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d packets, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if w.CaptureLength == 0 {
			w.CaptureLength = len(w.Data)
		}
		if g.TimeNanos != w.TimeNanos {
			t.Errorf("packet %d: TimeNanos %d (%s), want %d (%s)", i, g.TimeNanos,
				time.Unix(0, g.TimeNanos).UTC().Format(time.RFC3339Nano), w.TimeNanos,
				time.Unix(0, w.TimeNanos).UTC().Format(time.RFC3339Nano))
		}
		if g.CaptureLength != w.CaptureLength || g.WireLength != w.WireLength {
			t.Errorf("packet %d: lengths %d/%d, want %d/%d", i, g.CaptureLength, g.WireLength, w.CaptureLength, w.WireLength)
		}
		if g.LinkType != w.LinkType || g.Interface != w.Interface {
			t.Errorf("packet %d: link type %d interface %d, want %d and %d", i, g.LinkType, g.Interface, w.LinkType, w.Interface)
		}
		if !bytes.Equal(g.Data, w.Data) {
			t.Errorf("packet %d: data %x, want %x", i, g.Data, w.Data)
		}
	}
}

func writeTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func openAll(t *testing.T, path string) (*Reader, []Packet, error) {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	ps, err := readAll(t, r)
	return r, ps, err
}

func TestEmptyCaptures(t *testing.T) {
	for name, b := range map[string][]byte{
		"pcap header only": pcapHeader(le, false, 65535, 1),
		"pcapng SHB only":  newNG(le).shb().bytes(),
		"pcapng no packet": newNG(be).shb().idb(127, 0).block(5, make([]byte, 12)).bytes(),
	} {
		t.Run(name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if _, err := r.Next(); err != io.EOF {
					t.Fatalf("Next: %v, want io.EOF", err)
				}
			}
		})
	}
}

func TestGzip(t *testing.T) {
	pcap := append(pcapHeader(be, true, 65535, 1), pcapRecord(be, 10, 5, frame(60, 1), 60)...)
	pcapng := newNG(be).shb().idb(101, 0, n2tsresol(be, 9)).epb(0, 10e9+5, frame(60, 1), 60).bytes()
	for _, tc := range []struct {
		name, format string
		data         []byte
		link         uint16
	}{
		{"pcap", "pcap", pcap, 1},
		{"pcapng", "pcapng", pcapng, 101},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, got, err := openAll(t, writeTemp(t, "capture.pcap", gzipBytes(t, tc.data)))
			if err != io.EOF {
				t.Fatalf("final error %v", err)
			}
			if !r.Compressed() || r.Format() != tc.format || r.LinkType() != tc.link {
				t.Errorf("Compressed %v Format %q LinkType %d", r.Compressed(), r.Format(), r.LinkType())
			}
			checkPackets(t, got, []Packet{{TimeNanos: 10e9 + 5, WireLength: 60, LinkType: tc.link, Data: frame(60, 1)}})
		})
	}
}

func TestNotCapture(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want []string
	}{
		{"empty", nil, []string{"empty file"}},
		{"html", []byte("<!DOCTYPE html><html><body>404</body></html>"), []string{"(first bytes 3c 21 44 4f)", "editcap -F pcap"}},
		{"short", []byte("ab"), []string{"first bytes 61 62)"}},
		{"zip", []byte("PK\x03\x04\x14\x00\x00\x00"), []string{"zip archive"}},
		{"modified pcap", []byte("\x34\xcd\xb2\xa1\x02\x00\x04\x00"), []string{"Kuznetzov"}},
		{"pcapng bad byte-order magic", []byte("\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x01\x02\x03\x04"), []string{"first bytes 0a 0d 0d 0a"}},
		{"gzip of nothing", gzipBytes(t, nil), []string{"empty file inside gzip"}},
		{"gzip of html", gzipBytes(t, []byte("<html>")), []string{"inside gzip (first bytes 3c 68 74 6d)"}},
		{"gzip of gzip", gzipBytes(t, gzipBytes(t, pcapHeader(le, false, 1, 1))), []string{"gzip inside gzip"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tc.data))
			if !errors.Is(err, ErrNotCapture) || r != nil {
				t.Fatalf("NewReader: %v, want ErrNotCapture", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	p := writeTemp(t, "index.pcap", []byte("<!DOCTYPE html>"))
	_, err := Open(p)
	if !errors.Is(err, ErrNotCapture) || !strings.Contains(err.Error(), p) {
		t.Errorf("Open(html): %v, want ErrNotCapture naming the file", err)
	}
	missing := filepath.Join(t.TempDir(), "missing.pcap")
	if _, err := Open(missing); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Open(missing): %v", err)
	}
	r, err := Open(writeTemp(t, "x", pcapHeader(le, false, 1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err == nil || err == io.EOF {
		t.Errorf("Next after Close: %v", err)
	}
}

// threePcap is a valid three-packet capture for the truncation tests.
func threePcap() []byte {
	b := pcapHeader(le, false, 65535, 1)
	for i := range 3 {
		b = append(b, pcapRecord(le, uint32(i), 0, frame(60, byte(i)), 60)...)
	}
	return b
}

func threePcapng() []byte {
	n := newNG(le).shb().idb(1, 0)
	for i := range 3 {
		n.epb(0, uint64(i)*1e6, frame(60, byte(i)), 60)
	}
	return n.bytes()
}

func TestDamagedCaptures(t *testing.T) {
	pcap, pcapng := threePcap(), threePcapng()
	shbLen, idbLen := len(newNG(le).shb().bytes()), len(newNG(le).idb(1, 0).bytes())
	valid := newNG(le).shb().idb(1, 0).epb(0, 0, frame(60, 0), 60)
	withBlock := func(raw []byte) []byte { return append(valid.bytes(), raw...) }
	blockWithLen := func(l uint32) []byte {
		b := le.AppendUint32(nil, 6)
		b = le.AppendUint32(b, l)
		return append(b, make([]byte, 40)...)
	}
	badTrailer := newNG(le).epb(0, 0, frame(8, 0), 8).bytes()
	badTrailer[len(badTrailer)-1] = 0x7f
	wrongBOM := newNG(le).shb().bytes()
	copy(wrongBOM[8:], []byte{1, 2, 3, 4})
	v2 := newNG(le).shb().bytes()
	v2[12] = 2
	overrun := le.AppendUint16(nil, 1)
	overrun = le.AppendUint16(overrun, 0)
	overrun = le.AppendUint32(overrun, 0)
	overrun = le.AppendUint16(overrun, 2)   // if_name
	overrun = le.AppendUint16(overrun, 200) // longer than the block
	overrun = append(overrun, "eth0"...)
	tooMany := newNG(le).shb()
	for range MaxInterfaces + 1 {
		tooMany.idb(1, 0)
	}
	epbTooLong := le.AppendUint32(nil, 0)
	epbTooLong = le.AppendUint32(epbTooLong, 0)
	epbTooLong = le.AppendUint32(epbTooLong, 0)
	epbTooLong = le.AppendUint32(epbTooLong, 100) // captured length
	epbTooLong = le.AppendUint32(epbTooLong, 100)
	epbTooLong = append(epbTooLong, make([]byte, 8)...)
	gz := gzipBytes(t, pcap)

	for _, tc := range []struct {
		name     string
		data     []byte
		newErr   error // expected from NewReader; nil when NewReader succeeds
		packets  int   // complete packets before the error
		nextErr  error
		contains []string
	}{
		{name: "pcap header cut", data: pcap[:10], newErr: ErrTruncated, contains: []string{"pcap file header (10 of 24 bytes)"}},
		{name: "pcap cut in record header", data: pcap[:24+76+9], packets: 1, nextErr: ErrTruncated,
			contains: []string{"inside record 2 at offset 100", "after 1 complete packets"}},
		{name: "pcap cut in record data", data: pcap[:len(pcap)-5], packets: 2, nextErr: ErrTruncated,
			contains: []string{"inside record 3", "after 2 complete packets"}},
		{name: "pcap oversize record", data: le.AppendUint32(le.AppendUint32(append(pcap[:24+76:24+76], make([]byte, 8)...), 300000), 300000),
			packets: 1, nextErr: ErrCorrupt, contains: []string{"record 2", "captured length 300000 exceeds the maximum 262144"}},
		{name: "gzip cut", data: gz[:len(gz)-12], nextErr: ErrTruncated, packets: -1},
		{name: "gzip bad checksum", data: append(gz[:len(gz)-8:len(gz)-8], 1, 2, 3, 4, 0xfc, 0, 0, 0), nextErr: ErrCorrupt, packets: 3},
		{name: "pcapng section header cut", data: pcapng[:20], newErr: ErrTruncated},
		{name: "pcapng cut after the magic", data: pcapng[:6], newErr: ErrTruncated},
		{name: "pcapng cut in interface", data: pcapng[:shbLen+10], newErr: ErrTruncated},
		{name: "pcapng cut in packet", data: pcapng[:len(pcapng)-7], packets: 2, nextErr: ErrTruncated,
			contains: []string{"inside block 5", "after 2 complete packets"}},
		{name: "pcapng cut in block header", data: pcapng[:shbLen+idbLen+4], nextErr: ErrTruncated, contains: []string{"after 0 complete packets"}},
		{name: "block length 13", data: withBlock(blockWithLen(13)), packets: 1, nextErr: ErrCorrupt, contains: []string{"block 4", "invalid length 13"}},
		{name: "block length 8", data: withBlock(blockWithLen(8)), packets: 1, nextErr: ErrCorrupt, contains: []string{"invalid length 8"}},
		{name: "block length 0", data: withBlock(blockWithLen(0)), packets: 1, nextErr: ErrCorrupt, contains: []string{"invalid length 0"}},
		{name: "block over 16 MiB", data: withBlock(blockWithLen(MaxBlockSize + 4)), packets: 1, nextErr: ErrCorrupt, contains: []string{"invalid length 16777220"}},
		{name: "unknown interface", data: withBlock(newNG(le).epb(5, 0, frame(8, 0), 8).bytes()), packets: 1, nextErr: ErrCorrupt,
			contains: []string{"block 4", "unknown interface 5 (interfaces described in this section: 1)"}},
		{name: "interfaces reset per section", data: withBlock(newNG(le).shb().idb(1, 0).epb(1, 0, nil, 0).bytes()), packets: 1, nextErr: ErrCorrupt,
			contains: []string{"interface 1"}},
		{name: "oversize packet block", data: withBlock(newNG(le).block(blockEPB, append(le.AppendUint32(make([]byte, 12), 300000), make([]byte, 300004)...)).bytes()),
			packets: 1, nextErr: ErrCorrupt, contains: []string{"captured length 300000 exceeds the maximum 262144"}},
		{name: "captured length beyond block", data: withBlock(newNG(le).block(blockEPB, epbTooLong).bytes()), packets: 1, nextErr: ErrCorrupt,
			contains: []string{"captured length 100 does not fit in block length 40"}},
		{name: "trailing length mismatch", data: withBlock(badTrailer), packets: 1, nextErr: ErrCorrupt, contains: []string{"trailing block length"}},
		{name: "section byte-order magic", data: withBlock(wrongBOM), packets: 1, nextErr: ErrCorrupt, contains: []string{"byte-order magic 01 02 03 04"}},
		{name: "pcapng version 2", data: v2, newErr: ErrCorrupt, contains: []string{"unsupported pcapng version 2.0"}},
		{name: "option overruns block", data: newNG(le).shb().block(blockIDB, overrun).bytes(), newErr: ErrCorrupt, contains: []string{"block 2", "option 2 of length 200 overruns"}},
		{name: "simple packet before interface", data: newNG(le).shb().spb(frame(8, 0), 8).bytes(), newErr: ErrCorrupt, contains: []string{"no interface"}},
		{name: "too many interfaces", data: tooMany.bytes(), nextErr: ErrCorrupt, contains: []string{"more than 4096 interfaces"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tc.data))
			var got []Packet
			if tc.newErr != nil {
				if !errors.Is(err, tc.newErr) {
					t.Fatalf("NewReader: %v, want %v", err, tc.newErr)
				}
			} else {
				if err != nil {
					t.Fatalf("NewReader: %v", err)
				}
				got, err = readAll(t, r)
				if !errors.Is(err, tc.nextErr) {
					t.Fatalf("after %d packets: %v, want %v", len(got), err, tc.nextErr)
				}
				if tc.packets >= 0 && len(got) != tc.packets {
					t.Errorf("%d packets before the error, want %d", len(got), tc.packets)
				}
				if _, again := r.Next(); again != err {
					t.Errorf("second Next: %v, want the same error", again)
				}
			}
			for _, w := range tc.contains {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			t.Log(err)
		})
	}
}

// TestTruncatedKeepsPackets is the caller's view: every complete packet,
// with correct content, comes before ErrTruncated.
func TestTruncatedKeepsPackets(t *testing.T) {
	for name, b := range map[string][]byte{"pcap": threePcap(), "pcapng": threePcapng()} {
		t.Run(name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(b[:len(b)-1]))
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(t, r)
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("final error %v", err)
			}
			var want []Packet
			for i := range 2 {
				want = append(want, Packet{TimeNanos: int64(i) * 1e9, WireLength: 60, LinkType: 1, Data: frame(60, byte(i))})
			}
			checkPackets(t, got, want)
		})
	}
}

func TestZeroAllocsPerPacket(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage counters change allocation counts")
	}
	const pkts = 3000
	for _, name := range []string{"pcap", "pcapng", "pcapng with skipped blocks", "pcap.gz"} {
		t.Run(name, func(t *testing.T) {
			b := benchCapture(t, name, pkts)
			r, err := NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			// The first packets grow the buffer; after that none may allocate.
			for range 10 {
				if _, err := r.Next(); err != nil {
					t.Fatal(err)
				}
			}
			allocs := testing.AllocsPerRun(pkts-100, func() {
				if _, err := r.Next(); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per packet, want 0", allocs)
			}
		})
	}
}

func TestBadGzipHeader(t *testing.T) {
	// Compression method 7 does not exist.
	_, err := NewReader(bytes.NewReader([]byte{0x1f, 0x8b, 7, 0, 0, 0, 0, 0, 0, 0xff, 0, 0}))
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "gzip header") {
		t.Errorf("NewReader: %v, want ErrCorrupt about the gzip header", err)
	}
}

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

// TestReadErrorsPassThrough checks that an I/O failure is neither hidden as
// corruption nor as truncation, and keeps its cause for errors.Is.
func TestReadErrorsPassThrough(t *testing.T) {
	disk := errors.New("disk on fire")
	for name, prefix := range map[string][]byte{"pcap": threePcap()[:120], "pcapng": threePcapng()[:250]} {
		t.Run(name, func(t *testing.T) {
			r, err := NewReader(io.MultiReader(bytes.NewReader(prefix), failingReader{disk}))
			if err != nil {
				t.Fatal(err)
			}
			_, err = readAll(t, r)
			if !errors.Is(err, disk) || errors.Is(err, ErrTruncated) || errors.Is(err, ErrCorrupt) {
				t.Fatalf("final error %v, want the disk error alone", err)
			}
			if !strings.Contains(err.Error(), "at offset") {
				t.Errorf("error %q does not say where", err)
			}
		})
	}
	if _, err := NewReader(failingReader{disk}); !errors.Is(err, disk) {
		t.Errorf("NewReader: %v, want the disk error", err)
	}
}

// chunkReader returns its data in Reads of changing sizes, and hides its
// length, so that the reader's buffer ends at every offset of a record.
type chunkReader struct {
	data []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	c.n = (c.n*7 + 13) % 3001
	k := min(len(p), len(c.data), 1+c.n)
	copy(p, c.data[:k])
	c.data = c.data[k:]
	return k, nil
}

// Records are returned in place from the read buffer when they are in it:
// a record that is only partly there, or whose block trailer is not, must
// still come out whole and unchanged.
func TestRecordsAcrossBufferRefills(t *testing.T) {
	const packets = 3000 // 2.5 MB: more than the largest read buffer
	var want []Packet
	pcap := pcapHeader(le, true, 65535, 1)
	ngEPB := newNG(le).shb().idb(1, 0, newNG(le).tsresol(9))
	ngSPB := newNG(le).shb().idb(1, 0)
	var spbWant []Packet
	for i := range packets {
		d := frame(1+(i*389)%1500, byte(i))
		ts := uint64(1_700_000_000_000_000_000 + i*1000)
		pcap = append(pcap, pcapRecord(le, uint32(ts/1e9), uint32(ts%1e9), d, uint32(len(d)+4))...)
		ngEPB.epb(0, ts, d, uint32(len(d)+4))
		ngSPB.spb(d, uint32(len(d)))
		want = append(want, Packet{TimeNanos: int64(ts), WireLength: len(d) + 4, LinkType: 1, Data: d})
		spbWant = append(spbWant, Packet{WireLength: len(d), LinkType: 1, Data: d})
	}
	for _, c := range []struct {
		name string
		data []byte
		want []Packet
	}{
		{"pcap", pcap, want},
		{"pcapng enhanced packet blocks", ngEPB.bytes(), want},
		{"pcapng simple packet blocks", ngSPB.bytes(), spbWant},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, src := range []io.Reader{&chunkReader{data: c.data}, struct{ io.Reader }{bytes.NewReader(c.data)}} {
				r, err := NewReader(src)
				if err != nil {
					t.Fatal(err)
				}
				got, err := readAll(t, r)
				if err != io.EOF {
					t.Fatalf("final error %v, want io.EOF", err)
				}
				checkPackets(t, got, c.want)
			}
		})
	}
}
