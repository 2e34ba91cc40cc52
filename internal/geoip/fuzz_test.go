package geoip

import (
	"testing"

	"github.com/maxmind/mmdbwriter"
)

// FuzzParse feeds damaged and crafted files to Parse: an error or a table
// whose lookups stay in range, never a panic or an endless walk. The
// committed corpus (testdata/fuzz/FuzzParse) holds written databases of
// each record size and IP version and crafted trees.
func FuzzParse(f *testing.F) {
	us := rawMap("country", rawMap("iso_code", rawString("US")))
	f.Add(craft(4, 1, [][2]uint32{{1 + 16, 1}}, us))
	f.Add(craft(6, 3, [][2]uint32{{1, 2}, {3 + 16, 3}, {3, 3 + 16}}, us))
	f.Add(build(f, mmdbwriter.Options{IPVersion: 4, RecordSize: 24}, countryNets[:9]))
	probes := [][16]byte{
		addr("1.0.0.1"), addr("2.16.4.9"), addr("8.8.8.8"), addr("127.0.0.1"), addr("255.255.255.255"),
		addr("::8.8.8.8"), addr("2002:808:808::"), addr("2001:0:808:808::"), addr("2a02:1000:1::"), addr("::"),
		addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := Parse(data, Options{MaxNetworks: 100000})
		if err != nil {
			return
		}
		if info := tab.Info(); info.Networks < info.Unresolved || info.Networks > 100000 {
			t.Fatalf("info %+v", info)
		}
		for _, a := range probes {
			if c := tab.Country(a); c > NumCodes {
				t.Fatalf("Country(%v) = %d, out of range", a, c)
			}
		}
	})
}
