package geoip

import (
	"net/netip"

	"github.com/gaissmai/bart"
)

// Entries of front.dir.
const (
	frontDeep  = 1 << 30 // the /16 holds networks longer than /24: ask the prefix table
	frontBlock = 1 << 31 // frontBlock+i: block i holds the /16's 256 /24s
)

// front answers most IPv4 lookups in two memory reads instead of the prefix
// table's three trie levels: a direct table of the 65536 /16s, each holding
// a country (the /16 is one country or none), a block of its 256 /24s (its
// networks are /24 or shorter) or a note to ask the prefix table. Random
// addresses miss the caches on every read, so fewer reads is most of the
// speed. It is at most 256 KiB plus 512 bytes a /16 (32 MiB), whatever the
// database.
type front struct {
	dir    [1 << 16]uint32
	blocks []uint16
}

// build fills the front from the table's IPv4 prefixes: one pass over them
// to find which /16s have networks and how long, one over those /16s. It
// costs the prefixes plus the /16s they touch, so a small database loads
// fast. Within a /16 the prefixes come in natural CIDR order (a network
// before the networks inside it), so writing them in turn leaves each /24
// with its longest match.
func (f *front) build(t *bart.Table[uint16]) {
	const short = 1 << 29 // scratch: a /16 inside a prefix of /16 or shorter
	for p := range t.All4() {
		a := p.Addr().As4()
		k := int(a[0])<<8 | int(a[1])
		switch {
		case p.Bits() > 24:
			f.dir[k] = frontDeep
		case p.Bits() > 16:
			if f.dir[k] != frontDeep {
				f.dir[k] = frontBlock
			}
		default:
			for j := range 1 << (16 - p.Bits()) {
				if f.dir[k+j] == 0 {
					f.dir[k+j] = short
				}
			}
		}
	}
	n := 0
	for k := range f.dir {
		if f.dir[k] == frontBlock {
			n++
		}
	}
	f.blocks = make([]uint16, 0, n*256)
	for k := range f.dir {
		e := f.dir[k]
		if e == 0 || e == frontDeep {
			continue
		}
		p := slash16(k)
		base, _ := t.LookupPrefix(p)
		if e == short {
			f.dir[k] = uint32(base)
			continue
		}
		start := len(f.blocks)
		f.dir[k] = frontBlock + uint32(start>>8)
		for range 256 {
			f.blocks = append(f.blocks, base)
		}
		blk := f.blocks[start:]
		for s, v := range t.Subnets(p) {
			if s.Bits() > 16 {
				a := s.Addr().As4()
				for j := range 1 << (24 - s.Bits()) {
					blk[int(a[2])+j] = v
				}
			}
		}
	}
}

func slash16(k int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(k >> 8), byte(k), 0, 0}), 16)
}

// lookup resolves the IPv4 address in the last 4 bytes of addr.
func (f *front) lookup(addr [16]byte, t *bart.Table[uint16]) uint16 {
	e := f.dir[uint16(addr[12])<<8|uint16(addr[13])]
	switch {
	case e < frontDeep:
		return uint16(e)
	case e == frontDeep:
		v, _ := t.Lookup(netip.AddrFrom4([4]byte(addr[12:])))
		return v
	}
	return f.blocks[(e-frontBlock)<<8|uint32(addr[14])]
}
