package detector

import (
	"cmp"
	"slices"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// extremeFloors lists the features whose value far beyond anything seen in
// training is an anomaly by itself, whatever the other members say, with
// the least value that counts. Volume and population features are not
// among them: a flash crowd or a backup is big but not strange, and the
// traffic spike type judges volume. These are the features of what hosts
// do: names, errors, refusals, fan-out, connections held. Nor are counts
// decided after the fact (unanswered attempts are counted seconds later,
// in the window after a flood).
var extremeFloors = map[features.Index]float64{
	features.DNSQueryNameLengthMean:    40,
	features.DNSQueryNameEntropyMean:   4,
	features.DNSTunnelQueries:          20,
	features.DNSResponseSizeMean:       600,
	features.DNSErrorResponses:         50,
	features.ReflectionResponseBytes:   50e3,
	features.ICMPUnreachable:           100,
	features.Fragments:                 100,
	features.ARPAddressConflicts:       3,
	features.TCPRst:                    500,
	features.RefusedConnections:        200,
	features.MaxSourcePortFanout:       100,
	features.MaxSourceHostFanout:       100,
	features.MaxSourceAuthAttempts:     50,
	features.MaxSourceFailedContacts:   50,
	features.MaxServiceIncompleteSyns:  500,
	features.MaxServiceHeldConnections: 30,
	features.MaxPairAuthConnections:    20,
	features.MaxPairPosts:              50,
	features.MaxPairRequests:           1000,
	features.MaxTargetUDPPackets:       5000,
	features.MaxTargetICMPRequests:     1000,
	features.MaxTargetUnsolicitedBytes: 100e3,
}

// Extreme: a robust z-score of at least extremeZ, at least extremeFactor
// times the training maximum, and the feature's floor.
const (
	extremeZ      = 8
	extremeFactor = 3
)

// extremes returns the features of a window far beyond anything seen in
// training, the furthest first.
func extremes(s *Scaler, f *features.Vector, row []float64) []Explanation {
	var out []Explanation
	for j, floor := range extremeFloors {
		v := f[j]
		if row[j] < extremeZ || v < floor || v < extremeFactor*s.Max[j] {
			continue
		}
		lo, hi := s.Expected(int(j), 3)
		out = append(out, Explanation{Feature: features.Schema[j].Name, Value: v, Z: row[j], ExpectedLow: lo, ExpectedHigh: max(hi, s.Max[j])})
	}
	slices.SortFunc(out, func(a, b Explanation) int { return cmp.Or(cmp.Compare(b.Z, a.Z), cmp.Compare(a.Feature, b.Feature)) })
	return out
}
