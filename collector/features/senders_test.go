package features

import (
	"slices"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
)

// TestWindowSenders: a window lists every address that sent an IP packet
// in it, once, in the order they first sent; a receiver that never
// sends, and ARP, are not senders.
func TestWindowSenders(t *testing.T) {
	mac := [6]byte{2, 0, 0, 0, 0, 1}
	syn := tcpPkt(at(1), "10.0.0.1", "10.0.0.9", 40000, 80, decode.TCPSyn)
	syn.SrcMAC = mac
	pkts := []decode.PacketInfo{
		syn,
		tcpPkt(at(1.1), "10.0.0.9", "10.0.0.1", 80, 40000, decode.TCPSyn|decode.TCPAck),
		tcpPkt(at(1.2), "10.0.0.1", "10.0.0.9", 40000, 80, decode.TCPAck),
		udpPkt(at(2), "fd00::2", "fd00::9", 5000, 53),
		udpPkt(at(3), "10.0.0.1", "10.0.0.8", 5000, 53), // 10.0.0.8 only receives
		arpPkt(at(4), 1, "10.0.0.7", "10.0.0.1"),
		udpPkt(at(12), "fd00::2", "fd00::9", 5000, 53), // the next window
	}
	wins, _ := run(t, cfg10s(), pkts, func(a *Aggregator) { a.Flush() })
	if len(wins) != 2 {
		t.Fatalf("%d windows, want 2", len(wins))
	}
	if want := [][16]byte{addr("10.0.0.1"), addr("10.0.0.9"), addr("fd00::2")}; !slices.Equal(senderAddrs(wins[0]), want) || wins[0].SendersDropped != 0 {
		t.Errorf("window 1: senders %v, dropped %d; want %v, 0", wins[0].Senders, wins[0].SendersDropped, want)
	}
	if wins[0].Senders[0].MAC != mac {
		t.Errorf("10.0.0.1 sent from %x, want %x", wins[0].Senders[0].MAC, mac)
	}
	if want := [][16]byte{addr("fd00::2")}; !slices.Equal(senderAddrs(wins[1]), want) {
		t.Errorf("window 2: senders %v, want %v", wins[1].Senders, want)
	}
}

// TestWindowSendersBounded: a spoofed flood fills the list to its cap; the
// packets of senders past it are counted, the hosts that sent first are
// still listed, and the next window starts empty.
func TestWindowSendersBounded(t *testing.T) {
	const forged = 3 * MaxSenders
	pkts := []decode.PacketInfo{tcpPkt(at(0.5), "192.168.1.1", "10.0.0.9", 40000, 80, decode.TCPSyn)}
	for i := range uint32(forged) {
		pkts = append(pkts, ipPkt(at(1+float64(i)/forged), decode.ProtoTCP, addrN(i+1), addr("10.0.0.9"), 1000, 80))
	}
	pkts = append(pkts, udpPkt(at(11), "192.168.1.1", "10.0.0.9", 5000, 53))
	wins, a := run(t, cfg10s(), pkts, func(a *Aggregator) { a.Flush() })
	w := wins[0]
	if len(w.Senders) != MaxSenders || uint64(len(w.Senders))+w.SendersDropped != forged+1 {
		t.Errorf("flood window: %d senders and %d dropped, want %d and %d", len(w.Senders), w.SendersDropped, MaxSenders, forged+1-MaxSenders)
	}
	if a.Counters().SendersDropped != w.SendersDropped {
		t.Errorf("counters: %d packets of senders dropped, want the window's %d", a.Counters().SendersDropped, w.SendersDropped)
	}
	if w.Senders[0].Addr != addr("192.168.1.1") {
		t.Errorf("first sender %v, want the host that sent before the flood", w.Senders[0])
	}
	if want := [][16]byte{addr("192.168.1.1")}; !slices.Equal(senderAddrs(wins[1]), want) || wins[1].SendersDropped != 0 {
		t.Errorf("next window: senders %v, dropped %d; want %v, 0", wins[1].Senders, wins[1].SendersDropped, want)
	}
}

func senderAddrs(w *Window) [][16]byte {
	out := make([][16]byte, len(w.Senders))
	for i, s := range w.Senders {
		out[i] = s.Addr
	}
	return out
}
