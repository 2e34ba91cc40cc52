// Package geoiptest writes small MaxMind-format country databases for
// tests of the packages that count traffic by country.
//
// It is a test helper beside internal/geoip: only tests import it.
package geoiptest

import (
	"bytes"
	"cmp"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Country writes a GeoLite2-Country database mapping each CIDR to an ISO
// country code, and returns its bytes. Reserved networks are allowed, so
// that tests can use the documentation ranges.
func Country(tb testing.TB, networks map[string]string) []byte {
	tb.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-Country", IncludeReservedNetworks: true, Description: map[string]string{"en": "test database"}})
	if err != nil {
		tb.Fatal(err)
	}
	// Wider networks first: an insert replaces what it covers, so a
	// narrower network goes in after the one it is part of.
	cidrs := slices.Collect(maps.Keys(networks))
	nets := map[string]*net.IPNet{}
	for _, cidr := range cidrs {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			tb.Fatal(err)
		}
		nets[cidr] = n
	}
	slices.SortFunc(cidrs, func(a, b string) int {
		oa, _ := nets[a].Mask.Size()
		ob, _ := nets[b].Mask.Size()
		return cmp.Or(cmp.Compare(oa, ob), cmp.Compare(a, b))
	})
	for _, cidr := range cidrs {
		n, code := nets[cidr], networks[cidr]
		rec := mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(code)}}
		if err := tree.Insert(n, rec); err != nil {
			tb.Fatalf("insert %s: %v", cidr, err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// CountryFile writes Country's database into dir and returns its path.
func CountryFile(tb testing.TB, dir string, networks map[string]string) string {
	tb.Helper()
	path := filepath.Join(dir, "countries.mmdb")
	if err := os.WriteFile(path, Country(tb, networks), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}
