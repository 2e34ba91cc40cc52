package detector

import (
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

func TestARPSpoofing(t *testing.T) {
	claim := func(claims uint32, ownerLastWindows int64) bw {
		return bw{arp: []features.ARPClaim{{IP: lanAddr(1), Owner: gatewayMAC, Claimant: spoofMAC, Claims: claims, OwnerLast: t0 - ownerLastWindows*10*sec}}}
	}
	checkRuleCases(t, ARPSpoofing, []ruleCase{
		{name: "claims of the gateway while it answers", windows: []bw{claim(5, 0)}, want: true, macs: [][6]byte{spoofMAC}, targets: srcs(lanAddr(1))},
		{name: "one claim every 10 s adds up", windows: repeat(3, claim(1, 0)), want: true, macs: [][6]byte{spoofMAC}, targets: srcs(lanAddr(1))},
		{name: "two claims are not enough", windows: repeat(2, claim(1, 0))},
		{name: "the owner long silent: a takeover", windows: []bw{claim(5, 100)}},
	})
}
