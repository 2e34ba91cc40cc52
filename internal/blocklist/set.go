package blocklist

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/gaissmai/bart"
)

// MaxLists is the number of lists a Set can hold: one bit each in a uint64.
const MaxLists = 64

// Set answers which lists contain an address. It is immutable and safe for
// concurrent use; a reload builds a new one.
//
// Lists nest: list A's 10.1.0.0/16 may hold list B's 10.1.2.0/24. A
// longest-prefix match alone would answer B for 10.1.2.3, so at build time
// every prefix's mask is ORed with the masks of the prefixes that cover it,
// and the longest match then carries every list containing the address.
type Set struct {
	names []string
	table bart.Table[uint64]
	// Most traffic is not listed, and for large lists one bitmap access
	// answers it where the trie would need three or four: a bit per IPv4
	// /24 and per IPv6 /24, set if any prefix overlaps it. Nil when the
	// family has no prefixes.
	occupied4, occupied6 *occupancy
}

// occupancy has one bit per value of an address's first 24 bits (2 MiB).
type occupancy [1 << 18]uint64

// has reports whether the /24 numbered x (the address's first 24 bits) may
// hold a listed address.
func (o *occupancy) has(x uint32) bool { return o != nil && o[x>>6&(1<<18-1)]&(1<<(x&63)) != 0 }

// add marks the /24s that a prefix of the given length starting in /24
// number first overlaps.
func (o *occupancy) add(first uint64, bits int) {
	if bits >= 24 {
		o[first>>6] |= 1 << (first & 63)
		return
	}
	n := uint64(1) << (24 - bits) // /24s covered; first is a multiple of n
	if n < 64 {
		o[first>>6] |= (1<<n - 1) << (first & 63)
		return
	}
	for w := first >> 6; w < (first+n)>>6; w++ {
		o[w] = ^uint64(0)
	}
}

// NewSet builds a Set from up to MaxLists lists: bit i of a Lookup answer is
// names[i], whose contents are lists[i] (nil for a list not loaded yet).
// Names must be unique and not empty.
func NewSet(names []string, lists []*Contents) (*Set, error) {
	if len(names) != len(lists) {
		return nil, fmt.Errorf("blocklist set: %d names for %d lists", len(names), len(lists))
	}
	if err := checkNames(names); err != nil {
		return nil, err
	}
	s := &Set{names: slices.Clone(names)}
	s.build4(lists)
	s.build6(lists)
	return s, nil
}

// checkNames enforces the list count and unique, non-empty names.
func checkNames(names []string) error {
	if len(names) > MaxLists {
		return fmt.Errorf("%d blocklists configured, at most %d are supported: merge some files into one list", len(names), MaxLists)
	}
	seen := make(map[string]int, len(names))
	for i, n := range names {
		if n == "" {
			return fmt.Errorf("blocklist %d has no name: every list needs one (it labels its metrics)", i+1)
		}
		if j, ok := seen[n]; ok {
			return fmt.Errorf("blocklist name %q is used by lists %d and %d: give each list its own name", n, j+1, i+1)
		}
		seen[n] = i
	}
	return nil
}

// Names returns the list names in bit order.
func (s *Set) Names() []string {
	if s == nil {
		return nil
	}
	return slices.Clone(s.names)
}

// Name returns the name of list i (bit i of a Lookup answer), "" for none.
func (s *Set) Name(i int) string {
	if s == nil || i < 0 || i >= len(s.names) {
		return ""
	}
	return s.names[i]
}

// Len returns the number of prefixes in the lookup table, after merging
// lists and dropping prefixes that add no list to the one covering them.
func (s *Set) Len() int { return s.table.Size() }

// Lookup returns the lists containing the address as a bitmask, bit i for
// list i. IPv4 addresses come IPv4-mapped (::ffff:a.b.c.d) and match only
// IPv4 entries; every other address matches only IPv6 entries. A nil Set
// contains nothing. Lookup does not allocate.
func (s *Set) Lookup(a [16]byte) uint64 {
	if s == nil {
		return 0
	}
	ip := netip.AddrFrom16(a)
	if ip.Is4In6() {
		if !s.occupied4.has(uint32(a[12])<<16 | uint32(a[13])<<8 | uint32(a[14])) {
			return 0
		}
		ip = netip.AddrFrom4([4]byte(a[12:16]))
	} else if !s.occupied6.has(uint32(a[0])<<16 | uint32(a[1])<<8 | uint32(a[2])) {
		return 0
	}
	m, _ := s.table.Lookup(ip)
	return m
}

type entry4 struct{ key, mask uint64 }

type entry6 struct {
	p    prefix6
	mask uint64
}

// build4 merges the lists' IPv4 prefixes, folds supernet masks into their
// subnets and fills the table and the /24 occupancy bitmap.
func (s *Set) build4(lists []*Contents) {
	var n, nonEmpty int
	for _, c := range lists {
		if c != nil && len(c.v4) > 0 {
			n += len(c.v4)
			nonEmpty++
		}
	}
	if n == 0 {
		return
	}
	// Each prefix as its list number above its 40-bit key, so that one
	// radix sort on the key merges the lists.
	all := make([]uint64, 0, n)
	for i, c := range lists {
		if c == nil {
			continue
		}
		for _, k := range c.v4 {
			all = append(all, uint64(i)<<40|k)
		}
	}
	if nonEmpty > 1 { // one list's prefixes are sorted already
		radixSort(all, 5)
	}
	s.occupied4 = new(occupancy)
	// stack holds the chain of inserted prefixes covering the current one,
	// each with its folded mask; a prefix has at most 32 ancestors.
	var stack [33]entry4
	depth := 0
	const keyMask = 1<<40 - 1
	for i := 0; i < len(all); {
		e := entry4{all[i] & keyMask, 1 << (all[i] >> 40)}
		for i++; i < len(all) && all[i]&keyMask == e.key; i++ {
			e.mask |= 1 << (all[i] >> 40)
		}
		for depth > 0 && !contains4(stack[depth-1].key, e.key) {
			depth--
		}
		if depth > 0 {
			e.mask |= stack[depth-1].mask
			if e.mask == stack[depth-1].mask {
				continue // same answer as the prefix covering it
			}
		}
		stack[depth] = e
		depth++
		s.table.Insert(prefix4(e.key), e.mask)
		s.occupied4.add(e.key>>16, int(e.key&0xff))
	}
}

// build6 is build4 for IPv6.
func (s *Set) build6(lists []*Contents) {
	var n, nonEmpty int
	for _, c := range lists {
		if c != nil && len(c.v6) > 0 {
			n += len(c.v6)
			nonEmpty++
		}
	}
	if n == 0 {
		return
	}
	all := make([]entry6, 0, n)
	for i, c := range lists {
		if c == nil {
			continue
		}
		for _, p := range c.v6 {
			all = append(all, entry6{p, 1 << i})
		}
	}
	if nonEmpty > 1 {
		slices.SortFunc(all, func(a, b entry6) int { return cmp6(a.p, b.p) })
	}
	s.occupied6 = new(occupancy)
	var stack [129]entry6
	depth := 0
	for i := 0; i < len(all); {
		e := all[i]
		for i++; i < len(all) && all[i].p == e.p; i++ {
			e.mask |= all[i].mask
		}
		for depth > 0 && !contains6(stack[depth-1].p, e.p) {
			depth--
		}
		if depth > 0 {
			e.mask |= stack[depth-1].mask
			if e.mask == stack[depth-1].mask {
				continue
			}
		}
		stack[depth] = e
		depth++
		s.table.Insert(e.p.prefix(), e.mask)
		s.occupied6.add(e.p.hi>>40, int(e.p.bits))
	}
}
