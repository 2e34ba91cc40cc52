package features

import (
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/internal/geoip"
	"github.com/netanomaly/netanomaly_exporter/internal/geoip/geoiptest"
)

type fixedTable struct{ t *geoip.Table }

func (f fixedTable) Table() *geoip.Table { return f.t }

// TestCountries: packets and bytes count under their source's country,
// cumulatively, with private and unlisted addresses as unknown.
func TestCountries(t *testing.T) {
	table, err := geoip.Parse(geoiptest.Country(t, map[string]string{"198.51.100.0/24": "DE", "203.0.113.0/24": "BR", "2001:db8::/32": "JP"}), geoip.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := cfg10s()
	cfg.Countries = fixedTable{table}
	var wins []*Window
	a := NewAggregator(cfg, "eth0", func(w *Window) { wins = append(wins, w) })
	add := func(at int64, src string, n int) {
		for range n {
			p := withSize(udpPkt(at, src, "10.0.0.1", 5000, 53), 100)
			a.Add(&p)
		}
	}
	add(at(1), "198.51.100.7", 3)
	add(at(2), "203.0.113.9", 2)
	add(at(3), "10.0.0.9", 1)
	p := ipPkt(at(4), decode.ProtoUDP, addr("2001:db8::1"), addr("2001:db8:1::2"), 1, 2)
	p.WireLen = 100
	a.Add(&p)
	add(at(11), "198.51.100.8", 1)
	a.Advance(at(20))
	if len(wins) != 2 {
		t.Fatalf("%d windows", len(wins))
	}
	want := map[string]uint64{"DE": 4, "BR": 2, "JP": 1, "unknown": 1, "other": 0}
	got := map[string]uint64{}
	for _, r := range wins[1].Countries {
		got[r.Label] = r.Packets
		if r.Bytes != 100*r.Packets {
			t.Errorf("%s: %d bytes for %d packets", r.Label, r.Bytes, r.Packets)
		}
	}
	if len(got) != len(want) {
		t.Errorf("countries %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %d packets, want %d (all: %v)", k, got[k], v, got)
		}
	}
}
