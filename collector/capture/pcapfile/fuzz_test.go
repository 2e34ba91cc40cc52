package pcapfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeedFiles are real captures, from sources whose licences allow
// copying, whose first fuzzSeedLen bytes seed FuzzReader; testdata/fuzz holds
// the same prefixes (see testdata/README.md) so the seeds work without them.
var fuzzSeedFiles = []string{
	"zeek/wikipedia.pcap",                            // classic pcap, Ethernet
	"id2t/hydra-1_tasks.pcap",                        // pcapng despite the name
	"zeek/linux_dlt_sll2.pcap",                       // LINKTYPE_LINUX_SLL2
	"zeek/llc.pcap",                                  // FDDI, records cut below the snapshot length
	"zeek/nflog-http.pcap",                           // LINKTYPE_NFLOG
	"suricata-verify/hdlc-http_1tx.pcap",             // Cisco HDLC
	"suricata-verify/defrag-rawip6_frag-ip-tcp.pcap", // raw IPv6
}

// fuzzGzipSeedFile is gzip-compressed for the compressed-input seed.
const fuzzGzipSeedFile = "zeek/bro.org.pcap"

const fuzzSeedLen = 2048

// handSeeds are edge cases no real capture in the set has: big-endian and
// nanosecond pcap, every pcapng packet block, odd resolutions, several
// sections, and broken structure.
func handSeeds(tb testing.TB) map[string][]byte {
	all := newNG(be).shb()
	all.block(4, []byte{1, 0, 8, 0, 10, 0, 0, 1, 'h', 'o', 's', 't', 0, 0, 0, 0})
	all.idb(1, 0, all.tsresol(9), all.tsoffset(-5))
	all.idb(101, 64, all.tsresol(0x80|20))
	all.idb(113, 0, all.tsresol(12))
	all.epb(0, 1_700_000_000_123_456_789, frame(60, 1), 60)
	all.epb(1, 1<<40, frame(64, 2), 1500)
	all.pb(2, 1<<60, frame(30, 3), 30)
	all.spb(frame(20, 4), 20)
	all.block(5, make([]byte, 16))
	all.block(0x40000bad, frame(9, 5))
	ngAll := append(all.bytes(), newNG(le).shb().idb(228, 0).epb(0, 1e6, frame(20, 6), 20).bytes()...)

	pcapBE := pcapHeader(be, true, 65535, 0x1400_0001)
	pcapBE = append(pcapBE, pcapRecord(be, 1_700_000_000, 999_999_999, frame(60, 1), 60)...)
	pcapBE = append(pcapBE, pcapRecord(be, 1, 1, frame(14, 2), 1514)...)

	oversize := pcapHeader(le, false, 65535, 1)
	oversize = append(oversize, pcapRecord(le, 1, 1, frame(10, 1), 10)...)
	oversize = le.AppendUint32(le.AppendUint32(append(oversize, make([]byte, 8)...), MaxRecordSize+1), 1)

	badLen := newNG(le).shb().idb(1, 0).bytes()
	badLen = le.AppendUint32(le.AppendUint32(badLen, 6), 13)

	return map[string][]byte{
		"hand-pcapng-all-blocks":      ngAll,
		"hand-pcap-big-endian-nanos":  pcapBE,
		"hand-pcap-oversize-record":   oversize,
		"hand-pcap-truncated-record":  threePcap()[:200],
		"hand-pcapng-bad-length":      badLen,
		"hand-pcapng-unknown-iface":   newNG(le).shb().idb(1, 0).epb(3, 0, frame(8, 0), 8).bytes(),
		"hand-pcapng-gzip":            gzipBytes(tb, ngAll),
		"hand-pcapng-option-overruns": newNG(le).shb().block(blockIDB, []byte{1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 200, 0, 'e', 't', 'h', '0'}).bytes(),
	}
}

// realSeeds returns the capture prefixes, or nil when the folder is absent:
// the committed corpus then still provides them.
func realSeeds(tb testing.TB) map[string][]byte {
	var dir string
	for _, d := range pcapDirs {
		if _, err := os.Stat(filepath.Join(d, "expected.json")); err == nil {
			dir = d
			break
		}
	}
	if dir == "" {
		return nil
	}
	prefix := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			tb.Fatalf("reading seed capture: %v", err)
		}
		return b[:min(len(b), fuzzSeedLen)]
	}
	seeds := make(map[string][]byte)
	for _, name := range fuzzSeedFiles {
		seeds[name] = prefix(name)
	}
	seeds[fuzzGzipSeedFile+".gz"] = gzipBytes(tb, prefix(fuzzGzipSeedFile))
	return seeds
}

func FuzzReader(f *testing.F) {
	for _, s := range handSeeds(f) {
		f.Add(s)
	}
	for _, s := range realSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pkts, err := fuzzRead(t, bytes.NewReader(data))
		// The same input read in small, uneven chunks puts the read
		// buffer's end everywhere: records returned in place and records
		// copied must agree, and so must the errors.
		pkts2, err2 := fuzzRead(t, &chunkReader{data: data})
		if fmt.Sprint(err) != fmt.Sprint(err2) || len(pkts) != len(pkts2) {
			t.Fatalf("whole input: %d packets then %v; in chunks: %d packets then %v", len(pkts), err, len(pkts2), err2)
		}
		for i := range pkts {
			if p, q := pkts[i], pkts2[i]; p.TimeNanos != q.TimeNanos || p.WireLength != q.WireLength || p.LinkType != q.LinkType ||
				p.Interface != q.Interface || !bytes.Equal(p.Data, q.Data) {
				t.Fatalf("packet %d differs when read in chunks:\n%+v\n%+v", i, p, q)
			}
		}
	})
}

// fuzzRead reads src to its end, checking every packet and error against
// the reader's contract, and returns the packets (with their data copied)
// and the final error.
func fuzzRead(t *testing.T, src io.Reader) ([]Packet, error) {
	r, err := NewReader(src)
	if err != nil {
		if r != nil {
			t.Fatal("NewReader returned both a Reader and an error")
		}
		checkClassified(t, err)
		return nil, err
	}
	var pkts []Packet
	for range 10000 {
		p, err := r.Next()
		if err != nil {
			if err != io.EOF {
				checkClassified(t, err)
			}
			if _, again := r.Next(); again != err {
				t.Fatalf("error not sticky: %v then %v", err, again)
			}
			return pkts, err
		}
		if p.CaptureLength != len(p.Data) || p.CaptureLength > MaxRecordSize || p.WireLength < 0 {
			t.Fatalf("bad packet: CaptureLength %d, len(Data) %d, WireLength %d", p.CaptureLength, len(p.Data), p.WireLength)
		}
		if p.Interface < 0 || p.Interface >= MaxInterfaces {
			t.Fatalf("bad interface %d", p.Interface)
		}
		if cap(r.buf) > MaxRecordSize || len(r.ifaces) > MaxInterfaces {
			t.Fatalf("unbounded state: buffer %d, interfaces %d", cap(r.buf), len(r.ifaces))
		}
		p.Data = bytes.Clone(p.Data)
		pkts = append(pkts, p)
	}
	return pkts, nil
}

// checkClassified fails for an error that is none of the package's kinds:
// from an in-memory input every failure is one of them.
func checkClassified(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrNotCapture) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) {
		t.Fatalf("unclassified error: %v", err)
	}
}
