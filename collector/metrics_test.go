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
	"github.com/netanomaly/netanomaly_exporter/collector/pipeline"
	"github.com/netanomaly/netanomaly_exporter/detector"
)

// TestExporterCollect checks the metrics a scrape gets from a pipeline fed
// by a file, and that the output is a valid exposition.
func TestExporterCollect(t *testing.T) {
	src, err := capture.OpenFile(capture.FileConfig{Path: "../cmd/netanomaly_exporter/testdata/ftp_bruteforce.pcap"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	p := pipeline.NewPipeline(pipeline.PipelineConfig{Interface: "ftp", Features: features.DefaultConfig(), Lossless: true}, src, slog.New(slog.DiscardHandler))
	p.Run(context.Background())
	anon, _ := pipeline.NewAnonymizer(pipeline.PrivacyFull, nil)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewExporter([]*pipeline.Pipeline{p}, anon, 0))
	want := `
# HELP netanomaly_capture_up Whether the capture source is open and delivering (1) or not (0: see netanomaly_capture_state for why).
# TYPE netanomaly_capture_up gauge
netanomaly_capture_up{interface="ftp"} 0
# HELP netanomaly_capture_state Capture state, 1 for the current one: capturing, reopening (failed, being reopened), paused (stopped through the admin API), finished (a capture file ended), failed (cannot be reopened).
# TYPE netanomaly_capture_state gauge
netanomaly_capture_state{interface="ftp",state="capturing"} 0
netanomaly_capture_state{interface="ftp",state="failed"} 0
netanomaly_capture_state{interface="ftp",state="finished"} 1
netanomaly_capture_state{interface="ftp",state="paused"} 0
netanomaly_capture_state{interface="ftp",state="reopening"} 0
# HELP netanomaly_packets_total Packets by outer layer-4 protocol.
# TYPE netanomaly_packets_total counter
netanomaly_packets_total{interface="ftp",protocol="arp"} 0
netanomaly_packets_total{interface="ftp",protocol="icmp"} 0
netanomaly_packets_total{interface="ftp",protocol="icmpv6"} 0
netanomaly_packets_total{interface="ftp",protocol="other"} 0
netanomaly_packets_total{interface="ftp",protocol="tcp"} 606
netanomaly_packets_total{interface="ftp",protocol="udp"} 0
# HELP netanomaly_capture_packets_received_total Packets received from the kernel or read from the file.
# TYPE netanomaly_capture_packets_received_total counter
netanomaly_capture_packets_received_total{interface="ftp"} 606
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "netanomaly_capture_up", "netanomaly_capture_state", "netanomaly_packets_total", "netanomaly_capture_packets_received_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n < 60 {
		t.Errorf("gathered %d series, err %v", n, err)
	}
}

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
	table, err := pipeline.NewGroupTable([]string{"net", "server", "lan"}, [][]netip.Prefix{pfx("192.168.56.0/24"), pfx("192.168.56.101/32"), pfx("10.0.0.0/8", "2001:db8::/32")})
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
	cfg := pipeline.PipelineConfig{Interface: "ftp", Features: features.DefaultConfig(), Lossless: true, Detector: detector.New(detector.DefaultConfig(), "ftp", nil), Groups: table}
	for range table.Names() {
		cfg.GroupViews = append(cfg.GroupViews, pipeline.GroupConfig{Detector: detector.New(detector.DefaultConfig(), "ftp", nil)})
	}
	p := pipeline.NewPipeline(cfg, src, slog.New(slog.DiscardHandler))
	p.Run(context.Background())
	want := map[string]uint64{"net": 606, "server": 606, "lan": 0, "other": 0}
	for _, v := range p.Views() {
		if got := v.Snapshot().Counters.Packets[decode.ProtoTCP]; got != want[v.Group()] {
			t.Errorf("group %s: %d TCP packets, want %d", v.Group(), got, want[v.Group()])
		}
	}

	anon, _ := pipeline.NewAnonymizer(pipeline.PrivacyFull, nil)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewExporter([]*pipeline.Pipeline{p}, anon, 0))
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

// TestUnitOf: the OpenMetrics unit is the name's suffix (before _total),
// and only a unit's: counts and rates have none.
func TestUnitOf(t *testing.T) {
	for _, c := range []struct{ name, unit string }{
		{"netanomaly_window_packet_size_mean_bytes", "bytes"},
		{"netanomaly_window_interarrival_mean_seconds", "seconds"},
		{"netanomaly_window_tcp_half_open_ratio", "ratio"},
		{"netanomaly_window_top_source_share_ratio", "ratio"},
		{"netanomaly_window_source_address_entropy_bits", "bits"},
		{"netanomaly_window_dns_query_name_length_mean_characters", "characters"},
		{"netanomaly_bytes_total", "bytes"},
		{"netanomaly_feature_processing_seconds_total", "seconds"},
		{"netanomaly_packet_size_bytes", "bytes"},
		{"netanomaly_window_start_timestamp_seconds", "seconds"},
		{"netanomaly_window_bytes_per_second", ""},
		{"netanomaly_window_max_target_unsolicited_bytes_per_window", ""},
		{"netanomaly_window_tcp_syn_packets_per_window", ""},
		{"netanomaly_packets_total", ""},
		{"netanomaly_window_active_flows", ""},
		{"netanomaly_anomaly_score", ""},
	} {
		if got := unitOf(c.name); got != c.unit {
			t.Errorf("unitOf(%q) = %q, want %q", c.name, got, c.unit)
		}
	}
}
