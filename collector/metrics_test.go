package collector

import "testing"

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
