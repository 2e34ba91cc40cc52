package features

import "github.com/netanomaly/netanomaly_exporter/collector/decode"

// FlowRecord is a flow that left the flow table, for flow export
// (IPFIX): its 5-tuple, initiator first, its times, and what each
// direction carried.
type FlowRecord struct {
	Src, Dst         [16]byte // initiator and responder; IPv4 as IPv4-mapped
	SrcPort, DstPort uint16
	IPProto          uint8 // the IP protocol number (6 TCP, 17 UDP, ...)
	Start, End       int64 // first and last packet, Unix nanoseconds
	Packets, Bytes   uint64
	RevPackets       uint64
	RevBytes         uint64
	Flags, RevFlags  uint8 // TCP flags seen, OR'd, per direction
	EndReason        uint8 // as IPFIX's flowEndReason: the End* constants
}

// Why a flow left the table, numbered as IPFIX's flowEndReason.
const (
	EndIdle    uint8 = 1 // no packet for the idle timeout
	EndActive  uint8 = 2 // older than the active timeout
	EndOfFlow  uint8 = 3 // FIN from both ends, or RST
	EndForced  uint8 = 4 // the capture ended or its clock went back
	EndEvicted uint8 = 5 // a full bucket made room for a new flow
)

// flowCounts is what flow export adds to a flow: bytes and TCP flags each
// way, and the IP protocol number. It lives in an array of its own, made
// only when export is on, so that the flow table's lookups touch no more
// memory without it.
type flowCounts struct {
	bytesI, bytesR uint64
	flagsI, flagsR uint8
	ipProto        uint8
}

// countFlow adds a packet to its flow's export counters.
func (t *flowTable) countFlow(i int, p *decode.PacketInfo, isNew, fromI bool) {
	c := &t.counts[i]
	if isNew {
		*c = flowCounts{ipProto: p.IPProto}
	}
	if fromI {
		c.bytesI += uint64(p.WireLen)
		c.flagsI |= p.TCPFlags
	} else {
		c.bytesR += uint64(p.WireLen)
		c.flagsR |= p.TCPFlags
	}
}

// exportFlow hands flow i, about to leave the table, to the exporter.
func (a *Aggregator) exportFlow(i int) {
	t := a.flows
	f, e, c := &t.slots[i], &t.ends[i], &t.counts[i]
	a.flowRec = FlowRecord{
		Src: e.init, Dst: e.resp, SrcPort: e.iport, DstPort: e.rport, IPProto: c.ipProto,
		Start: f.first(), End: f.last,
		Packets: uint64(f.pktsI), Bytes: c.bytesI, RevPackets: uint64(f.pktsR), RevBytes: c.bytesR,
		Flags: c.flagsI, RevFlags: c.flagsR, EndReason: t.endReason,
	}
	a.cfg.FlowExport(&a.flowRec)
}
