package detector

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// A presence baseline says which hosts send in most windows and how long
// each is silent at a time. Hosts are counted on whole windows whose
// sender lists are complete; a window the capture saw only part of, or
// whose list overflowed (a spoofed flood), says nothing about who was
// silent.

// presenceRuns is the longest silence, in windows, a baseline tells
// apart: a longer one is as unusual as that.
const presenceRuns = 6

// Bounds of a baseline.
const (
	// maxRegulars is the most hosts a model set keeps, the most present
	// first.
	maxRegulars = 1024
	// maxCounted is the most hosts counted at once; past it, a host is
	// counted once the hosts that are not regular have been let go.
	maxCounted = 8192
	// minPresenceWindows is the fewest windows a host must be counted on
	// to be known as regular: 5 minutes of 10 s windows.
	minPresenceWindows = 30
)

// Presence is a model set's presence baseline: its regular hosts, those
// that sent in at least half the windows counted since they first did.
type Presence struct {
	Hosts []HostPresence `json:"hosts"`
	// Left counts the regular hosts past maxRegulars, left out; Uncounted
	// the sightings of hosts the count had no room for (maxCounted).
	Left      uint32 `json:"left,omitempty"`
	Uncounted uint64 `json:"uncounted,omitempty"`
}

// HostPresence is one host's presence over the windows counted since it
// first sent.
type HostPresence struct {
	Addr    [16]byte `json:"addr"`
	Windows uint32   `json:"windows"`
	Present uint32   `json:"present"`
	// Silent[k] counts the windows that were its (k+1)-th or later silent
	// window in a row.
	Silent [presenceRuns]uint32 `json:"silent"`
}

// silentOdds is how often the host was silent for run windows in a row or
// more, by its baseline (with one silence and one presence added, so a
// host never seen silent is not infinitely surprising).
func (p *HostPresence) silentOdds(run int) float64 {
	k := min(run, presenceRuns) - 1
	return (float64(p.Silent[k]) + 1) / (float64(p.Windows) + 2)
}

func (p *Presence) validate() error {
	if p == nil {
		return nil
	}
	if len(p.Hosts) > maxRegulars {
		return fmt.Errorf("%d hosts, at most %d", len(p.Hosts), maxRegulars)
	}
	seen := make(map[[16]byte]bool, len(p.Hosts))
	for _, h := range p.Hosts {
		a := netip.AddrFrom16(h.Addr).Unmap()
		if seen[h.Addr] {
			return fmt.Errorf("host %s stored twice", a)
		}
		seen[h.Addr] = true
		if h.Windows < minPresenceWindows || h.Present > h.Windows || 2*uint64(h.Present) < uint64(h.Windows) {
			return fmt.Errorf("host %s: present in %d of %d windows, not a regular host", a, h.Present, h.Windows)
		}
		for k, s := range h.Silent {
			if uint64(s)+uint64(h.Present) > uint64(h.Windows) || k > 0 && s > h.Silent[k-1] {
				return fmt.Errorf("host %s: silences %v do not fit %d windows with %d present", a, h.Silent, h.Windows, h.Present)
			}
		}
	}
	return nil
}

// presenceCounter counts hosts' presence on the windows a training learns
// from.
type presenceCounter struct {
	hosts     map[[16]byte]*hostCount
	gen       uint32 // windows counted, the mark of a host present in the latest
	uncounted uint64 // sightings of hosts there was no room for
}

type hostCount struct {
	HostPresence
	run  int    // silent windows in a row
	seen uint32 // gen of the last window it sent in
}

func newPresenceCounter() *presenceCounter {
	return &presenceCounter{hosts: map[[16]byte]*hostCount{}}
}

// add counts a window.
func (c *presenceCounter) add(w *features.Window) {
	if w.Partial || w.SendersDropped > 0 {
		return
	}
	c.gen++
	for _, snd := range w.Senders {
		a := snd.Addr
		h := c.hosts[a]
		if h == nil {
			if len(c.hosts) >= maxCounted {
				c.prune()
				if len(c.hosts) >= maxCounted {
					c.uncounted++
					continue
				}
			}
			h = &hostCount{HostPresence: HostPresence{Addr: a}}
			c.hosts[a] = h
		}
		h.seen = c.gen
	}
	for _, h := range c.hosts {
		h.Windows++
		if h.seen == c.gen {
			h.Present++
			h.run = 0
			continue
		}
		h.run++
		for k := range min(h.run, presenceRuns) {
			h.Silent[k]++
		}
	}
}

// gap says the windows before and after are not consecutive: a silence
// does not run across it.
func (c *presenceCounter) gap() {
	for _, h := range c.hosts {
		h.run = 0
	}
}

// prune lets go of the hosts that are not regular, those counted in this
// window excepted.
func (c *presenceCounter) prune() {
	for a, h := range c.hosts {
		if h.seen != c.gen && 2*h.Present < h.Windows {
			delete(c.hosts, a)
		}
	}
}

// baseline returns the regular hosts, or nil when none has been counted
// long enough.
func (c *presenceCounter) baseline() *Presence {
	var hs []HostPresence
	for _, h := range c.hosts {
		if h.Windows >= minPresenceWindows && 2*h.Present >= h.Windows {
			hs = append(hs, h.HostPresence)
		}
	}
	if len(hs) == 0 {
		return nil
	}
	rate := func(h *HostPresence) float64 { return float64(h.Present) / float64(h.Windows) }
	slices.SortFunc(hs, func(x, y HostPresence) int {
		return cmp.Or(-cmp.Compare(rate(&x), rate(&y)), compareAddr(x.Addr, y.Addr))
	})
	left := max(len(hs)-maxRegulars, 0)
	return &Presence{Hosts: hs[:len(hs)-left], Left: uint32(left), Uncounted: c.uncounted}
}

// presenceWatch follows a baseline's regular hosts in the windows judged:
// how many windows in a row each has been silent, once seen in this run
// (a host not seen since the start says nothing: the exporter may have
// started while it was away). A host whose machine (its MAC when it last
// sent) is still heard from under another address is not down, only
// idle: the router's IPv6 address with no IPv6 client left, a server's
// link-local address.
type presenceWatch struct {
	base  *Presence
	hosts map[[16]byte]*watched
	macs  map[[6]byte]bool // scratch: the MACs heard from in a window
	seen  int              // regular hosts seen in this run
}

type watched struct {
	*HostPresence
	seen bool
	run  int
	mac  [6]byte
}

// silentHost is a regular host silent for run windows in a row, with the
// odds of that by its baseline.
type silentHost struct {
	addr [16]byte
	mac  [6]byte // its machine when it last sent; zero on a link without MACs
	run  int
	odds float64
}

// observe follows the regular hosts of base through w and returns those
// silent now, the least likely first. gap says w does not follow the
// window before.
func (p *presenceWatch) observe(base *Presence, w *features.Window, gap bool) []silentHost {
	if base != p.base {
		p.base, p.hosts = base, nil
		if base != nil {
			p.hosts = make(map[[16]byte]*watched, len(base.Hosts))
			for i := range base.Hosts {
				p.hosts[base.Hosts[i].Addr] = &watched{HostPresence: &base.Hosts[i]}
			}
		}
	}
	if len(p.hosts) == 0 {
		return nil
	}
	if gap {
		for _, h := range p.hosts {
			h.run = 0
		}
	}
	if p.macs == nil {
		p.macs = map[[6]byte]bool{}
	}
	clear(p.macs)
	for _, snd := range w.Senders {
		if snd.MAC != ([6]byte{}) {
			p.macs[snd.MAC] = true
		}
		if h := p.hosts[snd.Addr]; h != nil {
			h.seen, h.run, h.mac = true, -1, snd.MAC // -1: present in this window
		}
	}
	var out []silentHost
	known := !w.Partial && w.SendersDropped == 0
	p.seen = 0
	for a, h := range p.hosts {
		if h.seen {
			p.seen++
		}
		switch {
		case h.run < 0 || h.mac != ([6]byte{}) && p.macs[h.mac]:
			h.run = 0 // it sent, or its machine did
		case h.seen && known:
			h.run++
			out = append(out, silentHost{addr: a, mac: h.mac, run: h.run, odds: h.silentOdds(h.run)})
		case h.seen && h.run > 0:
			// A window that cannot tell: the silence so far stands.
			out = append(out, silentHost{addr: a, mac: h.mac, run: h.run, odds: h.silentOdds(h.run)})
		}
	}
	slices.SortFunc(out, func(x, y silentHost) int {
		return cmp.Or(cmp.Compare(x.odds, y.odds), compareAddr(x.addr, y.addr))
	})
	return out
}

// Regular hosts falling silent together: at least minSilentRegulars of
// them, on as many machines (MACs), each silent for minSilentRun windows or more (one quiet window is
// a lull) and for longer than it was in 9 training windows of 10
// (silentUnusual), whose joint odds of being silent that long at once,
// going by each one's silences in training, are under silentOddsBar
// for any that many of the regular hosts seen: the odds of the group
// times the number of groups of its size. A large network has many
// pairs of hosts, and some pair is always quiet by chance.
const (
	minSilentRegulars = 2
	minSilentRun      = 2
	silentUnusual     = 0.1
	silentOddsBar     = 1e-6
)

// regularsGone returns the silent hosts whose silence is unusual when
// together they are that unlikely among regulars, with the log10 of
// their odds (groups counted); nil when they are not. The waiting hosts
// are left out: their silence is another host's doing.
func regularsGone(silent []silentHost, waiting func() map[[16]byte]bool, regulars int) (hosts [][16]byte, logOdds float64, longest int) {
	var cands []silentHost
	for _, s := range silent {
		if s.odds <= silentUnusual && s.run >= minSilentRun {
			cands = append(cands, s)
		}
	}
	if len(cands) < minSilentRegulars {
		return nil, 0, 0
	}
	w := waiting() // a walk of the horizon's pairs: only when it may matter
	cands = slices.DeleteFunc(cands, func(s silentHost) bool { return w[s.addr] })
	if len(cands) < minSilentRegulars {
		return nil, 0, 0
	}
	// Hosts that went down together fell silent in the same window, or
	// one apart (one was idle the window before): the largest such
	// cohort is the event, the oldest of equal ones. A host quiet by
	// chance meanwhile fell silent at another time.
	best, size := 0, 0
	for _, c := range cands {
		n := 0
		for _, o := range cands {
			if o.run >= c.run-1 && o.run <= c.run+1 {
				n++
			}
		}
		if n > size || n == size && c.run > best {
			best, size = c.run, n
		}
	}
	machines := map[[16]byte]bool{}
	for _, c := range cands {
		if c.run >= best-1 && c.run <= best+1 {
			logOdds += math.Log10(c.odds)
			hosts = append(hosts, c.addr)
			longest = max(longest, c.run)
			m := c.addr // without a MAC, an address is a machine
			if c.mac != ([6]byte{}) {
				m = [16]byte{}
				copy(m[:], c.mac[:])
			}
			machines[m] = true
		}
	}
	if len(machines) < minSilentRegulars {
		return nil, 0, 0 // one machine down, however many its addresses
	}
	logOdds += log10Choose(max(regulars, len(hosts)), len(hosts))
	if logOdds >= math.Log10(silentOddsBar) {
		return nil, 0, 0
	}
	return hosts, logOdds, longest
}

// log10Choose is log10 of n choose k.
func log10Choose(n, k int) float64 {
	ln := func(x int) float64 { v, _ := math.Lgamma(float64(x) + 1); return v }
	return (ln(n) - ln(k) - ln(n-k)) / math.Ln10
}
