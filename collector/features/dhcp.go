package features

import (
	"cmp"
	"slices"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/collector/features/sketch"
)

// DHCP is what DHCP clients and servers did in a window: who asked for
// leases, for which client hardware addresses, and who answered. A
// starvation tool asks for many addresses it forges, from its own MAC or
// from forged ones; a flood repeats one request.
type DHCP struct {
	// Requests counts client messages (BOOTP requests on their way to a
	// server; a relay agent's forwarding of one is not counted again),
	// Replies the servers' messages.
	Requests, Replies uint32
	// NewClients counts the client hardware addresses asked for that
	// were not asked for within the horizon.
	NewClients uint32
	// Senders are the Ethernet sources of client messages, most requests
	// first, at most MaxDHCPSendersReported; SendersDropped counts the
	// requests of the senders not reported (a flood of forged MACs).
	Senders        []DHCPSender
	SendersDropped uint32
	// Servers are the addresses that replied, most replies first, at most
	// MaxDHCPServersReported; ServersDropped counts the replies of the
	// servers not reported.
	Servers        []DHCPServer
	ServersDropped uint32
}

// DHCPSender is one Ethernet source of DHCP client messages in a window.
type DHCPSender struct {
	MAC      [6]byte
	Requests uint32
	// Clients counts the client hardware addresses it asked for that it
	// had not asked for within the horizon; Foreign, those of them that
	// are not its own MAC (a host asks for itself; a relay agent's
	// forwarding is not counted).
	Clients, Foreign uint32
}

// DHCPServer is an address that sent DHCP replies in a window.
type DHCPServer struct {
	Addr    [16]byte
	Replies uint32
}

// Caps of the DHCP lists: senders tracked and reported a window, servers
// reported.
const (
	dhcpSendersTracked     = 256
	MaxDHCPSendersReported = 64
	MaxDHCPServersReported = 8
	dhcpServersTracked     = 32
	// dhcpSeenBits sizes the filters of clients asked for within the
	// horizon: 128 kbit (16 KiB) each, under 1% false positives at 20,000
	// client addresses a horizon.
	dhcpSeenBits = 1 << 17
)

// dhcpState accumulates a window's DHCP and remembers the clients asked
// for over the horizon. Every structure is fixed in size: a flood of
// forged MACs fills the sender slots and is counted, not stored.
type dhcpState struct {
	w       DHCP
	senders []DHCPSender
	slots   [2 * dhcpSendersTracked]int16 // index+1 into senders, by MAC hash
	servers []DHCPServer
	seen    rotatingBloom // client, and (sender, client), hashes
}

func newDHCPState() *dhcpState {
	return &dhcpState{
		senders: make([]DHCPSender, 0, dhcpSendersTracked),
		servers: make([]DHCPServer, 0, dhcpServersTracked),
		seen:    newRotatingBloom(dhcpSeenBits),
	}
}

func macHash(m [6]byte) uint64 {
	v := uint64(m[0]) | uint64(m[1])<<8 | uint64(m[2])<<16 | uint64(m[3])<<24 | uint64(m[4])<<32 | uint64(m[5])<<40
	return sketch.Mix64(v ^ 0x6a09e667f3bcc908)
}

// packet counts one decoded DHCP message.
func (d *dhcpState) packet(p *decode.PacketInfo) {
	if p.DHCPOp == decode.DHCPReply {
		d.w.Replies++
		d.server(p.Src)
		return
	}
	if p.DHCPRelayed {
		return // the client's own broadcast was counted, where it was seen
	}
	d.w.Requests++
	client := macHash(p.DHCPClient)
	if p.DHCPClient != ([6]byte{}) && !d.seen.testAndAdd(client) {
		d.w.NewClients++
	}
	s := d.sender(p.SrcMAC)
	if s == nil {
		d.w.SendersDropped++
		return
	}
	s.Requests++
	if p.DHCPClient != ([6]byte{}) && !d.seen.testAndAdd(client^sketch.Mix64(macHash(p.SrcMAC)+1)) {
		s.Clients++
		if p.DHCPClient != p.SrcMAC {
			s.Foreign++
		}
	}
}

// sender returns mac's counters, adding them while there is room, or nil.
func (d *dhcpState) sender(mac [6]byte) *DHCPSender {
	i := macHash(mac) & uint64(len(d.slots)-1)
	for {
		j := d.slots[i]
		if j == 0 {
			if len(d.senders) == dhcpSendersTracked {
				return nil
			}
			d.senders = append(d.senders, DHCPSender{MAC: mac})
			d.slots[i] = int16(len(d.senders))
			return &d.senders[len(d.senders)-1]
		}
		if d.senders[j-1].MAC == mac {
			return &d.senders[j-1]
		}
		i = (i + 1) & uint64(len(d.slots)-1)
	}
}

func (d *dhcpState) server(addr [16]byte) {
	for i := range d.servers {
		if d.servers[i].Addr == addr {
			d.servers[i].Replies++
			return
		}
	}
	if len(d.servers) < dhcpServersTracked {
		d.servers = append(d.servers, DHCPServer{Addr: addr, Replies: 1})
		return
	}
	d.w.ServersDropped++
}

// emit returns the window's DHCP, capped, and starts the next window.
func (d *dhcpState) emit() DHCP {
	out := d.w
	if len(d.senders) > 0 {
		s := slices.Clone(d.senders)
		slices.SortFunc(s, func(x, y DHCPSender) int {
			return cmp.Or(cmp.Compare(y.Requests, x.Requests), slices.Compare(x.MAC[:], y.MAC[:]))
		})
		for _, x := range s[min(len(s), MaxDHCPSendersReported):] {
			out.SendersDropped += x.Requests
		}
		out.Senders = s[:min(len(s), MaxDHCPSendersReported)]
	}
	if len(d.servers) > 0 {
		s := slices.Clone(d.servers)
		slices.SortFunc(s, func(x, y DHCPServer) int {
			return cmp.Or(cmp.Compare(y.Replies, x.Replies), compareAddr(x.Addr, y.Addr))
		})
		for _, x := range s[min(len(s), MaxDHCPServersReported):] {
			out.ServersDropped += x.Replies
		}
		out.Servers = s[:min(len(s), MaxDHCPServersReported)]
	}
	d.w = DHCP{}
	d.senders = d.senders[:0]
	d.servers = d.servers[:0]
	clear(d.slots[:])
	return out
}
