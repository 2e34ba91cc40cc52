package geoip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/gaissmai/bart"
	"github.com/oschwald/maxminddb-golang/v2"
)

// Limits of a load.
const (
	// DefaultMaxNetworks caps the networks with data a database may have.
	// Country and city databases have a few million at most; the cap keeps
	// a crafted or wrong file from growing the table without bound.
	DefaultMaxNetworks = 20_000_000
	// DefaultMaxFileBytes caps the file Open reads; the largest city
	// databases are a few hundred megabytes.
	DefaultMaxFileBytes = 2 << 30
)

// offsetCacheMax caps the record-offset to country cache used during a load.
const offsetCacheMax = 1 << 20

// probeRecords is how many networks with data a database may have before
// the first one with a country code; past it the database is rejected
// without walking the rest.
const probeRecords = 1 << 16

// aliasBase marks a prefix table value as a pointer into the IPv4 table:
// the IPv4 address is the 32 bits of the IPv6 address at bit value-aliasBase
// (MaxMind maps ::ffff:0:0/96, 2001::/32 (Teredo) and 2002::/16 (6to4) this
// way). Country indexes are far below it.
const aliasBase = 0x8000

// Options bounds a load. The zero value takes the defaults.
type Options struct {
	MaxNetworks  int   // networks with data at most; 0 means DefaultMaxNetworks
	MaxFileBytes int64 // file size at most (Open); 0 means DefaultMaxFileBytes
}

func (o Options) maxNetworks() int {
	if o.MaxNetworks <= 0 {
		return DefaultMaxNetworks
	}
	return o.MaxNetworks
}

func (o Options) maxFileBytes() int64 {
	if o.MaxFileBytes <= 0 {
		return DefaultMaxFileBytes
	}
	return o.MaxFileBytes
}

// Info describes a loaded database.
type Info struct {
	Path       string        // file (Open only)
	ModTime    time.Time     // file modification time (Open only)
	Size       int64         // file size in bytes
	Type       string        // metadata database_type, e.g. GeoLite2-Country
	BuildTime  time.Time     // metadata build_epoch
	IPVersion  int           // 4 or 6
	Networks   int           // networks with data
	Unresolved int           // networks whose record has no two-letter code
	Prefixes   int           // prefixes in the table, after merging siblings of one country
	Aliases    int           // IPv6 networks that map to the IPv4 tree (6to4, Teredo, ...)
	LoadTime   time.Duration // time to parse and build the table
}

// Table resolves addresses to country indexes. It is immutable and safe for
// concurrent use.
type Table struct {
	prefixes bart.Table[uint16]
	v4       front
	// mapped is set when the database has networks of its own under
	// ::ffff:0:0/96 (rather than an alias to the IPv4 tree): an IPv4
	// address the IPv4 tree does not place is looked up there too.
	mapped bool
	info   Info
}

// Info describes the database the table was built from.
func (t *Table) Info() Info { return t.info }

// Country returns the country index of an address in the code base's form:
// 16 bytes, IPv4 as IPv4-mapped (::ffff:a.b.c.d). It returns Unknown for an
// address no network covers. It does not allocate.
func (t *Table) Country(addr [16]byte) uint16 {
	hi := binary.BigEndian.Uint64(addr[:8])
	lo := binary.BigEndian.Uint64(addr[8:])
	if hi == 0 && lo>>32 == 0xffff {
		v := t.v4.lookup(addr, &t.prefixes)
		if v == Unknown && t.mapped {
			v, _ = t.prefixes.Lookup(netip.AddrFrom16(addr))
		}
		return country(v)
	}
	v, _ := t.prefixes.Lookup(netip.AddrFrom16(addr))
	if v >= aliasBase {
		bit := uint(v - aliasBase)
		var w uint64
		if bit < 64 {
			w = hi<<bit | lo>>(64-bit)
		} else {
			w = lo << (bit - 64)
		}
		var a [16]byte
		binary.BigEndian.PutUint32(a[12:], uint32(w>>32))
		v = t.v4.lookup(a, &t.prefixes)
	}
	return country(v)
}

// country keeps an alias marker (only a crafted file can chain one) out of
// the results.
func country(v uint16) uint16 {
	if v > NumCodes {
		return Unknown
	}
	return v
}

// notCountryTypes are database types known to have no country: rejecting
// them by name saves walking a large file to find out.
var notCountryTypes = []string{"asn", "isp", "domain", "connection-type", "anonymous", "user-count"}

// Parse builds a table from the bytes of a MaxMind DB file. Any database
// whose records have country.iso_code or registered_country.iso_code works;
// others (ASN, ISP, ...) are rejected. The bytes are not kept.
func Parse(data []byte, opts Options) (*Table, error) {
	start := time.Now()
	r, err := maxminddb.OpenBytes(data)
	if err != nil {
		return nil, fmt.Errorf("not a readable MaxMind DB file (truncated or corrupt?): %w", err)
	}
	md := r.Metadata
	lower := strings.ToLower(md.DatabaseType)
	for _, s := range notCountryTypes {
		if strings.Contains(lower, s) {
			return nil, fmt.Errorf("database type %q has no country (country.iso_code or registered_country.iso_code): use a GeoLite2-Country, GeoLite2-City or DB-IP Lite country database", md.DatabaseType)
		}
	}
	if md.IPVersion != 4 && md.IPVersion != 6 {
		return nil, fmt.Errorf("metadata ip_version is %d, want 4 or 6: the file is corrupt", md.IPVersion)
	}
	w, err := newWalker(data, r, opts.maxNetworks())
	if err != nil {
		return nil, err
	}
	if err := w.walk(); err != nil {
		return nil, err
	}
	if w.withCode == 0 {
		return nil, fmt.Errorf("database type %q: none of its %d networks has country.iso_code or registered_country.iso_code: use a GeoLite2-Country, GeoLite2-City or DB-IP Lite country database", md.DatabaseType, w.networks)
	}
	t := w.t
	t.info = Info{
		Size: int64(len(data)), Type: strings.Clone(md.DatabaseType), BuildTime: md.BuildTime(), IPVersion: int(md.IPVersion),
		Networks: w.networks, Unresolved: w.networks - w.withCode, Prefixes: t.prefixes.Size() - w.markers,
		Aliases: w.aliases, LoadTime: time.Since(start),
	}
	return t, nil
}

// countryRecord is the part of a record the table needs.
type countryRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Registered struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
}

// walker flattens the search tree. It reads the tree itself instead of
// using Reader.Networks: that iterator follows every path of the tree as
// written, and a crafted file of a few hundred bytes whose nodes share
// children has 2^100 paths to empty leaves, which it walks without ever
// yielding. The walker expands each node at most once, as a tree allows.
type walker struct {
	r          *maxminddb.Reader
	tree       []byte // the search tree section
	nodeCount  uint
	recordSize uint
	dataSize   uint // bytes in the data section
	ipv4Start  uint // node of ::/96 in an IPv6 tree; nodeCount when there is none
	maxNets    int

	t        *Table
	v4, v6   merger
	cache    map[uint]uint16 // record offset to country
	networks int
	withCode int
	aliases  int // alias networks
	markers  int // table entries that are not a country: aliases and ::/96
}

var (
	metadataMarker = []byte("\xAB\xCD\xEFMaxMind.com")
	errCorrupt     = errors.New("the search tree is corrupt")
)

func newWalker(data []byte, r *maxminddb.Reader, maxNets int) (*walker, error) {
	md := r.Metadata
	if md.RecordSize != 24 && md.RecordSize != 28 && md.RecordSize != 32 {
		return nil, fmt.Errorf("metadata record_size is %d, want 24, 28 or 32: the file is corrupt", md.RecordSize)
	}
	meta := bytes.LastIndex(data, metadataMarker)
	treeSize := md.NodeCount * md.RecordSize / 4
	if md.NodeCount == 0 || meta < 0 || md.NodeCount > uint(len(data))/(md.RecordSize/4) || treeSize+16 > uint(meta) {
		return nil, fmt.Errorf("metadata says %d nodes, which do not fit in the %d-byte file: the file is truncated or corrupt", md.NodeCount, len(data))
	}
	w := &walker{
		r: r, tree: data[:treeSize], nodeCount: md.NodeCount, recordSize: md.RecordSize,
		dataSize: uint(meta) - treeSize - 16, ipv4Start: md.NodeCount, maxNets: maxNets,
		t: &Table{}, cache: make(map[uint]uint16),
	}
	w.v4 = merger{t: w.t, v4: true}
	w.v6 = merger{t: w.t}
	if md.IPVersion == 6 {
		p := uint(0)
		for range 96 {
			if p >= w.nodeCount {
				break
			}
			p, _ = w.node(p)
		}
		if p < w.nodeCount {
			w.ipv4Start = p
		}
	}
	return w, nil
}

// node returns the two records of node n (n < nodeCount).
func (w *walker) node(n uint) (left, right uint) {
	switch w.recordSize {
	case 24:
		b := w.tree[n*6 : n*6+6]
		return uint(b[0])<<16 | uint(b[1])<<8 | uint(b[2]), uint(b[3])<<16 | uint(b[4])<<8 | uint(b[5])
	case 28:
		b := w.tree[n*7 : n*7+7]
		return uint(b[3]&0xf0)<<20 | uint(b[0])<<16 | uint(b[1])<<8 | uint(b[2]),
			uint(b[3]&0x0f)<<24 | uint(b[4])<<16 | uint(b[5])<<8 | uint(b[6])
	default:
		b := w.tree[n*8 : n*8+8]
		return uint(binary.BigEndian.Uint32(b[:4])), uint(binary.BigEndian.Uint32(b[4:]))
	}
}

// frame is a record still to visit: its pointer and the network it covers.
type frame struct {
	ptr    uint
	hi, lo uint64
	bits   uint
}

// network is the frame's network, as IPv4 when it lies in ::/96.
func (f frame) network() netip.Prefix {
	return prefix(f.hi, f.lo, f.bits, f.hi == 0 && f.lo>>32 == 0 && f.bits >= 96)
}

func (w *walker) walk() error {
	first := frame{}
	if w.r.Metadata.IPVersion == 4 {
		first.bits = 96 // an IPv4 tree is the ::/96 subtree of the 128-bit space
	}
	// Depth-first, left before right, so networks come in address order
	// (the merger needs it); at most one pending sibling per level.
	stack := make([]frame, 0, 130)
	stack = append(stack, first)
	expanded := uint(0)
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch {
		case f.ptr == w.nodeCount: // no data
		case f.ptr > w.nodeCount:
			if err := w.leaf(f); err != nil {
				return err
			}
		case f.ptr == w.ipv4Start && !(f.hi == 0 && f.lo == 0 && f.bits == 96):
			// An alias of the IPv4 tree: not walked again.
			if f.bits <= 96 {
				w.t.prefixes.Insert(prefix(f.hi, f.lo, f.bits, false), aliasBase+uint16(f.bits))
				w.aliases++
				w.markers++
			}
		default:
			if expanded++; expanded > w.nodeCount {
				return fmt.Errorf("%w: it has more branches than its %d nodes allow (nodes are shared)", errCorrupt, w.nodeCount)
			}
			if f.bits >= 128 {
				return fmt.Errorf("%w: a node lies deeper than 128 bits", errCorrupt)
			}
			if f.ptr == w.ipv4Start {
				// ::a.b.c.d (IPv4-compatible) resolves through the IPv4 tree,
				// as the reader does.
				w.t.prefixes.Insert(prefix(0, 0, 96, false), aliasBase+96)
				w.markers++
			}
			left, right := w.node(f.ptr)
			rh, rl := setBit(f.hi, f.lo, f.bits)
			stack = append(stack,
				frame{ptr: right, hi: rh, lo: rl, bits: f.bits + 1},
				frame{ptr: left, hi: f.hi, lo: f.lo, bits: f.bits + 1})
		}
	}
	w.v4.flush()
	w.v6.flush()
	w.t.v4.build(&w.t.prefixes)
	return nil
}

// leaf records a network with data.
func (w *walker) leaf(f frame) error {
	if w.networks++; w.networks > w.maxNets {
		return fmt.Errorf("it has more than %d networks, the most this loader accepts (country and city databases have a few million)", w.maxNets)
	}
	idx, err := w.country(f)
	if err != nil {
		return err
	}
	if idx != Unknown {
		w.withCode++
	} else if w.withCode == 0 && w.networks >= probeRecords {
		return fmt.Errorf("database type %q: none of its first %d networks has country.iso_code or registered_country.iso_code: use a GeoLite2-Country, GeoLite2-City or DB-IP Lite country database", w.r.Metadata.DatabaseType, w.networks)
	}
	switch {
	case f.hi == 0 && f.lo>>32 == 0 && f.bits >= 96:
		w.v4.add(f.hi, f.lo, f.bits, idx)
		return nil
	case f.hi == 0 && f.lo == 0 && f.bits < 96 && idx != Unknown:
		// One record for a network holding all of ::/96: every IPv4
		// address has it.
		w.t.prefixes.Insert(netip.PrefixFrom(netip.IPv4Unspecified(), 0), idx)
	}
	if samePrefix(f.hi, f.lo, 0, 0xffff<<32, min(f.bits, 96)) {
		w.t.mapped = true
	}
	w.v6.add(f.hi, f.lo, f.bits, idx)
	return nil
}

// country decodes the country of a leaf's record, once per record.
func (w *walker) country(f frame) (uint16, error) {
	if f.ptr < w.nodeCount+16 || f.ptr-w.nodeCount-16 >= w.dataSize {
		return 0, fmt.Errorf("%w: a record points outside the data section", errCorrupt)
	}
	off := f.ptr - w.nodeCount - 16
	if idx, ok := w.cache[off]; ok {
		return idx, nil
	}
	var rec countryRecord
	if err := w.r.LookupOffset(uintptr(off)).Decode(&rec); err != nil {
		return 0, fmt.Errorf("the record of %s is not a country record (%w): use a GeoLite2-Country, GeoLite2-City or DB-IP Lite country database", f.network(), err)
	}
	idx := Index(rec.Country.ISOCode)
	if idx == Unknown {
		idx = Index(rec.Registered.ISOCode)
	}
	if len(w.cache) < offsetCacheMax {
		w.cache[off] = idx
	}
	return idx, nil
}

// merger inserts networks into the table, merging two sibling networks of
// one country into their parent: a city database splits a country into
// many networks, and fewer prefixes are less memory. Networks must come in
// address order. The stack holds a chain of left siblings waiting for their
// right sibling, each inside the previous one's sibling, so it is at most
// one entry per bit.
type merger struct {
	t     *Table
	v4    bool
	stack []entry
}

type entry struct {
	hi, lo uint64
	bits   uint
	idx    uint16
}

func (m *merger) add(hi, lo uint64, bits uint, idx uint16) {
	if idx == Unknown {
		return // a gap: nothing to insert, and nothing merges across it
	}
	// Entries that can no longer merge: not a left sibling, another
	// country, or a sibling that does not hold this network.
	for len(m.stack) > 0 {
		e := m.stack[len(m.stack)-1]
		if e.idx == idx && e.bits > m.root() && bit(e.hi, e.lo, e.bits-1) == 0 {
			sh, sl := setBit(e.hi, e.lo, e.bits-1)
			if samePrefix(sh, sl, hi, lo, e.bits) {
				break
			}
		}
		m.insert(e)
		m.stack = m.stack[:len(m.stack)-1]
	}
	m.stack = append(m.stack, entry{hi, lo, bits, idx})
	for len(m.stack) >= 2 {
		l, r := m.stack[len(m.stack)-2], m.stack[len(m.stack)-1]
		if l.bits != r.bits || l.idx != r.idx || r.bits <= m.root() || bit(r.hi, r.lo, r.bits-1) == 0 || !samePrefix(l.hi, l.lo, r.hi, r.lo, r.bits-1) {
			break
		}
		m.stack = m.stack[:len(m.stack)-2]
		m.stack = append(m.stack, entry{l.hi, l.lo, l.bits - 1, l.idx})
	}
}

// root is the shortest prefix the merger may produce: ::/96 is all of IPv4.
func (m *merger) root() uint {
	if m.v4 {
		return 96
	}
	return 0
}

func (m *merger) flush() {
	for _, e := range m.stack {
		m.insert(e)
	}
	m.stack = m.stack[:0]
}

func (m *merger) insert(e entry) {
	m.t.prefixes.Insert(prefix(e.hi, e.lo, e.bits, m.v4), e.idx)
}

// prefix converts a network of the 128-bit tree to a netip.Prefix, as IPv4
// when v4 (the network then lies in ::/96).
func prefix(hi, lo uint64, bits uint, v4 bool) netip.Prefix {
	if v4 {
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], uint32(lo))
		return netip.PrefixFrom(netip.AddrFrom4(a), int(bits)-96)
	}
	var a [16]byte
	binary.BigEndian.PutUint64(a[:8], hi)
	binary.BigEndian.PutUint64(a[8:], lo)
	return netip.PrefixFrom(netip.AddrFrom16(a), int(bits))
}

// bit returns bit i (0 is the most significant) of a 128-bit address.
func bit(hi, lo uint64, i uint) uint64 {
	if i < 64 {
		return hi >> (63 - i) & 1
	}
	return lo >> (127 - i) & 1
}

func setBit(hi, lo uint64, i uint) (uint64, uint64) {
	if i < 64 {
		return hi | 1<<(63-i), lo
	}
	return hi, lo | 1<<(127-i)
}

// samePrefix reports whether two addresses agree on their first n bits.
func samePrefix(ah, al, bh, bl uint64, n uint) bool {
	if n <= 64 {
		return n == 0 || (ah^bh)>>(64-n) == 0
	}
	return ah == bh && (al^bl)>>(128-n) == 0
}
