package features

import (
	"strings"
	"testing"
)

// TestLookupOldNames: every name a feature had before its name said its
// unit finds the feature under its new name, and the new names find
// themselves.
func TestLookupOldNames(t *testing.T) {
	for _, c := range []struct{ old, new string }{
		{"unique_source_addresses", "unique_source_addresses_per_window"},
		{"unique_destination_addresses", "unique_destination_addresses_per_window"},
		{"unique_destination_ports", "unique_destination_ports_per_window"},
		{"unique_connections", "unique_connections_per_window"},
		{"tcp_syn_packets", "tcp_syn_packets_per_window"},
		{"tcp_synack_packets", "tcp_synack_packets_per_window"},
		{"tcp_rst_packets", "tcp_rst_packets_per_window"},
		{"tcp_fin_packets", "tcp_fin_packets_per_window"},
		{"icmp_unreachable_packets", "icmp_unreachable_packets_per_window"},
		{"icmp_echo_request_packets", "icmp_echo_request_packets_per_window"},
		{"dns_queries", "dns_queries_per_window"},
		{"dns_responses", "dns_responses_per_window"},
		{"dns_error_responses", "dns_error_responses_per_window"},
		{"max_source_port_fanout", "max_source_port_fanout_per_window"},
		{"max_source_host_fanout", "max_source_host_fanout_per_window"},
		{"top_source_share", "top_source_share_ratio"},
		{"source_address_entropy", "source_address_entropy_bits"},
		{"destination_address_entropy", "destination_address_entropy_bits"},
		{"destination_port_entropy", "destination_port_entropy_bits"},
		{"fragment_packets", "fragment_packets_per_window"},
		{"arp_request_packets", "arp_request_packets_per_window"},
		{"arp_reply_packets", "arp_reply_packets_per_window"},
		{"auth_connection_attempts", "auth_connection_attempts_per_window"},
		{"max_source_auth_attempts", "max_source_auth_attempts_per_window"},
		{"arp_address_conflicts", "arp_address_conflicts_per_window"},
		{"top_destination_share", "top_destination_share_ratio"},
		{"max_source_web_connections", "max_source_web_connections_per_window"},
		{"tcp_established_connections", "tcp_established_connections_per_window"},
		{"refused_connections", "refused_connections_per_window"},
		{"unanswered_connections", "unanswered_connections_per_window"},
		{"http_requests", "http_requests_per_window"},
		{"dns_query_name_length_mean", "dns_query_name_length_mean_characters"},
		{"dns_query_name_entropy_mean", "dns_query_name_entropy_mean_bits"},
		{"dns_tunnel_like_queries", "dns_tunnel_like_queries_per_window"},
		{"max_source_failed_contacts", "max_source_failed_contacts_per_window"},
		{"max_service_incomplete_syns", "max_service_incomplete_syns_per_window"},
		{"max_pair_auth_connections", "max_pair_auth_connections_per_window"},
		{"max_pair_requests", "max_pair_requests_per_window"},
		{"max_service_requests", "max_service_requests_per_window"},
		{"max_pair_posts", "max_pair_posts_per_window"},
		{"max_target_udp_packets", "max_target_udp_packets_per_window"},
		{"max_target_icmp_requests", "max_target_icmp_requests_per_window"},
		{"max_target_unsolicited_bytes", "max_target_unsolicited_bytes_per_window"},
	} {
		i, renamed, ok := Lookup(c.old)
		if !ok || !renamed || Schema[i].Name != c.new {
			t.Errorf("Lookup(%q) = %q renamed %v ok %v, want %q renamed", c.old, Schema[i].Name, renamed, ok, c.new)
		}
		j, renamed, ok := Lookup(c.new)
		if !ok || renamed || j != i {
			t.Errorf("Lookup(%q) = %d renamed %v ok %v, want %d", c.new, j, renamed, ok, i)
		}
	}
	for _, f := range Schema {
		if i, renamed, ok := Lookup(f.Name); !ok || renamed || Schema[i].Name != f.Name {
			t.Errorf("Lookup(%q) = %q renamed %v ok %v", f.Name, Schema[i].Name, renamed, ok)
		}
		if _, ok := oldNames[f.Name]; ok {
			t.Errorf("%q is both a feature's name and an old name", f.Name)
		}
	}
	for _, name := range []string{"", "tcp_syns", "netanomaly_window_tcp_syn_packets_per_window", "TCP_SYN_PACKETS"} {
		if _, _, ok := Lookup(name); ok {
			t.Errorf("Lookup(%q) found a feature", name)
		}
	}
}

// TestSchemaNamesSayUnits: a feature's name ends in its unit as
// Prometheus names do, so the gauge netanomaly_window_<name> reads right.
// A level at the window's close (what is open then) is no count within
// the window and has no suffix.
func TestSchemaNamesSayUnits(t *testing.T) {
	levels := map[Index]bool{ActiveFlows: true, HTTPIdleConnections: true, MaxServiceHeldConnections: true}
	for i, f := range Schema {
		suffix := unitSuffix(f.Unit)
		switch {
		case levels[Index(i)] && suffix != "":
			t.Errorf("%s: a level, in %s: want no unit suffix", f.Name, f.Unit)
		case levels[Index(i)]:
		case suffix == "":
			t.Errorf("%s: unit %q has no suffix: a count within the window is in UNIT/window", f.Name, f.Unit)
		case !strings.HasSuffix(f.Name, suffix):
			t.Errorf("%s: unit %q: want a name ending in %s", f.Name, f.Unit, suffix)
		}
	}
}

// unitSuffix returns the name suffix that says unit: _per_second for
// X/s, _per_window for X/window, _bytes for bytes; "" for a plain count.
func unitSuffix(unit string) string {
	if _, per, ok := strings.Cut(unit, "/"); ok {
		if per == "s" {
			per = "second"
		}
		return "_per_" + per
	}
	switch unit {
	case "bytes", "seconds", "ratio", "bits", "characters":
		return "_" + unit
	}
	return ""
}
