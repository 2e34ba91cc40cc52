// Package features cuts packets into windows on their own timestamps and
// computes, per window, one feature vector from a single schema shared by
// the metrics, the README and the detector.
//
// It is the third stage of the flow (capture -> decode -> features ->
// detector): the pipeline adds each decode.PacketInfo to its interface's
// Aggregator, which hands every closed Window to the detector and keeps
// the cumulative Counters that the pipeline's snapshots carry to the
// Prometheus collector. It knows nothing of models or Prometheus.
//
// Every structure that grows with hosts, ports or flows is bounded: unique
// counts go through sketches, per-source fan-out through Bloom filters and a
// heavy-hitter summary, flows through a fixed-size table that evicts.
package features

// Feature describes one entry of the feature vector.
type Feature struct {
	// Name is the metric suffix (netanomaly_window_<name>) and the name
	// in model files, explanations, events and user rules. It ends in its
	// unit as Prometheus names do: _per_second for rates, _per_window for
	// counts within the window, _bytes, _seconds, _ratio, _bits; a level
	// at the window's close (active_flows) has none.
	Name string
	Unit string
	Help string // one sentence ending in a period
}

// Index of each feature in a Vector. The order is part of the model file
// contract: append new features, never reorder.
const (
	PacketsPerSecond Index = iota
	BytesPerSecond
	PeakPacketsPerSecond
	PeakBytesPerSecond
	PacketSizeMean
	PacketSizeStddev
	InterarrivalMean
	InterarrivalStddev
	TCPPacketsPerSecond
	UDPPacketsPerSecond
	ICMPPacketsPerSecond
	ARPPacketsPerSecond
	OtherPacketsPerSecond
	UniqueSources
	UniqueDestinations
	UniqueDestinationPorts
	UniqueConnections
	PacketsPerConnection
	NewFlowsPerSecond
	ActiveFlows
	FlowDurationMean
	TCPSyn
	TCPSynAck
	TCPRst
	TCPFin
	TCPHalfOpenRatio
	ICMPUnreachable
	ICMPEchoRequests
	DNSQueries
	DNSResponses
	DNSErrorResponses
	DNSResponseSizeMean
	MaxSourcePortFanout
	MaxSourceHostFanout
	TopSourceShare
	SourceEntropy
	DestinationEntropy
	DestinationPortEntropy
	Fragments
	ARPRequests
	ARPReplies
	ReflectionResponseBytes
	ReflectionRequestBytes
	AuthAttempts
	MaxSourceAuthAttempts
	HTTPIdleConnections
	ARPAddressConflicts
	TopDestinationShare
	MaxSourceWebConnections
	TCPEstablished
	RefusedConnections
	UnansweredConnections
	HTTPRequests
	DNSQueryNameLengthMean
	DNSQueryNameEntropyMean
	DNSTunnelQueries
	MaxSourceFailedContacts
	MaxServiceIncompleteSyns
	MaxPairAuthConnections
	MaxServiceHeldConnections
	MaxPairRequests
	MaxServiceRequests
	MaxPairPosts
	MaxTargetUDPPackets
	MaxTargetICMPRequests
	MaxTargetUnsolicitedBytes
	SustainedPacketsPerSecond
	SustainedBytesPerSecond
	NumFeatures
)

// Index names a position in a Vector.
type Index int

// Vector is one window's features in Schema order.
type Vector [NumFeatures]float64

// Schema lists every feature in Vector order.
var Schema = [NumFeatures]Feature{
	PacketsPerSecond:          {"packets_per_second", "packets/s", "Packets per second averaged over the window."},
	BytesPerSecond:            {"bytes_per_second", "bytes/s", "Bytes on the wire per second averaged over the window."},
	PeakPacketsPerSecond:      {"peak_packets_per_second", "packets/s", "Highest packet count in one second of the window."},
	PeakBytesPerSecond:        {"peak_bytes_per_second", "bytes/s", "Highest byte count in one second of the window."},
	PacketSizeMean:            {"packet_size_mean_bytes", "bytes", "Mean packet size on the wire."},
	PacketSizeStddev:          {"packet_size_stddev_bytes", "bytes", "Standard deviation of the packet size on the wire."},
	InterarrivalMean:          {"interarrival_mean_seconds", "seconds", "Mean time between consecutive packets."},
	InterarrivalStddev:        {"interarrival_stddev_seconds", "seconds", "Standard deviation of the time between consecutive packets."},
	TCPPacketsPerSecond:       {"tcp_packets_per_second", "packets/s", "TCP packets per second."},
	UDPPacketsPerSecond:       {"udp_packets_per_second", "packets/s", "UDP packets per second."},
	ICMPPacketsPerSecond:      {"icmp_packets_per_second", "packets/s", "ICMP and ICMPv6 packets per second."},
	ARPPacketsPerSecond:       {"arp_packets_per_second", "packets/s", "ARP packets per second."},
	OtherPacketsPerSecond:     {"other_packets_per_second", "packets/s", "Packets of other protocols (fragments, GRE, non-IP) per second."},
	UniqueSources:             {"unique_source_addresses_per_window", "addresses/window", "Distinct source IP addresses (sketch, error under 2%)."},
	UniqueDestinations:        {"unique_destination_addresses_per_window", "addresses/window", "Distinct destination IP addresses (sketch, error under 2%)."},
	UniqueDestinationPorts:    {"unique_destination_ports_per_window", "ports/window", "Distinct TCP and UDP destination ports."},
	UniqueConnections:         {"unique_connections_per_window", "connections/window", "Distinct connections (5-tuples, both directions joined; sketch)."},
	PacketsPerConnection:      {"packets_per_connection", "packets/connection", "TCP and UDP packets per distinct connection."},
	NewFlowsPerSecond:         {"new_flows_per_second", "flows/s", "Flows first seen in the window, per second."},
	ActiveFlows:               {"active_flows", "flows", "Flows in the flow table at the end of the window."},
	FlowDurationMean:          {"flow_duration_mean_seconds", "seconds", "Mean duration of the flows that ended in the window."},
	TCPSyn:                    {"tcp_syn_packets_per_window", "packets/window", "TCP packets with SYN and without ACK."},
	TCPSynAck:                 {"tcp_synack_packets_per_window", "packets/window", "TCP packets with SYN and ACK."},
	TCPRst:                    {"tcp_rst_packets_per_window", "packets/window", "TCP packets with RST."},
	TCPFin:                    {"tcp_fin_packets_per_window", "packets/window", "TCP packets with FIN."},
	TCPHalfOpenRatio:          {"tcp_half_open_ratio", "ratio", "Share of SYNs not answered by a SYN-ACK in the window."},
	ICMPUnreachable:           {"icmp_unreachable_packets_per_window", "packets/window", "ICMP and ICMPv6 destination-unreachable packets."},
	ICMPEchoRequests:          {"icmp_echo_request_packets_per_window", "packets/window", "ICMP and ICMPv6 echo requests."},
	DNSQueries:                {"dns_queries_per_window", "messages/window", "DNS queries seen on port 53."},
	DNSResponses:              {"dns_responses_per_window", "messages/window", "DNS responses seen on port 53."},
	DNSErrorResponses:         {"dns_error_responses_per_window", "messages/window", "DNS responses with a non-zero response code."},
	DNSResponseSizeMean:       {"dns_response_size_mean_bytes", "bytes", "Mean size on the wire of DNS responses."},
	MaxSourcePortFanout:       {"max_source_port_fanout_per_window", "ports/window", "Most distinct destination ports one source sent probes or connection attempts to (answers do not count)."},
	MaxSourceHostFanout:       {"max_source_host_fanout_per_window", "addresses/window", "Most distinct destination addresses one source sent probes or connection attempts to (answers do not count)."},
	TopSourceShare:            {"top_source_share_ratio", "ratio", "Share of the window's packets sent by the busiest source."},
	SourceEntropy:             {"source_address_entropy_bits", "bits", "Shannon entropy in bits of source addresses by packets."},
	DestinationEntropy:        {"destination_address_entropy_bits", "bits", "Shannon entropy in bits of destination addresses by packets."},
	DestinationPortEntropy:    {"destination_port_entropy_bits", "bits", "Shannon entropy in bits of TCP and UDP destination ports by packets."},
	Fragments:                 {"fragment_packets_per_window", "packets/window", "IPv4 and IPv6 fragments."},
	ARPRequests:               {"arp_request_packets_per_window", "packets/window", "ARP requests."},
	ARPReplies:                {"arp_reply_packets_per_window", "packets/window", "ARP replies."},
	ReflectionResponseBytes:   {"reflection_response_bytes_per_second", "bytes/s", "UDP bytes per second sent from amplification-prone service ports (DNS, NTP, SSDP, memcached, CLDAP, SNMP, chargen and others)."},
	ReflectionRequestBytes:    {"reflection_request_bytes_per_second", "bytes/s", "UDP bytes per second sent to amplification-prone service ports."},
	AuthAttempts:              {"auth_connection_attempts_per_window", "connections/window", "TCP SYNs to authentication ports (SSH, Telnet, FTP, RDP, VNC, mail, LDAP, databases, WinRM)."},
	MaxSourceAuthAttempts:     {"max_source_auth_attempts_per_window", "connections/window", "Most TCP SYNs to authentication ports from one source."},
	HTTPIdleConnections:       {"http_idle_connections", "connections", "Open web connections older than 10 s carrying under one packet per second."},
	ARPAddressConflicts:       {"arp_address_conflicts_per_window", "packets/window", "ARP packets, and IPv6 neighbour discovery messages, claiming an address for another MAC than its owner (the first MAC heard for it, while it is still heard from)."},
	TopDestinationShare:       {"top_destination_share_ratio", "ratio", "Share of the window's packets sent to the busiest destination."},
	MaxSourceWebConnections:   {"max_source_web_connections_per_window", "connections/window", "Most TCP SYNs to web ports (HTTP, HTTPS) from one source."},
	TCPEstablished:            {"tcp_established_connections_per_window", "connections/window", "TCP connection attempts whose handshake completed."},
	RefusedConnections:        {"refused_connections_per_window", "connections/window", "Connection attempts refused: a TCP RST, or an ICMP error, before any handshake."},
	UnansweredConnections:     {"unanswered_connections_per_window", "connections/window", "TCP, UDP and ICMP attempts without a reply, or left half-open after a SYN-ACK."},
	HTTPRequests:              {"http_requests_per_window", "requests/window", "Request-response turns on web ports: client data answered by server data."},
	DNSQueryNameLengthMean:    {"dns_query_name_length_mean_characters", "characters", "Mean length of the names DNS queries ask for."},
	DNSQueryNameEntropyMean:   {"dns_query_name_entropy_mean_bits", "bits", "Mean Shannon entropy per character of the names DNS queries ask for."},
	DNSTunnelQueries:          {"dns_tunnel_like_queries_per_window", "queries/window", "DNS queries that look like a tunnel's: a name that looks like encoded data (long, with a long random-looking label), or a question for a NULL or private-use record."},
	MaxSourceFailedContacts:   {"max_source_failed_contacts_per_window", "contacts/window", "Most first contacts with a service that one source saw refused, unanswered or left half-open."},
	MaxServiceIncompleteSyns:  {"max_service_incomplete_syns_per_window", "packets/window", "Most TCP SYNs to one service (address and port) that did not complete a handshake, or completed one on which the client sent nothing."},
	MaxPairAuthConnections:    {"max_pair_auth_connections_per_window", "connections/window", "Most connections from one source to one authentication service (SSH, FTP, Telnet, RDP, ...) that completed their handshake, SSH logins seen to succeed left out."},
	MaxServiceHeldConnections: {"max_service_held_connections", "connections", "Most long-lived TCP connections carrying under one packet per second held open to one service."},
	MaxPairRequests:           {"max_pair_requests_per_window", "requests/window", "Most request-response turns from one source to one service."},
	MaxServiceRequests:        {"max_service_requests_per_window", "requests/window", "Most request-response turns to one service."},
	MaxPairPosts:              {"max_pair_posts_per_window", "requests/window", "Most answered HTTP POST requests from one source to one service."},
	MaxTargetUDPPackets:       {"max_target_udp_packets_per_window", "packets/window", "Most UDP packets one host received from initiators (not answers to its own requests)."},
	MaxTargetICMPRequests:     {"max_target_icmp_requests_per_window", "packets/window", "Most ICMP requests (echo and others) one host received."},
	MaxTargetUnsolicitedBytes: {"max_target_unsolicited_bytes_per_window", "bytes/window", "Most bytes of answers nobody asked for (reflection, backscatter) one host received."},
	SustainedPacketsPerSecond: {"sustained_packets_per_second", "packets/s", "Packets a second over the busiest window-long span of whole seconds ending in this window (reaching back into the previous one): a surge's rate wherever it falls on the window grid."},
	SustainedBytesPerSecond:   {"sustained_bytes_per_second", "bytes/s", "Bytes a second over the busiest window-long span of whole seconds ending in this window."},
}

// Names returns the feature names in order.
func Names() []string {
	n := make([]string, NumFeatures)
	for i, f := range Schema {
		n[i] = f.Name
	}
	return n
}

// oldNames are the names features had until their names said their unit:
// model files and user rules written with them still load.
var oldNames = map[string]Index{
	"unique_source_addresses":      UniqueSources,
	"unique_destination_addresses": UniqueDestinations,
	"unique_destination_ports":     UniqueDestinationPorts,
	"unique_connections":           UniqueConnections,
	"tcp_syn_packets":              TCPSyn,
	"tcp_synack_packets":           TCPSynAck,
	"tcp_rst_packets":              TCPRst,
	"tcp_fin_packets":              TCPFin,
	"icmp_unreachable_packets":     ICMPUnreachable,
	"icmp_echo_request_packets":    ICMPEchoRequests,
	"dns_queries":                  DNSQueries,
	"dns_responses":                DNSResponses,
	"dns_error_responses":          DNSErrorResponses,
	"max_source_port_fanout":       MaxSourcePortFanout,
	"max_source_host_fanout":       MaxSourceHostFanout,
	"top_source_share":             TopSourceShare,
	"source_address_entropy":       SourceEntropy,
	"destination_address_entropy":  DestinationEntropy,
	"destination_port_entropy":     DestinationPortEntropy,
	"fragment_packets":             Fragments,
	"arp_request_packets":          ARPRequests,
	"arp_reply_packets":            ARPReplies,
	"auth_connection_attempts":     AuthAttempts,
	"max_source_auth_attempts":     MaxSourceAuthAttempts,
	"arp_address_conflicts":        ARPAddressConflicts,
	"top_destination_share":        TopDestinationShare,
	"max_source_web_connections":   MaxSourceWebConnections,
	"tcp_established_connections":  TCPEstablished,
	"refused_connections":          RefusedConnections,
	"unanswered_connections":       UnansweredConnections,
	"http_requests":                HTTPRequests,
	"dns_query_name_length_mean":   DNSQueryNameLengthMean,
	"dns_query_name_entropy_mean":  DNSQueryNameEntropyMean,
	"dns_tunnel_like_queries":      DNSTunnelQueries,
	"max_source_failed_contacts":   MaxSourceFailedContacts,
	"max_service_incomplete_syns":  MaxServiceIncompleteSyns,
	"max_pair_auth_connections":    MaxPairAuthConnections,
	"max_pair_requests":            MaxPairRequests,
	"max_service_requests":         MaxServiceRequests,
	"max_pair_posts":               MaxPairPosts,
	"max_target_udp_packets":       MaxTargetUDPPackets,
	"max_target_icmp_requests":     MaxTargetICMPRequests,
	"max_target_unsolicited_bytes": MaxTargetUnsolicitedBytes,
}

// Lookup returns the feature called name, by its name or by the name it
// had before (then renamed is true).
func Lookup(name string) (i Index, renamed, ok bool) {
	if i, ok = byName[name]; ok {
		return i, false, true
	}
	i, ok = oldNames[name]
	return i, ok, ok
}

var byName = func() map[string]Index {
	m := make(map[string]Index, NumFeatures)
	for i, f := range Schema {
		m[f.Name] = Index(i)
	}
	return m
}()
