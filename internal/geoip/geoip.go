// Package geoip says which country traffic comes from. It sits beside the
// per-packet path: the pipeline resolves each packet's source address to a
// small country index with DB.Country (a prefix-table lookup, no
// allocation), counts packets and bytes per index in a Counter, and at
// window close ranks the countries (Counter.Top) and folds the window into a
// Cumulative whose labels stay bounded; the collector turns those rows into
// metrics with a `country` label.
//
// The countries come from a user-supplied MaxMind DB file (GeoLite2-Country,
// GeoLite2-City, GeoIP2, DB-IP Lite country or city; none is bundled). At
// load the whole search tree is walked once and flattened into a
// gaissmai/bart prefix table from network to country index, with a direct
// table of the IPv4 /16s in front of it; the file is not kept. Reload swaps
// in a new table when the file changes, as geoipupdate does weekly.
//
// A country index is a pure function of the ISO 3166-1 alpha-2 code
// (1 + 26*letter1 + letter2), so indexes are the same across databases and
// reloads: index 0 is unknown, 1..676 are the codes AA..ZZ.
package geoip

// Index values that are not a country.
const (
	// Unknown is the index of an address the database does not place in a
	// country (private and reserved ranges, unlisted networks), and of
	// records without a two-letter code.
	Unknown uint16 = 0
	// Other is the index of the row that sums every country outside a
	// ranking (Counter.Top) or a label set (Cumulative).
	Other uint16 = NumCodes + 1
	// NumCodes is the number of two-letter codes, AA to ZZ.
	NumCodes = 26 * 26
)

// Label values that are not a country code.
const (
	LabelUnknown = "unknown"
	LabelOther   = "other"
)

// codes[i] is the code of index i: "" for Unknown and Other.
var codes = func() (c [NumCodes + 2]string) {
	for i := 1; i <= NumCodes; i++ {
		c[i] = string([]byte{'A' + byte((i-1)/26), 'A' + byte((i-1)%26)})
	}
	return c
}()

// Index returns the index of a two-letter ISO code (either case), or
// Unknown for anything else.
func Index(code string) uint16 {
	if len(code) != 2 {
		return Unknown
	}
	a, b := upper(code[0]), upper(code[1])
	if a < 'A' || a > 'Z' || b < 'A' || b > 'Z' {
		return Unknown
	}
	return 1 + uint16(a-'A')*26 + uint16(b-'A')
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// Code returns the upper-case ISO code of an index, or "" for Unknown,
// Other and indexes out of range.
func Code(idx uint16) string {
	if int(idx) >= len(codes) {
		return ""
	}
	return codes[idx]
}

// Label returns the value of the `country` label for an index: the ISO
// code, LabelOther for Other, and LabelUnknown for Unknown and indexes out
// of range. It never returns "": an empty label value would drop the label.
func Label(idx uint16) string {
	switch {
	case idx == Other:
		return LabelOther
	case idx == Unknown || idx > NumCodes:
		return LabelUnknown
	}
	return codes[idx]
}
