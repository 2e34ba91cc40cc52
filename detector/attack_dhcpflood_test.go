package detector

import (
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

func TestDHCPFlood(t *testing.T) {
	server := lanAddr(1)
	hostMAC := func(i int) [6]byte { return [6]byte{2, 0, 0, 1, byte(i >> 8), byte(i)} }
	// starving: a window in which spoofMAC asks for n addresses of others,
	// discover and request each, and the server answers both.
	starving := func(n uint32) bw {
		return bw{dhcp: features.DHCP{Requests: 2 * n, Replies: 2 * n, NewClients: n,
			Senders: []features.DHCPSender{{MAC: spoofMAC, Requests: 2 * n, Clients: n, Foreign: n}},
			Servers: []features.DHCPServer{{Addr: server, Replies: 2 * n}}}}
	}
	// rejoin: n hosts each asking for their own lease, answered.
	rejoin := func(n int) bw {
		d := features.DHCP{Requests: 2 * uint32(n), Replies: 2 * uint32(n), NewClients: uint32(n), Servers: []features.DHCPServer{{Addr: server, Replies: 2 * uint32(n)}}}
		for i := range min(n, features.MaxDHCPSendersReported) {
			d.Senders = append(d.Senders, features.DHCPSender{MAC: hostMAC(i), Requests: 2, Clients: 1})
		}
		d.SendersDropped = 2 * uint32(max(0, n-features.MaxDHCPSendersReported))
		return bw{dhcp: d}
	}
	// forged: n discovers a window, each from its own forged MAC, and the
	// server answering the first few.
	forged := func(n, answered int) bw {
		b := rejoin(n)
		b.dhcp.Requests, b.dhcp.Replies = uint32(n), uint32(answered)
		for i := range b.dhcp.Senders {
			b.dhcp.Senders[i].Requests = 1
		}
		b.dhcp.SendersDropped = uint32(max(0, n-features.MaxDHCPSendersReported))
		b.dhcp.Servers[0].Replies = uint32(answered)
		return b
	}
	drained := starving(150)
	drained.dhcp.Replies, drained.dhcp.Servers = 0, nil
	flood := bw{dhcp: features.DHCP{Requests: 150, NewClients: 1, Senders: []features.DHCPSender{{MAC: spoofMAC, Requests: 150, Clients: 1, Foreign: 1}}}}
	quiet := bw{}
	oneHost := bw{dhcp: features.DHCP{Requests: 2, Replies: 2, Senders: []features.DHCPSender{{MAC: hostMAC(1), Requests: 2}}}}

	checkRuleCases(t, DHCPFlood, []ruleCase{
		{name: "one MAC asks for 24 other addresses over three windows", windows: repeat(3, starving(8)), want: true, macs: [][6]byte{spoofMAC}, targets: srcs(server)},
		{name: "slow starvation: one other address a window for 20 windows", windows: repeat(20, starving(1)), want: true, macs: [][6]byte{spoofMAC}, targets: srcs(server)},
		{name: "19 other addresses are not enough", windows: repeat(19, starving(1))},
		{name: "starvation that stopped", windows: append(repeat(3, starving(8)), oneHost)},
		{name: "one MAC asking for 150 others, unanswered, is one sender, not forged ones", windows: []bw{drained}, want: true, macs: [][6]byte{spoofMAC}},
		{name: "150 requests from one MAC for one client, unanswered", windows: []bw{flood}, want: true, macs: [][6]byte{spoofMAC}},
		{name: "a flood cut by the window grid is judged whole", windows: []bw{quiet, {dhcp: features.DHCP{Requests: 60, Senders: []features.DHCPSender{{MAC: spoofMAC, Requests: 60}}}}, {dhcp: features.DHCP{Requests: 60, Senders: []features.DHCPSender{{MAC: spoofMAC, Requests: 60}}}}}, want: true, macs: [][6]byte{spoofMAC}},
		{name: "forged MACs: 3000 discovers, 50 answered", windows: []bw{forged(3000, 50)}, want: true, targets: srcs(server), spoofed: true},
		{name: "forged MACs, slower: 60 discovers a window, unanswered", windows: repeat(2, forged(60, 0)), want: true, targets: srcs(server), spoofed: true},
		{name: "120 hosts back after an outage, each answered", windows: []bw{rejoin(120)}},
		{name: "500 hosts back after an outage over two windows, each answered", windows: repeat(2, rejoin(250))},
		{name: "1200 never-seen clients in 20 s, answered, are too many for a rejoin", windows: repeat(2, rejoin(600)), want: true, targets: srcs(server), spoofed: true},
		{name: "hosts renewing their leases", windows: repeat(30, oneHost)},
	})
}
