package detector

import (
	"net/netip"
	"slices"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// allow drops the attacks whose sources are all allowlisted, or whose
// target is. All sources, not any: a flood that spoofs one allowed address
// among its senders must not hide.
func (d *Detector) allow(attacks []Attack) (kept, dropped []Attack) {
	if len(d.cfg.Allow) == 0 {
		return attacks, nil
	}
	for _, a := range attacks {
		if d.allAllowed(a.Sources) || d.anyAllowed(a.Targets) {
			dropped = append(dropped, a)
		} else {
			kept = append(kept, a)
		}
	}
	return kept, dropped
}

// allowedDriver says whether allowed sources explain feature: the
// window's most from one source came from one, or allowed hosts opened
// most of the window's failed connections (a scan and its answers).
func (d *Detector) allowedDriver(w *features.Window, feature string) bool {
	top := func(hs []features.HeavyHitter) bool { return len(hs) > 0 && d.allowedAddr(hs[0].Addr) }
	switch feature {
	case features.Schema[features.MaxSourcePortFanout].Name:
		return top(w.Heavy.PortFanout)
	case features.Schema[features.MaxSourceHostFanout].Name:
		return top(w.Heavy.HostFanout)
	case features.Schema[features.MaxSourceAuthAttempts].Name:
		return top(w.Heavy.AuthAttempts)
	case features.Schema[features.MaxSourceWebConnections].Name:
		return top(w.Heavy.WebConnections)
	case features.Schema[features.TopSourceShare].Name:
		return top(w.Heavy.SourcesByPackets)
	}
	if !probeFeatures[feature] {
		return false
	}
	// Probing and its answers (RSTs, unreachables, new ports) are
	// explained when allowed hosts opened most of the window's failed
	// connections.
	var allowed, all uint64
	for _, p := range w.Behaviour.Pairs {
		n := uint64(p.Refused) + uint64(p.Unanswered) + uint64(p.HalfOpen)
		all += n
		if d.allowedAddr(p.Key.Src) {
			allowed += n
		}
	}
	return all > 0 && 2*allowed >= all
}

// probeFeatures are what probing new hosts and ports raises.
var probeFeatures = map[string]bool{}

func init() {
	for _, f := range []features.Index{
		features.MaxSourceFailedContacts, features.TCPRst,
		features.RefusedConnections, features.UnansweredConnections, features.TCPSyn, features.TCPHalfOpenRatio,
		features.ICMPUnreachable, features.UniqueDestinationPorts, features.DestinationPortEntropy, features.UniqueConnections,
		features.NewFlowsPerSecond, features.MaxServiceIncompleteSyns,
	} {
		probeFeatures[features.Schema[f].Name] = true
	}
}

func (d *Detector) allowedAddr(b [16]byte) bool {
	ip := netip.AddrFrom16(b).Unmap()
	for _, p := range d.cfg.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (d *Detector) anyAllowed(addrs [][16]byte) bool {
	return slices.ContainsFunc(addrs, d.allowedAddr)
}

func (d *Detector) allAllowed(addrs [][16]byte) bool {
	return len(addrs) > 0 && !slices.ContainsFunc(addrs, func(a [16]byte) bool { return !d.allowedAddr(a) })
}
