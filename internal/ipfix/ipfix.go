// Package ipfix exports flow records to a collector over IPFIX (RFC 7011),
// for forensics: who talked to whom, when, how much, and how it ended.
//
// It sits beside the metrics path, at its end: the flow table
// (collector/features) hands a finished flow to Exporter.Export, which
// queues it without blocking the capture; one goroutine packs the queued
// flows into IPFIX messages and sends them over UDP or TCP. Each record is
// a biflow (RFC 5103): the initiator's counters in the IANA elements, the
// responder's in their reverse twins. Export is opt-in and never feeds
// back into detection.
package ipfix

// Flow is one finished conversation, both directions joined.
type Flow struct {
	// Src is the initiator's address and Dst the responder's, 16 bytes
	// each; IPv4 addresses are IPv4-mapped (::ffff:a.b.c.d). A flow whose
	// two addresses are both IPv4-mapped goes out in the IPv4 template,
	// any other in the IPv6 one.
	Src, Dst         [16]byte
	SrcPort, DstPort uint16
	Proto            uint8 // IP protocol number
	// Start and End are the times of the first and last packet, Unix
	// nanoseconds; they go out to the millisecond.
	Start, End int64
	// Packets and Bytes went from the initiator to the responder,
	// RevPackets and RevBytes back.
	Packets, Bytes       uint64
	RevPackets, RevBytes uint64
	// Flags and RevFlags are the TCP flags seen in each direction, OR'd.
	Flags, RevFlags uint8
	// EndReason is why the flow ended, one of the End* values.
	EndReason uint8
}

// Flow end reasons, as the flowEndReason information element (RFC 5102)
// numbers them.
const (
	EndIdleTimeout     = 1 // no packet for the idle timeout
	EndActiveTimeout   = 2 // the flow outlived the active timeout and is reported in parts
	EndOfFlow          = 3 // FIN or RST seen
	EndForced          = 4 // the exporter shut down
	EndLackOfResources = 5 // the flow table was full and evicted it
)

// ipv4Mapped is the prefix of an IPv4-mapped IPv6 address.
var ipv4Mapped = [12]byte{10: 0xff, 11: 0xff}

// isV4 reports whether both of f's addresses are IPv4-mapped.
func (f *Flow) isV4() bool {
	return [12]byte(f.Src[:12]) == ipv4Mapped && [12]byte(f.Dst[:12]) == ipv4Mapped
}
