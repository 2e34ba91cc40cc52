package features

import (
	"fmt"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
)

func dhcpPkt(t int64, op uint8, src, dst string, sport, dport uint16, srcMAC, client [6]byte) decode.PacketInfo {
	p := udpPkt(t, src, dst, sport, dport)
	p.DHCPOp, p.SrcMAC, p.DHCPClient = op, srcMAC, client
	return p
}

func mac(last ...byte) (m [6]byte) {
	m[0] = 0x02
	copy(m[6-len(last):], last)
	return m
}

// TestDHCPActivity: who asked for leases and for whom, who answered, and
// what a window can hold.
func TestDHCPActivity(t *testing.T) {
	starver, client, relay := mac(0xee), mac(0x01), mac(0x0e)
	var pkts []decode.PacketInfo
	// A host that asks for 40 forged client addresses, each twice
	// (discover and request), in the first window.
	for i := range 40 {
		forged := mac(0xf0, byte(i))
		for k := range 2 {
			pkts = append(pkts, dhcpPkt(at(1+0.1*float64(i)+0.05*float64(k)), decode.DHCPRequest, "0.0.0.0", "255.255.255.255", 68, 67, starver, forged))
		}
		pkts = append(pkts, dhcpPkt(at(1.02+0.1*float64(i)), decode.DHCPReply, "10.0.0.1", "255.255.255.255", 67, 68, mac(0x99), forged))
	}
	// A host that asks for its own lease, in both windows, and a relay
	// agent that forwards its request to a remote server.
	for _, s := range []float64{2, 12} {
		pkts = append(pkts,
			dhcpPkt(at(s), decode.DHCPRequest, "0.0.0.0", "255.255.255.255", 68, 67, client, client),
			dhcpPkt(at(s+0.1), decode.DHCPReply, "10.0.0.2", "10.0.0.77", 67, 68, mac(0x98), client))
		relayed := dhcpPkt(at(s+0.01), decode.DHCPRequest, "10.0.0.254", "10.9.9.9", 67, 67, relay, client)
		relayed.DHCPRelayed = true
		pkts = append(pkts, relayed)
	}
	// The starver asks for the same 40 again in the second window: not new.
	for i := range 40 {
		pkts = append(pkts, dhcpPkt(at(13+0.1*float64(i)), decode.DHCPRequest, "0.0.0.0", "255.255.255.255", 68, 67, starver, mac(0xf0, byte(i))))
	}
	bs := behaviourOf(t, pkts, 20)
	if len(bs) != 2 {
		t.Fatalf("%d windows, want 2", len(bs))
	}
	w1, w2 := bs[0].DHCP, bs[1].DHCP
	if w1.Requests != 81 || w1.Replies != 41 || w1.NewClients != 41 {
		t.Errorf("window 1: %d requests, %d replies, %d new clients; want 81 (the relay's not again), 41, 41", w1.Requests, w1.Replies, w1.NewClients)
	}
	want1 := []DHCPSender{{MAC: starver, Requests: 80, Clients: 40, Foreign: 40}, {MAC: client, Requests: 1, Clients: 1}}
	if len(w1.Senders) != 2 || w1.Senders[0] != want1[0] || w1.Senders[1] != want1[1] {
		t.Errorf("window 1 senders %+v, want %+v", w1.Senders, want1)
	}
	if len(w1.Servers) != 2 || w1.Servers[0] != (DHCPServer{addr("10.0.0.1"), 40}) || w1.Servers[1] != (DHCPServer{addr("10.0.0.2"), 1}) {
		t.Errorf("window 1 servers %+v", w1.Servers)
	}
	want2 := []DHCPSender{{MAC: starver, Requests: 40}, {MAC: client, Requests: 1}}
	if w2.Requests != 41 || w2.NewClients != 0 || len(w2.Senders) != 2 || w2.Senders[0] != want2[0] || w2.Senders[1] != want2[1] {
		t.Errorf("window 2: %d requests, %d new clients, senders %+v; want 41, 0 (all asked for within the horizon), %+v", w2.Requests, w2.NewClients, w2.Senders, want2)
	}
}

// TestDHCPForgedSendersBounded: a flood from a new forged MAC a packet,
// each for its own address, is counted whole but stored in fixed room.
func TestDHCPForgedSendersBounded(t *testing.T) {
	const n = 20000
	pkts := make([]decode.PacketInfo, n)
	for i := range pkts {
		m := mac(0xaa, byte(i>>16), byte(i>>8), byte(i))
		pkts[i] = dhcpPkt(at(1+5*float64(i)/n), decode.DHCPRequest, "0.0.0.0", "255.255.255.255", 68, 67, m, m)
	}
	b := behaviourOf(t, pkts, 10)[0]
	for _, s := range b.Services {
		if s.Key.Addr == addr("255.255.255.255") && s.Packets > 0 {
			t.Errorf("the discovers count as %d UDP packets to the broadcast address: the DHCP rule's, not a UDP flood's", s.Packets)
		}
	}
	d := b.DHCP
	if d.Requests != n || len(d.Senders) != MaxDHCPSendersReported {
		t.Fatalf("%d requests, %d senders reported; want %d, %d", d.Requests, len(d.Senders), n, MaxDHCPSendersReported)
	}
	if got := d.SendersDropped; got != n-MaxDHCPSendersReported || b.Dropped.DHCPSenders != uint64(got) {
		t.Errorf("SendersDropped %d (behaviour drops %d), want %d: every request not reported is counted", got, b.Dropped.DHCPSenders, n-MaxDHCPSendersReported)
	}
	if d.NewClients < n*98/100 || d.NewClients > n {
		t.Errorf("%d new clients, want about %d (a filter's false positives at most 2%%)", d.NewClients, n)
	}
	for _, s := range d.Senders {
		if s.Requests != 1 || s.Clients != 1 || s.Foreign != 0 {
			t.Errorf("sender %x: %+v, want one request for itself", s.MAC, s)
		}
	}
}

// TestDHCPServersBounded: replies from more servers than a window tracks
// and reports are counted, not named.
func TestDHCPServersBounded(t *testing.T) {
	var pkts []decode.PacketInfo
	for i := range 40 {
		pkts = append(pkts, dhcpPkt(at(1+0.01*float64(i)), decode.DHCPReply, fmt.Sprintf("10.0.1.%d", i+1), "255.255.255.255", 67, 68, mac(0x99, byte(i)), mac(0x01)))
	}
	b := behaviourOf(t, pkts, 10)[0]
	if len(b.DHCP.Servers) != MaxDHCPServersReported || b.DHCP.Replies != 40 || b.DHCP.ServersDropped != 40-MaxDHCPServersReported || b.Dropped.DHCPServers != 40-MaxDHCPServersReported {
		t.Errorf("%d servers reported of %d replies, %d replies dropped (behaviour drops %d); want %d, 40, %d", len(b.DHCP.Servers), b.DHCP.Replies, b.DHCP.ServersDropped, b.Dropped.DHCPServers, MaxDHCPServersReported, 40-MaxDHCPServersReported)
	}
}

// TestDHCPRepliesAreAnswers: a server answering 40 clients, each at the
// address it offers (which nobody holds yet), contacts nobody: its offers
// are answers, and it is no initiator of flows to 40 hosts.
func TestDHCPRepliesAreAnswers(t *testing.T) {
	var pkts []decode.PacketInfo
	for i := range 40 {
		offered := fmt.Sprintf("10.0.0.%d", 200+i)
		pkts = append(pkts,
			dhcpPkt(at(1+0.1*float64(i)), decode.DHCPRequest, "0.0.0.0", "255.255.255.255", 68, 67, mac(0xee), mac(0xf0, byte(i))),
			dhcpPkt(at(1.01+0.1*float64(i)), decode.DHCPReply, "10.0.0.1", offered, 67, 68, mac(0x01), mac(0xf0, byte(i))),
			dhcpPkt(at(1.02+0.1*float64(i)), decode.DHCPReply, "10.0.0.1", "255.255.255.255", 67, 68, mac(0x01), mac(0xf0, byte(i))))
	}
	sortByTime(pkts)
	wins, _ := run(t, cfg10s(), pkts, func(a *Aggregator) { a.Advance(at(40)) })
	server := addr("10.0.0.1")
	for _, w := range wins {
		for _, h := range w.Heavy.HostFanout {
			if h.Addr == server {
				t.Errorf("the server fans out to %d hosts, want it out of the fan-out", h.Count)
			}
		}
		b := w.Behaviour
		for _, h := range b.Hosts {
			if h.Addr == server && (h.NewHosts > 0 || h.NewPorts > 0 || h.FailedFirst > 0) {
				t.Errorf("the server's first contacts: %+v, want none", h)
			}
		}
		for _, p := range b.Pairs {
			if p.Key.Src == server && p.Attempts > 0 {
				t.Errorf("the server opened flows: %+v", p)
			}
		}
	}
}
