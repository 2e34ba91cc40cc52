package detector

import (
	"math"
	"sort"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// Explanation is one feature behind a score: its value, its robust
// z-score and the range training makes expected (z within ±3).
type Explanation struct {
	Feature      string  `json:"feature"`
	Value        float64 `json:"value"`
	Z            float64 `json:"z"`
	ExpectedLow  float64 `json:"expected_low"`
	ExpectedHigh float64 `json:"expected_high"`
}

// ProtocolDeviation is the largest robust z-score among one protocol's
// features: it says which protocol is abnormal.
type ProtocolDeviation struct {
	Protocol string
	Z        float64
}

var protocolGroups = []struct {
	name  string
	feats []features.Index
}{
	{"tcp", []features.Index{features.TCPPacketsPerSecond, features.TCPSyn, features.TCPSynAck, features.TCPRst, features.TCPFin, features.TCPHalfOpenRatio, features.AuthAttempts, features.MaxSourceAuthAttempts, features.HTTPIdleConnections,
		features.TCPEstablished, features.HTTPRequests, features.MaxServiceIncompleteSyns, features.MaxPairAuthConnections, features.MaxServiceHeldConnections, features.MaxPairRequests, features.MaxServiceRequests, features.MaxPairPosts}},
	{"udp", []features.Index{features.UDPPacketsPerSecond, features.DNSQueries, features.DNSResponses, features.DNSErrorResponses, features.DNSResponseSizeMean, features.ReflectionResponseBytes, features.ReflectionRequestBytes,
		features.DNSQueryNameLengthMean, features.DNSQueryNameEntropyMean, features.DNSTunnelQueries, features.MaxTargetUDPPackets, features.MaxTargetUnsolicitedBytes}},
	{"icmp", []features.Index{features.ICMPPacketsPerSecond, features.ICMPUnreachable, features.ICMPEchoRequests, features.MaxTargetICMPRequests}},
	{"arp", []features.Index{features.ARPPacketsPerSecond, features.ARPRequests, features.ARPReplies, features.ARPAddressConflicts}},
	{"other", []features.Index{features.OtherPacketsPerSecond, features.Fragments}},
}

// explain returns the three features furthest from their baseline.
func explain(s *Scaler, f *features.Vector, row []float64) []Explanation {
	idx := make([]int, len(row))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return math.Abs(row[idx[a]]) > math.Abs(row[idx[b]]) })
	out := make([]Explanation, 0, 3)
	for _, j := range idx[:3] {
		lo, hi := s.Expected(j, 3)
		out = append(out, Explanation{Feature: features.Schema[j].Name, Value: f[j], Z: row[j], ExpectedLow: lo, ExpectedHigh: hi})
	}
	return out
}

// explainedSince adds the features of top to those explained since start
// and returns them all with this window's values.
func (d *Detector) explainedSince(s *Scaler, f *features.Vector, top []Explanation) []Explanation {
	for _, x := range top {
		if i, _, ok := features.Lookup(x.Feature); ok {
			d.explained[i] = true
		}
	}
	var out []Explanation
	for j, ok := range d.explained {
		if ok {
			lo, hi := s.Expected(j, 3)
			out = append(out, Explanation{Feature: features.Schema[j].Name, Value: f[j], Z: d.row[j], ExpectedLow: lo, ExpectedHigh: hi})
		}
	}
	return out
}

func protocolDeviations(row []float64) []ProtocolDeviation {
	out := make([]ProtocolDeviation, len(protocolGroups))
	for i, g := range protocolGroups {
		out[i].Protocol = g.name
		for _, f := range g.feats {
			if math.Abs(row[f]) > math.Abs(out[i].Z) {
				out[i].Z = row[f]
			}
		}
	}
	return out
}
