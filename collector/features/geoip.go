package features

import "github.com/netanomaly/netanomaly_exporter/internal/geoip"

// Countries gives the country database in force; a reload may swap its
// table between any two packets.
type Countries interface {
	Table() *geoip.Table
}

// geoCacheSize is the slots of the address-to-country cache: a table
// lookup costs a few cache misses, a cache hit one.
const geoCacheSize = 8192

type geoCacheSlot struct {
	addr [16]byte
	idx  uint16
	used bool
}

// geoState counts a window's packets and bytes by source country.
type geoState struct {
	db     Countries
	table  *geoip.Table // the cache holds answers of this table
	cache  []geoCacheSlot
	window geoip.Counter
	total  *geoip.Cumulative
}

func newGeoState(db Countries) *geoState {
	return &geoState{db: db, cache: make([]geoCacheSlot, geoCacheSize), total: geoip.NewCumulative(geoip.DefaultTop)}
}

// country returns the country index of addr, whose hash is h.
func (g *geoState) country(addr [16]byte, h uint64) uint16 {
	if t := g.db.Table(); t != g.table {
		clear(g.cache) // a new database: earlier answers may be wrong
		g.table = t
	}
	if g.table == nil {
		return geoip.Unknown
	}
	s := &g.cache[h&(geoCacheSize-1)]
	if s.used && s.addr == addr {
		return s.idx
	}
	idx := g.table.Country(addr)
	*s = geoCacheSlot{addr: addr, idx: idx, used: true}
	return idx
}

// CountryRow is the traffic of one value of the country label since the
// start: an ISO 3166 code, "unknown" (no country: private addresses, or
// none in the database) or "other" (countries that never ranked in a
// window's top 20).
type CountryRow = geoip.Row
