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
		Behaviour: "One host pinging another with data in the pings: a pinger repeats one pattern and a host answering a ping sends " +
			"the data back, so requests whose data changes from one to the next carry data out, and replies of another length " +
			"than the request they answer carry data back. Over the horizon, 20 or more such requests (half the requests or more) " +
			"or such replies (a quarter of the replies or more).",
		Names:  "Sources: the host sending the echo requests; targets: the host answering them (the tunnel's other end).",
		Floors: true,
		order:  13, // before the ICMP flood: a tunnel moving data fast is a tunnel
		detect: detectICMPTunnel,
	})
}

// Bars of the ICMP tunnel rule over the horizon.
const (
	tunnelEchoes      = 20   // requests or replies carrying data
	tunnelReplyShare  = 0.25 // of the replies unlike their request
	tunnelVariedShare = 0.5  // of the requests whose data changed
)

func detectICMPTunnel(e *evidence) []Attack {
	bar := e.scale * tunnelEchoes
	var out []Attack
	for _, p := range activePairs(e.h, func(p *pairSum) bool { return isICMP(p.Key.Proto) && p.EchoMismatch+p.EchoVaried > 0 }) {
		if l := e.h.last.pairs[p.Key]; l.Packets+l.Replies == 0 {
			continue // it stopped
		}
		back, sent := float64(p.EchoMismatch), float64(p.EchoVaried)
		requests, replies := float64(p.Packets), float64(p.Replies)
		var evs []Evidence
		c := 0.0
		if sent >= bar && sent >= tunnelVariedShare*requests {
			evs = append(evs, ev("echo_requests_with_changing_data", sent, bar, 0))
			c = confidence(sent, bar)
		}
		if back >= bar && back >= tunnelReplyShare*replies {
			evs = append(evs, ev("echo_replies_unlike_request", back, bar, 0))
			c = max(c, confidence(back, bar))
		}
		if len(evs) == 0 {
			continue
		}
		out = append(out, Attack{
			Confidence: c,
			Evidence:   evs,
			Sources:    [][16]byte{p.Key.Src},
			Targets:    [][16]byte{p.Key.Dst},
			Summary: fmt.Sprintf("%.0f echo requests and %.0f replies in %s: %.0f requests with data unlike the one before, %.0f replies unlike their request (%s in all)",
				requests, replies, dur(e.h.long.seconds), sent, back, bytesOf(float64(p.Bytes+p.ReplyBytes))),
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
