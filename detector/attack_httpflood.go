package detector

import (
	"fmt"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// HTTPFlood is the http_flood attack type.
const HTTPFlood = "http_flood"

func init() {
	register(&AttackType{
		Name:           HTTPFlood,
		Title:          "HTTP flood",
		Alert:          "NetAnomalyHTTPFlood",
		Severity:       3,
		Technique:      "T1499.002",
		TechniqueName:  "Endpoint Denial of Service: Service Exhaustion Flood",
		Recommendation: "Rate-limit requests per client at the web server or a reverse proxy, serve a challenge to the flooding clients, and cache or block the URL they hammer.",
		Behaviour: "Completed requests to one web server far above normal, from one host or many: before training at least 500 a second in all " +
			"or 50 from one host; after it, ten times the busiest training window, or one host at five times the busiest client's pace. " +
			"Many new clients each at a normal pace (a flash crowd) are not a flood. Over the last two windows.",
		Names:  "Sources: the hosts sending the requests with a real share of them; targets: the web server.",
		order:  23,
		detect: detectHTTPFlood,
	})
}

// Bars of the HTTP flood rule, in requests a second over the short span.
const (
	httpFloodRate         = 500
	httpFloodSourceRate   = 50
	httpFloodTrainedTotal = 10 // times the busiest training window
	httpFloodTrainedPair  = 5  // times the busiest training client
	httpFloodMinRate      = 2
)

func detectHTTPFlood(e *evidence) []Attack {
	s := &e.h.short
	win := float64(e.w.End-e.w.Start) / 1e9
	// Rates over a window at least: requests in the second or two a
	// capture saw of its first window are no pace.
	secs := max(s.seconds, win)
	totalBar, topBar := float64(httpFloodRate), float64(httpFloodSourceRate)
	if e.trained() {
		totalBar = max(httpFloodMinRate, httpFloodTrainedTotal*e.trainedMax(features.MaxServiceRequests)/win)
		topBar = max(httpFloodMinRate, httpFloodTrainedPair*e.trainedMax(features.MaxPairRequests)/win)
	}
	var out []Attack
	for _, v := range sortedServices(s, func(v *serviceSum) bool {
		return v.Key.Proto == features.ProtoTCP && !v.Key.AllPorts && features.WebPort(v.Key.Port) && v.Requests > 0
	}) {
		if l := e.h.last.services[v.Key]; l == nil || e.h.last.rate(float64(l.Requests)) < stillAt*min(totalBar, topBar) {
			continue // it stopped
		}
		// Posting forms is guessing passwords, not flooding, and a host a
		// rule that ran before named (slowloris, brute force) is explained.
		rs, _ := senders(s, func(p *pairSum) bool {
			_, named := e.claimed[p.Key.Src]
			return p.Key.Proto == features.ProtoTCP && p.Key.Dst == v.Key.Addr && p.Key.Port == v.Key.Port &&
				float64(p.Posts) < brutePostShare*float64(max(p.Requests, 1)) && !named
		}, func(p *pairSum) float64 { return float64(p.Requests) })
		total, top := 0.0, 0.0
		for _, r := range rs {
			total += r.weight
			top = max(top, r.weight)
		}
		rate, topRate := total/secs, top/secs
		var c float64
		var evs []Evidence
		switch {
		case rate >= totalBar:
			c = confidence(rate, totalBar)
			evs = append(evs, ev("requests_per_second", rate, totalBar, e.typical(features.HTTPRequests)/win))
		case topRate >= topBar && (!e.trained() || rate >= 3*e.typical(features.HTTPRequests)/win):
			c = confidence(topRate, topBar)
			evs = append(evs, ev("requests_per_second_from_one_host", topRate, topBar, 0))
		default:
			continue
		}
		srcs := heaviest(rs, total, 0.05, 10)
		out = append(out, Attack{
			Confidence: c,
			Evidence:   evs,
			Sources:    srcs,
			Targets:    [][16]byte{v.Key.Addr},
			Summary:    fmt.Sprintf("%.0f requests a second to port %d completed, from %s", rate, v.Key.Port, plural(float64(len(rs)), "host", "hosts")),
		})
	}
	return out
}
