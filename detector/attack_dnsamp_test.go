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

func TestDNSAmplification(t *testing.T) {
	checkRuleCases(t, DNSAmplification, []ruleCase{
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
	})
}
