package blocklist

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"strings"
)

// DefaultMaxEntries is the per-file cap on entries when Options.MaxEntries
// is zero: ten times the largest public lists, small enough that a runaway
// download cannot take the exporter's memory with it.
const DefaultMaxEntries = 10_000_000

// maxLineBytes bounds one line. Real entries are under 100 bytes; Spamhaus's
// metadata line is a few hundred.
const maxLineBytes = 64 << 10

var utf8BOM = []byte("\xef\xbb\xbf")

// Contents is one list file, parsed: its prefixes sorted, with duplicates and
// prefixes covered by another prefix of the same file dropped (they change no
// answer), and IPv4-mapped IPv6 entries (::ffff:a.b.c.d/96+) stored as IPv4.
// A Contents is immutable once returned.
type Contents struct {
	v4      []uint64  // address<<8 | prefix length
	v6      []prefix6 // sorted by address, then length
	entries int       // entries read from the file
	addrs4  float64   // addresses covered, overlaps counted once
	addrs6  float64   // as addrs4, for IPv6
}

// prefix6 is an IPv6 prefix as two big-endian halves, masked.
type prefix6 struct {
	hi, lo uint64
	bits   uint8
}

// Entries is the number of entries (addresses and prefixes) read from the
// file, duplicates and nested ones included: what `grep -c` would count.
func (c *Contents) Entries() int {
	if c == nil {
		return 0
	}
	return c.entries
}

// Addresses is the number of IPv4 and IPv6 addresses the list covers, each
// counted once however many entries cover it. IPv6 counts reach 2^128, hence
// float64.
func (c *Contents) Addresses() (v4, v6 float64) {
	if c == nil {
		return 0, 0
	}
	return c.addrs4, c.addrs6
}

// Parse reads a list from r. file names the source in errors ("file:line:").
// Each line is, detected on its own: blank; a comment starting with '#' or
// ';'; an IPv4 or IPv6 address or CIDR prefix, optionally followed by a '#'
// or ';' comment (FireHOL .netset/.ipset, plain lists, Spamhaus DROP text
// "1.2.3.0/24 ; SBL123"); or a Spamhaus JSON object ({"cidr":"1.10.16.0/20",
// "sblid":...}), whose {"type":"metadata",...} line is skipped. A bare address
// is a /32 or /128; host bits of a prefix are cleared. CRLF endings and a
// UTF-8 byte order mark are accepted. Any other line rejects the whole file
// with an error naming file:line and the text, as does a file with more than
// maxEntries entries (zero or less means DefaultMaxEntries).
func Parse(r io.Reader, file string, maxEntries int) (*Contents, error) {
	return parse(r, file, maxEntries, 0)
}

// parse is Parse with a hint of the input's size in bytes, to size the
// prefix slices once.
func parse(r io.Reader, file string, maxEntries int, size int64) (*Contents, error) {
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	c := &Contents{}
	if hint := size / 12; hint > 0 { // "1.2.3.0/24\n" is 11 bytes
		c.v4 = make([]uint64, 0, min(hint, int64(maxEntries)))
	}
	line := 0
	for sc.Scan() {
		line++
		text := sc.Bytes()
		if line == 1 {
			text = bytes.TrimPrefix(text, utf8BOM)
		}
		p, ok, err := parseLine(text)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %q: %w", file, line, clip(text), err)
		}
		if !ok {
			continue
		}
		if c.entries == maxEntries {
			return nil, fmt.Errorf("%s:%d: more than %d entries, the per-file limit: split the list or raise the limit", file, line, maxEntries)
		}
		c.entries++
		c.add(p)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s:%d: line longer than %d bytes: not a blocklist", file, line+1, maxLineBytes)
		}
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	c.finish()
	return c, nil
}

// parseLine turns one line into a prefix: ok is false for a blank or comment
// line. The prefix is masked, and IPv4-mapped prefixes of /96 and longer are
// returned as IPv4.
func parseLine(text []byte) (p netip.Prefix, ok bool, err error) {
	text = bytes.TrimSpace(text) // also drops the \r of CRLF
	if len(text) == 0 || text[0] == '#' || text[0] == ';' {
		return netip.Prefix{}, false, nil
	}
	if text[0] == '{' {
		return parseJSON(text)
	}
	end := 0
	for end < len(text) && text[end] != ' ' && text[end] != '\t' && text[end] != '#' && text[end] != ';' {
		end++
	}
	field, rest := text[:end], bytes.TrimLeft(text[end:], " \t")
	if len(rest) > 0 && rest[0] != '#' && rest[0] != ';' {
		return netip.Prefix{}, false, errors.New("want one address or prefix per line, then only a '#' or ';' comment")
	}
	if p, ok := parse4(field); ok {
		return p, true, nil
	}
	p, err = parseField(string(field))
	return p, err == nil, err
}

// parse4 parses the usual IPv4 entry, a.b.c.d or a.b.c.d/n, without the
// string allocation of netip's parsers. It accepts only what netip accepts
// (no leading zeros, octets up to 255, lengths up to 32) and leaves anything
// else, errors included, to them.
func parse4(b []byte) (netip.Prefix, bool) {
	var a [4]byte
	i := 0
	for k := range 4 {
		if k > 0 {
			if i == len(b) || b[i] != '.' {
				return netip.Prefix{}, false
			}
			i++
		}
		v, n := decimal(b[i:], 255)
		if n == 0 {
			return netip.Prefix{}, false
		}
		a[k], i = byte(v), i+n
	}
	bits := 32
	if i < len(b) {
		if b[i] != '/' {
			return netip.Prefix{}, false
		}
		v, n := decimal(b[i+1:], 32)
		if n == 0 || i+1+n != len(b) {
			return netip.Prefix{}, false
		}
		bits = v
	}
	p, _ := netip.AddrFrom4(a).Prefix(bits) // masks; cannot fail for bits <= 32
	return p, true
}

// decimal reads a leading decimal number without leading zeros, up to max;
// n is the digits used, 0 if there is no such number.
func decimal(b []byte, max int) (v, n int) {
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		if n > 0 && v == 0 {
			return 0, 0 // leading zero
		}
		v = v*10 + int(b[n]-'0')
		if v > max {
			return 0, 0
		}
		n++
	}
	return v, n
}

// parseField parses an address or CIDR prefix.
func parseField(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.IndexByte(s, '/') >= 0 {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return p, fmt.Errorf("not an IP address, CIDR prefix or Spamhaus JSON line (%w)", err)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return p, fmt.Errorf("not an IP address, CIDR prefix or Spamhaus JSON line (%w)", err)
		}
		if a.Zone() != "" {
			return p, errors.New("an address with a zone (%...) cannot be matched against traffic: remove the zone")
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		// Traffic reaches Lookup with IPv4 as ::ffff:a.b.c.d, so a list's
		// ::ffff:1.2.3.0/120 means 1.2.3.0/24 and must match IPv4 traffic.
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// parseJSON parses one line of Spamhaus's JSON-lines format.
func parseJSON(text []byte) (netip.Prefix, bool, error) {
	var obj struct {
		CIDR *string `json:"cidr"`
		Type string  `json:"type"`
	}
	if err := json.Unmarshal(text, &obj); err != nil {
		return netip.Prefix{}, false, fmt.Errorf("invalid JSON line (%w)", err)
	}
	if obj.CIDR == nil {
		if obj.Type == "metadata" {
			return netip.Prefix{}, false, nil
		}
		return netip.Prefix{}, false, errors.New(`JSON object without "cidr" (only Spamhaus's {"cidr":...} entries and its {"type":"metadata"} line are understood)`)
	}
	p, err := parseField(*obj.CIDR)
	if err != nil {
		return p, false, fmt.Errorf("cidr %q: %w", *obj.CIDR, err)
	}
	return p, true, nil
}

// clip shortens a line for an error message.
func clip(b []byte) string {
	const n = 80
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

func (c *Contents) add(p netip.Prefix) {
	a := p.Addr()
	if a.Is4() {
		v := a.As4()
		c.v4 = append(c.v4, uint64(binary.BigEndian.Uint32(v[:]))<<8|uint64(p.Bits()))
		return
	}
	v := a.As16()
	c.v6 = append(c.v6, prefix6{binary.BigEndian.Uint64(v[:8]), binary.BigEndian.Uint64(v[8:]), uint8(p.Bits())})
}

// finish sorts the prefixes and keeps only those not covered by another one
// of the same list. In (address, length) order a covering prefix comes before
// everything it covers, and the kept ones are disjoint, so comparing with the
// last kept prefix is enough.
func (c *Contents) finish() {
	radixSort(c.v4, 5)
	kept := c.v4[:0]
	for _, k := range c.v4 {
		if n := len(kept); n > 0 && contains4(kept[n-1], k) {
			continue
		}
		kept = append(kept, k)
		c.addrs4 += float64(uint64(1) << (32 - k&0xff))
	}
	c.v4 = shrink(kept)

	slices.SortFunc(c.v6, cmp6)
	kept6 := c.v6[:0]
	for _, p := range c.v6 {
		if n := len(kept6); n > 0 && contains6(kept6[n-1], p) {
			continue
		}
		kept6 = append(kept6, p)
		c.addrs6 += math.Ldexp(1, 128-int(p.bits))
	}
	c.v6 = shrink(kept6)
}

// shrink returns s in an array of its own length when much of its capacity
// is unused (a size hint too generous, nested prefixes dropped): a Contents
// lives until its file changes.
func shrink[T any](s []T) []T {
	if cap(s)-len(s) <= len(s)/8 {
		return s
	}
	return slices.Clone(s)
}

// contains4 reports whether IPv4 prefix p covers prefix q (keys as in
// Contents.v4).
func contains4(p, q uint64) bool {
	pb, qb := p&0xff, q&0xff
	return pb <= qb && (p>>8^q>>8)>>(32-pb) == 0
}

// contains6 reports whether IPv6 prefix p covers prefix q.
func contains6(p, q prefix6) bool {
	if p.bits > q.bits {
		return false
	}
	hi, lo := mask6(q.hi, q.lo, p.bits)
	return hi == p.hi && lo == p.lo
}

// mask6 clears all but the first bits bits of an IPv6 address.
func mask6(hi, lo uint64, bits uint8) (uint64, uint64) {
	if bits <= 64 {
		return hi &^ (^uint64(0) >> bits), 0
	}
	return hi, lo &^ (^uint64(0) >> (bits - 64))
}

func cmp6(a, b prefix6) int {
	switch {
	case a.hi != b.hi:
		return cmpU64(a.hi, b.hi)
	case a.lo != b.lo:
		return cmpU64(a.lo, b.lo)
	default:
		return int(a.bits) - int(b.bits)
	}
}

func cmpU64(a, b uint64) int {
	if a < b {
		return -1
	}
	return 1
}

// prefix4 and prefix rebuild netip values from the compact keys.
func prefix4(k uint64) netip.Prefix {
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], uint32(k>>8))
	return netip.PrefixFrom(netip.AddrFrom4(a), int(k&0xff))
}

func (p prefix6) prefix() netip.Prefix {
	var a [16]byte
	binary.BigEndian.PutUint64(a[:8], p.hi)
	binary.BigEndian.PutUint64(a[8:], p.lo)
	return netip.PrefixFrom(netip.AddrFrom16(a), int(p.bits))
}
