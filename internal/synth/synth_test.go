package synth

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/detector"
)

func TestDeterministic(t *testing.T) {
	s := Scenario{Seed: 42, Duration: 3 * time.Minute, BaseRate: 200, Attacks: []Attack{
		{Type: PortScan, Start: 30 * time.Second, Duration: 20 * time.Second},
		{Type: SYNFlood, Start: 60 * time.Second, Duration: 20 * time.Second, Rate: 1000},
		{Type: TrafficDrop, Start: 100 * time.Second, Duration: 20 * time.Second},
		{Type: Slowloris, Start: 110 * time.Second, Duration: 40 * time.Second, Rate: 50},
	}}
	hash := func(s Scenario) ([32]byte, []Label) {
		data, labels := generate(t, s)
		return sha256.Sum256(data), labels
	}
	h1, l1 := hash(s)
	h2, l2 := hash(s)
	if h1 != h2 || !slices.Equal(l1, l2) {
		t.Fatalf("two writes of the same scenario differ: %x %x", h1, h2)
	}
	s.Seed = 43
	if h3, _ := hash(s); h3 == h1 {
		t.Errorf("another seed gives the same capture")
	}
}

func TestLabelsRoundTrip(t *testing.T) {
	labels := []Label{
		{Start: time.Unix(1700000000, 250000000).UTC(), End: time.Unix(1700000060, 1000).UTC(), Type: PortScan, Source: "203.0.113.5"},
		{Start: time.Unix(1700000100, 0).UTC(), End: time.Unix(1700000200, 999999000).UTC(), Type: DNSAmplification},
		{Start: time.Unix(1700000300, 0).UTC(), End: time.Unix(1700000400, 0).UTC(), Type: ARPSpoofing, Source: "a4:83:e7:12:34:56"},
	}
	var buf bytes.Buffer
	if err := WriteLabels(&buf, labels); err != nil {
		t.Fatal(err)
	}
	want := "start,end,type,source\n1700000000.250000,1700000060.000001,port_scan,203.0.113.5\n1700000100.000000,1700000200.999999,dns_amplification,\n1700000300.000000,1700000400.000000,arp_spoofing,a4:83:e7:12:34:56\n"
	if buf.String() != want {
		t.Errorf("WriteLabels:\n%s\nwant:\n%s", buf.String(), want)
	}
	got, err := ParseLabels(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, labels) {
		t.Errorf("round trip:\n%v\nwant\n%v", got, labels)
	}

	// and the labels of a real capture
	_, ls := generate(t, Scenario{Seed: 5, Duration: 2 * time.Minute, BaseRate: 100, Attacks: []Attack{
		{Type: BruteForce, Start: 10 * time.Second, Duration: 30 * time.Second},
		{Type: TrafficDrop, Start: 50 * time.Second, Duration: 10*time.Second + 1234},
	}})
	buf.Reset()
	if err := WriteLabels(&buf, ls); err != nil {
		t.Fatal(err)
	}
	got, err = ParseLabels(&buf)
	if err != nil || !slices.Equal(got, ls) {
		t.Errorf("round trip of generated labels: %v %v, want %v", got, err, ls)
	}
}

func TestParseLabelsErrors(t *testing.T) {
	const h = "start,end,type,source\n"
	for _, c := range []struct{ in, err string }{
		{"", "empty input"},
		{"start,end,type\n", `line 1: header is "start,end,type"`},
		{h + "1,2,port_scan\n", "line 2: 3 fields, want 4"},
		{h + "1.5,2,port_scan,\n1,x,syn_flood,\n", `line 3: end: "x" is not a number of seconds`},
		{h + "1e9,2e9,port_scan,\n", `line 2: start: "1e9" is not a number`},
		{h + "-1,2,port_scan,\n", `line 2: start: "-1" is not a number`},
		{h + "1.,2,port_scan,\n", `line 2: start: "1." is not`},
		{h + "1.0000000001,2,port_scan,\n", `line 2: start: "1.0000000001" is not`},
		{h + "5,5,port_scan,\n", "line 2: start 5 is not before end 5"},
		{h + "6,5,port_scan,\n", "line 2: start 6 is not before end 5"},
		{h + "1,2,portscan,\n", `line 2: unknown type "portscan"`},
		{h + "1,2,port_scan,attacker\n", `line 2: source "attacker" is neither an IP nor a MAC address`},
		{h + "1,2,port_scan,\n\n1,2,bogus,\n", `line 4: unknown type "bogus"`},
	} {
		_, err := ParseLabels(strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("ParseLabels(%q) = %v, want an error containing %q", c.in, err, c.err)
		}
	}
	// Accepted: CRLF, a BOM, blank lines, nanoseconds, IPv6 sources.
	ls, err := ParseLabels(strings.NewReader("\ufeffstart,end,type,source\r\n1.000000001,2,traffic_drop,\r\n\r\n3,4,syn_flood,2001:db8::1\r\n"))
	if err != nil || len(ls) != 2 || ls[0].Start.Nanosecond() != 1 || ls[1].Source != "2001:db8::1" {
		t.Errorf("lenient input: %v %v", ls, err)
	}
}

func TestValidate(t *testing.T) {
	ok := Scenario{Duration: time.Hour}
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, c := range []struct {
		mod func(*Scenario)
		err string
	}{
		{func(s *Scenario) { s.Duration = 0 }, "duration 0s must be positive"},
		{func(s *Scenario) { s.Network = netip.MustParsePrefix("2001:db8::/64") }, "only IPv4"},
		{func(s *Scenario) { s.Network = netip.MustParsePrefix("10.0.0.0/28") }, "between /8 and /24"},
		{func(s *Scenario) { s.BaseRate = -3 }, "base rate"},
		{func(s *Scenario) { s.Snaplen = 10 }, "snaplen 10: use 64 to 65535"},
		{func(s *Scenario) { s.Clients = -1 }, "clients -1"},
		{func(s *Scenario) { s.Attacks = []Attack{{Type: "ddos", Duration: time.Minute}} }, `unknown type "ddos"`},
		{func(s *Scenario) {
			s.Attacks = []Attack{{Type: PortScan, Variant: "diagonal", Duration: time.Minute}}
		}, `unknown variant "diagonal"`},
		{func(s *Scenario) {
			s.Attacks = []Attack{{Type: SYNFlood, Start: 59 * time.Minute, Duration: 2 * time.Minute}}
		}, "after the scenario's end"},
		{func(s *Scenario) { s.Attacks = []Attack{{Type: SYNFlood, Duration: 10 * time.Millisecond}} }, "shorter than 1s"},
		{func(s *Scenario) { s.Attacks = []Attack{{Type: TrafficDrop, Duration: time.Minute, Rate: 0.5}} }, "rate 0.5 is outside"},
		{func(s *Scenario) { s.Attacks = []Attack{{Type: SYNFlood, Start: -time.Second, Duration: time.Minute}} }, "negative"},
	} {
		s := ok
		c.mod(&s)
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("got %v, want an error containing %q", err, c.err)
		}
		if _, werr := Write(io.Discard, s); werr == nil {
			t.Errorf("Write accepted an invalid scenario (%s)", c.err)
		}
	}
	if _, err := Write(io.Discard, Scenario{Duration: time.Minute, Network: netip.MustParsePrefix("192.168.7.0/24"), Clients: 300}); err == nil {
		t.Errorf("300 clients fit in a /24")
	}
}

func TestSmallNetworks(t *testing.T) {
	for _, s := range []Scenario{
		{Seed: 1, Duration: time.Minute, Network: netip.MustParsePrefix("192.168.1.0/24"), Clients: 20, Servers: 1, BaseRate: 50},
		{Seed: 2, Duration: time.Minute, Network: netip.MustParsePrefix("172.16.0.0/22"), Clients: 400, Servers: 12, BaseRate: 800},
	} {
		for _, typ := range AttackTypes {
			s.Attacks = append(s.Attacks, Attack{Type: typ, Start: 10 * time.Second, Duration: 20 * time.Second, Rate: min(DefaultRate(typ, ""), 500)})
		}
		_, labels := generate(t, s)
		if len(labels) != len(AttackTypes) {
			t.Errorf("%s: %d labels", s.Network, len(labels))
		}
	}
}

func TestPresets(t *testing.T) {
	for _, name := range []string{"mixed", "subtle"} {
		for seed := uint64(0); seed < 20; seed++ {
			as, err := Preset(name, seed, 2*time.Hour)
			if err != nil {
				t.Fatalf("%s seed %d: %v", name, seed, err)
			}
			s := Scenario{Seed: seed, Duration: 2 * time.Hour, Attacks: as}
			if err := s.Validate(); err != nil {
				t.Fatalf("%s seed %d: %v", name, seed, err)
			}
			types := map[string]bool{}
			for i, a := range as {
				types[a.Type] = true
				if i == 0 && a.Start < 5*time.Minute {
					t.Errorf("%s seed %d: first attack at %v", name, seed, a.Start)
				}
				if i > 0 {
					if gap := a.Start - (as[i-1].Start + as[i-1].Duration); gap < 5*time.Minute {
						t.Errorf("%s seed %d: %v of quiet before %s", name, seed, gap, a.Type)
					}
				}
			}
			if len(types) != len(AttackTypes) || len(as) != len(AttackTypes) {
				t.Errorf("%s seed %d: %d attacks of %d types", name, seed, len(as), len(types))
			}
			again, _ := Preset(name, seed, 2*time.Hour)
			if !slices.Equal(as, again) {
				t.Errorf("%s seed %d: not deterministic", name, seed)
			}
		}
	}
	if as, err := Preset("benign", 1, time.Hour); err != nil || len(as) != 0 {
		t.Errorf("benign: %v %v", as, err)
	}
	if _, err := Preset("mixed", 1, 20*time.Minute); err == nil || !strings.Contains(err.Error(), "needs a capture of at least") {
		t.Errorf("mixed in 20 minutes: %v", err)
	}
	if _, err := Preset("chaos", 1, time.Hour); err == nil {
		t.Errorf("unknown preset accepted")
	}
}

// BenchmarkWriteHour writes one hour of background at 300 packets/s.
func BenchmarkWriteHour(b *testing.B) {
	for b.Loop() {
		if _, err := Write(io.Discard, Scenario{Seed: 1, Duration: time.Hour}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteHourFlood adds a 20000 packets/s SYN flood for 60 s.
func BenchmarkWriteHourFlood(b *testing.B) {
	for b.Loop() {
		s := Scenario{Seed: 1, Duration: time.Hour, Attacks: []Attack{{Type: SYNFlood, Start: 30 * time.Minute, Duration: time.Minute, Rate: 20000}}}
		if _, err := Write(io.Discard, s); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSnaplen: with a snaplen, packets are cut to it and keep their
// length on the wire, as a capture with -s writes them, and the same
// traffic as without.
func TestSnaplen(t *testing.T) {
	s := Scenario{Seed: 3, Duration: 2 * time.Minute, Attacks: []Attack{{Type: PortScan, Start: 30 * time.Second, Duration: 30 * time.Second}}}
	whole, _ := generate(t, s)
	s.Snaplen = 96
	cut, _ := generate(t, s)
	a, b := records(t, whole), records(t, cut)
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("%d packets whole, %d cut", len(a), len(b))
	}
	longer := 0
	for i := range b {
		if len(b[i].data) > 96 || b[i].info.WireLen != a[i].info.WireLen || b[i].t != a[i].t {
			t.Fatalf("packet %d: %d bytes kept of %d (whole: %d)", i, len(b[i].data), b[i].info.WireLen, a[i].info.WireLen)
		}
		if a[i].info.WireLen > 96 {
			longer++
		}
	}
	if longer == 0 || len(cut) >= len(whole) {
		t.Errorf("%d packets longer than the snaplen; %d bytes cut, %d whole", longer, len(cut), len(whole))
	}
}

// TestAttackTypesAreDetectorTypes keeps the names the synthesizer labels
// with within what the detector reads: a registered type, or a label type
// it reports as one.
func TestAttackTypesAreDetectorTypes(t *testing.T) {
	for _, typ := range AttackTypes {
		if !slices.Contains(detector.LabelTypes(), typ) || detector.Type(detector.ReportType(typ)) == nil {
			t.Errorf("%s: not a detector label type reported as a registered type", typ)
		}
	}
}
