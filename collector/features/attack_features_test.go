package features

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
)

// TestAttackFeatures checks the features the detector's attack rules read,
// on traffic shaped like each attack.
func TestAttackFeatures(t *testing.T) {
	t.Run("dns amplification", func(t *testing.T) {
		var pkts []decode.PacketInfo
		for i := range 100 { // 100 reflectors x 1400-byte answers to one victim
			pkts = append(pkts, withSize(udpPkt(at(float64(i)*0.05), fmt.Sprintf("198.51.100.%d", i), "10.0.0.9", 53, 4444), 1400))
		}
		pkts = append(pkts, withSize(udpPkt(at(6), "10.0.0.9", "198.51.100.1", 4444, 53), 80)) // one request
		wins, _ := run(t, cfg10s(), pkts, func(a *Aggregator) { a.Advance(t0 + 10*sec) })
		f := wins[0].Features
		if f[ReflectionResponseBytes] != 100*1400/10.0 || f[ReflectionRequestBytes] != 8 {
			t.Errorf("reflection response %v B/s request %v B/s, want 14000 and 8", f[ReflectionResponseBytes], f[ReflectionRequestBytes])
		}
		if got := f[TopDestinationShare]; got != 100.0/101 {
			t.Errorf("top destination share %v, want 100/101", got)
		}
		if h := wins[0].Heavy.DestinationsByPackets; len(h) == 0 || h[0].Addr != addr("10.0.0.9") || h[0].Count != 100 {
			t.Errorf("heaviest destination %v, want the victim with 100", h)
		}
	})
	t.Run("brute force", func(t *testing.T) {
		var pkts []decode.PacketInfo
		for i := range 40 { // 40 SSH connection attempts from one source
			pkts = append(pkts, tcpPkt(at(float64(i)*0.2), "203.0.113.7", "10.0.0.22", uint16(40000+i), 22, decode.TCPSyn))
		}
		pkts = append(pkts, tcpPkt(at(9), "10.0.0.5", "10.0.0.22", 50000, 22, decode.TCPSyn))
		pkts = append(pkts, tcpPkt(at(9), "10.0.0.5", "10.0.0.80", 50001, 80, decode.TCPSyn)) // not an auth port
		for i := range 25 {                                                                   // a login form guesser on the web port
			pkts = append(pkts, tcpPkt(at(9+float64(i)*0.01), "198.51.100.3", "10.0.0.80", uint16(41000+i), 443, decode.TCPSyn))
		}
		wins, _ := run(t, cfg10s(), pkts, func(a *Aggregator) { a.Advance(t0 + 10*sec) })
		f := wins[0].Features
		if f[AuthAttempts] != 41 || f[MaxSourceAuthAttempts] != 40 {
			t.Errorf("auth attempts %v, max per source %v, want 41 and 40", f[AuthAttempts], f[MaxSourceAuthAttempts])
		}
		if f[MaxSourceWebConnections] != 25 {
			t.Errorf("max web connections per source %v, want 25", f[MaxSourceWebConnections])
		}
		if h := wins[0].Heavy.WebConnections; len(h) == 0 || h[0].Addr != addr("198.51.100.3") {
			t.Errorf("web connection heavy hitters %v, want the guesser first", h)
		}
		if h := wins[0].Heavy.AuthAttempts; len(h) != 2 || h[0].Addr != addr("203.0.113.7") || h[0].Count != 40 {
			t.Errorf("auth heavy hitters %v, want the attacker first with 40", h)
		}
	})
	// On every web port the detector judges: 8888 too.
	for _, port := range []uint16{80, 8888} {
		t.Run(fmt.Sprintf("slowloris on port %d", port), func(t *testing.T) {
			var pkts []decode.PacketInfo
			// 50 connections to the port opened at 0-1 s, one header every 15 s,
			// plus 5 busy connections that carry 5 packets per second.
			for c := range 50 {
				// The handshake, then a header line every 15 s.
				o := float64(c) * 0.02
				pkts = append(pkts, tcpPkt(at(o), "203.0.113.9", "10.0.0.80", uint16(30000+c), port, decode.TCPSyn),
					tcpPkt(at(o+0.001), "10.0.0.80", "203.0.113.9", port, uint16(30000+c), decode.TCPSyn|decode.TCPAck))
				for s := 0.002; s < 40; s += 15 {
					pkts = append(pkts, tcpPkt(at(s+float64(c)*0.02), "203.0.113.9", "10.0.0.80", uint16(30000+c), port, decode.TCPAck))
				}
			}
			for c := range 5 {
				for s := 0.0; s < 40; s += 0.2 {
					pkts = append(pkts, tcpPkt(at(s+float64(c)*0.01), "10.0.0.5", "10.0.0.80", uint16(50000+c), 443, decode.TCPAck))
				}
			}
			sortByTime(pkts)
			wins, _ := run(t, cfg10s(), pkts, func(a *Aggregator) { a.Advance(t0 + 40*sec) })
			// At the end of the window [20, 30) the slow connections are 29 s old
			// with 4 packets each: idle; the busy ones are not.
			if got := wins[2].Features[HTTPIdleConnections]; got != 50 {
				t.Errorf("idle web connections at 30 s: %v, want 50", got)
			}
			// At 10 s only the first connection, opened at 0 s, is 10 s old.
			if got := wins[0].Features[HTTPIdleConnections]; got != 1 {
				t.Errorf("idle web connections at 10 s: %v, want 1 (the others are younger)", got)
			}
		})
	}
	t.Run("arp spoofing", func(t *testing.T) {
		gw := func(t int64, mac byte) decode.PacketInfo {
			p := arpPkt(t, 2, "10.0.0.1", "10.0.0.5")
			p.SrcMAC = [6]byte{2, 0, 0, 0, 0, mac}
			return p
		}
		pkts := []decode.PacketInfo{gw(at(0), 1), gw(at(1), 1), gw(at(2), 0x66), gw(at(3), 1), gw(at(4), 0x66)}
		wins, _ := run(t, cfg10s(), pkts, func(a *Aggregator) { a.Advance(t0 + 10*sec) })
		// The owner is the first MAC heard, 02:..:01: its own claim at 3 s
		// is no conflict, the other MAC's two are.
		if got := wins[0].Features[ARPAddressConflicts]; got != 2 {
			t.Errorf("ARP conflicts %v, want 2 (the second MAC's claims on 10.0.0.1)", got)
		}
		want := []ARPClaim{{IP: addr("10.0.0.1"), Owner: [6]byte{2, 0, 0, 0, 0, 1}, Claimant: [6]byte{2, 0, 0, 0, 0, 0x66}, Claims: 2, OwnerLast: at(3)}}
		if got := wins[0].Behaviour.ARP; !reflect.DeepEqual(got, want) {
			t.Errorf("ARP claims %+v, want %+v", got, want)
		}
	})
	t.Run("arp spoofing of two hosts never heard claiming", func(t *testing.T) {
		// arpspoof between A (.153 at ..:cd) and B (.157 at ..:9c): it tells
		// B that A is at its MAC, and A that B is. Neither victim speaks, but
		// each reply's target says where the victim told is; an ordinary
		// exchange (A asks for .1, .1 answers A) is no conflict.
		att, macA, macB := [6]byte{0, 0xe0, 0x4d, 0x3c, 0x25, 0x7b}, [6]byte{0xdc, 0xf5, 5, 0x75, 0x0b, 0xcd}, [6]byte{0xb0, 0x7f, 0xb9, 0x4e, 0xf0, 0x9c}
		reply := func(t int64, sender string, sha [6]byte, target string, tha [6]byte) decode.PacketInfo {
			p := arpPkt(t, 2, sender, target)
			p.SrcMAC, p.ARPTargetMAC = sha, tha
			return p
		}
		var pkts []decode.PacketInfo
		for i := range 4 {
			s := float64(i)
			pkts = append(pkts,
				reply(at(s), "10.0.0.153", att, "10.0.0.157", macB),
				reply(at(s+0.1), "10.0.0.157", att, "10.0.0.153", macA),
				reply(at(s+0.2), "10.0.0.1", [6]byte{2, 0, 0, 0, 0, 1}, "10.0.0.153", macA))
		}
		wins, _ := run(t, cfg10s(), pkts, func(a *Aggregator) { a.Advance(t0 + 10*sec) })
		// .157's owner is B, from the first reply's target: the attacker's
		// four claims on it conflict. .153 was claimed by the attacker
		// before anything showed its owner: its first owner stands.
		want := []ARPClaim{{IP: addr("10.0.0.157"), Owner: macB, Claimant: att, Claims: 4, OwnerLast: at(3)}}
		if got := wins[0].Behaviour.ARP; !reflect.DeepEqual(got, want) {
			t.Errorf("ARP claims %+v, want %+v", got, want)
		}
	})
	t.Run("neighbour spoofing over IPv6", func(t *testing.T) {
		// The router solicits and advertises from fe80::1 at ..:01; another
		// MAC advertises fe80::1 as its own twice (THC's fake_advertise6).
		// A packet without a link-layer address claim (decode leaves
		// ARPTargetMAC zero) claims nothing, whatever its Ethernet source.
		nd := func(t int64, typ uint8, mac byte) decode.PacketInfo {
			p := icmpPkt(t, decode.ProtoICMPv6, "fe80::1", "ff02::1", typ, 0)
			p.SrcMAC = [6]byte{2, 0, 0, 0, 0, mac}
			if typ >= 133 && typ <= 136 {
				p.ARPTargetMAC = p.SrcMAC
			}
			return p
		}
		pkts := []decode.PacketInfo{nd(at(0), 134, 1), nd(at(1), 135, 1), nd(at(2), 136, 0x66), nd(at(3), 135, 1), nd(at(4), 136, 0x66), nd(at(5), 143, 0x77)}
		wins, _ := run(t, cfg10s(), pkts, func(a *Aggregator) { a.Advance(t0 + 10*sec) })
		want := []ARPClaim{{IP: addr("fe80::1"), Owner: [6]byte{2, 0, 0, 0, 0, 1}, Claimant: [6]byte{2, 0, 0, 0, 0, 0x66}, Claims: 2, OwnerLast: at(3)}}
		if got := wins[0].Behaviour.ARP; !reflect.DeepEqual(got, want) {
			t.Errorf("claims %+v, want %+v", got, want)
		}
		if got := wins[0].Features[ARPAddressConflicts]; got != 2 {
			t.Errorf("address conflicts %v, want 2", got)
		}
	})
	t.Run("port scan heavy hitter", func(t *testing.T) {
		var pkts []decode.PacketInfo
		for p := range 300 {
			pkts = append(pkts, tcpPkt(at(float64(p)*0.01), "203.0.113.50", "10.0.0.7", 55555, uint16(1+p), decode.TCPSyn))
		}
		wins, _ := run(t, cfg10s(), pkts, func(a *Aggregator) { a.Advance(t0 + 10*sec) })
		h := wins[0].Heavy.PortFanout
		if len(h) != 1 || h[0].Addr != addr("203.0.113.50") || h[0].Count != 300 {
			t.Errorf("port fan-out heavy hitters %v, want the scanner with 300", h)
		}
	})
}

func sortByTime(p []decode.PacketInfo) {
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && p[j].Time < p[j-1].Time; j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
}
