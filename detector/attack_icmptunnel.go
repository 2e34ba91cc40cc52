package detector

import "fmt"

// ICMPTunnel is the icmp_tunnel attack type.
const ICMPTunnel = "icmp_tunnel"

func init() {
	register(&AttackType{
		Name:           ICMPTunnel,
		Title:          "ICMP tunnel",
		Alert:          "NetAnomalyICMPTunnel",
		Severity:       3,
		Technique:      "T1095",
		TechniqueName:  "Non-Application Layer Protocol",
		Recommendation: "A host is moving data inside pings: find the process sending them on the source (ptunnel, icmptunnel, hans, malware), and allow echo requests out only to the hosts that need them, with a size limit.",
		Behaviour: "One host pinging another whose echo replies do not repeat its requests: a host answering a ping sends its data back, " +
			"so a reply of another length than the request it answers carries data of its own. Over the horizon, 20 replies or more " +
			"that differ from their request, and at least a quarter of the replies.",
		Names:  "Sources: the host sending the echo requests; targets: the host answering them (the tunnel's other end).",
		Floors: true,
		order:  13, // before the ICMP flood: a tunnel moving data fast is a tunnel
		detect: detectICMPTunnel,
	})
}

// Bars of the ICMP tunnel rule over the horizon.
const (
	tunnelEchoMismatch = 20
	tunnelEchoShare    = 0.25
)

func detectICMPTunnel(e *evidence) []Attack {
	bar := e.scale * tunnelEchoMismatch
	var out []Attack
	for _, p := range activePairs(e.h, func(p *pairSum) bool { return isICMP(p.Key.Proto) && p.EchoMismatch > 0 }) {
		if l := e.h.last.pairs[p.Key]; l.Packets+l.Replies == 0 {
			continue // it stopped
		}
		n, replies := float64(p.EchoMismatch), float64(p.Replies)
		if n < bar || n < tunnelEchoShare*replies {
			continue
		}
		out = append(out, Attack{
			Confidence: confidence(n, bar),
			Evidence:   []Evidence{ev("echo_replies_unlike_request", n, bar, 0), ev("echo_replies_unlike_request_share", n/replies, tunnelEchoShare, 0)},
			Sources:    [][16]byte{p.Key.Src},
			Targets:    [][16]byte{p.Key.Dst},
			Summary: fmt.Sprintf("%.0f echo requests and %.0f replies in %s, %.0f of the replies not as long as the request they answer (%s in all)",
				float64(p.Packets), replies, dur(e.h.long.seconds), n, bytesOf(float64(p.Bytes+p.ReplyBytes))),
		})
	}
	return out
}

// bytesOf says a byte count in kB or MB.
func bytesOf(b float64) string {
	if b >= 1e6 {
		return fmt.Sprintf("%.1f MB", b/1e6)
	}
	return fmt.Sprintf("%.0f kB", b/1e3)
}
