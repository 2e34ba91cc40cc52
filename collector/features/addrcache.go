package features

// AddrCacheSize is the slots of an AddrCache: a window's busy addresses
// fit, and 8,192 slots of a few dozen bytes stay in the CPU's caches.
const AddrCacheSize = 8192

// AddrCache remembers, per address, an answer that costs a few cache
// misses to compute (a prefix table lookup: threat lists, countries, host
// groups). It is direct-mapped by the address's hash and bounded: a new
// address takes its slot over. Reset it when the table behind the answers
// changes.
type AddrCache[V any] struct {
	slots []addrSlot[V]
}

type addrSlot[V any] struct {
	addr [16]byte
	val  V
	used bool
}

// NewAddrCache returns an empty cache.
func NewAddrCache[V any]() *AddrCache[V] {
	return &AddrCache[V]{slots: make([]addrSlot[V], AddrCacheSize)}
}

// Get returns the answer for addr, whose hash is h, computing and keeping
// it on a miss.
func (c *AddrCache[V]) Get(addr [16]byte, h uint64, compute func([16]byte) V) V {
	s := &c.slots[h&(AddrCacheSize-1)]
	if s.used && s.addr == addr {
		return s.val
	}
	v := compute(addr)
	*s = addrSlot[V]{addr: addr, val: v, used: true}
	return v
}

// Reset forgets every answer.
func (c *AddrCache[V]) Reset() { clear(c.slots) }
