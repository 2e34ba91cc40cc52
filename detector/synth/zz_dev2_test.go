package synth

import (
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

func TestDevPeaks(t *testing.T) {
	seed, _ := strconv.Atoi(os.Getenv("SEED"))
	data, _ := generate(t, Scenario{Seed: uint64(seed), Duration: 2 * time.Hour, BaseRate: 200})
	ws := windows(t, data)
	var v []float64
	for _, w := range ws {
		v = append(v, w.Features[features.PacketsPerSecond])
	}
	sort.Float64s(v)
	med := v[len(v)/2]
	t.Logf("median %.0f p90 %.0f p99 %.0f max %.0f", med, v[len(v)*9/10], v[len(v)*99/100], v[len(v)-1])
	rs := records(t, data)
	for _, w := range ws {
		if w.Features[features.PacketsPerSecond] > 3.5*med {
			cnt := map[string]int{}
			for i := range rs {
				r := &rs[i]
				if r.t >= w.Start && r.t < w.End {
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
			for k, n := range cnt {
				kvs = append(kvs, kv{k, n})
			}
			sort.Slice(kvs, func(i, j int) bool { return kvs[i].n > kvs[j].n })
			t.Logf("%s pps %.0f top %v", at(w.Start), w.Features[features.PacketsPerSecond], kvs[:min(4, len(kvs))])
		}
	}
}
