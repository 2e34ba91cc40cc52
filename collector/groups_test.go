package collector

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/netanomaly/netanomaly_exporter/collector/capture"
	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/detector"
)

// TestHostGroups: each group's view gets the packets its hosts send or
// receive, the longest prefix placing a host, and reports them under its
// group label beside the whole interface's.
func TestHostGroups(t *testing.T) {
	pfx := func(s ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, x := range s {
			out = append(out, netip.MustParsePrefix(x))
		}
		return out
	}
	// The capture is an FTP client, 192.168.56.1, and its server, .101.
	table, err := NewGroupTable([]string{"net", "server", "lan"}, [][]netip.Prefix{pfx("192.168.56.0/24"), pfx("192.168.56.101/32"), pfx("10.0.0.0/8", "2001:db8::/32")})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		addr  string
		group string
	}{{"192.168.56.1", "net"}, {"192.168.56.101", "server"}, {"10.9.9.9", "lan"}, {"2001:db8::1", "lan"}, {"192.0.2.1", "other"}, {"2001:db9::1", "other"}} {
		if got := table.Names()[table.Group(netip.MustParseAddr(c.addr).As16())]; got != c.group {
			t.Errorf("%s in %s, want %s", c.addr, got, c.group)
		}
	}

	src, err := capture.OpenFile(capture.FileConfig{Path: "../cmd/netanomaly_exporter/testdata/ftp_bruteforce.pcap"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	cfg := PipelineConfig{Interface: "ftp", Features: features.DefaultConfig(), Lossless: true, Detector: detector.New(detector.DefaultConfig(), "ftp", nil), Groups: table}
	for range table.Names() {
		cfg.GroupViews = append(cfg.GroupViews, GroupConfig{Detector: detector.New(detector.DefaultConfig(), "ftp", nil)})
	}
	p := NewPipeline(cfg, src, slog.New(slog.DiscardHandler))
	p.Run(context.Background())
	want := map[string]uint64{"net": 606, "server": 606, "lan": 0, "other": 0}
	for _, v := range p.Views() {
		if got := v.Snapshot().Counters.Packets[decode.ProtoTCP]; got != want[v.Group()] {
			t.Errorf("group %s: %d TCP packets, want %d", v.Group(), got, want[v.Group()])
		}
	}

	anon, _ := NewAnonymizer(PrivacyFull, nil)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewExporter([]*Pipeline{p}, anon, 0))
	// Groups without traffic have closed no window: no verdict yet.
	expect := `
# HELP netanomaly_attack Whether an attack of this type is in progress (1) or not (0); one attack stays 1 from its first to its last window.
# TYPE netanomaly_attack gauge
netanomaly_attack{group="",interface="ftp",type="brute_force"} 1
netanomaly_attack{group="net",interface="ftp",type="brute_force"} 1
netanomaly_attack{group="server",interface="ftp",type="brute_force"} 1
`
	got, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if err := testutil.GatherAndCompare(prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return filterType(got, "brute_force"), nil }), strings.NewReader(expect), "netanomaly_attack"); err != nil {
		t.Error(err)
	}
	// Capture series stay the interface's: no group label, once.
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP netanomaly_capture_packets_received_total Packets received from the kernel or read from the file.
# TYPE netanomaly_capture_packets_received_total counter
netanomaly_capture_packets_received_total{interface="ftp"} 606
`), "netanomaly_capture_packets_received_total"); err != nil {
		t.Error(err)
	}
}

// filterType keeps the series of one attack type.
func filterType(mfs []*dto.MetricFamily, typ string) []*dto.MetricFamily {
	var out []*dto.MetricFamily
	for _, mf := range mfs {
		c := &dto.MetricFamily{Name: mf.Name, Help: mf.Help, Type: mf.Type}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "type" && l.GetValue() == typ {
					c.Metric = append(c.Metric, m)
				}
			}
		}
		if len(c.Metric) > 0 {
			out = append(out, c)
		}
	}
	return out
}

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
