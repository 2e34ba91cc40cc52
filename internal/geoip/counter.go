package geoip

import (
	"cmp"
	"slices"
	"sync"
)

// DefaultTop is how many countries a window's ranking names; the rest are
// "other".
const DefaultTop = 20

// Row is the traffic of one label value.
type Row struct {
	Index   uint16 // country index, Unknown or Other
	Label   string // Label(Index): ISO code, "unknown" or "other"
	Packets uint64
	Bytes   uint64
}

// Counter counts packets and bytes per country for a window. It is a pair
// of fixed arrays indexed by country (about 11 KB): Add is two increments
// and never allocates. It is not safe for concurrent use; give each worker
// its own and Merge them at window close.
type Counter struct {
	packets [NumCodes + 1]uint64
	bytes   [NumCodes + 1]uint64
}

// Add counts one packet of the given size (negative counts as 0) from the
// country idx; an index out of range counts as Unknown.
func (c *Counter) Add(idx uint16, bytes int) {
	if int(idx) >= len(c.packets) {
		idx = Unknown
	}
	c.packets[idx]++
	c.bytes[idx] += uint64(max(bytes, 0))
}

// Merge adds o's counts to c.
func (c *Counter) Merge(o *Counter) {
	for i := range c.packets {
		c.packets[i] += o.packets[i]
		c.bytes[i] += o.bytes[i]
	}
}

// Reset zeroes the counts for the next window.
func (c *Counter) Reset() { *c = Counter{} }

// Totals returns the packets and bytes counted.
func (c *Counter) Totals() (packets, bytes uint64) {
	for i := range c.packets {
		packets += c.packets[i]
		bytes += c.bytes[i]
	}
	return packets, bytes
}

// Top returns the n countries with the most packets (ties by code, empty
// ones left out), then, when any packet came from an address without a
// country, an Unknown row; other sums the countries outside the n (its
// counts may be zero). Unknown traffic is its own row rather than part of
// other because it is mostly private and reserved addresses, which a user
// reads apart from foreign traffic. The rows and other add up to Totals.
func (c *Counter) Top(n int) (rows []Row, other Row) {
	order := make([]uint16, 0, 64)
	for i := uint16(1); i <= NumCodes; i++ {
		if c.packets[i] > 0 || c.bytes[i] > 0 {
			order = append(order, i)
		}
	}
	// Indexes are in code order, so a stable sort on packets breaks ties
	// by code.
	slices.SortStableFunc(order, func(a, b uint16) int { return cmp.Compare(c.packets[b], c.packets[a]) })
	n = min(max(n, 0), len(order))
	rows = make([]Row, 0, n+1)
	for _, i := range order[:n] {
		rows = append(rows, c.row(i))
	}
	other = Row{Index: Other, Label: LabelOther}
	for _, i := range order[n:] {
		other.Packets += c.packets[i]
		other.Bytes += c.bytes[i]
	}
	if c.packets[Unknown] > 0 || c.bytes[Unknown] > 0 {
		rows = append(rows, c.row(Unknown))
	}
	return rows, other
}

func (c *Counter) row(i uint16) Row {
	return Row{Index: i, Label: Label(i), Packets: c.packets[i], Bytes: c.bytes[i]}
}

// Cumulative sums windows into counters whose label set is bounded.
//
// A country gets its own label from the first window in which it ranks in
// the top k (Counter.Top), and keeps it: from that window on its traffic is
// counted under its code, and before it under "other". Traffic of countries
// that never ranked is "other", and traffic without a country "unknown".
// So the label values are ISO 3166-1 alpha-2 codes, "other" and "unknown":
// at most 676 two-letter codes plus two even if every window ranked
// different countries, and in practice the about 250 codes ISO 3166 assigns
// (plus a few a database may use, such as EU) and two. Labels only get
// added, so every series is a monotonic counter; a series that appears
// later starts from its first window.
//
// It is safe for concurrent use: Add at window close, Rows at scrape.
type Cumulative struct {
	k int

	mu      sync.Mutex
	named   [NumCodes + 1]bool
	packets [Other + 1]uint64 // by label index: Unknown, codes, Other
	bytes   [Other + 1]uint64
}

// NewCumulative returns a Cumulative naming the countries that rank in the
// top k of a window (DefaultTop when k <= 0).
func NewCumulative(k int) *Cumulative {
	if k <= 0 {
		k = DefaultTop
	}
	return &Cumulative{k: k}
}

// Add folds a closed window in: it names the window's top k countries,
// then counts each country under its label.
func (c *Cumulative) Add(w *Counter) {
	top, _ := w.Top(c.k)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range top {
		if r.Index != Unknown {
			c.named[r.Index] = true
		}
	}
	for i := range w.packets {
		l := uint16(i)
		if l != Unknown && !c.named[i] {
			l = Other
		}
		c.packets[l] += w.packets[i]
		c.bytes[l] += w.bytes[i]
	}
}

// Rows returns the counters by label: unknown, each named country in code
// order, other. Unknown and other are always there, so the label set only
// ever grows.
func (c *Cumulative) Rows() []Row {
	c.mu.Lock()
	defer c.mu.Unlock()
	rows := []Row{c.row(Unknown)}
	for i := uint16(1); i <= NumCodes; i++ {
		if c.named[i] {
			rows = append(rows, c.row(i))
		}
	}
	return append(rows, c.row(Other))
}

func (c *Cumulative) row(i uint16) Row {
	return Row{Index: i, Label: Label(i), Packets: c.packets[i], Bytes: c.bytes[i]}
}
