package ipfix

import "encoding/binary"

// Wire constants (RFC 7011).
const (
	version       = 10
	headerLen     = 16 // message header
	setHeaderLen  = 4
	templateSetID = 2
	// reversePEN marks an element as the reverse direction of the IANA
	// element with the same number (RFC 5103).
	reversePEN = 29305
)

// Template IDs, one per address family; index with family().
const (
	templateV4 = 256
	templateV6 = 257
)

var templateIDs = [2]uint16{templateV4, templateV6}

// IANA information element numbers used by the templates.
const (
	ieOctetDeltaCount          = 1
	iePacketDeltaCount         = 2
	ieProtocolIdentifier       = 4
	ieTCPControlBits           = 6
	ieSourceTransportPort      = 7
	ieSourceIPv4Address        = 8
	ieDestinationTransportPort = 11
	ieDestinationIPv4Address   = 12
	ieSourceIPv6Address        = 27
	ieDestinationIPv6Address   = 28
	ieFlowEndReason            = 136
	ieFlowStartMilliseconds    = 152
	ieFlowEndMilliseconds      = 153
)

// element is one field of a template: an information element and its
// length on the wire; pen is 0 for IANA elements.
type element struct {
	id     uint16
	length uint16
	pen    uint32
}

// layouts are the two templates' fields, in record order. appendRecord
// writes exactly these; a test holds the two together. tcpControlBits
// goes out in one octet, the reduced-size encoding of RFC 7011 section
// 6.2: the flow table keeps the eight classic flags only, and pmacct
// reads this element only when it is one octet long.
var layouts = [2][]element{
	append([]element{{ieSourceIPv4Address, 4, 0}, {ieDestinationIPv4Address, 4, 0}}, flowElements...),
	append([]element{{ieSourceIPv6Address, 16, 0}, {ieDestinationIPv6Address, 16, 0}}, flowElements...),
}

// flowElements follow the addresses in both templates.
var flowElements = []element{
	{ieSourceTransportPort, 2, 0},
	{ieDestinationTransportPort, 2, 0},
	{ieProtocolIdentifier, 1, 0},
	{ieFlowStartMilliseconds, 8, 0},
	{ieFlowEndMilliseconds, 8, 0},
	{iePacketDeltaCount, 8, 0},
	{ieOctetDeltaCount, 8, 0},
	{ieTCPControlBits, 1, 0},
	{ieFlowEndReason, 1, 0},
	{iePacketDeltaCount, 8, reversePEN},
	{ieOctetDeltaCount, 8, reversePEN},
	{ieTCPControlBits, 1, reversePEN},
}

// Record lengths of the two templates: the sums of their fields.
const (
	recordLenV4 = 4 + 4 + 2 + 2 + 1 + 8 + 8 + 8 + 8 + 1 + 1 + 8 + 8 + 1
	recordLenV6 = recordLenV4 + 2*(16-4)
)

var recordLens = [2]int{recordLenV4, recordLenV6}

// templateSetLen is the length of the set carrying both templates: each
// template record is its 4-byte header, 4 bytes per field and 4 more per
// enterprise field, so the set needs no padding.
var templateSetLen = setHeaderLen + templateRecordLen(layouts[0]) + templateRecordLen(layouts[1])

func templateRecordLen(elems []element) int {
	n := 4 + 4*len(elems)
	for _, e := range elems {
		if e.pen != 0 {
			n += 4
		}
	}
	return n
}

// minMessage is the smallest message size that can carry the templates
// and one record of either family: the floor for Config.MTU.
var minMessage = headerLen + templateSetLen + dataSetLen(recordLenV6)

// family is the template index of f: 0 for IPv4, 1 for IPv6.
func family(f *Flow) int {
	if f.isV4() {
		return 0
	}
	return 1
}

// dataSetLen is the length of a data set holding n bytes of records,
// padded so the next set starts on a 4-byte boundary. The padding (at
// most 3 bytes) is shorter than any record, as RFC 7011 section 3.3.1
// requires.
func dataSetLen(n int) int {
	if n == 0 {
		return 0
	}
	return (setHeaderLen + n + 3) &^ 3
}

// appendHeader appends a message header with a zero length; finish
// fills it in.
func appendHeader(b []byte, exportTime, seq, domain uint32) []byte {
	b = binary.BigEndian.AppendUint16(b, version)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint32(b, exportTime)
	b = binary.BigEndian.AppendUint32(b, seq)
	return binary.BigEndian.AppendUint32(b, domain)
}

// finish writes the message length into the header of msg.
func finish(msg []byte) []byte {
	binary.BigEndian.PutUint16(msg[2:], uint16(len(msg)))
	return msg
}

// appendTemplateSet appends the template set defining both templates.
func appendTemplateSet(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, templateSetID)
	b = binary.BigEndian.AppendUint16(b, uint16(templateSetLen))
	for fam, elems := range layouts {
		b = binary.BigEndian.AppendUint16(b, templateIDs[fam])
		b = binary.BigEndian.AppendUint16(b, uint16(len(elems)))
		for _, e := range elems {
			if e.pen == 0 {
				b = binary.BigEndian.AppendUint16(b, e.id)
				b = binary.BigEndian.AppendUint16(b, e.length)
				continue
			}
			b = binary.BigEndian.AppendUint16(b, e.id|0x8000)
			b = binary.BigEndian.AppendUint16(b, e.length)
			b = binary.BigEndian.AppendUint32(b, e.pen)
		}
	}
	return b
}

// appendDataSet appends a data set of template id holding recs, with its
// padding.
func appendDataSet(b []byte, id uint16, recs []byte) []byte {
	n := dataSetLen(len(recs))
	b = binary.BigEndian.AppendUint16(b, id)
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	b = append(b, recs...)
	for range n - setHeaderLen - len(recs) {
		b = append(b, 0)
	}
	return b
}

// millis converts Unix nanoseconds to dateTimeMilliseconds; a time
// before 1970 (a corrupt clock) goes out as the epoch.
func millis(ns int64) uint64 {
	if ns < 0 {
		return 0
	}
	return uint64(ns / 1e6)
}

// appendRecord appends f's data record in the layout of template fam.
func appendRecord(b []byte, f *Flow, fam int) []byte {
	if fam == 0 {
		b = append(b, f.Src[12:]...)
		b = append(b, f.Dst[12:]...)
	} else {
		b = append(b, f.Src[:]...)
		b = append(b, f.Dst[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, f.SrcPort)
	b = binary.BigEndian.AppendUint16(b, f.DstPort)
	b = append(b, f.Proto)
	b = binary.BigEndian.AppendUint64(b, millis(f.Start))
	b = binary.BigEndian.AppendUint64(b, millis(f.End))
	b = binary.BigEndian.AppendUint64(b, f.Packets)
	b = binary.BigEndian.AppendUint64(b, f.Bytes)
	b = append(b, f.Flags, f.EndReason)
	b = binary.BigEndian.AppendUint64(b, f.RevPackets)
	b = binary.BigEndian.AppendUint64(b, f.RevBytes)
	return append(b, f.RevFlags)
}

// packer builds one message at a time: records wait in one buffer per
// template, so a message mixing families carries two data sets and no
// more. Its buffers are sized once for the largest message; packing
// allocates nothing.
type packer struct {
	max    int // largest message, bytes
	domain uint32
	// templates: the message carries the template set ahead of its data
	// (UDP refresh).
	templates bool
	recs      [2][]byte // pending records per template, without set header
	count     int       // records pending
	out       []byte    // the last message built
}

func newPacker(maxLen int, domain uint32) *packer {
	p := &packer{max: maxLen, domain: domain, out: make([]byte, 0, maxLen)}
	for i := range p.recs {
		p.recs[i] = make([]byte, 0, maxLen)
	}
	return p
}

// size is the length of the message the pending records make.
func (p *packer) size() int {
	n := headerLen + dataSetLen(len(p.recs[0])) + dataSetLen(len(p.recs[1]))
	if p.templates {
		n += templateSetLen
	}
	return n
}

// fits reports whether one more record of template fam keeps the
// message within max.
func (p *packer) fits(fam int) bool {
	r := len(p.recs[fam])
	return p.size()-dataSetLen(r)+dataSetLen(r+recordLens[fam]) <= p.max
}

// add appends f's record; the caller has checked fits.
func (p *packer) add(f *Flow, fam int) {
	p.recs[fam] = appendRecord(p.recs[fam], f, fam)
	p.count++
}

// message builds the message of the pending records (and templates, if
// flagged) into p.out and returns it; the records stay pending until
// reset, so a failed send can be retried.
func (p *packer) message(exportTime, seq uint32) []byte {
	b := appendHeader(p.out[:0], exportTime, seq, p.domain)
	if p.templates {
		b = appendTemplateSet(b)
	}
	for fam, recs := range p.recs {
		if len(recs) > 0 {
			b = appendDataSet(b, templateIDs[fam], recs)
		}
	}
	p.out = finish(b)
	return p.out
}

// templateMessage builds a message carrying only the templates into
// p.out, leaving the pending records alone.
func (p *packer) templateMessage(exportTime, seq uint32) []byte {
	b := appendHeader(p.out[:0], exportTime, seq, p.domain)
	p.out = finish(appendTemplateSet(b))
	return p.out
}

// reset drops the pending records after they were sent (or given up).
func (p *packer) reset() {
	p.recs[0], p.recs[1] = p.recs[0][:0], p.recs[1][:0]
	p.count = 0
	p.templates = false
}
