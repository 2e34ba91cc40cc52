package synth

import (
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// TestExporterSeesLabels runs the exporter's decoder and aggregator over
// "mixed" captures and checks that the features move in the labelled
// windows and only there: the labels line up with what the exporter sees.
func TestExporterSeesLabels(t *testing.T) {
	if testing.Short() {
		t.Skip("two hours of traffic")
	}
	for _, seed := range []uint64{101, 202} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			checkMixed(t, seed)
		})
	}
}

func spikeEnd(labels []Label) int64 {
	for _, l := range labels {
		if l.Type == TrafficSpike {
			return l.End.UnixNano()
		}
	}
	return 0
}

func checkMixed(t *testing.T, seed uint64) {
	attacks, err := Preset("mixed", seed, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for i := range attacks {
		attacks[i].Rate = min(attacks[i].Rate, 5000) // keep the test quick
	}
	s := Scenario{Seed: seed, Duration: 2 * time.Hour, BaseRate: 200, Attacks: attacks}
	ws, labels := generateWindows(t, s)
	variant := map[string]string{}
	for _, a := range s.WithDefaults().Attacks {
		variant[a.Type] = a.Variant
	}

	// A window is benign when no label touches it, inside a label when it
	// lies entirely within it.
	touchingAfter := func(w *features.Window, tail time.Duration) []string {
		var ts []string
		for _, l := range labels {
			if w.End > l.Start.UnixNano() && w.Start < l.End.UnixNano()+int64(tail) {
				ts = append(ts, l.Type)
			}
		}
		return ts
	}
	touching := func(w *features.Window) []string { return touchingAfter(w, 0) }
	inside := func(w *features.Window, typ string, skip time.Duration) bool {
		for _, l := range labels {
			if l.Type == typ && w.Start >= l.Start.UnixNano()+int64(skip) && w.End <= l.End.UnixNano() {
				return true
			}
		}
		return false
	}
	var benign []*features.Window
	for _, w := range ws {
		if len(touching(w)) == 0 && !w.Partial {
			benign = append(benign, w)
		}
	}
	if len(benign) < len(ws)/2 {
		t.Fatalf("%d benign windows of %d", len(benign), len(ws))
	}
	maxBenign := func(f features.Index) float64 {
		m := 0.0
		for _, w := range benign {
			m = max(m, w.Features[f])
		}
		return m
	}
	median := func(f features.Index) float64 {
		v := make([]float64, len(benign))
		for i, w := range benign {
			v[i] = w.Features[f]
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}

	// aboveAfter: windows where f exceeds the threshold must touch one of
	// the types, or follow it within tail (for features of the flow table,
	// whose flows outlive the packets by the idle timeout); every window
	// inside a label of typ (after skip) must exceed it.
	aboveAfter := func(f features.Index, threshold float64, types []string, typ string, skip, tail time.Duration) {
		t.Helper()
		name := features.Schema[f].Name
		for _, w := range ws {
			v := w.Features[f]
			if v >= threshold {
				ok := false
				for _, x := range touchingAfter(w, tail) {
					ok = ok || slices.Contains(types, x)
				}
				if !ok {
					t.Errorf("%s = %.0f at %s, in no %v window (labels there: %v)", name, v, at(w.Start), types, touching(w))
				}
			}
			if typ != "" && inside(w, typ, skip) && v < threshold {
				t.Errorf("%s = %.0f at %s inside %s (%s), want at least %.0f", name, v, at(w.Start), typ, variant[typ], threshold)
			}
		}
	}
	above := func(f features.Index, threshold float64, types []string, typ string, skip time.Duration) {
		t.Helper()
		aboveAfter(f, threshold, types, typ, skip, 0)
	}

	// Port fan-out: under 50 in benign traffic; port scans reach it, and so
	// do the attacks that answer (or open) many connections.
	if m := maxBenign(features.MaxSourcePortFanout); m >= 50 {
		t.Errorf("benign max_source_port_fanout_per_window reaches %.0f", m)
	}
	scan := ""
	if v := variant[PortScan]; v == "vertical" || v == "udp" {
		scan = PortScan
	}
	above(features.MaxSourcePortFanout, 50, []string{PortScan, SYNFlood, UDPFlood, BruteForce, Slowloris, TrafficSpike, SSDPAmplification, DNSAmplification, NTPAmplification, MemcachedAmplification, ICMPFlood}, scan, 0)

	// SYNs: a thousand in 10 s only in SYN floods and port scans.
	synScan := ""
	if variant[PortScan] == "vertical" {
		synScan = PortScan
	}
	above(features.TCPSyn, 1000, []string{SYNFlood, PortScan}, SYNFlood, 0)
	if synScan != "" {
		above(features.TCPSyn, 150, []string{SYNFlood, PortScan, TrafficSpike, Slowloris, BruteForce}, synScan, 0)
	}

	// Fragments only in DNS amplification, ARP conflicts only in spoofing.
	above(features.Fragments, 1, []string{DNSAmplification}, DNSAmplification, 0)
	above(features.ARPAddressConflicts, 1, []string{ARPSpoofing}, ARPSpoofing, 0)

	// Reflection bytes: 100 kB/s only in amplifications.
	if m := maxBenign(features.ReflectionResponseBytes); m > 20000 {
		t.Errorf("benign reflection_response_bytes_per_second reaches %.0f", m)
	}
	for _, typ := range []string{DNSAmplification, NTPAmplification, SSDPAmplification, MemcachedAmplification} {
		above(features.ReflectionResponseBytes, 100000, []string{DNSAmplification, NTPAmplification, SSDPAmplification, MemcachedAmplification}, typ, 0)
	}

	// Echo requests: a hundred in 10 s only in ICMP floods and sweeps.
	echoType := ICMPFlood
	if variant[ICMPFlood] == "blacknurse" {
		echoType = ""
		above(features.ICMPUnreachable, 1000, []string{ICMPFlood, UDPFlood, PortScan, DNSAmplification, NTPAmplification, SSDPAmplification, MemcachedAmplification}, ICMPFlood, 0)
	}
	above(features.ICMPEchoRequests, 100, []string{ICMPFlood, PortScan}, echoType, 0)

	// UDP: a thousand packets per second only in UDP floods and
	// amplifications (DNS's are mostly fragments, counted as other).
	above(features.UDPPacketsPerSecond, 1000, []string{UDPFlood, NTPAmplification, SSDPAmplification, MemcachedAmplification, DNSAmplification}, UDPFlood, 0)

	// Idle web connections: slowloris holds many; a drop stalls open
	// connections; a SYN flood to a web port leaves half-open flows.
	aboveAfter(features.HTTPIdleConnections, 40, []string{Slowloris, TrafficDrop, SYNFlood}, Slowloris, 40*time.Second, 40*time.Second)

	// Login attempts from one source.
	bf := BruteForce
	if variant[BruteForce] == "http_login" {
		bf = "" // port 80 is not an authentication port
	}
	above(features.MaxSourceAuthAttempts, 5, []string{BruteForce, PortScan, SYNFlood}, bf, 0)

	// ARP requests: sweeps and scans ask for many addresses.
	if v := variant[PortScan]; v == "arp_sweep" || v == "horizontal" || v == "icmp_sweep" {
		above(features.ARPRequests, 100, []string{PortScan}, PortScan, 0)
	} else {
		above(features.ARPRequests, 100, []string{PortScan}, "", 0)
	}

	// Traffic: the drop falls under a fifth of the same windows without
	// attacks; the spike at least doubles them and adds more than twice
	// the usual traffic of the time (the median of the benign windows
	// within 15 minutes).
	around := func(w *features.Window) float64 {
		var v []float64
		for _, b := range benign {
			if d := b.Start - w.Start; d > -int64(15*time.Minute) && d < int64(15*time.Minute) {
				v = append(v, b.Features[features.PacketsPerSecond])
			}
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	quiet := s
	quiet.Attacks = nil
	base, _ := generateWindows(t, quiet)
	if len(base) != len(ws) {
		t.Fatalf("%d windows without attacks, %d with", len(base), len(ws))
	}
	for i, w := range ws {
		pps, normal := w.Features[features.PacketsPerSecond], base[i].Features[features.PacketsPerSecond]
		if inside(w, TrafficDrop, 0) && pps > normal/5 {
			t.Errorf("%.0f packets/s at %s inside the drop, %.0f without it", pps, at(w.Start), normal)
		}
		if inside(w, TrafficSpike, 20*time.Second) && w.End <= spikeEnd(labels)-int64(20*time.Second) && (pps < 2*normal || pps-normal < 2*around(w)) {
			t.Errorf("%.0f packets/s at %s inside the spike, %.0f without it, %.0f usually", pps, at(w.Start), normal, around(w))
		}
	}
	med := median(features.PacketsPerSecond)
	if m := maxBenign(features.PacketsPerSecond); m > 7*med {
		t.Errorf("benign traffic peaks at %.0f packets/s, median %.0f", m, med)
	}
	t.Logf("%d windows, %d benign; benign median %.0f pps, max %.0f; max benign port fan-out %.0f, SYNs %.0f, auth %.0f",
		len(ws), len(benign), med, maxBenign(features.PacketsPerSecond), maxBenign(features.MaxSourcePortFanout), maxBenign(features.TCPSyn), maxBenign(features.MaxSourceAuthAttempts))
}
