package detector

import (
	"fmt"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// answers writes n unsolicited answers of size bytes from port, spread over
// k reflectors, to the victim.
func answers(port uint16, k int, n uint32, size uint64) bw {
	var b bw
	var dns uint64
	if port == 53 {
		dns = uint64(n) * size
	}
	for i := range k {
		r := ip(fmt.Sprintf("192.0.2.%d", 53+i))
		c := features.Conns{Unsolicited: n / uint32(k), UnsolicitedBytes: uint64(n/uint32(k)) * size}
		if port == 53 {
			c.UnsolicitedDNSBytes = c.UnsolicitedBytes
		}
		b.pairs = append(b.pairs, pair(r, victim, port, features.ProtoUDP, c))
	}
	b.services = []features.ServiceActivity{hostWide(victim, features.ProtoUDP, features.Conns{Unsolicited: n, UnsolicitedBytes: uint64(n) * size, UnsolicitedDNSBytes: dns})}
	return b
}

func reflectorAddrs(k int) [][16]byte {
	var out [][16]byte
	for i := range k {
		out = append(out, ip(fmt.Sprintf("192.0.2.%d", 53+i)))
	}
	return out
}

// asked writes n requests of reqSize bytes from the victim's address to
// a server of ours on port, each answered with size bytes: what a sensor
// beside an abused reflector sees (the requests forged in the victim's
// name), or an ordinary client.
func asked(port uint16, n uint32, reqSize, size uint64) bw {
	server := lanAddr(53)
	c := features.Conns{Attempts: n, Established: n, Packets: n, Bytes: uint64(n) * reqSize, Replies: n, ReplyBytes: uint64(n) * size}
	return bw{pairs: []features.PairActivity{pair(victim, server, port, features.ProtoUDP, c)}}
}

func TestDNSAmplification(t *testing.T) {
	checkRuleCases(t, DNSAmplification, []ruleCase{
		{name: "our resolver answers forged queries with 19 times their bytes", windows: repeat(2, asked(53, 1500, 79, 1500)), want: true, sources: srcs(lanAddr(53)), targets: srcs(victim)},
		{name: "a busy client's answers, 3 times its questions", windows: repeat(2, asked(53, 1500, 70, 210))},
		{name: "a validating resolver's DNSSEC answers, 15 times, a few a second", windows: repeat(2, asked(53, 40, 80, 1200))},
		{name: "a mail server's SPF and DKIM lookups: TXT answers of 450 bytes, 11 times, 20 a second", windows: repeat(2, asked(53, 400, 40, 450))},
		{name: "an amplified burst that stopped", windows: []bw{asked(53, 3000, 79, 1500), {}}},
		{name: "our NTP server abused is reflection, not DNS", windows: repeat(2, asked(123, 1500, 76, 468*10))},
		{name: "four resolvers answer what the victim never asked", windows: []bw{answers(53, 4, 2000, 1100)}, want: true, sources: reflectorAddrs(4), targets: srcs(victim)},
		{name: "memcached is reflection, not DNS", windows: []bw{answers(11211, 2, 2000, 1400)}},
		{name: "a few late answers", windows: []bw{answers(53, 1, 20, 300)}},
	})
}

func TestReflection(t *testing.T) {
	checkRuleCases(t, Reflection, []ruleCase{
		{name: "memcached", windows: []bw{answers(11211, 2, 2000, 1400)}, want: true, sources: reflectorAddrs(2), targets: srcs(victim)},
		{name: "NTP", windows: []bw{answers(123, 3, 3000, 468)}, want: true, sources: reflectorAddrs(3), targets: srcs(victim)},
		{name: "DNS is DNS amplification", windows: []bw{answers(53, 4, 2000, 1100)}},
		{name: "our NTP server answers monlist requests forged in the victim's name", windows: repeat(2, asked(123, 1500, 76, 4680)), want: true, sources: srcs(lanAddr(53)), targets: srcs(victim)},
		{name: "an SSDP discovery answered by six services", windows: repeat(2, asked(1900, 2, 130, 1800))},
		{name: "an SNMP poller's bulk walk: answers 23 times its requests, 20 a second", windows: repeat(2, asked(161, 400, 60, 1400))},
		{name: "a download through an IPsec tunnel over NAT-T", windows: repeat(2, asked(4500, 2000, 100, 1400))},
	})
}
