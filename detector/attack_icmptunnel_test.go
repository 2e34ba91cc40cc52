package detector

import (
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

func TestICMPTunnel(t *testing.T) {
	client, server := lanAddr(7), ip("203.0.113.9")
	// pings: a window of n echo requests and replies, mismatched of them
	// another length than their request.
	pings := func(n, mismatched uint32) bw {
		p := pair(client, server, 0, features.ProtoICMP, features.Conns{Attempts: 1, Established: 1, Packets: n, Replies: n, Bytes: 166 * uint64(n), ReplyBytes: 120 * uint64(n)})
		p.EchoMismatch = mismatched
		return bw{pairs: []features.PairActivity{p}}
	}
	// uploads: n requests carrying data that changes, every one answered
	// with its echo (the far end's kernel answers too).
	uploads := func(n, varied uint32) bw {
		b := pings(n, 0)
		b.pairs[0].EchoVaried = varied
		return b
	}
	checkRuleCases(t, ICMPTunnel, []ruleCase{
		{name: "data out in pings whose data changes, answered in kind", windows: []bw{uploads(200, 199)}, want: true, sources: srcs(client), targets: srcs(server)},
		{name: "a pinger that changed its pattern once", windows: repeat(30, uploads(10, 1))},
		{name: "19 changing requests are not enough", windows: []bw{uploads(19, 19)}},
		{name: "a tunnel: every reply its own length", windows: []bw{pings(25, 25)}, want: true, sources: srcs(client), targets: srcs(server)},
		{name: "a slow tunnel adds up over the horizon", windows: repeat(10, pings(3, 2)), want: true, sources: srcs(client), targets: srcs(server)},
		{name: "a monitoring ping: replies repeat the requests", windows: repeat(30, pings(10, 0))},
		{name: "a few odd replies among many pings", windows: repeat(30, pings(10, 1))},
		{name: "19 odd replies are not enough", windows: []bw{pings(19, 19)}},
		{name: "a tunnel that stopped", windows: []bw{pings(25, 25), {}}},
	})
}
