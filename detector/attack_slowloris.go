package detector

import (
	"fmt"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// Slowloris is the slowloris attack type.
const Slowloris = "slowloris"

func init() {
	register(&AttackType{
		Name:           Slowloris,
		Title:          "Slowloris (slow HTTP) attack",
		Alert:          "NetAnomalySlowloris",
		Severity:       3,
		Technique:      "T1499.002",
		TechniqueName:  "Endpoint Denial of Service: Service Exhaustion Flood",
		Recommendation: "Lower the web server's header and idle timeouts, cap connections per client address, or put a reverse proxy that buffers requests in front of it.",
		Behaviour: "Many connections to one web server held open by few hosts: each request left unfinished for seconds (slowloris, slow POST), " +
			"the answer kept waiting by a zero TCP window (slow read) or the connection kept alive at under a packet every two seconds; counted at the end of the latest window: before training " +
			"at least 50, of which the hosts holding 10 or more hold half.",
		Names:  "Sources: the hosts holding the connections; targets: the web server.",
		Floors: true,
		order:  19, // before brute force and HTTP flood: held connections explain their requests
		detect: detectSlowloris,
	})
}

// Bars of the slowloris rule: held connections to one web service at
// the end of the latest window, most of them held by few hosts each
// holding many.
const (
	slowHeld        = 50
	slowTrainedHeld = 30
	slowPerSource   = 10
	slowHeldShare   = 0.5
)

func detectSlowloris(e *evidence) []Attack {
	b := &e.h.latest().Behaviour
	bar := e.bar(slowHeld, slowTrainedHeld, features.MaxServiceHeldConnections, 3, 1)
	var out []Attack
	for _, v := range b.Services {
		if v.Key.Proto != features.ProtoTCP || v.Key.AllPorts || !features.WebPort(v.Key.Port) {
			continue
		}
		held := float64(v.Held)
		if held < bar {
			continue
		}
		var rs []ranked
		for _, p := range b.Pairs {
			if p.Key.Proto == features.ProtoTCP && p.Key.Dst == v.Key.Addr && p.Key.Port == v.Key.Port && p.Held > 0 {
				rs = append(rs, ranked{p.Key.Src, float64(p.Held)})
			}
		}
		srcs := heaviest(rs, held, 0.1, slowPerSource)
		if len(srcs) == 0 || namedShare(rs, srcs, held) < slowHeldShare {
			continue // many clients each keeping a few alive: browsers, not an attack
		}
		out = append(out, Attack{
			Confidence: confidence(held, bar),
			Evidence:   []Evidence{ev("held_connections", held, bar, 0)},
			Sources:    srcs,
			Targets:    [][16]byte{v.Key.Addr},
			Summary:    fmt.Sprintf("%.0f connections to port %d held open with unfinished requests or under a packet a second, %.0f%% of them by %s", held, v.Key.Port, 100*namedShare(rs, srcs, held), plural(float64(len(srcs)), "host", "hosts")),
		})
	}
	return out
}
