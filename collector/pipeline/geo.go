package pipeline

import (
	"slices"

	"github.com/netanomaly/netanomaly_exporter/detector"
	"github.com/netanomaly/netanomaly_exporter/internal/geoip"
)

// attackCountries names the countries of every attack's sources in a
// verdict, with a country database. It runs on the detector goroutine,
// before the verdict is handed on.
func (p *Pipeline) attackCountries(v *detector.Verdict) {
	db := p.cfg.Features.Countries
	if db == nil {
		return
	}
	t := db.Table()
	if t == nil {
		return
	}
	name := func(a *detector.Attack) {
		a.SourceCountries = nil // never reuse: copies of the attack share it
		for _, s := range a.Sources {
			if c := geoip.Code(t.Country(s)); c != "" && !slices.Contains(a.SourceCountries, c) {
				a.SourceCountries = append(a.SourceCountries, c)
			}
		}
	}
	for i := range v.Attacks {
		name(&v.Attacks[i])
	}
	for i := range v.Active {
		name(&v.Active[i].Attack)
	}
	for i := range v.Events {
		name(&v.Events[i].Attack)
	}
}
