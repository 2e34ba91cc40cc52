package synth

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/netanomaly/netanomaly_exporter/collector/decode"
)

type flowKey struct {
	a, b   netip.Addr
	ap, bp uint16
}

// TestBenign checks the background: balanced handshakes, continuous
// sequence numbers, connections that end, valid checksums, a realistic
// mix, and no source reaching more than 30 ports in any 10 s window.
func TestBenign(t *testing.T) {
	for _, seed := range []uint64{3, 4} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			checkBenign(t, seed)
		})
	}
}

func checkBenign(t *testing.T, seed uint64) {
	data, labels := generate(t, Scenario{Seed: seed, Duration: 20 * time.Minute})
	if len(labels) != 0 {
		t.Fatalf("labels without attacks: %v", labels)
	}
	rs := records(t, data)
	secs := 20 * 60.0
	if pps := float64(len(rs)) / secs; pps < 150 || pps > 600 {
		t.Errorf("%.0f packets/s, want about 300", pps)
	}

	// Handshakes: every SYN-ACK answers a SYN, SYNs and SYN-ACKs balance.
	syns := map[flowKey]bool{}
	var nsyn, nsynack int
	for i := range rs {
		r := &rs[i]
		k := flowKey{r.src(), r.dst(), r.info.SrcPort, r.info.DstPort}
		switch {
		case r.syn():
			if !syns[k] {
				nsyn++ // retransmissions of a SYN count once
			}
			syns[k] = true
		case r.synAck():
			nsynack++
			if !syns[flowKey{k.b, k.a, k.bp, k.ap}] {
				t.Fatalf("SYN-ACK at %s without a SYN", at(r.t))
			}
		}
	}
	if d := math.Abs(float64(nsyn - nsynack)); d > 0.1*float64(nsyn) || nsyn < 1000 {
		t.Errorf("%d SYNs, %d SYN-ACKs: want balanced within 10%%", nsyn, nsynack)
	}

	// Sequence numbers continue without gaps or overlaps, and connections
	// opened in the first half end with FIN or RST.
	type dirState struct {
		next    uint32
		started bool
	}
	seq := map[flowKey]*dirState{}
	opened := map[flowKey]int64{}
	ended := map[flowKey]bool{}
	canon := func(k flowKey) flowKey {
		if k.a.Less(k.b) || (k.a == k.b && k.ap < k.bp) {
			return k
		}
		return flowKey{k.b, k.a, k.bp, k.ap}
	}
	var gaps int
	for i := range rs {
		r := &rs[i]
		if r.info.Proto != decode.ProtoTCP {
			continue
		}
		k := flowKey{r.src(), r.dst(), r.info.SrcPort, r.info.DstPort}
		tcp := r.data[14+20:]
		sq := binary.BigEndian.Uint32(tcp[4:])
		st := seq[k]
		if st == nil {
			st = &dirState{}
			seq[k] = st
		}
		if r.syn() || r.synAck() {
			if !st.started {
				opened[canon(k)] = r.t
			}
			st.next, st.started = sq+1, true
			continue
		}
		if st.started && sq != st.next {
			gaps++
			if gaps < 5 {
				t.Errorf("%s:%d -> %s:%d at %s: seq %d, want %d", k.a, k.ap, k.b, k.bp, at(r.t), sq-st.next, 0)
			}
		}
		st.next = sq + r.info.Payload
		if r.flag(decode.TCPFin) {
			st.next++
		}
		if r.flag(decode.TCPFin | decode.TCPRst) {
			ended[canon(k)] = true
		}
	}
	if gaps > 0 {
		t.Errorf("%d segments out of sequence", gaps)
	}
	half := rs[0].t + int64(10*time.Minute)
	var early, closed int
	for k, t0 := range opened {
		if t0 < half {
			early++
			if ended[k] {
				closed++
			}
		}
	}
	if closed < early*9/10 {
		t.Errorf("%d of %d connections opened in the first half end with FIN or RST", closed, early)
	}

	// Port fan-out: distinct TCP and UDP destination ports per source in
	// every 10 s window, as the exporter counts it.
	type srcPort struct {
		src   netip.Addr
		proto decode.Protocol
		port  uint16
	}
	win := int64(-1)
	seen := map[srcPort]bool{}
	fan := map[netip.Addr]int{}
	worst := 0
	for i := range rs {
		r := &rs[i]
		if w := r.t / 10e9; w != win {
			win = w
			clear(seen)
			clear(fan)
		}
		if r.info.Proto != decode.ProtoTCP && r.info.Proto != decode.ProtoUDP {
			continue
		}
		k := srcPort{r.src(), r.info.Proto, r.info.DstPort}
		if !seen[k] {
			seen[k] = true
			fan[k.src]++
			if fan[k.src] > worst {
				worst = fan[k.src]
			}
			if fan[k.src] == 31 {
				t.Errorf("%s reaches more than 30 ports in the window at %s", k.src, at(win*10e9))
			}
		}
	}
	t.Logf("highest port fan-out in a 10 s window: %d", worst)

	// Checksums, with gopacket.
	var eth layers.Ethernet
	var ip layers.IPv4
	var tcp layers.TCP
	var udp layers.UDP
	var icmp layers.ICMPv4
	var arp layers.ARP
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip, &tcp, &udp, &icmp, &arp)
	parser.IgnoreUnsupported = true
	var decoded []gopacket.LayerType
	bad := 0
	for i := range rs {
		if err := parser.DecodeLayers(rs[i].data, &decoded); err != nil {
			t.Fatalf("gopacket at %s: %v", at(rs[i].t), err)
		}
		for _, l := range decoded {
			var ok bool
			switch l {
			case layers.LayerTypeIPv4:
				ok = fold(sum(0, ip.Contents)) == 0xffff
			case layers.LayerTypeTCP:
				tcp.SetNetworkLayerForChecksum(&ip)
				_, res := tcp.VerifyChecksum()
				ok = res.Valid
			case layers.LayerTypeUDP:
				udp.SetNetworkLayerForChecksum(&ip)
				_, res := udp.VerifyChecksum()
				ok = res.Valid
			case layers.LayerTypeICMPv4:
				ok = fold(sum(0, append(append([]byte(nil), icmp.Contents...), icmp.Payload...))) == 0xffff
			default:
				ok = true
			}
			if !ok {
				bad++
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d bad checksums", bad)
	}

	// The mix.
	byApp := map[decode.App]int{}
	byProto := map[decode.Protocol]int{}
	var dnsResp, nx, dnsSmall, dnsLarge int
	for i := range rs {
		r := &rs[i]
		byApp[r.info.App]++
		byProto[r.info.Proto]++
		if r.info.DNS && r.info.DNSResponse && r.info.SrcPort == 53 {
			dnsResp++
			if r.info.DNSRcode == 3 {
				nx++
			}
			if r.info.Payload < 40 {
				dnsSmall++
			}
			if r.info.Payload > 520 {
				dnsLarge++
			}
		}
	}
	for _, app := range []decode.App{decode.AppDNS, decode.AppHTTP, decode.AppTLS, decode.AppQUIC, decode.AppSSH, decode.AppNTP, decode.AppSSDP} {
		if byApp[app] == 0 {
			t.Errorf("no %s in the background", app)
		}
	}
	if tcp := float64(byProto[decode.ProtoTCP]) / float64(len(rs)); tcp < 0.6 || tcp > 0.95 {
		t.Errorf("TCP is %.0f%% of the packets", 100*tcp)
	}
	for _, p := range []decode.Protocol{decode.ProtoARP, decode.ProtoICMP} {
		if byProto[p] == 0 {
			t.Errorf("no %s", p)
		}
	}
	if nx == 0 || nx > dnsResp/10 || dnsSmall > 0 || dnsLarge > 0 {
		t.Errorf("%d DNS responses: %d NXDOMAIN, %d under 40 bytes, %d over 520 bytes", dnsResp, nx, dnsSmall, dnsLarge)
	}
	var size float64
	for i := range rs {
		size += float64(rs[i].info.WireLen)
	}
	if mean := size / float64(len(rs)); mean < 300 || mean > 1100 {
		t.Errorf("mean frame %.0f bytes", mean)
	}
}

// TestVariation checks that the load varies: a daily-like swing that a
// two-hour capture shows, and minute-to-minute changes.
func TestVariation(t *testing.T) {
	if testing.Short() {
		t.Skip("two hours of traffic")
	}
	var byMin [120]float64
	for seed := uint64(1); seed <= 2; seed++ {
		clear(byMin[:])
		data, _ := generate(t, Scenario{Seed: seed, Duration: 2 * time.Hour, BaseRate: 100})
		rs := records(t, data)
		t0 := DefaultStart.UnixNano()
		for i := range rs {
			byMin[min((rs[i].t-t0)/60e9, 119)]++
		}
		// 20-minute means: the sinusoid at ±40%
		var blocks []float64
		for b := 0; b < 6; b++ {
			s := 0.0
			for _, v := range byMin[b*20 : b*20+20] {
				s += v
			}
			blocks = append(blocks, s/20/60)
		}
		sort.Float64s(blocks)
		if blocks[5]/blocks[0] < 1.6 {
			t.Errorf("seed %d: 20-minute rates %v: the slow swing is too small", seed, blocks)
		}
		// minute to minute
		var d []float64
		for i := 1; i < 120; i++ {
			d = append(d, math.Abs(math.Log(byMin[i]/byMin[i-1])))
		}
		sort.Float64s(d)
		if med := d[len(d)/2]; med < 0.05 {
			t.Errorf("seed %d: median minute-to-minute change %.3f: too smooth", seed, med)
		}
		mean := 0.0
		for _, v := range byMin {
			mean += v
		}
		mean /= 120 * 60
		if mean < 60 || mean > 160 {
			t.Errorf("seed %d: mean %.0f packets/s for a base rate of 100", seed, mean)
		}
	}
}
