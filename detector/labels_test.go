package detector

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestLabelsRoundTrip(t *testing.T) {
	events := []LabeledEvent{
		{Start: 1_700_000_000_123_456_000, End: 1_700_000_060_999_999_000, Type: PortScan, Source: "203.0.113.66"},
		{Start: 1_700_000_100_000_001_000, End: 1_700_000_100_000_002_000, Type: "ntp_amplification"},
		{Start: 0, End: 1_000, Type: ARPSpoofing, Source: "aa:bb:cc:dd:ee:ff"},
		{Start: 1_699_999_999_999_999_000, End: 1_700_000_000_000_000_000, Type: TrafficDrop, Source: "a,b \"quoted\""},
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 { // any microsecond in this century
		start := (1_000_000_000_000_000 + r.Int64N(3_000_000_000_000_000)) * 1000
		events = append(events, LabeledEvent{Start: start, End: start + (1+r.Int64N(1e9))*1000, Type: LabelTypes()[r.IntN(len(LabelTypes()))]})
	}
	var b bytes.Buffer
	if err := WriteLabels(&b, events); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "start,end,type,source\n1700000000.123456,1700000060.999999,port_scan,203.0.113.66\n") {
		t.Errorf("written:\n%.200s", b.String())
	}
	got, err := ParseLabels(&b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(events) {
		t.Fatalf("%d events back, wrote %d", len(got), len(events))
	}
	for i := range events {
		if got[i] != events[i] {
			t.Errorf("event %d: read %+v, wrote %+v", i, got[i], events[i])
		}
	}
}

func TestParseLabels(t *testing.T) {
	in := "start, end, type\n" + // header without source, spaces allowed
		"1700000000.5,1700000010.25,syn_flood\n" +
		" 1700000000.123456 , 1700000000.123457 , reflection \n" +
		"1700000000,1700000001,memcached_amplification,198.51.100.1\n" +
		"1700000000.123456789,1700000000.987654321,port_scan,\n" +
		"1.7e9,1700000001,traffic_spike\n"
	got, err := ParseLabels(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []LabeledEvent{
		{Start: 1_700_000_000_500_000_000, End: 1_700_000_010_250_000_000, Type: SynFlood},
		{Start: 1_700_000_000_123_456_000, End: 1_700_000_000_123_457_000, Type: Reflection},
		{Start: 1_700_000_000_000_000_000, End: 1_700_000_001_000_000_000, Type: "memcached_amplification", Source: "198.51.100.1"},
		{Start: 1_700_000_000_123_456_789, End: 1_700_000_000_987_654_321, Type: PortScan},
		{Start: 1_700_000_000_000_000_000, End: 1_700_000_001_000_000_000, Type: TrafficSpike},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
	// A spreadsheet's UTF-8 byte order mark and blank lines change nothing.
	bom, err := ParseLabels(strings.NewReader("\ufeff" + strings.ReplaceAll(in, "\n", "\n\n")))
	if err != nil {
		t.Fatalf("with a byte order mark and blank lines: %v", err)
	}
	if !slices.Equal(bom, want) {
		t.Errorf("with a byte order mark and blank lines: got\n%+v\nwant\n%+v", bom, want)
	}
	if ReportType("ntp_amplification") != Reflection || ReportType(SynFlood) != SynFlood {
		t.Error("ReportType")
	}
}

func TestParseLabelsErrors(t *testing.T) {
	const hdr = "start,end,type,source\n"
	const ok = "1700000000,1700000010,syn_flood,\n"
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", "first line must be start,end,type,source"},
		{"bad header", "begin,end,type,source\n" + ok, "line 1:"},
		{"header too long", "start,end,type,source,extra\n", "line 1:"},
		{"header wrong source", "start,end,type,origin\n", "line 1:"},
		{"bad number", hdr + ok + ok + "17000000x0,1700000010,syn_flood,\n", "line 4:"},
		{"bad end", hdr + "1700000000,soon,syn_flood,\n", "line 2:"},
		{"negative", hdr + ok + "-5,1700000010,syn_flood,\n", "line 3:"},
		{"NaN", hdr + "NaN,1700000010,syn_flood,\n", "line 2:"},
		{"Inf", hdr + "1700000000,+Inf,syn_flood,\n", "line 2:"},
		{"after year 2262", hdr + "10000000000,10000000001,syn_flood,\n", "line 2:"},
		{"end before start", hdr + "1700000010,1700000000,syn_flood,\n", "line 2:"},
		{"end equals start", hdr + ok + ok + ok + "1700000000.5,1700000000.5,syn_flood,\n", "line 5:"},
		{"end equals start in ns", hdr + "1700000000.0000000001,1700000000.0000000002,syn_flood,\n", "line 2:"},
		{"unknown type", hdr + ok + ok + ok + "1700000000,1700000010,ddos,\n", "line 5:"},
		{"too many fields", hdr + "1700000000,1700000010,syn_flood,1.2.3.4,extra\n", "line 2:"},
		{"too few fields", hdr + ok + "1700000000,1700000010\n", "line 3:"},
		{"bare quote", hdr + ok + "1700000000,1700000010,syn\"flood,\n", "line 3"},
		{"after blank lines", hdr + ok + "\n\n" + ok + "\n" + "1700000000,1700000010,ddos,\n", "line 7:"},
		{"bad header after a blank line", "\nbegin,end,type\n", "line 2:"},
		{"after a blank line at the top", "\n" + hdr + "1700000000,soon,syn_flood,\n", "line 3:"},
	} {
		_, err := ParseLabels(strings.NewReader(tc.in))
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %q does not contain %q", tc.name, err, tc.want)
		}
	}
	// The unknown-type error lists the types to use.
	_, err := ParseLabels(strings.NewReader(hdr + "1,2,ddos,\n"))
	if err == nil || !strings.Contains(err.Error(), "ntp_amplification") || !strings.Contains(err.Error(), `"ddos"`) {
		t.Errorf("unknown type: %v", err)
	}
}
