package blocklist

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

func addr(s string) [16]byte { return netip.MustParseAddr(s).As16() }

func mustParse(t testing.TB, text string) *Contents {
	t.Helper()
	c, err := Parse(strings.NewReader(text), "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustSet(t testing.TB, lists ...string) *Set {
	t.Helper()
	names := make([]string, len(lists))
	cs := make([]*Contents, len(lists))
	for i, l := range lists {
		names[i] = fmt.Sprint("list", i)
		cs[i] = mustParse(t, l)
	}
	s, err := NewSet(names, cs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSetNested: an address in list A's /16 and list B's /24 is in both,
// which a longest-prefix match alone would miss.
func TestSetNested(t *testing.T) {
	const A, B, C, D = 1, 2, 4, 8
	s := mustSet(t,
		"10.1.0.0/16\n2001:db8::/32\n",                  // A
		"10.1.2.0/24\n2001:db8:1::/48\n",                // B
		"10.1.2.3\n10.0.0.0/8\n2001:db8:1:2::/64\n",     // C: above and below A
		"10.1.2.0/24\n10.1.2.128/25\n2001:db8:1::/48\n", // D: same prefixes as B, and one inside
	)
	for _, c := range []struct {
		ip   string
		want uint64
	}{
		{"10.1.2.3", A | B | C | D},
		{"10.1.2.4", A | B | C | D},
		{"10.1.2.200", A | B | C | D},
		{"10.1.3.1", A | C},
		{"10.2.0.1", C},
		{"11.0.0.1", 0},
		{"2001:db8:1:2::5", A | B | C | D},
		{"2001:db8:1:3::5", A | B | D},
		{"2001:db8:2::1", A},
		{"2001:db9::1", 0},
	} {
		if got := s.Lookup(addr(c.ip)); got != c.want {
			t.Errorf("%s: lists %04b, want %04b", c.ip, got, c.want)
		}
	}
	// Left: 10/8, 10.1/16, 10.1.2/24 and the three IPv6 prefixes. D's
	// 10.1.2.128/25 is inside its own /24 (dropped when parsing), B's and
	// D's 10.1.2.0/24 are one entry, and C's 10.1.2.3 gets from the /24s
	// around it every list it could add.
	if s.Len() != 6 {
		t.Errorf("table has %d prefixes, want 6", s.Len())
	}
}

// TestSetAddressFamilies: IPv4 traffic (IPv4-mapped addresses) matches only
// IPv4 entries and IPv6 traffic only IPv6 entries.
func TestSetAddressFamilies(t *testing.T) {
	for _, c := range []struct {
		name, list string
		hits       []string
		misses     []string
	}{
		{"IPv4 list", "10.0.0.0/8\n", []string{"10.1.2.3"}, []string{"::a01:203", "::ffff:0:a01:203", "a00::1", "::1"}},
		{"IPv4 everything", "0.0.0.0/0\n", []string{"0.0.0.0", "255.255.255.255"}, []string{"::", "::1", "2001:db8::1", "::ffff:0:0:0"}},
		{"IPv6 everything", "::/0\n", []string{"::", "::1", "2001:db8::1", "::a01:203"}, []string{"10.1.2.3", "0.0.0.0"}},
		{"IPv6 range around the mapped block", "::/80\n", []string{"::1", "::a01:203"}, []string{"10.1.2.3", "0.0.0.0"}},
		{"mapped list entries are IPv4", "::ffff:10.0.0.0/104\n::ffff:192.0.2.1\n", []string{"10.9.9.9", "192.0.2.1"}, []string{"::a09:909", "192.0.2.2"}},
		{"the whole mapped block is all of IPv4", "::ffff:0:0/96\n", []string{"1.2.3.4", "255.0.0.1"}, []string{"::1", "2001:db8::1"}},
		{"IPv6 list", "2001:db8::/32\n", []string{"2001:db8::1"}, []string{"32.1.13.184"}},
		{"empty list", "", nil, []string{"10.0.0.1", "::1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := mustSet(t, c.list)
			for _, ip := range c.hits {
				if s.Lookup(addr(ip)) != 1 {
					t.Errorf("%s not found", ip)
				}
			}
			for _, ip := range c.misses {
				if s.Lookup(addr(ip)) != 0 {
					t.Errorf("%s found", ip)
				}
			}
		})
	}
}

// TestSetOracle compares Lookup with a plain loop over every list's
// prefixes, for random nested lists with prefixes of every length.
func TestSetOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	// A few clustered bases make nesting across lists common.
	bases4 := []uint32{0x0a000000, 0x0a010000, 0x0a010200, 0xc0000200, 0x00000000}
	bases6 := []netip.Addr{netip.MustParseAddr("2001:db8::"), netip.MustParseAddr("2001:db8:1::"), netip.MustParseAddr("fe80::")}
	randAddr := func() netip.Addr {
		if r.IntN(2) == 0 {
			v := bases4[r.IntN(len(bases4))] + uint32(r.IntN(1<<r.IntN(25)))
			return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		}
		a := bases6[r.IntN(len(bases6))].As16()
		for i := 6 + r.IntN(10); i < 16; i++ {
			a[i] = byte(r.Uint32())
		}
		return netip.AddrFrom16(a)
	}
	for round := range 20 {
		nLists := 1 + r.IntN(MaxLists)
		lists := make([][]netip.Prefix, nLists)
		texts := make([]string, nLists)
		for i := range lists {
			var sb strings.Builder
			for range r.IntN(30) {
				a := randAddr()
				p := netip.PrefixFrom(a, r.IntN(a.BitLen()+1))
				lists[i] = append(lists[i], p.Masked())
				sb.WriteString(p.String() + "\n")
			}
			texts[i] = sb.String()
		}
		s := mustSet(t, texts...)
		for range 2000 {
			a := randAddr()
			var want uint64
			for i, l := range lists {
				for _, p := range l {
					if p.Contains(a) {
						want |= 1 << i
					}
				}
			}
			if got := s.Lookup(a.As16()); got != want {
				t.Fatalf("round %d, %s: lists %x, want %x", round, a, got, want)
			}
		}
	}
}

func TestNewSetErrors(t *testing.T) {
	many := make([]string, MaxLists+1)
	for i := range many {
		many[i] = fmt.Sprint("l", i)
	}
	for _, c := range []struct {
		name  string
		names []string
		want  string
	}{
		{"too many", many, "65 blocklists configured, at most 64"},
		{"duplicate", []string{"a", "b", "a"}, `name "a" is used by lists 1 and 3`},
		{"empty name", []string{"a", ""}, "blocklist 2 has no name"},
	} {
		_, err := NewSet(c.names, make([]*Contents, len(c.names)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := NewSet(many[:MaxLists], make([]*Contents, MaxLists)); err != nil {
		t.Errorf("64 lists: %v", err)
	}
	if _, err := NewSet([]string{"a"}, nil); err == nil {
		t.Error("names and lists of different lengths accepted")
	}
}

// TestSet64 checks the top bit: list 63 is reported as bit 63.
func TestSet64(t *testing.T) {
	texts := make([]string, MaxLists)
	texts[63] = "192.0.2.0/24\n"
	texts[0] = "192.0.0.0/8\n"
	s := mustSet(t, texts...)
	if got := s.Lookup(addr("192.0.2.1")); got != 1|1<<63 {
		t.Errorf("lists %x", got)
	}
	var nilSet *Set
	if nilSet.Lookup(addr("192.0.2.1")) != 0 {
		t.Error("nil set found an address")
	}
}

func TestLookupAllocs(t *testing.T) {
	s := mustSet(t, "10.0.0.0/8\n10.1.2.3/32\n2001:db8::/32\n")
	a4, a6 := addr("10.1.2.3"), addr("2001:db8::1")
	if n := testing.AllocsPerRun(100, func() { s.Lookup(a4); s.Lookup(a6) }); n != 0 {
		t.Errorf("%v allocations per lookup", n)
	}
}

// TestSetOccupancyEdges checks the first and last address of prefixes that
// fill part of a bitmap word, a whole word and many words, and the addresses
// just outside them.
func TestSetOccupancyEdges(t *testing.T) {
	s := mustSet(t, "10.0.32.0/19\n10.0.64.0/18\n10.64.0.0/10\n10.0.0.255\n"+
		"2001:db8::/32\n3000::/20\n2400::/6\n")
	for ip, want := range map[string]uint64{
		"10.0.0.254": 0, "10.0.0.255": 1, "10.0.1.0": 0, "10.0.31.255": 0,
		"10.0.32.0": 1, "10.0.63.255": 1, "10.0.64.0": 1, "10.0.127.255": 1, "10.0.128.0": 0,
		"10.63.255.255": 0, "10.64.0.0": 1, "10.127.255.255": 1, "10.128.0.0": 0,
		"2001:db7:ffff:ffff::": 0, "2001:db8::": 1, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff": 1, "2001:db9::": 0,
		"2fff:ffff::": 0, "3000::": 1, "3000:fff:ffff::": 1, "3000:1000::": 0,
		"23ff:ffff::": 0, "2400::": 1, "27ff:ffff:ffff::": 1, "2800::": 0,
	} {
		if got := s.Lookup(addr(ip)); got != want {
			t.Errorf("%s: %d, want %d", ip, got, want)
		}
	}
}
