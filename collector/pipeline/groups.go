package pipeline

import (
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"

	"github.com/gaissmai/bart"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/collector/features/sketch"
	"github.com/netanomaly/netanomaly_exporter/detector"
)

// MaxGroups caps the host groups of a configuration: each is a value of
// the group label on every window and detector series.
const MaxGroups = 32

// OtherGroup is the group of the hosts in no configured group.
const OtherGroup = "other"

// GroupTable places addresses in host groups: named sets of CIDRs, the
// longest prefix winning; addresses in none are in OtherGroup, the last.
type GroupTable struct {
	names []string // the groups, then OtherGroup
	table bart.Table[uint8]
}

// NewGroupTable builds a table from the groups' prefixes, in order.
func NewGroupTable(names []string, prefixes [][]netip.Prefix) (*GroupTable, error) {
	if len(names) != len(prefixes) || len(names) > MaxGroups {
		return nil, fmt.Errorf("%d host groups: at most %d", len(names), MaxGroups)
	}
	t := &GroupTable{names: append(append([]string(nil), names...), OtherGroup)}
	for i, ps := range prefixes {
		for _, p := range ps {
			t.table.Insert(p.Masked(), uint8(i))
		}
	}
	return t, nil
}

// Names returns the groups, OtherGroup last.
func (t *GroupTable) Names() []string { return append([]string(nil), t.names...) }

// Group returns the index in Names of addr's group (IPv4 as IPv4-mapped).
func (t *GroupTable) Group(addr [16]byte) int {
	a := netip.AddrFrom16(addr).Unmap()
	if i, ok := t.table.Lookup(a); ok {
		return int(i)
	}
	return len(t.names) - 1
}

// SetGroups puts new CIDRs of the same host groups in force from the next
// batch on. Adding, removing or renaming groups needs a restart: each has
// a pipeline, a detector and models of its own.
func (p *Pipeline) SetGroups(t *GroupTable) error {
	if p.router == nil {
		return fmt.Errorf("interface %s has no host groups: restart to add them", p.cfg.Interface)
	}
	if !slices.Equal(t.Names(), p.router.table.Load().Names()) {
		return fmt.Errorf("host groups %v are not %v: restart to add, remove or rename groups", t.Names(), p.router.table.Load().Names())
	}
	p.router.table.Store(t)
	return nil
}

// GroupConfig is one host group's view of an interface: its own
// detector (own baseline and models) and where its verdicts and models
// go.
type GroupConfig struct {
	Detector  *detector.Detector
	OnModels  func(key string, set *detector.ModelSet) // key: interface/group
	OnVerdict func(*detector.Verdict)
	OnWindow  func(*features.Window) // each closed window of the group (training)
}

// groupRouter hands each packet of a batch to the views of the groups of
// its source and destination (once when both are in one group).
type groupRouter struct {
	table  atomic.Pointer[GroupTable] // a reload may change the CIDRs
	cached *GroupTable                // the cache holds answers of this table
	cache  *features.AddrCache[int]
	views  []*Pipeline
	out    []*batch // the batch each view fills
}

func (r *groupRouter) group(addr [16]byte) int {
	return r.cache.Get(addr, sketch.HashAddr(addr), r.cached.Group)
}

// route sends b's packets, and its clock and source events, on to the
// group views. It blocks while a view is behind: the views are lossless,
// the interface's own queue in front takes the pressure.
func (r *groupRouter) route(b *batch) {
	if t := r.table.Load(); t != r.cached {
		r.cache.Reset() // new CIDRs: earlier answers may be wrong
		r.cached = t
	}
	for i, v := range r.views {
		if r.out[i] == nil {
			r.out[i] = <-v.free
		}
	}
	for j := range b.infos[:b.n] {
		info := &b.infos[j]
		gs, gd := len(r.views)-1, len(r.views)-1
		if info.IsIP() || info.L3 == decode.L3ARP {
			gs, gd = r.group(info.Src), r.group(info.Dst)
		}
		r.add(gs, info)
		if gd != gs {
			r.add(gd, info)
		}
	}
	for i, v := range r.views {
		o := r.out[i]
		o.hasClock, o.clock, o.eof, o.down, o.up, o.at = b.hasClock, b.clock, b.eof, b.down, b.up, b.at
		if o.n > 0 || o.hasClock || o.eof || o.down || o.up {
			v.queue <- o
			r.out[i] = nil
		}
	}
}

func (r *groupRouter) add(g int, info *decode.PacketInfo) {
	o := r.out[g]
	o.infos[o.n] = *info
	o.n++
	if o.n == batchSize {
		r.views[g].queue <- o
		o = <-r.views[g].free
		r.out[g] = o
	}
}
