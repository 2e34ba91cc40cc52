package pcapfile

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// The real captures live outside the repository (their licences keep them
// out of it): CI has them next to the checkout, a developer's clone may not.
var pcapDirs = []string{"../../../../shared/pcaps", "/work/shared/pcaps"}

// expectedCapture is the part of pcaps/expected.json this package can check;
// the numbers come from capinfos and tshark.
type expectedCapture struct {
	Pkts       int    `json:"pkts"`
	FrameBytes int    `json:"framebytes"`
	Format     string `json:"format"`
	Link       string `json:"link"`
	First      string `json:"first"` // earliest packet, UTC, microseconds
	Last       string `json:"last"`  // latest packet
}

// capinfosLinkTypes maps capinfos encapsulation names to LINKTYPE_* values.
var capinfosLinkTypes = map[string]uint16{
	"null":                 0,
	"ether":                1,
	"ppp":                  9,
	"fddi-swapped":         10,
	"rawip":                101,
	"chdlc":                104,
	"linux-sll":            113,
	"ieee-802-11-radiotap": 127,
	"rawip4":               228,
	"rawip6":               229,
	"nflog":                239,
	"linux-sll2":           276,
}

func findPcapDir(t *testing.T) string {
	t.Helper()
	for _, d := range pcapDirs {
		if _, err := os.Stat(filepath.Join(d, "expected.json")); err == nil {
			return d
		}
	}
	t.Skipf("real-capture folder missing: neither %s (relative to the package) nor %s has expected.json; real captures were not checked", pcapDirs[0], pcapDirs[1])
	return ""
}

func TestRealCaptures(t *testing.T) {
	dir := findPcapDir(t)
	raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var expected map[string]expectedCapture
	if err := json.Unmarshal(raw, &expected); err != nil {
		t.Fatalf("parsing expected.json: %v", err)
	}
	if len(expected) == 0 {
		t.Fatal("expected.json lists no captures")
	}
	names := make([]string, 0, len(expected))
	for name := range expected {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		want := expected[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r, err := Open(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var (
				pkts, frameBytes int
				first, last      int64
			)
			for {
				p, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("after %d packets: %v", pkts, err)
				}
				if p.CaptureLength != len(p.Data) || p.CaptureLength > MaxRecordSize {
					t.Fatalf("packet %d: CaptureLength %d, len(Data) %d", pkts, p.CaptureLength, len(p.Data))
				}
				if pkts == 0 || p.TimeNanos < first {
					first = p.TimeNanos
				}
				if pkts == 0 || p.TimeNanos > last {
					last = p.TimeNanos
				}
				pkts++
				frameBytes += p.WireLength
			}
			if pkts != want.Pkts || frameBytes != want.FrameBytes {
				t.Errorf("%d packets and %d frame bytes, want %d and %d", pkts, frameBytes, want.Pkts, want.FrameBytes)
			}
			if r.Format() != want.Format {
				t.Errorf("Format %q, want %q", r.Format(), want.Format)
			}
			if lt, ok := capinfosLinkTypes[want.Link]; !ok {
				t.Logf("no LINKTYPE known for capinfos name %q; link type %d not checked", want.Link, r.LinkType())
			} else if r.LinkType() != lt {
				t.Errorf("LinkType %d, want %d (%s)", r.LinkType(), lt, want.Link)
			}
			const layout = "2006-01-02 15:04:05.000000"
			if f := time.Unix(0, first).UTC().Format(layout); want.First != "" && f != want.First {
				t.Errorf("first packet time %s, want %s", f, want.First)
			}
			if l := time.Unix(0, last).UTC().Format(layout); want.Last != "" && l != want.Last {
				t.Errorf("last packet time %s, want %s", l, want.Last)
			}
		})
	}
}
