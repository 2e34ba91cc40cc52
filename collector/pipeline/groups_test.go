package pipeline

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// TestSetGroups: a reload may move the groups' CIDRs, not add, remove
// or rename groups.
func TestSetGroups(t *testing.T) {
	mk := func(names []string, cidrs ...string) *GroupTable {
		var ps [][]netip.Prefix
		for _, c := range cidrs {
			ps = append(ps, []netip.Prefix{netip.MustParsePrefix(c)})
		}
		g, err := NewGroupTable(names, ps)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	cfg := PipelineConfig{Interface: "eth0", Features: features.DefaultConfig(), Groups: mk([]string{"office"}, "10.1.0.0/16"), GroupViews: []GroupConfig{{}, {}}}
	p := NewPipeline(cfg, nil, slog.New(slog.DiscardHandler))
	if err := p.SetGroups(mk([]string{"office"}, "10.2.0.0/16")); err != nil {
		t.Fatal(err)
	}
	b := &batch{n: 1}
	b.infos[0] = decode.PacketInfo{L3: decode.L3IPv4, Proto: decode.ProtoTCP, Src: netip.MustParseAddr("10.2.0.5").As16(), Dst: netip.MustParseAddr("192.0.2.1").As16()}
	p.router.route(b)
	if got := len(p.views[0].queue); got != 1 {
		t.Errorf("office got %d batches, want the packet of 10.2.0.5 after the move", got)
	}
	if err := p.SetGroups(mk([]string{"office", "lab"}, "10.1.0.0/16", "10.3.0.0/16")); err == nil || !strings.Contains(err.Error(), "restart") {
		t.Errorf("adding a group: %v", err)
	}
	if err := NewPipeline(PipelineConfig{Interface: "eth1"}, nil, slog.New(slog.DiscardHandler)).SetGroups(cfg.Groups); err == nil {
		t.Error("groups set on an interface without any")
	}
}
