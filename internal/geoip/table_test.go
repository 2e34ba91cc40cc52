package geoip

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/maxminddb-golang/v2"
)

func TestCountry(t *testing.T) {
	v6 := mustParse(t, build(t, mmdbwriter.Options{}, countryNets))
	v4only := mustParse(t, build(t, mmdbwriter.Options{IPVersion: 4, RecordSize: 24}, countryNets[:9]))
	noAlias := mustParse(t, build(t, mmdbwriter.Options{DisableIPv4Aliasing: true, RecordSize: 32}, countryNets))
	for _, c := range []struct {
		addr string
		want string // "" for unknown
	}{
		// network edges, IPv4 (given IPv4-mapped)
		{"1.0.0.0", "AU"}, {"1.0.0.255", "AU"}, {"0.255.255.255", ""}, {"1.0.1.0", ""},
		{"2.0.0.0", "FR"}, {"2.15.255.255", "FR"}, {"2.16.0.0", "DE"}, {"2.16.3.255", "DE"},
		{"2.16.4.0", "CH"}, {"2.16.4.255", "CH"}, {"2.16.5.0", "DE"}, {"2.16.255.255", "DE"},
		{"2.17.0.0", "FR"}, {"2.255.255.255", "FR"}, {"3.0.0.0", ""},
		{"5.5.5.5", "NL"}, // registered_country only
		{"6.6.6.6", ""},   // no country in the record
		{"7.7.7.7", ""},   // bad code
		{"8.8.8.8", "US"}, {"223.255.255.255", "KR"}, {"255.255.255.255", ""},
		{"10.1.2.3", ""}, {"0.0.0.0", ""},
		// IPv6 edges and nesting
		{"2a02:1000::", "DE"}, {"2a02:1000:0:ffff:ffff:ffff:ffff:ffff", "DE"}, {"2a02:1000:1::", "AT"},
		{"2a02:1000:1:ffff:ffff:ffff:ffff:ffff", "AT"}, {"2a02:1000:2::", "DE"},
		{"2a02:1fff:ffff:ffff:ffff:ffff:ffff:ffff", "DE"}, {"2a02:2000::", ""}, {"2a02:fff::", ""},
		{"2400:cb00::1", "JP"}, {"2c0f:fff0::", "NG"}, {"2c0f:fff1::", ""}, {"::", ""}, {"ffff::", ""},
	} {
		want := Index(c.want)
		if got := v6.Country(addr(c.addr)); got != want {
			t.Errorf("IPv6 database: Country(%s) = %d %q, want %q", c.addr, got, Code(got), c.want)
		}
		if got := noAlias.Country(addr(c.addr)); got != want {
			t.Errorf("database without aliases: Country(%s) = %q, want %q", c.addr, Code(got), c.want)
		}
		if a := netip.MustParseAddr(c.addr); a.Is4() {
			if got := v4only.Country(addr(c.addr)); got != want {
				t.Errorf("IPv4 database: Country(%s) = %q, want %q", c.addr, Code(got), c.want)
			}
		} else if got := v4only.Country(addr(c.addr)); got != Unknown {
			t.Errorf("IPv4 database: Country(%s) = %q, want unknown", c.addr, Code(got))
		}
	}
	if Code(v6.Country(addr("5.5.5.5"))) != "NL" || Code(v6.Country(addr("6.6.6.6"))) != "" {
		t.Error("codes of indexes")
	}
}

// The IPv4 tree of an IPv6 database is reached through its aliases and in
// every form an IPv4 address takes, and walked once.
func TestIPv4Aliases(t *testing.T) {
	data := build(t, mmdbwriter.Options{}, countryNets)
	tab := mustParse(t, data)
	r, err := maxminddb.OpenBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ addr, want string }{
		{"::ffff:8.8.8.8", "US"},              // IPv4-mapped: the code base's form of IPv4
		{"::8.8.8.8", "US"},                   // IPv4-compatible: the ::/96 subtree itself
		{"2002:808:808::1", "US"},             // 6to4 of 8.8.8.8
		{"2002:200:1::", "FR"},                // 6to4 of 2.0.0.1
		{"2001:0:808:808:8000::1", "US"},      // Teredo, server 8.8.8.8
		{"2001:0:a01:203::", ""},              // Teredo, server 10.1.2.3
		{"::ffff:9.9.9.9", ""},                // mapped, unknown
		{"2002:a00:1::", ""},                  // 6to4 of 10.0.0.1
		{"2001:1::", ""},                      // beside Teredo
		{"64:ff9b::8.8.8.8", ""},              // NAT64 is not aliased by this writer
		{"2002:dfff:ffff:ffff::", "KR"},       // 6to4, last network
		{"2001:0:dfff:ff00:ffff::ffff", "KR"}, // Teredo, last network
	} {
		if got := Code(tab.Country(addr(c.addr))); got != c.want {
			t.Errorf("Country(%s) = %q, want %q", c.addr, got, c.want)
		}
		var rec countryRecord
		if err := r.Lookup(netip.MustParseAddr(c.addr).Unmap()).Decode(&rec); err != nil || rec.Country.ISOCode != c.want {
			t.Errorf("the reader places %s in %q (%v), the test wants %q", c.addr, rec.Country.ISOCode, err, c.want)
		}
	}
	info := tab.Info()
	// Nested networks split their parents: 2.0.0.0/8 around 2.16.0.0/16
	// is 8 networks, 2.16.0.0/16 around 2.16.4.0/24 8 more, and
	// 2a02:1000::/20 around a /48 28; the 8 others are one each (2 of them
	// without a code).
	if want := 8 + 8 + 1 + 28 + 1 + 8; info.Networks != want {
		t.Errorf("Networks = %d, want %d (each network once: aliases not walked)", info.Networks, want)
	}
	if info.Unresolved != 2 || info.Aliases != 3 || info.IPVersion != 6 || info.Type != "GeoLite2-Country" {
		t.Errorf("info %+v", info)
	}
}

// Without aliases, a database may hold networks of its own under
// ::ffff:0:0/96; an IPv4 address its IPv4 tree does not place is looked
// up there.
func TestMappedNetworks(t *testing.T) {
	nets := append([]network{{"::ffff:9.9.9.0/120", countryRec("CA")}, {"::ffff:8.8.8.0/120", countryRec("MX")}}, countryNets...)
	tab := mustParse(t, build(t, mmdbwriter.Options{DisableIPv4Aliasing: true}, nets))
	for _, c := range []struct{ addr, want string }{
		{"9.9.9.9", "CA"}, {"8.8.8.8", "US"}, {"9.9.10.0", ""},
	} {
		if got := Code(tab.Country(addr(c.addr))); got != c.want {
			t.Errorf("Country(%s) = %q, want %q", c.addr, got, c.want)
		}
	}
}

func TestRegisteredCountryOnly(t *testing.T) {
	tab := mustParse(t, build(t, mmdbwriter.Options{DatabaseType: "DBIP-Country-Lite"}, []network{
		{"1.0.0.0/24", registeredRec("AU")},
		{"2a00::/16", registeredRec("gb")},
	}))
	for _, c := range []struct{ addr, want string }{
		{"1.0.0.1", "AU"}, {"2a00:1::", "GB"}, {"1.0.1.0", ""},
	} {
		if got := Code(tab.Country(addr(c.addr))); got != c.want {
			t.Errorf("Country(%s) = %q, want %q", c.addr, got, c.want)
		}
	}
}

// Siblings of one country merge: a city database splits countries into
// many networks, the table keeps one prefix where it can.
func TestMergeSiblings(t *testing.T) {
	tab := mustParse(t, build(t, mmdbwriter.Options{DatabaseType: "GeoLite2-City"}, []network{
		{"11.0.0.0/25", cityRec("DE", "Berlin")},
		{"11.0.0.128/26", cityRec("DE", "Hamburg")},
		{"11.0.0.192/26", cityRec("DE", "Munich")}, // with the two above: 11.0.0.0/24
		{"11.0.1.0/24", cityRec("AT", "Vienna")},
		{"11.0.2.0/25", cityRec("DE", "Bonn")},
		{"11.0.3.0/25", cityRec("DE", "Kiel")}, // gap before it: no merge
		{"2a00::/33", cityRec("FR", "Paris")},
		{"2a00:0:8000::/33", cityRec("FR", "Lyon")}, // with the one above: 2a00::/32
	}))
	info := tab.Info()
	if info.Networks != 8 || info.Prefixes != 5 {
		t.Errorf("networks %d prefixes %d, want 8 and 5", info.Networks, info.Prefixes)
	}
	for _, c := range []struct{ addr, want string }{
		{"11.0.0.0", "DE"}, {"11.0.0.255", "DE"}, {"11.0.1.0", "AT"}, {"11.0.2.127", "DE"}, {"11.0.2.128", ""},
		{"11.0.3.0", "DE"}, {"11.0.3.128", ""}, {"2a00::", "FR"}, {"2a00:0:ffff::", "FR"}, {"2a00:1::", ""},
	} {
		if got := Code(tab.Country(addr(c.addr))); got != c.want {
			t.Errorf("Country(%s) = %q, want %q", c.addr, got, c.want)
		}
	}
}

// The table answers as the maxminddb reader does, for random databases
// with nested networks and random addresses in and around them.
func TestMatchesReader(t *testing.T) {
	for _, opts := range []mmdbwriter.Options{
		{}, {RecordSize: 24}, {RecordSize: 32}, {IPVersion: 4, RecordSize: 24}, {DisableIPv4Aliasing: true},
	} {
		rng := rand.New(rand.NewPCG(1, uint64(opts.RecordSize+opts.IPVersion)))
		var nets []network
		var probes []netip.Addr
		for range 3000 {
			var a netip.Addr
			var bits int
			if opts.IPVersion == 4 || rng.IntN(3) > 0 {
				a = netip.AddrFrom4([4]byte{byte(1 + rng.IntN(223)), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
				bits = 8 + rng.IntN(25)
			} else {
				var b [16]byte
				for i := range b {
					b[i] = byte(rng.Uint32())
				}
				b[0] = 0x20 | b[0]&0x0f // 2000::/4, clear of the aliased ranges
				if b[0] == 0x20 && b[1] <= 0x02 {
					b[1] = 0x40
				}
				a = netip.AddrFrom16(b)
				bits = 12 + rng.IntN(60)
			}
			p := netip.PrefixFrom(a, bits).Masked()
			// Few codes, so that neighbours often share one and merge.
			nets = append(nets, network{p.String(), cityRec(Code(uint16(1+rng.IntN(4))*100), p.String())})
			probes = append(probes, p.Addr(), lastAddr(p), lastAddr(p).Next(), p.Addr().Prev(), a)
		}
		data := build(t, mmdbwriter.Options{DatabaseType: "GeoLite2-City", RecordSize: opts.RecordSize, IPVersion: opts.IPVersion, DisableIPv4Aliasing: opts.DisableIPv4Aliasing, IncludeReservedNetworks: true}, nets)
		tab := mustParse(t, data)
		r, err := maxminddb.OpenBytes(data)
		if err != nil {
			t.Fatal(err)
		}
		if tab.Info().Prefixes >= tab.Info().Networks {
			t.Errorf("%+v: %d prefixes for %d networks: no sibling merged", opts, tab.Info().Prefixes, tab.Info().Networks)
		}
		for i := range 20000 {
			a := probes[i%len(probes)]
			if i >= len(probes) {
				a = randomAddr(rng, opts.IPVersion == 4)
			}
			if !a.IsValid() {
				continue
			}
			var rec countryRecord
			if err := r.Lookup(a.Unmap()).Decode(&rec); err != nil {
				t.Fatal(err)
			}
			if got, want := tab.Country(a.As16()), Index(rec.Country.ISOCode); got != want {
				t.Fatalf("%+v: Country(%s) = %q, reader says %q", opts, a, Code(got), Code(want))
			}
		}
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func randomAddr(rng *rand.Rand, v4 bool) netip.Addr {
	if v4 || rng.IntN(2) == 0 {
		return netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
	}
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	b[0] = 0x20 | b[0]&0x0f
	return netip.AddrFrom16(b)
}

func TestRejected(t *testing.T) {
	asnRec := mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(15169), "autonomous_system_organization": mmdbtype.String("GOOGLE")}
	good := build(t, mmdbwriter.Options{}, countryNets)
	for _, c := range []struct {
		name string
		data []byte
		opts Options
		want string
	}{
		{"ASN database", build(t, mmdbwriter.Options{DatabaseType: "GeoLite2-ASN"}, []network{{"8.8.8.0/24", asnRec}}), Options{},
			`database type "GeoLite2-ASN" has no country (country.iso_code or registered_country.iso_code): use a GeoLite2-Country`},
		{"ASN records under another name", build(t, mmdbwriter.Options{DatabaseType: "Acme-Networks"}, []network{{"8.8.8.0/24", asnRec}, {"9.0.0.0/8", asnRec}}), Options{},
			`database type "Acme-Networks": none of its 2 networks has country.iso_code or registered_country.iso_code`},
		{"records that are not maps", build(t, mmdbwriter.Options{DatabaseType: "Acme-Country"}, []network{{"8.8.8.0/24", mmdbtype.Map{"country": mmdbtype.String("US")}}}), Options{},
			`the record of 8.8.8.0/24 is not a country record`},
		{"no networks", build(t, mmdbwriter.Options{}, nil), Options{}, `none of its 0 networks`},
		{"empty", nil, Options{}, "not a readable MaxMind DB file"},
		{"text", []byte("1.0.0.0/24,AU\n"), Options{}, "not a readable MaxMind DB file"},
		{"too many networks", good, Options{MaxNetworks: 20}, "more than 20 networks, the most this loader accepts"},
	} {
		_, err := Parse(c.data, c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// A damaged file is an error, never a panic or a wrong table.
func TestTruncated(t *testing.T) {
	data := build(t, mmdbwriter.Options{}, countryNets)
	for n := 0; n < len(data); n += 1 + n/50 {
		if _, err := Parse(data[:n], Options{}); err == nil {
			t.Errorf("Parse of the first %d of %d bytes succeeded", n, len(data))
		}
	}
	// Flipped bytes in the tree and data section: error or a table, no panic.
	rng := rand.New(rand.NewPCG(7, 7))
	for range 300 {
		bad := append([]byte(nil), data...)
		for range 1 + rng.IntN(4) {
			bad[rng.IntN(len(bad)-200)] = byte(rng.Uint32())
		}
		if tab, err := Parse(bad, Options{}); err == nil {
			for _, a := range []string{"8.8.8.8", "2a02:1000:1::", "2002:808:808::"} {
				if got := tab.Country(addr(a)); got > NumCodes {
					t.Fatalf("Country(%s) = %d, out of range", a, got)
				}
			}
		}
	}
}

// Crafted files must not make the loader allocate or walk without bound.
func TestHostile(t *testing.T) {
	us := rawMap("country", rawMap("iso_code", rawString("US")))
	// Every node's two children are the next node: 2^100 paths through a
	// few hundred bytes, to empty leaves (Reader.Networks walks them all,
	// never yielding) or to a record.
	shared := func(end uint32) [][2]uint32 {
		nodes := make([][2]uint32, 100)
		for i := range nodes {
			nodes[i] = [2]uint32{uint32(i + 1), uint32(i + 1)}
		}
		nodes[99] = [2]uint32{end, end}
		return nodes
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"shared nodes to empty leaves", craft(6, 100, shared(100), us), "more branches than its 100 nodes allow"},
		{"shared nodes to records", craft(6, 100, shared(100+16), us), "more branches than its 100 nodes allow"},
		{"cycle", craft(4, 3, [][2]uint32{{1, 3}, {2, 3}, {0, 3}}, us), "search tree is corrupt"},
		{"2^31 nodes claimed", craft(4, 1<<31, [][2]uint32{{1<<31 + 16, 1 << 31}}, us), "not a readable MaxMind DB file (truncated or corrupt?)"},
		{"2^24-1 nodes claimed", craft(6, 1<<24-1, [][2]uint32{{1<<24 + 15, 1<<24 - 1}}, us), "not a readable MaxMind DB file (truncated or corrupt?)"},
		{"record beyond the data", craft(4, 1, [][2]uint32{{1 + 16 + 500, 1}}, us), "points outside the data section"},
		{"record in the separator", craft(4, 1, [][2]uint32{{1 + 3, 1}}, us), "points outside the data section"},
		{"tree deeper than 128 bits", craft(4, 40, chain(40), us), "deeper than 128 bits"},
	} {
		_, err := Parse(c.data, Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	// The crafted form itself loads when the tree is sound.
	tab, err := Parse(craft(4, 1, [][2]uint32{{1 + 16, 1}}, us), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := Code(tab.Country(addr("127.0.0.1"))); got != "US" || tab.Country(addr("128.0.0.1")) != Unknown {
		t.Errorf("crafted database: 127.0.0.1 is %q", got)
	}
}

// chain is a tree of n nodes, each the left child of the one before, the
// last one's left child the first: deeper than any address.
func chain(n int) [][2]uint32 {
	nodes := make([][2]uint32, n)
	for i := range nodes {
		nodes[i] = [2]uint32{uint32((i + 1) % n), uint32(n)}
	}
	return nodes
}

// craft writes a MaxMind DB by hand: 24-bit records, the given nodes
// (metadata may claim another count), one data record.
func craft(ipVersion int, nodeCount uint32, nodes [][2]uint32, record []byte) []byte {
	var b []byte
	for _, n := range nodes {
		b = append(b, byte(n[0]>>16), byte(n[0]>>8), byte(n[0]), byte(n[1]>>16), byte(n[1]>>8), byte(n[1]))
	}
	b = append(b, make([]byte, 16)...)
	b = append(b, record...)
	b = append(b, metadataMarker...)
	return append(b, rawMap(
		"binary_format_major_version", rawUint(5, 2),
		"binary_format_minor_version", rawUint(5, 0),
		"build_epoch", rawUint(6, 1700000000),
		"database_type", rawString("GeoLite2-Country"),
		"description", rawMap("en", rawString("crafted")),
		"ip_version", rawUint(5, uint32(ipVersion)),
		"node_count", rawUint(6, nodeCount),
		"record_size", rawUint(5, 24),
	)...)
}

// MaxMind DB data encoding, enough for the metadata and a record.
func rawString(s string) []byte { return append([]byte{2<<5 | byte(len(s))}, s...) }

func rawUint(typ byte, v uint32) []byte {
	var val []byte
	for ; v > 0; v >>= 8 {
		val = append([]byte{byte(v)}, val...)
	}
	return append([]byte{typ<<5 | byte(len(val))}, val...)
}

func rawMap(kv ...any) []byte {
	b := []byte{7<<5 | byte(len(kv)/2)}
	for i := 0; i < len(kv); i += 2 {
		b = append(b, rawString(kv[i].(string))...)
		b = append(b, kv[i+1].([]byte)...)
	}
	return b
}
