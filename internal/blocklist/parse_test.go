package blocklist

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// prefixes lists c's prefixes, IPv4 first, in order.
func (c *Contents) prefixes() []string {
	var out []string
	for _, k := range c.v4 {
		out = append(out, prefix4(k).String())
	}
	for _, p := range c.v6 {
		out = append(out, p.prefix().String())
	}
	return out
}

func TestParseFormats(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     []string
		entries  int
	}{
		{"empty", "", nil, 0},
		{"comments and blanks only", "# FireHOL\n\n   \n\t\n; Spamhaus\n", nil, 0},
		{"plain addresses", "192.0.2.1\n198.51.100.7\n2001:db8::1\n",
			[]string{"192.0.2.1/32", "198.51.100.7/32", "2001:db8::1/128"}, 3},
		{"firehol netset", "#\n# firehol_level1\n#\n# Maintainer: FireHOL\n0.0.0.0/8\n1.10.16.0/20\n1.19.0.0/16\n",
			[]string{"0.0.0.0/8", "1.10.16.0/20", "1.19.0.0/16"}, 3},
		{"spamhaus drop text", "; Spamhaus DROP List 2024/01/01 - (c) 2024 The Spamhaus Project\n; Last-Modified: Mon, 01 Jan 2024\n1.10.16.0/20 ; SBL256894\n1.19.0.0/16 ; SBL434604\n",
			[]string{"1.10.16.0/20", "1.19.0.0/16"}, 2},
		{"comment without space", "1.10.16.0/20;SBL256894\n192.0.2.0/24#note\n",
			[]string{"1.10.16.0/20", "192.0.2.0/24"}, 2},
		{"inline hash comment and tabs", "\t203.0.113.9\t# scanner\n",
			[]string{"203.0.113.9/32"}, 1},
		{"spamhaus json lines", `{"cidr":"1.10.16.0/20","sblid":"SBL256894","rir":"apnic"}` + "\n" +
			`{"cidr":"2001:db8::/32","sblid":"SBL1","rir":"ripencc"}` + "\n" +
			`{"type":"metadata","timestamp":1700000000,"size":2,"records":2,"copyright":"(c) 2024 The Spamhaus Project SLU","terms":"https://www.spamhaus.org/drop/terms/"}` + "\n",
			[]string{"1.10.16.0/20", "2001:db8::/32"}, 2},
		{"json and text mixed", "1.2.3.4\n" + `{"cidr":"5.6.7.0/24"}` + "\n", []string{"1.2.3.4/32", "5.6.7.0/24"}, 2},
		{"CRLF", "# list\r\n192.0.2.0/24\r\n\r\n198.51.100.1 ; x\r\n", []string{"192.0.2.0/24", "198.51.100.1/32"}, 2},
		{"BOM", "\xef\xbb\xbf192.0.2.0/24\n", []string{"192.0.2.0/24"}, 1},
		{"BOM before comment", "\xef\xbb\xbf# header\n192.0.2.0/24\n", []string{"192.0.2.0/24"}, 1},
		{"no final newline", "192.0.2.0/24", []string{"192.0.2.0/24"}, 1},
		{"non-canonical masked", "1.2.3.4/24\n2001:db8::1/32\n", []string{"1.2.3.0/24", "2001:db8::/32"}, 2},
		{"duplicates and nested kept once", "10.0.0.0/8\n10.1.2.3\n10.0.0.0/8\n10.200.0.0/16\n11.0.0.1\n2001:db8::/32\n2001:db8:1::/48\n",
			[]string{"10.0.0.0/8", "11.0.0.1/32", "2001:db8::/32"}, 7},
		{"sorted", "9.9.9.9\n1.1.1.1\n5.0.0.0/8\n", []string{"1.1.1.1/32", "5.0.0.0/8", "9.9.9.9/32"}, 3},
		{"mapped address is IPv4", "::ffff:192.0.2.1\n::ffff:198.51.100.0/120\n", []string{"192.0.2.1/32", "198.51.100.0/24"}, 2},
		{"all mapped is IPv4 0/0", "::ffff:0:0/96\n", []string{"0.0.0.0/0"}, 1},
		{"short mapped prefix stays IPv6", "::ffff:0:0/80\n", []string{"::/80"}, 1},
		{"default routes", "0.0.0.0/0\n::/0\n", []string{"0.0.0.0/0", "::/0"}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(c.in), "list.txt", 0)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got.prefixes()) != fmt.Sprint(c.want) {
				t.Errorf("prefixes %v, want %v", got.prefixes(), c.want)
			}
			if got.Entries() != c.entries {
				t.Errorf("entries %d, want %d", got.Entries(), c.entries)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	long := "1.2.3.4 # " + strings.Repeat("x", maxLineBytes) + "\n"
	for _, c := range []struct {
		name, in string
		want     []string // all must appear in the error
	}{
		{"garbage", "192.0.2.0/24\nhello world\n", []string{"list.txt:2:", `"hello world"`}},
		{"short address", "# x\n\n1.2.3\n", []string{"list.txt:3:", `"1.2.3"`, "not an IP address"}},
		{"octet out of range", "1.2.3.256\n", []string{"list.txt:1:", `"1.2.3.256"`}},
		{"prefix too long", "1.2.3.0/33\n", []string{"list.txt:1:", `"1.2.3.0/33"`}},
		{"v6 prefix too long", "2001:db8::/129\n", []string{"list.txt:1:"}},
		{"leading zero octet", "010.1.2.3\n", []string{"list.txt:1:", `"010.1.2.3"`}},
		{"two addresses on a line", "1.2.3.4 5.6.7.8\n", []string{"list.txt:1:", "one address or prefix per line"}},
		{"range", "1.2.3.4-1.2.3.9\n", []string{"list.txt:1:", `"1.2.3.4-1.2.3.9"`}},
		{"hostname", "evil.example.com\n", []string{"list.txt:1:", "evil.example.com"}},
		{"zone", "fe80::1%eth0\n", []string{"list.txt:1:", "zone"}},
		{"zone in prefix", "fe80::%eth0/64\n", []string{"list.txt:1:"}},
		{"bad json", "{\"cidr\":\"1.2.3.0/24\"\n", []string{"list.txt:1:", "invalid JSON"}},
		{"json trailing data", `{"cidr":"1.2.3.0/24"} x` + "\n", []string{"list.txt:1:", "invalid JSON"}},
		{"json without cidr", `{"sblid":"SBL1"}` + "\n", []string{"list.txt:1:", `without "cidr"`}},
		{"json bad cidr", `{"cidr":"1.2.3.0/40"}` + "\n", []string{"list.txt:1:", `cidr "1.2.3.0/40"`}},
		{"json cidr not a string", `{"cidr":17}` + "\n", []string{"list.txt:1:", "invalid JSON"}},
		{"BOM on a later line", "1.2.3.4\n\xef\xbb\xbf5.6.7.8\n", []string{"list.txt:2:"}},
		{"line too long", "1.2.3.4\n" + long, []string{"list.txt:2:", "longer than"}},
		{"long text clipped", strings.Repeat("z", 200) + "\n", []string{"list.txt:1:", strings.Repeat("z", 80) + "..."}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(c.in), "list.txt", 0)
			if err == nil {
				t.Fatal("parsed without error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if len(err.Error()) > 400 {
				t.Errorf("error is %d bytes long", len(err.Error()))
			}
		})
	}
}

func TestParseMaxEntries(t *testing.T) {
	in := "# three\n1.1.1.1\n2.2.2.2\n\n3.3.3.3\n"
	if _, err := Parse(strings.NewReader(in), "l", 3); err != nil {
		t.Errorf("3 entries, limit 3: %v", err)
	}
	_, err := Parse(strings.NewReader(in), "l", 2)
	if err == nil || !strings.Contains(err.Error(), "l:5: more than 2 entries") {
		t.Errorf("3 entries, limit 2: %v", err)
	}
}

func TestParseAddresses(t *testing.T) {
	for _, c := range []struct {
		in     string
		v4, v6 float64
	}{
		{"", 0, 0},
		{"1.2.3.4\n1.2.3.4\n", 1, 0},
		{"10.0.0.0/8\n10.1.0.0/16\n11.0.0.0/24\n11.0.0.7\n", 1<<24 + 256, 0},
		{"0.0.0.0/0\n", 1 << 32, 0},
		{"2001:db8::/32\n2001:db8::1\n2001:db9::1\n", 0, math.Ldexp(1, 96) + 1},
		{"::/0\n", 0, math.Ldexp(1, 128)},
		{"::ffff:0:0/96\n", 1 << 32, 0},
	} {
		got, err := Parse(strings.NewReader(c.in), "l", 0)
		if err != nil {
			t.Fatal(err)
		}
		if v4, v6 := got.Addresses(); v4 != c.v4 || v6 != c.v6 {
			t.Errorf("%q: addresses %g/%g, want %g/%g", c.in, v4, v6, c.v4, c.v6)
		}
	}
}

// FuzzParse checks that no input panics and that whatever parses is a set of
// valid, canonical, disjoint prefixes no larger than the entries read.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "1.2.3.4\n", "1.2.3.0/24 ; SBL1\r\n", "\xef\xbb\xbf# c\n::1\n",
		`{"cidr":"1.10.16.0/20","sblid":"SBL256894","rir":"apnic"}` + "\n" + `{"type":"metadata"}`,
		"::ffff:1.2.3.4/120\n10.0.0.0/8\n10.1.2.3\n", "fe80::1%eth0\n", "1.2.3.4/33", "{", "0.0.0.0/0\n::/0\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(strings.NewReader(string(data)), "fuzz", 1000)
		if err != nil {
			return
		}
		ps := c.prefixes()
		if len(ps) > c.Entries() {
			t.Fatalf("%d prefixes from %d entries", len(ps), c.Entries())
		}
		var prev netip.Prefix
		for _, s := range ps {
			p, err := netip.ParsePrefix(s)
			if err != nil || p != p.Masked() || p.Addr().Is4In6() {
				t.Fatalf("prefix %q not canonical (%v)", s, err)
			}
			if prev.IsValid() && prev.Overlaps(p) {
				t.Fatalf("prefixes %v and %v overlap", prev, p)
			}
			prev = p
		}
	})
}

// TestParse4 checks the IPv4 fast path against netip on the inputs where
// they could disagree.
func TestParse4(t *testing.T) {
	for _, s := range []string{
		"0.0.0.0", "255.255.255.255", "1.2.3.4", "1.2.3.4/0", "1.2.3.4/32", "1.2.3.4/24", "10.0.0.0/8",
		"256.1.1.1", "1.2.3.256", "01.2.3.4", "1.02.3.4", "1.2.3.04", "00.1.2.3", "1.2.3.4/33", "1.2.3.4/024",
		"1.2.3.4/", "1.2.3.4/-1", "1.2.3.4/+8", "1.2.3", "1.2.3.4.5", "1.2.3.4.", ".1.2.3.4", "1..2.3",
		"1.2.3.4/8/8", "1.2.3.4x", "1.2.3.99999999999999999999", "1.2.3.4/99999999999999999999", "", "::1", "::ffff:1.2.3.4",
	} {
		got, ok := parse4([]byte(s))
		want, err := parseField(s)
		if ok && (err != nil || got != want) {
			t.Errorf("%q: fast path %v, netip %v (%v)", s, got, want, err)
		}
		if !ok && err == nil && want.Addr().Is4() && !strings.HasPrefix(s, "::") {
			t.Errorf("%q: fast path refused what netip parses as %v", s, want)
		}
	}
}

func TestRadixSort(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 5, 255, 256, 10000} {
		a := make([]uint64, n)
		for i := range a {
			a[i] = r.Uint64() & (1<<40 - 1)
			if i%3 == 0 {
				a[i] &^= 0xff00 // a byte shared by many keys
			}
		}
		want := slices.Clone(a)
		slices.Sort(want)
		radixSort(a, 5)
		if !slices.Equal(a, want) {
			t.Fatalf("n=%d: not sorted", n)
		}
	}
	// Only the low bytes are sorted on; the high ones keep their order.
	a := []uint64{2<<40 | 7, 1<<40 | 3, 0<<40 | 7, 3<<40 | 3}
	radixSort(a, 5)
	if want := []uint64{1<<40 | 3, 3<<40 | 3, 2<<40 | 7, 0<<40 | 7}; !slices.Equal(a, want) {
		t.Errorf("%x, want %x", a, want)
	}
}

// FuzzParse4 checks that the IPv4 fast path agrees with netip wherever it
// answers.
func FuzzParse4(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "1.2.3.4/24", "255.255.255.255/32", "01.2.3.4", "1.2.3.4/033", "1.2.3.256"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parse4([]byte(s))
		if !ok {
			return
		}
		want, err := parseField(s)
		if err != nil || got != want {
			t.Fatalf("%q: fast path %v, netip %v (%v)", s, got, want, err)
		}
	})
}
