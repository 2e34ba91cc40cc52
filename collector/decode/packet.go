// Package decode turns captured frames into small fixed PacketInfo values.
//
// It is the second stage of the flow (capture -> decode -> features ->
// detector): the pipeline gives each frame's link type and bytes to its
// Decoder, one per pipeline and reused for every packet, and passes the
// PacketInfo on to collector/features. It knows nothing of sources,
// windows or models.
//
// Only the outer headers are counted: an ICMP error that quotes a TCP header
// is ICMP, and a GRE tunnel is GRE. Malformed, truncated and hostile frames
// are counted by layer and never panic.
package decode

import "net/netip"

// Protocol is the outer layer-4 protocol of a packet. The set is fixed so
// that it can be a metric label; the sum over it is every packet.
type Protocol uint8

// The protocols, in label order.
const (
	ProtoTCP Protocol = iota
	ProtoUDP
	ProtoICMP
	ProtoICMPv6
	ProtoARP
	ProtoOther
	NumProtocols
)

var protocolNames = [NumProtocols]string{"tcp", "udp", "icmp", "icmpv6", "arp", "other"}

func (p Protocol) String() string {
	if p < NumProtocols {
		return protocolNames[p]
	}
	return "other"
}

// App is an application protocol guessed from a well-known port. The set is
// fixed so that it can be a metric label.
type App uint8

// The applications, in label order.
const (
	AppNone App = iota
	AppDNS
	AppHTTP
	AppTLS
	AppQUIC
	AppSSH
	AppTelnet
	AppFTP
	AppSMTP
	AppRDP
	AppSMB
	AppNTP
	AppSNMP
	AppSSDP
	AppMemcached
	AppLDAP
	AppDHCP
	NumApps
)

var appNames = [NumApps]string{"none", "dns", "http", "tls", "quic", "ssh", "telnet", "ftp", "smtp", "rdp", "smb", "ntp", "snmp", "ssdp", "memcached", "ldap", "dhcp"}

func (a App) String() string {
	if a < NumApps {
		return appNames[a]
	}
	return "none"
}

// AppNames returns the application labels in order.
func AppNames() []string { return appNames[:] }

// ProtocolNames returns the protocol labels in order.
func ProtocolNames() []string { return protocolNames[:] }

// TCP flag bits as they appear in the header's flags byte.
const (
	TCPFin = 0x01
	TCPSyn = 0x02
	TCPRst = 0x04
	TCPPsh = 0x08
	TCPAck = 0x10
	TCPUrg = 0x20
	TCPEce = 0x40
	TCPCwr = 0x80
)

// Network layer kinds.
const (
	L3None uint8 = 0
	L3IPv4 uint8 = 4
	L3IPv6 uint8 = 6
	L3ARP  uint8 = 1
)

// PacketInfo is everything the feature stage needs from one frame. It is a
// plain value without pointers, so passing it around never allocates.
type PacketInfo struct {
	Time    int64  // Unix nanoseconds from the capture
	WireLen uint32 // length on the wire
	CapLen  uint32 // bytes captured

	L3      uint8    // L3None, L3IPv4, L3IPv6 or L3ARP
	Proto   Protocol // outer layer-4 protocol
	IPProto uint8    // IP protocol number of the outer IP header chain
	App     App      // application by well-known port

	// Src and Dst are IP addresses, IPv4 as IPv4-mapped IPv6. For ARP they
	// are the sender and target protocol addresses.
	Src, Dst         [16]byte
	SrcPort, DstPort uint16
	SrcMAC           [6]byte // Ethernet source, or ARP sender hardware address

	TCPFlags uint8
	// TCPWindow is the TCP header's window field, unscaled: 0 is a
	// receiver that takes no more data at any scale.
	TCPWindow uint16
	ICMPType  uint8
	ICMPCode  uint8
	ARPOp     uint16
	// ARPTargetMAC is an ARP packet's target hardware address: in a reply,
	// the MAC the answering host reached the target address at. On an
	// IPv6 neighbour discovery message (router solicitation or
	// advertisement, neighbour solicitation, or an advertisement for its
	// own source address), with a hop limit of 255 and a link-layer
	// address option, it is that option's MAC: where the message says its
	// source address is, as an ARP packet's sender fields say (see
	// neighbourClaim). Zero otherwise.
	ARPTargetMAC [6]byte

	Fragment         bool     // any IP fragment
	NonFirstFragment bool     // a fragment without the layer-4 header
	FragmentProto    Protocol // for fragments: the IP header's protocol
	// TTL is the IPv4 time to live or IPv6 hop limit, as the capture saw
	// it, of the header the addresses come from; 0 without IP.
	TTL uint8

	VLAN    uint16 // outermost 802.1Q VLAN id
	HasVLAN bool
	// SCTPChunk is the type of an SCTP packet's first chunk (RFC 9260:
	// 0 DATA, 1 INIT, 2 INIT ACK, 6 ABORT, ...), whose ports are in
	// SrcPort and DstPort; 0 otherwise. The protocol stays other.
	SCTPChunk uint8

	// Payload is the layer-4 payload's length: as claimed by the UDP
	// header, and for TCP what was captured plus what the capture's snap
	// length cut off the frame.
	Payload uint32

	DNS         bool // a DNS header was read on port 53
	DNSResponse bool
	DNSRcode    uint8
	DNSAnswers  uint16
	DNSQueries  uint16
	// The first question's name of a query, as far as the capture holds it: its
	// length in characters (dots included), its longest label, its
	// Shannon entropy in sixteenths of a bit per character, and its type.
	DNSNameLen     uint8
	DNSLabelMax    uint8
	DNSNameEntropy uint8
	DNSQType       uint16

	// DHCPOp is a BOOTP message's op on UDP ports 67 and 68 over IPv4, or
	// a DHCPv6 message's kind on port 547: DHCPRequest from a client (or a
	// relay agent forwarding one), DHCPReply from a server; DHCPNone
	// otherwise. DHCPRelayed is set when a relay agent sent it on a
	// client's behalf (a BOOTP gateway address, a DHCPv6 Relay-forward).
	// DHCPClient is the client hardware address (chaddr) for Ethernet
	// hardware, or the MAC in a DHCPv6 link-layer DUID (a hash of other
	// DUIDs); zero otherwise: the identity a lease is given to, which a
	// starvation tool forges. The DHCPv4 message type option lies beyond
	// the default snap length (it starts 282 bytes into the frame), so
	// only the fixed header is read.
	DHCPOp      uint8
	DHCPRelayed bool
	DHCPClient  [6]byte

	// DataHash is a hash of an ICMP or ICMPv6 echo's data past its first
	// 16 bytes (where pingers keep a timestamp), up to 48 bytes of it, or
	// of the community string of an SNMPv1 or v2c message to UDP port 161
	// (its password, sent in the clear); 0 when there is none. A pinger
	// sends one pattern over and over, and a poller one community; a
	// tunnel's data changes from packet to packet, and a guesser's
	// community from request to request.
	DataHash uint32

	// HTTPMethod is the request method a TCP payload starts with.
	HTTPMethod HTTPMethod
	// SSH is set when a TCP payload starts with an SSH identification
	// string ("SSH-"): an SSH server's greeting, on whatever port.
	SSH bool
	// SSHNewKeys is set when a TCP payload starts with an SSH
	// SSH_MSG_NEWKEYS packet: the last message sent in the clear, after
	// which a connection's messages are encrypted.
	SSHNewKeys bool
	// TLSSetup is set when a TCP payload starts with a TLS handshake or
	// change cipher spec record: a connection's set-up, not a request.
	TLSSetup bool
	// AuthRefused is set when a TCP payload starts with a server's
	// refusal of the credentials it was sent (see authRefused): HTTP 401
	// or 407, Redis WRONGPASS, SMTP 535, FTP 530, POP3 -ERR [AUTH], IMAP
	// NO [AUTHENTICATIONFAILED], MySQL's access denied, PostgreSQL's
	// invalid password, an LDAP bind's invalid credentials.
	AuthRefused bool
	// AuthAccepted is set when a TCP payload starts with a server's
	// acceptance of a login (see authAccepted): SMTP 235, FTP 230,
	// PostgreSQL's AuthenticationOk, MySQL's login OK, an LDAP bind's
	// success.
	AuthAccepted bool

	// Refusal is set on an ICMP destination unreachable that a host sends
	// about a TCP, UDP or SCTP packet it was sent by the packet's receiver: the
	// host itself refusing (a closed UDP port, a firewall's reject). The
	// quoted packet's ports and IP protocol name the refused flow. An
	// unreachable sent by a router about another host is not one.
	Refusal                bool
	RefusedProto           uint8
	RefusedSrc, RefusedDst uint16 // the quoted packet's source and destination ports
}

// BOOTP ops, as PacketInfo.DHCPOp.
const (
	DHCPNone    uint8 = 0
	DHCPRequest uint8 = 1
	DHCPReply   uint8 = 2
)

// HTTPMethod is the method of an HTTP/1 request seen at the start of a
// TCP payload.
type HTTPMethod uint8

// The methods told apart: a login form is posted, a page is got.
const (
	HTTPNone HTTPMethod = iota
	HTTPGet
	HTTPPost
	HTTPOther // HEAD, PUT, DELETE, OPTIONS, PATCH, CONNECT
)

// IsIP reports whether the packet had an IPv4 or IPv6 header.
func (p *PacketInfo) IsIP() bool { return p.L3 == L3IPv4 || p.L3 == L3IPv6 }

// SrcAddr returns the source as a netip.Addr, unmapped for IPv4.
func (p *PacketInfo) SrcAddr() netip.Addr { return netip.AddrFrom16(p.Src).Unmap() }

// DstAddr returns the destination as a netip.Addr, unmapped for IPv4.
func (p *PacketInfo) DstAddr() netip.Addr { return netip.AddrFrom16(p.Dst).Unmap() }

// appByPort maps well-known ports to applications. Ports not listed are
// AppNone. It is a fixed array so the lookup never allocates.
var appByPort = func() (m [65536]App) {
	set := func(a App, ports ...uint16) {
		for _, p := range ports {
			m[p] = a
		}
	}
	set(AppDNS, 53)
	set(AppHTTP, 80, 8080, 8000, 8008)
	set(AppTLS, 443, 8443, 853, 993, 995)
	set(AppSSH, 22)
	set(AppTelnet, 23, 2323)
	set(AppFTP, 20, 21)
	set(AppSMTP, 25, 465, 587)
	set(AppRDP, 3389)
	set(AppSMB, 139, 445)
	set(AppNTP, 123)
	set(AppSNMP, 161, 162)
	set(AppSSDP, 1900)
	set(AppMemcached, 11211)
	set(AppLDAP, 389, 636)
	set(AppDHCP, 67, 68, 546, 547)
	return m
}()

// hasApp marks the ports appByPort knows.
var hasApp = func() (b [65536 / 64]uint64) {
	for p, a := range appByPort {
		if a != AppNone {
			b[p>>6] |= 1 << (p & 63)
		}
	}
	return b
}()

// classifyApp picks the application from the server side of a conversation:
// the well-known port, preferring the destination, then the lower port.
func classifyApp(proto Protocol, src, dst uint16) App {
	// The bitmap answers "no application" for most ports without
	// touching the 64 KiB table.
	a := AppNone
	if hasApp[dst>>6]&(1<<(dst&63)) != 0 {
		a = appByPort[dst]
	} else if hasApp[src>>6]&(1<<(src&63)) != 0 {
		a = appByPort[src]
	}
	if proto == ProtoUDP && a == AppTLS && (src == 443 || dst == 443) {
		a = AppQUIC
	}
	return a
}
