package features

import "github.com/netanomaly/netanomaly_exporter/internal/geoip"

// Countries gives the country database in force; a reload may swap its
// table between any two packets.
type Countries interface {
	Table() *geoip.Table
}

// geoState counts a window's packets and bytes by source country.
type geoState struct {
	db     Countries
	table  *geoip.Table // the cache holds answers of this table
	cache  *AddrCache[uint16]
	window geoip.Counter
	total  *geoip.Cumulative
}

func newGeoState(db Countries) *geoState {
	return &geoState{db: db, cache: NewAddrCache[uint16](), total: geoip.NewCumulative(geoip.DefaultTop)}
}

// country returns the country index of addr, whose hash is h.
func (g *geoState) country(addr [16]byte, h uint64) uint16 {
	if t := g.db.Table(); t != g.table {
		g.cache.Reset() // a new database: earlier answers may be wrong
		g.table = t
	}
	if g.table == nil {
		return geoip.Unknown
	}
	return g.cache.Get(addr, h, g.table.Country)
}

// CountryRow is the traffic of one value of the country label since the
// start: an ISO 3166 code, "unknown" (no country: private addresses, or
// none in the database) or "other" (countries that never ranked in a
// window's top 20).
type CountryRow = geoip.Row
