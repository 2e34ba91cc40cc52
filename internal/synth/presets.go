package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Presets are the named scenarios of Preset.
var Presets = []string{"benign", "mixed", "subtle"}

// Preset gap rules.
const (
	presetGap    = 5 * time.Minute // at least this much quiet between attacks
	presetWarmup = 5 * time.Minute // and before the first
	presetTail   = 3 * time.Minute // and after the last
)

// Preset returns the attacks of a named scenario for a capture of the given
// duration. The seed draws the order, times, variants and rates, so each
// seed gives a different schedule:
//
//   - benign: no attacks.
//   - mixed: every attack type once, in random order, at clear to strong
//     intensities, with at least 5 minutes of quiet between them.
//   - subtle: every attack type once at low intensity: slow port scan,
//     floods of 500-1500 packets/s, 1-2 login attempts/s, 100-150
//     slowloris connections, a 4-5x spike, a drop to 8-10%.
func Preset(name string, seed uint64, d time.Duration) ([]Attack, error) {
	r := newRand(seed, 0x7072657365747321)
	switch name {
	case "benign":
		return nil, nil
	case "mixed":
		return schedule(r, d, mixedAttack)
	case "subtle":
		return schedule(r, d, subtleAttack)
	}
	return nil, fmt.Errorf("unknown preset %q (known: %v)", name, Presets)
}

// logUniform returns a value between lo and hi, uniform in log scale.
func logUniform(r *rand.Rand, lo, hi float64) float64 {
	return math.Exp(math.Log(lo) + r.Float64()*(math.Log(hi)-math.Log(lo)))
}

func secs(r *rand.Rand, lo, hi int) time.Duration {
	return time.Duration(lo+r.IntN(hi-lo+1)) * time.Second
}

// mixedAttack draws a clear attack of a type: its variant, rate and length.
func mixedAttack(r *rand.Rand, typ string) Attack {
	a := Attack{Type: typ, Duration: secs(r, 60, 180)}
	vs := specs[typ].variants
	a.Variant = pick(r, vs)
	switch typ {
	case PortScan:
		a.Variant = pick(r, []string{"vertical", "vertical", "horizontal", "arp_sweep", "icmp_sweep", "udp"})
		a.Duration = secs(r, 30, 90)
		switch a.Variant {
		case "vertical":
			a.Rate = logUniform(r, 20, 200)
		case "arp_sweep":
			a.Rate = logUniform(r, 50, 300)
		default:
			a.Rate = logUniform(r, 20, 150)
		}
	case SYNFlood, UDPFlood, ICMPFlood:
		a.Rate = logUniform(r, 1000, 20000)
		if a.Variant == "large" {
			a.Rate = logUniform(r, 1000, 8000) // full-size packets: up to 100 Mbit/s
		}
	case DNSAmplification, NTPAmplification, SSDPAmplification:
		a.Rate = logUniform(r, 1000, 8000)
	case MemcachedAmplification:
		a.Rate = logUniform(r, 800, 5000)
	case BruteForce:
		a.Rate = logUniform(r, 2, 20)
	case Slowloris:
		a.Rate = float64(150 + r.IntN(351))
		a.Duration = secs(r, 120, 300)
	case TrafficSpike:
		a.Rate = 5 + 5*r.Float64()
	case TrafficDrop:
		a.Rate = 0.02 + 0.08*r.Float64()
		a.Duration = secs(r, 60, 120)
	case ARPSpoofing:
		a.Rate = 0.5 + 0.5*r.Float64()
	}
	return a
}

// subtleAttack draws a low-intensity attack of a type.
func subtleAttack(r *rand.Rand, typ string) Attack {
	a := Attack{Type: typ, Duration: secs(r, 90, 180)}
	a.Variant = specs[typ].variants[0]
	switch typ {
	case PortScan:
		a.Variant = "slow"
		a.Rate = 1 + 1.5*r.Float64()
		a.Duration = secs(r, 120, 240)
	case SYNFlood:
		a.Variant = "botnet"
		a.Rate = logUniform(r, 500, 1000)
	case UDPFlood:
		a.Variant = pick(r, []string{"spoofed", "fixed"})
		a.Rate = logUniform(r, 800, 1500)
	case ICMPFlood:
		a.Variant = pick(r, []string{"spoofed", "fixed"})
		a.Rate = logUniform(r, 800, 1500)
	case DNSAmplification, NTPAmplification, SSDPAmplification:
		a.Rate = logUniform(r, 400, 1000)
	case MemcachedAmplification:
		a.Rate = logUniform(r, 300, 600)
	case BruteForce:
		a.Variant = pick(r, specs[typ].variants)
		a.Rate = 1 + r.Float64()
	case Slowloris:
		a.Rate = float64(100 + r.IntN(51))
		a.Duration = secs(r, 180, 240)
	case TrafficSpike:
		a.Rate = 4 + r.Float64()
	case TrafficDrop:
		a.Rate = 0.08 + 0.02*r.Float64()
		a.Duration = secs(r, 60, 120)
	case ARPSpoofing:
		a.Variant = pick(r, specs[typ].variants)
		a.Rate = 0.5
	}
	return a
}

// schedule places every attack type once, in random order, with random
// quiet gaps of at least presetGap.
func schedule(r *rand.Rand, d time.Duration, draw func(*rand.Rand, string) Attack) ([]Attack, error) {
	order := append([]string(nil), AttackTypes...)
	r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	attacks := make([]Attack, len(order))
	busy := presetWarmup + presetTail + time.Duration(len(order)-1)*presetGap
	for i, typ := range order {
		attacks[i] = draw(r, typ)
		busy += attacks[i].Duration
	}
	slack := d - busy
	if slack < 0 {
		return nil, fmt.Errorf("the preset needs a capture of at least %v for this seed, not %v", (busy + time.Minute).Round(time.Minute), d)
	}
	// Spread the slack over the gaps at random.
	w := make([]float64, len(order)+1)
	total := 0.0
	for i := range w {
		w[i] = r.ExpFloat64()
		total += w[i]
	}
	t := presetWarmup
	for i := range attacks {
		t += time.Duration(float64(slack) * w[i] / total).Truncate(time.Second)
		attacks[i].Start = t
		t += attacks[i].Duration + presetGap
	}
	return attacks, nil
}
