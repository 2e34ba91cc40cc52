package detector

import (
	"encoding/json"
	"math"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/detector/models"
)

// checkVerdict asserts what holds for every verdict.
func checkVerdict(t *testing.T, v *Verdict) {
	t.Helper()
	in01 := func(x float64) bool { return x >= 0 && x <= 1 && !math.IsNaN(x) }
	if !in01(v.Confidence) || !in01(v.Score) || !in01(v.WarmupProgress) {
		t.Errorf("window %d: confidence %g, score %g, warm-up %g outside [0,1]", v.Start, v.Confidence, v.Score, v.WarmupProgress)
	}
	if v.Threat < ThreatNone || v.Threat > ThreatHigh {
		t.Errorf("threat %d", v.Threat)
	}
	if v.Anomalous != (v.Threat > ThreatNone) {
		t.Errorf("anomalous %v with threat %s", v.Anomalous, ThreatNames[v.Threat])
	}
	for _, a := range v.Attacks {
		if a.Summary == "" || len(a.Evidence) == 0 {
			t.Errorf("%s without a summary or evidence: %+v", a.Type, a)
		}
	}
	if !v.Trained {
		// Before training only the rules judge.
		if len(v.Models) > 0 || v.Score != 0 || len(v.Explanations) > 0 || len(v.Extremes) > 0 || v.Anomalous != (len(v.Attacks) > 0) {
			t.Errorf("untrained verdict with model output: %+v", v)
		}
		return
	}
	for _, m := range v.Models {
		if !in01(m.Score) {
			t.Errorf("%s score %g", m.Model, m.Score)
		}
	}
	for _, a := range v.Attacks {
		if a.Confidence <= 0 || a.Confidence > 1 {
			t.Errorf("%s confidence %g", a.Type, a.Confidence)
		}
		if !slices.Contains(AttackTypes, a.Type) {
			t.Errorf("unknown attack type %q", a.Type)
		}
	}
	if len(v.Explanations) != 3 {
		t.Fatalf("%d explanations", len(v.Explanations))
	}
	for i, e := range v.Explanations {
		if i > 0 && math.Abs(e.Z) > math.Abs(v.Explanations[i-1].Z) {
			t.Errorf("explanations not by decreasing |z|: %+v", v.Explanations)
		}
		if !(e.ExpectedLow <= e.ExpectedHigh) || e.ExpectedLow < 0 {
			t.Errorf("explanation %+v: bad expected range", e)
		}
		// The explanation series hold the same values: the top three of
		// them by absolute z-score are the window's explanations.
		if i := slices.IndexFunc(v.Explained, func(x Explanation) bool { return x.Feature == e.Feature }); i < 0 || v.Explained[i] != e {
			t.Errorf("explanation %+v not among the explained %+v", e, v.Explained)
		}
	}
	if len(v.Explained) > int(features.NumFeatures) || !slices.IsSortedFunc(v.Explained, func(a, b Explanation) int {
		i, _, _ := features.Lookup(a.Feature)
		j, _, _ := features.Lookup(b.Feature)
		return int(i - j)
	}) {
		t.Errorf("explained features not in schema order: %+v", v.Explained)
	}
}

// TestExplainedSeriesStay: the explained features, one series each, only
// grow, to the features that have been among a window's top three since
// start, and a feature keeps its series when it leaves the top three.
func TestExplainedSeriesStay(t *testing.T) {
	d, _ := newTrained(t, testConfig(), 2)
	seen := map[string]bool{}
	ranks := map[[2]string]bool{} // what series per rank and feature would have been
	for i, w := range script(20, 120) {
		v := d.Observe(w)
		checkVerdict(t, v)
		for r, x := range v.Explanations {
			seen[x.Feature] = true
			ranks[[2]string{string(rune('1' + r)), x.Feature}] = true
		}
		var got []string
		for _, x := range v.Explained {
			got = append(got, x.Feature)
		}
		if len(got) != len(seen) {
			t.Fatalf("window %d: explained %v, want the %d features of the top three since start", i, got, len(seen))
		}
		for _, f := range got {
			if !seen[f] {
				t.Fatalf("window %d: %s explained but never in the top three", i, f)
			}
		}
	}
	if len(seen) < 4 || len(ranks) <= len(seen) {
		t.Errorf("the script moved the top three over %d features (%d rank and feature pairs): too few to test", len(seen), len(ranks))
	}
	t.Logf("%d series per explanation metric for %d windows, where ranks would have made %d", len(seen), 120, len(ranks))
}

// TestFalseAlarms is the one-false-alarm-per-day target: 8640 windows of
// 10 s a day, so at most 1 in 2000 benign windows of the same network.
func TestFalseAlarms(t *testing.T) {
	d, g := newTrained(t, testConfig(), 2)
	set := d.Models()
	anomalous, withAttack := 0, 0
	var maxScore float64
	for range 2000 {
		v := d.Observe(g.benign())
		checkVerdict(t, v)
		if v.Anomalous {
			anomalous++
			t.Logf("false alarm: score %.4f (threshold %.4f) attacks %v models %v top %+v", v.Score, v.Threshold, types(v.Attacks), v.Models, v.Explanations[0])
		}
		if len(v.Attacks) > 0 {
			withAttack++
		}
		maxScore = max(maxScore, v.Score)
	}
	t.Logf("%d anomalous (%d with an attack type) in 2000 benign windows; threshold %.5f, highest score %.5f", anomalous, withAttack, set.Threshold, maxScore)
	if anomalous > 1 {
		t.Errorf("%d false alarms in 2000 benign windows, want at most 1", anomalous)
	}
	if withAttack > 0 {
		t.Errorf("rules named an attack in %d benign windows", withAttack)
	}
}

type attackCase struct {
	name    string
	inject  func(*features.Window)
	want    string
	sources [][16]byte // each must be among the attack's sources
	only    bool       // sources must be exactly these
	targets [][16]byte
	flood   bool
}

var attackCases = []attackCase{
	{name: "vertical port scan", inject: func(w *features.Window) { vertScan(w, attacker) }, want: PortScan, sources: [][16]byte{attacker}, only: true},
	{name: "horizontal port scan", inject: func(w *features.Window) { horizScan(w, attacker) }, want: PortScan, sources: [][16]byte{attacker}, only: true},
	{name: "syn flood", inject: func(w *features.Window) { synFlood(w, victim) }, want: SynFlood, targets: [][16]byte{victim}, flood: true},
	{name: "udp flood", inject: func(w *features.Window) { udpFlood(w, attacker, victim) }, want: UDPFlood, sources: [][16]byte{attacker}, targets: [][16]byte{victim}, flood: true},
	{name: "icmp flood", inject: func(w *features.Window) { icmpFlood(w, attacker, victim) }, want: ICMPFlood, sources: [][16]byte{attacker}, targets: [][16]byte{victim}, flood: true},
	{name: "dns amplification", inject: func(w *features.Window) { dnsAmp(w, victim) }, want: DNSAmplification, sources: [][16]byte{reflectors[0].Addr}, targets: [][16]byte{victim}, flood: true},
	{name: "ntp reflection", inject: func(w *features.Window) { ntpReflection(w, victim) }, want: Reflection, sources: [][16]byte{reflectors[0].Addr}, targets: [][16]byte{victim}, flood: true},
	{name: "fast brute force", inject: func(w *features.Window) { bruteForce(w, attacker, 300) }, want: BruteForce, sources: [][16]byte{attacker}, only: true},
	{name: "moderate brute force", inject: func(w *features.Window) { bruteForce(w, attacker, 20) }, want: BruteForce, sources: [][16]byte{attacker}, only: true},
	{name: "slowloris", inject: func(w *features.Window) { slowloris(w, attacker) }, want: Slowloris, sources: [][16]byte{attacker}, targets: [][16]byte{server}},
	{name: "traffic spike", inject: func(w *features.Window) { spike(w, 5) }, want: TrafficSpike},
	{name: "traffic drop", inject: func(w *features.Window) { drop(w, 10) }, want: TrafficDrop},
	{name: "arp spoofing", inject: func(w *features.Window) { arpSpoof(w) }, want: ARPSpoofing, targets: [][16]byte{lanAddr(1)}},
}

func TestAttackTypes(t *testing.T) {
	for _, tc := range attackCases {
		t.Run(tc.name, func(t *testing.T) {
			d, g := newTrained(t, testConfig(), 5)
			for range 30 {
				d.Observe(g.benign())
			}
			w := g.benign()
			before := w.Features
			tc.inject(w)
			v := d.Observe(w)
			checkVerdict(t, v)
			if !v.Anomalous {
				t.Errorf("not anomalous: score %.4f threshold %.4f", v.Score, v.Threshold)
			}
			if got := types(v.Attacks); !slices.Equal(got, []string{tc.want}) {
				t.Fatalf("attacks %v, want [%s]", got, tc.want)
			}
			a := v.Attacks[0]
			for _, s := range tc.sources {
				if !slices.Contains(a.Sources, s) {
					t.Errorf("sources %v do not name %v", addrs(a.Sources), netip.AddrFrom16(s).Unmap())
				}
			}
			if tc.only && len(a.Sources) != len(tc.sources) {
				t.Errorf("sources %v, want only %v", addrs(a.Sources), addrs(tc.sources))
			}
			for _, s := range tc.targets {
				if !slices.Contains(a.Targets, s) {
					t.Errorf("targets %v do not name %v", addrs(a.Targets), netip.AddrFrom16(s).Unmap())
				}
			}
			if len(a.Evidence) == 0 || a.Evidence[0].Value < a.Evidence[0].Threshold && tc.want != TrafficDrop {
				t.Errorf("evidence %+v", a.Evidence)
			}
			if tc.flood {
				if v.Threat != ThreatHigh || a.Confidence < 0.8 || v.Confidence < 0.8 {
					t.Errorf("flood: threat %s, attack confidence %.3f, verdict confidence %.3f; want high, ≥0.8", ThreatNames[v.Threat], a.Confidence, v.Confidence)
				}
			} else if v.Threat < ThreatMedium {
				t.Errorf("threat %s for a recognised attack", ThreatNames[v.Threat])
			}
			// The explanation leads with a feature the attack moved, and
			// each explanation describes the window against training.
			s := d.Models().Scaler
			moved := func(name string) bool {
				for j, f := range features.Schema {
					if f.Name == name {
						return w.Features[j] != before[j]
					}
				}
				return false
			}
			if e := v.Explanations[0]; !moved(e.Feature) {
				t.Errorf("top explanation %s: the attack did not move it (%+v)", e.Feature, v.Explanations)
			}
			for _, e := range v.Explanations {
				j := slices.Index(features.Names(), e.Feature)
				typ := s.Typical(j)
				if !(e.ExpectedLow <= typ && typ <= e.ExpectedHigh) {
					t.Errorf("%s: expected [%g, %g] does not hold the typical %g", e.Feature, e.ExpectedLow, e.ExpectedHigh, typ)
				}
				if e.Value != w.Features[j] || e.Z != s.Z(j, e.Value) {
					t.Errorf("%s: value %g z %g, window has %g z %g", e.Feature, e.Value, e.Z, w.Features[j], s.Z(j, w.Features[j]))
				}
				inside := e.ExpectedLow <= e.Value && e.Value <= e.ExpectedHigh
				if e.Z > 3 && inside || e.Z < -3 && e.ExpectedLow > 0 && inside || math.Abs(e.Z) < 2.999 && !inside {
					t.Errorf("%s: z %.2f but value %g vs expected [%g, %g]", e.Feature, e.Z, e.Value, e.ExpectedLow, e.ExpectedHigh)
				}
			}
			if d.normalLen() != 30 {
				t.Errorf("attack window joined the normal windows (%d)", d.normalLen())
			}
		})
	}
}

func addrs(as [][16]byte) []netip.Addr {
	var out []netip.Addr
	for _, a := range as {
		out = append(out, netip.AddrFrom16(a).Unmap())
	}
	return out
}

// A scanner knocks on SSH and the databases too: that is a scan, not a
// brute force. The same attempts from a host that scans nothing are.
func TestScannerIsNotBruteForce(t *testing.T) {
	d, g := newTrained(t, testConfig(), 6)
	for range 20 {
		d.Observe(g.benign())
	}
	w := g.benign()
	vertScan(w, attacker)
	if w.Features[features.MaxSourceAuthAttempts] < 20 {
		t.Fatal("scan window has no authentication attempts")
	}
	v := d.Observe(w)
	if !hasAttack(v.Attacks, PortScan) || hasAttack(v.Attacks, BruteForce) {
		t.Errorf("scan hitting auth ports: attacks %v, want port_scan only", types(v.Attacks))
	}
	// Control: 20 attempts from one host that does not scan.
	w = g.benign()
	bruteForce(w, ip("198.51.100.99"), 20)
	if v := d.Observe(w); !hasAttack(v.Attacks, BruteForce) {
		t.Errorf("20 attempts from a non-scanner: attacks %v, want brute_force", types(v.Attacks))
	}
}

// A slow guesser completes a connection or two a window: the sum over the
// horizon catches it once it reaches the floor, wherever the window grid
// cuts its attempts.
func TestSlowBruteForce(t *testing.T) {
	cfg := testConfig()
	d, g := newTrained(t, cfg, 7)
	for range 40 {
		d.Observe(g.benign())
	}
	first := 0
	for i := 1; i <= cfg.Horizon; i++ {
		w := g.benign()
		bruteForce(w, attacker, 2)
		v := d.Observe(w)
		checkVerdict(t, v)
		a := attackOf(v.Attacks, BruteForce)
		if a == nil {
			if first != 0 {
				t.Errorf("window %d: brute force stopped firing", i)
			}
			continue
		}
		if first == 0 {
			first = i
		}
		if len(a.Sources) != 1 || a.Sources[0] != attacker || len(a.Targets) != 1 || a.Targets[0] != server {
			t.Errorf("window %d: sources %v targets %v, want the guesser and the server", i, addrs(a.Sources), addrs(a.Targets))
		}
		if a.Evidence[0].Feature != "completed_connections" || a.Evidence[0].Value != float64(2*i) {
			t.Errorf("window %d: evidence %+v, want %d completed connections", i, a.Evidence, 2*i)
		}
		if !v.Anomalous {
			t.Errorf("window %d: brute force but not anomalous", i)
		}
	}
	if first != bruteConnections/2 {
		t.Errorf("slow brute force first recognised after %d windows (%d connections), want %d", first, 2*first, bruteConnections/2)
	}
}

// The same burst of 10 guesses (the untrained bar over two windows), cut
// 1 + 9 or 5 + 5 by the window grid, is recognised in the window that
// completes it.
func TestBruteForceAcrossWindows(t *testing.T) {
	for _, split := range [][2]float64{{1, 9}, {5, 5}, {9, 1}, {0, 10}} {
		d := New(testConfig(), "eth0", nil)
		g := newGen(31)
		w1, w2 := g.benign(), g.benign()
		if split[0] > 0 {
			bruteForce(w1, attacker, split[0])
		}
		bruteForce(w2, attacker, split[1])
		v1, v2 := d.Observe(w1), d.Observe(w2)
		if hasAttack(v1.Attacks, BruteForce) || !hasAttack(v2.Attacks, BruteForce) {
			t.Errorf("split %v: brute force in windows %v and %v, want the second only", split, types(v1.Attacks), types(v2.Attacks))
		}
	}
}

// A busier day is not an attack.
func TestLoadIncreaseIsNotAttack(t *testing.T) {
	d, g := newTrained(t, testConfig(), 8)
	for range 20 {
		d.Observe(g.benign())
	}
	anomalous := 0
	for range 30 {
		v := d.Observe(g.benignScaled(2))
		checkVerdict(t, v)
		if len(v.Attacks) > 0 {
			t.Errorf("2x load: attacks %v (evidence %+v)", types(v.Attacks), v.Attacks[0].Evidence)
		}
		if v.Threat == ThreatHigh {
			t.Errorf("2x load: threat high")
		}
		if v.Anomalous {
			anomalous++
		}
	}
	t.Logf("2x load: %d of 30 windows anomalous (no attack type)", anomalous)
}

// TestWarmupCountsTraffic: windows without a packet (an idle link, a
// capture file's gap, which the aggregator fills with up to an hour of
// empty windows) do not count toward the warm-up. Trained on an hour of
// silence, the models took the first traffic after it for a spike many
// times "the busiest window of training" (two public captures with gaps
// of years paged so).
func TestWarmupCountsTraffic(t *testing.T) {
	cfg := testConfig()
	cfg.Warmup = 50
	d := New(cfg, "eth0", nil)
	g := newGen(10)
	empty := func() *features.Window {
		w := &features.Window{Interface: "eth0", Start: g.next, End: g.next + 10*sec, Seconds: windowSecs}
		g.next = w.End
		return w
	}
	for i := range 3 * cfg.Warmup {
		if v := d.Observe(empty()); v.Anomalous || v.WarmupProgress != 0 {
			t.Fatalf("empty window %d: anomalous %v, warm-up progress %g", i+1, v.Anomalous, v.WarmupProgress)
		}
	}
	// Traffic after the silence: judged by the rules alone, not a spike.
	for i := range cfg.Warmup - 1 {
		w := g.benign()
		if i == 0 {
			spike(w, 5)
		}
		v := d.Observe(w)
		if v.Trained || len(v.Attacks) > 0 {
			t.Fatalf("window %d with traffic after %d empty ones: trained %v, attacks %v", i+1, 3*cfg.Warmup, v.Trained, types(v.Attacks))
		}
		// Progress is reported before the window itself counts.
		if want := float64(i) / float64(cfg.Warmup); math.Abs(v.WarmupProgress-want) > 1e-12 {
			t.Errorf("window %d with traffic: warm-up progress %g, want %g", i+1, v.WarmupProgress, want)
		}
	}
	// Empty windows in between count for nothing, whatever their number.
	for range cfg.Warmup {
		d.Observe(empty())
	}
	d.Settle()
	if trained, p, _, _, _ := d.State(); trained || p >= 1 {
		t.Fatalf("after %d windows with traffic: trained %v, progress %g", cfg.Warmup-1, trained, p)
	}
	d.Observe(g.benign())
	d.Settle()
	if trained, p, windows, _, _ := d.State(); !trained || p != 1 || windows < cfg.Warmup {
		t.Fatalf("after %d windows with traffic: trained %v, progress %g, %d training windows", cfg.Warmup, trained, p, windows)
	}

	// A reservoir no longer than the warm-up, on a link idle every other
	// window: training waits for the ring to fill, half of it traffic.
	cfg.Reservoir = cfg.Warmup
	d = New(cfg, "eth0", nil)
	for i := range cfg.Warmup {
		w := empty()
		if i%2 == 1 {
			w = g.benign()
		}
		d.Observe(w)
		d.Settle()
		if trained, _, _, _, _ := d.State(); trained != (i == cfg.Warmup-1) {
			t.Fatalf("every other window idle, reservoir %d: trained %v after %d windows", cfg.Reservoir, trained, i+1)
		}
	}
}

func TestWarmupAndRetrain(t *testing.T) {
	cfg := testConfig()
	cfg.Warmup = 50
	cfg.RetrainEvery = 20
	d := New(cfg, "eth0", nil)
	g := newGen(9)
	prev := 0.0
	if trained, p, _, _, _ := d.State(); trained || p != 0 || d.Models() != nil {
		t.Fatalf("new detector: trained %v progress %g", trained, p)
	}
	// The rules judge from the first window: a flood during the warm-up
	// is named, and its window does not join the training windows.
	normal := 0
	for i := 1; i <= cfg.Warmup+1; i++ {
		w := g.benign()
		flood := i == 25
		if flood {
			synFlood(w, victim)
		}
		v := d.Observe(w)
		checkVerdict(t, v)
		if v.Trained || v.Score != 0 || len(v.Models) != 0 {
			t.Fatalf("window %d of warm-up scored by models: %+v", i, v)
		}
		if got := types(v.Attacks); flood != slices.Equal(got, []string{SynFlood}) || flood != v.Anomalous {
			t.Fatalf("window %d of warm-up: attacks %v anomalous %v, want a SYN flood only in window 25", i, got, v.Anomalous)
		}
		if !flood {
			normal++
		}
		if want := math.Min(1, float64(normal-1)/50); math.Abs(v.WarmupProgress-want) > 1e-12 && i < cfg.Warmup+1 {
			// progress is reported before the window itself is counted
			if math.Abs(v.WarmupProgress-float64(normal-b2i(!flood))/50) > 1e-12 {
				t.Errorf("window %d: warm-up progress %g, %d normal windows", i, v.WarmupProgress, normal)
			}
		}
		if v.WarmupProgress < prev {
			t.Errorf("window %d: warm-up progress %g after %g", i, v.WarmupProgress, prev)
		}
		prev = v.WarmupProgress
	}
	d.Settle() // as the next window would
	trained, p, windows, retrains, last := d.State()
	if !trained || p != 1 || windows != 50 || retrains != 1 || !last.Equal(cfg.Now()) {
		t.Fatalf("after warm-up: trained %v progress %g windows %d trainings %d last %v", trained, p, windows, retrains, last)
	}
	first := d.Models()
	if first.TrainedAt != t0+51*10*sec {
		t.Errorf("trained at %d, want the end of window 51 (50 normal ones)", first.TrainedAt)
	}
	for i := 1; i <= cfg.RetrainEvery; i++ {
		v := d.Observe(g.benign())
		checkVerdict(t, v)
		if !v.Trained || len(v.Models) != len(AllMembers) {
			t.Fatalf("window %d after warm-up: trained %v, %d members", i, v.Trained, len(v.Models))
		}
		if i < cfg.RetrainEvery && d.Models() != first {
			t.Fatalf("retrained after %d windows, want %d", i, cfg.RetrainEvery)
		}
	}
	d.Settle()
	if d.Models() == first {
		t.Fatalf("no retrain after %d windows", cfg.RetrainEvery)
	}
	_, _, windows, retrains, _ = d.State()
	if retrains != 2 || windows != d.normalLen() {
		t.Errorf("after retrain: %d trainings on %d windows (normal ring %d)", retrains, windows, d.normalLen())
	}
	if d.LastTrainError() != nil {
		t.Error(d.LastTrainError())
	}
}

func TestAnomalousWindowsAreNotLearned(t *testing.T) {
	d, g := newTrained(t, testConfig(), 10)
	for range 10 {
		d.Observe(g.benign())
	}
	if d.normalLen() != 10 {
		t.Fatalf("normal ring %d after 10 benign windows", d.normalLen())
	}
	before := memberState(t, d.Models())
	for range 5 {
		w := g.benign()
		synFlood(w, victim)
		if v := d.Observe(w); !v.Anomalous {
			t.Fatal("flood not anomalous")
		}
	}
	if d.normalLen() != 10 {
		t.Errorf("normal ring %d after 5 floods, want 10", d.normalLen())
	}
	if after := memberState(t, d.Models()); after != before {
		t.Error("members learned from floods")
	}
	for range 5 {
		d.Observe(g.benign())
	}
	if d.normalLen() != 15 {
		t.Errorf("normal ring %d after 5 more benign windows, want 15", d.normalLen())
	}
	// Control: the online members do learn from benign windows.
	if after := memberState(t, d.Models()); after == before {
		t.Error("no member learned from benign windows")
	}
}

// memberState returns the stored state of the members that do not depend
// on the previous windows (the forecasters see every window by design).
func memberState(t *testing.T, set *ModelSet) string {
	t.Helper()
	var out []byte
	for _, m := range set.members {
		if _, seq := m.model.(models.Sequential); !seq {
			b, err := json.Marshal(m.model)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b...)
		}
	}
	return string(out)
}

func TestRequestRetrainFromOtherGoroutine(t *testing.T) {
	for _, sync_ := range []bool{true, false} {
		cfg := testConfig()
		cfg.Synchronous = sync_
		d, g := newTrained(t, cfg, 11)
		for range 20 {
			d.Observe(g.benign())
		}
		old := d.Models()
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(d.RequestRetrain)
		}
		wg.Wait()
		d.Observe(g.benign())
		if sync_ {
			// Trained meanwhile, installed before the next window is judged.
			d.Settle()
			if d.Models() == old {
				t.Fatal("synchronous: no retrain at the next window")
			}
		}
		// In the background the new models arrive at a later window; the
		// detector keeps scoring with the old ones meanwhile.
		for deadline := time.Now().Add(5 * time.Minute); d.Models() == old; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("background: no retrain")
			}
			v := d.Observe(g.benign())
			if !v.Trained {
				t.Fatal("not trained while retraining")
			}
		}
		_, _, windows, retrains, _ := d.State()
		if retrains != 1 || windows != 21 {
			t.Errorf("synchronous %v: %d trainings on %d windows, want 1 on 21", sync_, retrains, windows)
		}
		// Four requests make one training.
		for range 3 {
			d.Observe(g.benign())
		}
		if _, _, _, retrains, _ = d.State(); retrains != 1 {
			t.Errorf("synchronous %v: %d trainings after one request", sync_, retrains)
		}
	}
}

// replay runs a fresh detector (warm-up 60) over a fixed script of
// windows: benign, then attacks between benign stretches.
func replay(t *testing.T, seed uint64) ([]*Verdict, []int) {
	cfg := testConfig()
	cfg.Warmup = 60
	cfg.RetrainEvery = 40
	cfg.Train.Seed = seed
	d := New(cfg, "eth0", nil)
	g := newGen(12)
	var out []*Verdict
	var attackAt []int
	for i := range 220 {
		w := g.benign()
		if i >= 70 && i%10 == 0 {
			attackCases[(i/10)%len(attackCases)].inject(w)
			attackAt = append(attackAt, i)
		}
		out = append(out, d.Observe(w))
	}
	return out, attackAt
}

func TestSynchronousIsDeterministic(t *testing.T) {
	a, attackAt := replay(t, 1)
	b, _ := replay(t, 1)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		for i := range a {
			x, _ := json.Marshal(a[i])
			y, _ := json.Marshal(b[i])
			if string(x) != string(y) {
				t.Fatalf("window %d differs:\n%s\n%s", i, x, y)
			}
		}
	}
	c, _ := replay(t, 2)
	scoresDiffer := false
	for i := range a {
		if a[i].Trained && !slices.Equal(a[i].Models, c[i].Models) {
			scoresDiffer = true
		}
	}
	if !scoresDiffer {
		t.Error("another training seed gave the same member scores")
	}
	for _, i := range attackAt {
		if !slices.Equal(types(a[i].Attacks), types(c[i].Attacks)) || len(a[i].Attacks) == 0 {
			t.Errorf("window %d: attacks %v with seed 1, %v with seed 2", i, types(a[i].Attacks), types(c[i].Attacks))
		}
	}
}

func TestHysteresis(t *testing.T) {
	cfg := testConfig()
	cfg.EndAfter = 3
	d, g := newTrained(t, cfg, 13)
	var starts, ends []Event
	var ws []*features.Window
	for i := range 25 {
		w := g.benign()
		ws = append(ws, w)
		firing := i >= 10 && i <= 14 && i != 12
		if firing {
			synFlood(w, victim)
		}
		v := d.Observe(w)
		checkVerdict(t, v)
		if got := hasAttack(v.Attacks, SynFlood); got != firing {
			t.Fatalf("window %d: syn flood %v, want %v", i, got, firing)
		}
		active := slices.ContainsFunc(v.Active, func(a ActiveAttack) bool { return a.Type == SynFlood })
		if want := i >= 10 && i < 17; active != want {
			t.Errorf("window %d: active %v, want %v", i, active, want)
		}
		for _, e := range v.Events {
			switch e.Kind {
			case "attack_start":
				starts = append(starts, e)
				if i != 10 || e.Time != w.Start || e.Since != w.Start {
					t.Errorf("start event at window %d: %+v", i, e)
				}
			case "attack_end":
				ends = append(ends, e)
				// EndAfter quiet windows after the last firing one (14).
				if i != 14+cfg.EndAfter || e.Time != w.End || e.Since != ws[10].Start {
					t.Errorf("end event at window %d: %+v", i, e)
				}
			default:
				t.Errorf("event kind %q", e.Kind)
			}
			if e.Attack.Type != SynFlood || e.Attack.Confidence < 0.8 {
				t.Errorf("event %+v", e)
			}
		}
	}
	if len(starts) != 1 || len(ends) != 1 {
		t.Errorf("%d start and %d end events, want one each", len(starts), len(ends))
	}
}

func TestAllowlist(t *testing.T) {
	v6victim := ip("2001:db8:beef::10")
	cfg := testConfig()
	cfg.Allow = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8:beef::/48")}
	d, g := newTrained(t, cfg, 14)
	ctl, _ := newTrained(t, testConfig(), 14) // no allowlist
	for range 20 {
		w := g.benign()
		d.Observe(w)
		ctl.Observe(w)
	}
	check := func(name string, w *features.Window, wantSuppressed []string, wantAttacks []string) {
		t.Helper()
		v, c := d.Observe(w), ctl.Observe(w)
		checkVerdict(t, v)
		if got := types(v.Suppressed); !slices.Equal(got, wantSuppressed) {
			t.Errorf("%s: suppressed %v, want %v", name, got, wantSuppressed)
		}
		if got := types(v.Attacks); !slices.Equal(got, wantAttacks) {
			t.Errorf("%s: attacks %v, want %v", name, got, wantAttacks)
		}
		if want := len(wantAttacks) > 0; v.Anomalous != want {
			t.Errorf("%s: anomalous %v, want %v", name, v.Anomalous, want)
		}
		for _, e := range v.Events {
			if slices.Contains(wantSuppressed, e.Attack.Type) {
				t.Errorf("%s: event %+v for an allowed attack", name, e)
			}
		}
		// Without the allowlist, the same window is an attack.
		if got := types(c.Attacks); !slices.Equal(got, append(slices.Clone(wantSuppressed), wantAttacks...)) && !slices.Equal(got, append(slices.Clone(wantAttacks), wantSuppressed...)) {
			t.Errorf("%s: without allowlist attacks %v", name, got)
		}
	}

	w := g.benign()
	vertScan(w, attacker) // 203.0.113.66
	check("scan from an allowed /24", w, []string{PortScan}, nil)

	w = g.benign()
	udpFlood(w, ip("198.51.100.9"), v6victim)
	check("flood to an allowed IPv6 prefix", w, []string{UDPFlood}, nil)

	w = g.benign()
	vertScan(w, ip("203.0.114.66"))
	check("scan from outside the /24", w, nil, []string{PortScan})

	w = g.benign()
	synFlood(w, victim)
	vertScan(w, attacker)
	check("allowed scan during a flood", w, []string{PortScan}, []string{SynFlood})

	// A flood that spoofs one allowed address among its senders still
	// raises the attack: only an attack whose sources are all allowed is
	// dropped.
	w = g.benign()
	synFlood(w, victim)
	w.Heavy.SourcesByPackets = []features.HeavyHitter{{Addr: ip("203.0.113.5"), Count: 900}, {Addr: ip("198.51.100.7"), Count: 800}}
	check("flood spoofing an allowed sender", w, nil, []string{SynFlood})

	// A probe of one host's ports under the scan rule's bar: no attack,
	// but its fan-out and the refusals are far beyond training. From an
	// allowed scanner it is no anomaly; from anyone else it is one.
	probe := func(src [16]byte) *features.Window {
		w := g.benign()
		f := &w.Features
		f[features.MaxSourcePortFanout], f[features.TCPRst], f[features.RefusedConnections] = 1000, 970, 930
		w.Heavy.PortFanout = []features.HeavyHitter{{Addr: src, Count: 1000}, {Addr: lanAddr(7), Count: 2}}
		w.Behaviour.Pairs = append(w.Behaviour.Pairs, features.PairActivity{
			Key:   features.PairKey{Src: src, Dst: victim, Port: 8081, Proto: features.ProtoTCP},
			Conns: features.Conns{Attempts: 1000, Syns: 1000, Refused: 930, Unanswered: 70},
		})
		return w
	}
	if v := d.Observe(probe(attacker)); v.Anomalous || len(v.Extremes) > 0 {
		t.Errorf("allowed scanner's probe: anomalous %v, extremes %+v; want neither", v.Anomalous, v.Extremes)
	}
	if v := d.Observe(probe(ip("203.0.114.66"))); !v.Anomalous {
		t.Errorf("the same probe from a host not allowed: not anomalous (score %.4f, extremes %+v)", v.Score, v.Extremes)
	}
}

// A gap in the capture makes the forecaster forget: the window after it
// is forecast as by a detector that saw nothing before.
func TestGapResetsForecaster(t *testing.T) {
	lstm := func(v *Verdict) float64 {
		for _, m := range v.Models {
			if m.Model == MemberLSTM {
				return m.Score
			}
		}
		t.Fatal("no lstm score")
		return 0
	}
	d, g := newTrained(t, testConfig(), 15)
	for range 50 {
		d.Observe(g.benign())
	}
	fresh := func(w *features.Window) float64 {
		f, _ := newTrained(t, testConfig(), 15)
		return lstm(f.Observe(w))
	}
	next := g.benign()
	if got, cold := lstm(d.Observe(next)), fresh(next); got == cold {
		t.Errorf("contiguous window: lstm %g, the same as without history", got)
	}
	g.next += 60 * sec // a minute lost
	after := g.benign()
	if got, cold := lstm(d.Observe(after)), fresh(after); got != cold {
		t.Errorf("after a gap: lstm %g, want %g as without history", got, cold)
	}
}

// withRequests adds n answered requests to a web server from src, posts
// of them HTTP POSTs.
func withRequests(w *features.Window, src [16]byte, n, posts float64) *features.Window {
	p := pairTo(src, lanAddr(100), 80)
	p.Attempts, p.Syns, p.Established, p.Requests, p.Posts = 1, 1, 1, uint32(n), uint32(posts)
	w.Behaviour.Pairs = append(w.Behaviour.Pairs, p)
	f := &w.Features
	f[features.MaxPairRequests] = max(f[features.MaxPairRequests], n)
	f[features.MaxPairPosts] = max(f[features.MaxPairPosts], posts)
	return w
}

// A client that polls a web server all day (a monitoring script, a
// dashboard posting its state) makes as many requests in every window as
// in training: over the whole horizon that is no login guesser. A source
// posting three times as many forms is.
func TestPollingClientIsNotWebBruteForce(t *testing.T) {
	g := newGen(21)
	poller, guesser := lanAddr(7), ip("198.51.100.7")
	train := make([]*features.Window, 360)
	for i := range train {
		n := g.count(12)
		train[i] = withRequests(g.benign(), poller, n, n)
	}
	cfg := testConfig()
	set, err := Train(cfg.Train, vectors(train), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := New(cfg, "eth0", set)
	for i := range 3 * cfg.Horizon {
		n := g.count(12)
		v := d.Observe(withRequests(g.benign(), poller, n, n))
		checkVerdict(t, v)
		if a := attackOf(v.Attacks, BruteForce); a != nil {
			t.Fatalf("window %d: the polling client is named a brute force: %+v", i, a.Evidence)
		}
	}
	for i := range cfg.Horizon {
		n := g.count(12)
		w := withRequests(g.benign(), poller, n, n)
		v := d.Observe(withRequests(w, guesser, 36, 36))
		if a := attackOf(v.Attacks, BruteForce); a != nil {
			if len(a.Sources) != 1 || a.Sources[0] != guesser {
				t.Fatalf("window %d: brute force from %v, want the guesser", i, addrs(a.Sources))
			}
			return
		}
	}
	t.Errorf("a source posting three times the poller's rate for %d windows is not named a brute force", cfg.Horizon)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestScoreAloneMustHold: a window whose score is just over the threshold,
// with no type named and no extreme feature, is no anomaly alone; the same
// twice in a row is one.
func TestScoreAloneMustHold(t *testing.T) {
	d, g := newTrained(t, testConfig(), 16)
	for range 20 {
		d.Observe(g.benign())
	}
	// Find a load whose score lands between the threshold and halfway to 1.
	probe, _ := newTrained(t, testConfig(), 16)
	var pw *features.Window
	for k := 1.2; k < 3 && pw == nil; k += 0.02 {
		w := g.benignScaled(k)
		if v := probe.Observe(w); len(v.Attacks) == 0 && len(v.Extremes) == 0 && v.Score >= v.Threshold && v.Score < (v.Threshold+1)/2 {
			pw = w
		}
	}
	if pw == nil {
		t.Fatal("no load gives a score between the threshold and halfway to 1: the test cannot judge")
	}
	again := func() *features.Window { // the same window, next on the grid
		w, c := g.benign(), *pw
		c.Start, c.End = w.Start, w.End
		return &c
	}
	w1, w2 := again(), again()
	if v := d.Observe(w1); v.Anomalous {
		t.Errorf("one window at %.4f (threshold %.4f): anomalous, want not", v.Score, v.Threshold)
	}
	if v := d.Observe(w2); !v.Anomalous {
		t.Errorf("the second window in a row at %.4f (threshold %.4f): not anomalous", v.Score, v.Threshold)
	}
}
