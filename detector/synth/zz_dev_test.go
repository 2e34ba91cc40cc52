package synth

import (
	"net/netip"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
)

func TestDevFanout(t *testing.T) {
	seed, _ := strconv.Atoi(os.Getenv("SEED"))
	data, _ := generate(t, Scenario{Seed: uint64(seed), Duration: 60 * time.Minute})
	rs := records(t, data)
	type sp struct {
		src   netip.Addr
		proto decode.Protocol
		port  uint16
	}
	win := int64(-1)
	seen := map[sp]bool{}
	fan := map[netip.Addr]int{}
	hist := map[string]int{}
	flush := func() {
		for a, n := range fan {
			if n >= 22 {
				t.Logf("%s %s fanout %d", at(win*10e9), a, n)
			}
		}
	}
	for i := range rs {
		r := &rs[i]
		if w := r.t / 10e9; w != win {
			flush()
			win = w
			clear(seen)
			clear(fan)
		}
		if r.info.Proto != decode.ProtoTCP && r.info.Proto != decode.ProtoUDP {
			continue
		}
		k := sp{r.src(), r.info.Proto, r.info.DstPort}
		if !seen[k] {
			seen[k] = true
			fan[k.src]++
		}
	}
	_ = hist
}
