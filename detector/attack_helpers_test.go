package detector

import (
	"slices"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// The attack type tests build windows from behaviour records alone: what
// the feature stage reports of hosts, services and pairs. Each case is a
// run of windows; the verdict of the last one is judged.

// bw is a window of behaviour: the records of one 10 s window.
type bw struct {
	pairs    []features.PairActivity
	services []features.ServiceActivity
	hosts    []features.HostActivity
	arp      []features.ARPClaim
	dhcp     features.DHCP
	listed   []features.BlocklistPeer
	pps      float64 // packets a second, for the volume types
	oneWay   bool
	seconds  float64 // of the window the capture saw; 0 for all of it
}

// ruleCase is one table row of an attack type test.
type ruleCase struct {
	name    string
	windows []bw
	want    bool       // the type is named in the last window
	sources [][16]byte // exactly these, in any order (when want)
	targets [][16]byte
	macs    [][6]byte
	spoofed bool
}

// runRules feeds the windows, one per 10 s from t0, to a detector with no
// model (the rules alone) and returns the last verdict.
func runRules(t *testing.T, ws []bw) *Verdict {
	t.Helper()
	d := New(testConfig(), "eth0", nil)
	var v *Verdict
	for i, b := range ws {
		w := &features.Window{Interface: "eth0", Start: t0 + int64(i)*10*sec, End: t0 + int64(i+1)*10*sec, Seconds: windowSecs}
		if b.seconds > 0 {
			w.Seconds, w.Partial = b.seconds, true
		}
		w.Features[features.PacketsPerSecond] = b.pps
		w.Behaviour = features.Behaviour{Pairs: b.pairs, Services: b.services, Hosts: b.hosts, ARP: b.arp, DHCP: b.dhcp, OneWay: b.oneWay}
		w.Blocklisted = b.listed
		v = d.Observe(w)
		checkVerdict(t, v)
	}
	return v
}

// checkRuleCases runs each case and checks the type, its sources and
// targets.
func checkRuleCases(t *testing.T, typ string, cases []ruleCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := runRules(t, c.windows)
			a := attackOf(v.Attacks, typ)
			if (a != nil) != c.want {
				t.Fatalf("%s named: %v, want %v (attacks %v)", typ, a != nil, c.want, types(v.Attacks))
			}
			if a == nil {
				return
			}
			if !sameSet(a.Sources, c.sources) {
				t.Errorf("sources %v, want %v", addrs(a.Sources), addrs(c.sources))
			}
			if !sameSet(a.Targets, c.targets) {
				t.Errorf("targets %v, want %v", addrs(a.Targets), addrs(c.targets))
			}
			if !sameSet(a.MACs, c.macs) {
				t.Errorf("MACs %x, want %x", a.MACs, c.macs)
			}
			if a.Spoofed != c.spoofed {
				t.Errorf("spoofed %v, want %v", a.Spoofed, c.spoofed)
			}
			if a.Summary == "" || len(a.Evidence) == 0 || a.Confidence < 0.6 || a.Confidence > 0.99 {
				t.Errorf("attack %+v: want a summary, evidence and a confidence in [0.6, 0.99]", a)
			}
			if !v.Anomalous || v.Threat == ThreatNone {
				t.Errorf("named %s but anomalous %v threat %s", typ, v.Anomalous, ThreatNames[v.Threat])
			}
		})
	}
}

func sameSet[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// repeat returns n copies of a window.
func repeat(n int, b bw) []bw {
	out := make([]bw, n)
	for i := range out {
		out[i] = b
	}
	return out
}

func tcp(src, dst [16]byte, port uint16, c features.Conns) features.PairActivity {
	return features.PairActivity{Key: features.PairKey{Src: src, Dst: dst, Port: port, Proto: features.ProtoTCP}, Conns: c}
}

func pair(src, dst [16]byte, port uint16, proto features.Protocol, c features.Conns) features.PairActivity {
	return features.PairActivity{Key: features.PairKey{Src: src, Dst: dst, Port: port, Proto: proto}, Conns: c}
}

func svc(addr [16]byte, port uint16, c features.Conns) features.ServiceActivity {
	return features.ServiceActivity{Key: features.ServiceKey{Addr: addr, Port: port, Proto: features.ProtoTCP}, Conns: c}
}

func hostWide(addr [16]byte, proto features.Protocol, c features.Conns) features.ServiceActivity {
	return features.ServiceActivity{Key: features.ServiceKey{Addr: addr, Proto: proto, AllPorts: true}, Conns: c}
}

func srcs(a ...[16]byte) [][16]byte { return a }
