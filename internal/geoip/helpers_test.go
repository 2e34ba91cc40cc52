package geoip

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// network is a network to write and its record.
type network struct {
	cidr string
	rec  mmdbtype.DataType
}

// build writes a MaxMind DB with the networks, inserted in order (a later,
// more specific network replaces part of an earlier one).
func build(tb testing.TB, opts mmdbwriter.Options, nets []network) []byte {
	tb.Helper()
	if opts.DatabaseType == "" {
		opts.DatabaseType = "GeoLite2-Country"
	}
	if opts.Description == nil {
		opts.Description = map[string]string{"en": "test database"}
	}
	tree, err := mmdbwriter.New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	for _, n := range nets {
		_, ipnet, err := net.ParseCIDR(n.cidr)
		if err != nil {
			tb.Fatal(err)
		}
		if err := tree.Insert(ipnet, n.rec); err != nil {
			tb.Fatalf("insert %s: %v", n.cidr, err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// countryRec is a GeoLite2-Country style record.
func countryRec(code string) mmdbtype.Map {
	return mmdbtype.Map{
		"continent":          mmdbtype.Map{"code": mmdbtype.String("XX")},
		"country":            mmdbtype.Map{"iso_code": mmdbtype.String(code), "names": mmdbtype.Map{"en": mmdbtype.String("Country " + code)}},
		"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String("ZZ")},
	}
}

// registeredRec has only registered_country, as networks of satellite and
// anycast providers do.
func registeredRec(code string) mmdbtype.Map {
	return mmdbtype.Map{"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String(code)}}
}

// cityRec is a GeoLite2-City style record: a city within a country.
func cityRec(code, city string) mmdbtype.Map {
	return mmdbtype.Map{
		"city":     mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(city)}},
		"country":  mmdbtype.Map{"iso_code": mmdbtype.String(code)},
		"location": mmdbtype.Map{"latitude": mmdbtype.Float64(1.5), "longitude": mmdbtype.Float64(-2.5)},
	}
}

// addr is an address in the code base's form.
func addr(s string) [16]byte { return netip.MustParseAddr(s).As16() }

func mustParse(tb testing.TB, data []byte) *Table {
	tb.Helper()
	t, err := Parse(data, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// countryNets is a Country database with IPv4 and IPv6 networks, nested
// networks and the records a real one has.
var countryNets = []network{
	{"1.0.0.0/24", countryRec("AU")},
	{"2.0.0.0/8", countryRec("FR")},
	{"2.16.0.0/16", countryRec("DE")}, // nested in 2.0.0.0/8
	{"2.16.4.0/24", countryRec("ch")}, // nested twice, lower case
	{"5.5.5.0/24", registeredRec("NL")},
	{"6.6.6.0/24", mmdbtype.Map{"continent": mmdbtype.Map{"code": mmdbtype.String("EU")}}},    // no country
	{"7.7.7.0/24", mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String("EUR")}}}, // not a two-letter code
	{"8.8.8.0/24", countryRec("US")},
	{"223.255.255.0/24", countryRec("KR")},
	{"2a02:1000::/20", countryRec("DE")},
	{"2a02:1000:1::/48", countryRec("AT")}, // nested
	{"2400:cb00::/32", countryRec("JP")},
	{"2c0f:fff0::/32", countryRec("NG")},
}
