package synth

import (
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
)

func TestDevDrop(t *testing.T) {
	attacks, _ := Preset("mixed", 202, 2*time.Hour)
	for i := range attacks {
		attacks[i].Rate = min(attacks[i].Rate, 5000)
	}
	var drop Attack
	for _, a := range attacks {
		if a.Type == TrafficDrop {
			drop = a
		}
	}
	t.Log(drop)
	s := Scenario{Seed: 202, Duration: 2 * time.Hour, BaseRate: 200, Attacks: []Attack{drop}}
	data, _ := generate(t, s)
	rs := records(t, data)
	for w := DefaultStart.Add(drop.Start).UnixNano(); w < DefaultStart.Add(drop.Start+drop.Duration).UnixNano(); w += 10e9 {
		cnt := map[string]int{}
		for i := range rs {
			r := &rs[i]
			if r.t >= w && r.t < w+10e9 {
				k := r.src().String() + ">" + r.dst().String() + ":" + strconv.Itoa(int(min(r.info.SrcPort, r.info.DstPort)))
				if r.info.Proto == decode.ProtoARP {
					k = "arp"
				}
				cnt[k]++
			}
		}
		type kv struct {
			k string
			n int
		}
		var kvs []kv
		tot := 0
		for k, n := range cnt {
			kvs = append(kvs, kv{k, n})
			tot += n
		}
		sort.Slice(kvs, func(i, j int) bool { return kvs[i].n > kvs[j].n })
		t.Logf("%s total %d top %v", at(w), tot, kvs[:min(4, len(kvs))])
	}
}
