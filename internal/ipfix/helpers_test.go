package ipfix

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
)

// addr16 returns a as 16 bytes, IPv4 as IPv4-mapped.
func addr16(s string) [16]byte {
	return netip.MustParseAddr(s).As16()
}

// Flows with a distinct value in every field, one per template.
var (
	tcpFlow4 = Flow{
		Src: addr16("192.0.2.1"), Dst: addr16("198.51.100.7"), SrcPort: 51234, DstPort: 443, Proto: 6,
		Start: 1_700_000_000_123_456_789, End: 1_700_000_004_987_654_321,
		Packets: 12, Bytes: 3456, RevPackets: 10, RevBytes: 98765,
		Flags: 0x1b, RevFlags: 0x12, EndReason: EndOfFlow,
	}
	udpFlow6 = Flow{
		Src: addr16("2001:db8::1"), Dst: addr16("2001:db8:0:1::53"), SrcPort: 40000, DstPort: 53, Proto: 17,
		Start: 1_700_000_100_000_000_000, End: 1_700_000_130_500_000_000,
		Packets: 3, Bytes: 210, RevPackets: 2, RevBytes: 1 << 40,
		EndReason: EndIdleTimeout,
	}
)

// numbered returns a variant of base told apart by its source port.
func numbered(base Flow, i int) Flow {
	base.SrcPort = uint16(20000 + i)
	base.Packets = uint64(i + 1)
	return base
}

// ieKey names an information element: its number and enterprise.
type ieKey struct {
	pen uint32
	id  uint16
}

// wantFields is what a collector must read back from f: every element
// with its value as bytes, derived from f field by field.
func wantFields(f Flow) map[ieKey][]byte {
	be16 := func(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
	be64 := func(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
	ms := func(ns int64) []byte { // times before 1970 go out as the epoch
		if ns < 0 {
			return be64(0)
		}
		return be64(uint64(ns / 1e6))
	}
	m := map[ieKey][]byte{
		{0, 7}:     be16(f.SrcPort),
		{0, 11}:    be16(f.DstPort),
		{0, 4}:     {f.Proto},
		{0, 152}:   ms(f.Start),
		{0, 153}:   ms(f.End),
		{0, 2}:     be64(f.Packets),
		{0, 1}:     be64(f.Bytes),
		{0, 6}:     {f.Flags},
		{0, 136}:   {f.EndReason},
		{29305, 2}: be64(f.RevPackets),
		{29305, 1}: be64(f.RevBytes),
		{29305, 6}: {f.RevFlags},
	}
	src, dst := netip.AddrFrom16(f.Src), netip.AddrFrom16(f.Dst)
	if src.Is4In6() && dst.Is4In6() {
		m[ieKey{0, 8}] = src.Unmap().AsSlice()
		m[ieKey{0, 12}] = dst.Unmap().AsSlice()
	} else {
		m[ieKey{0, 27}] = src.AsSlice()
		m[ieKey{0, 28}] = dst.AsSlice()
	}
	return m
}

// fieldsOf turns a decoded data record into element values.
func fieldsOf(t *testing.T, rec netflow.DataRecord) map[ieKey][]byte {
	t.Helper()
	m := map[ieKey][]byte{}
	for _, v := range rec.Values {
		b, ok := v.Value.([]byte)
		if !ok {
			t.Fatalf("element %d/%d: value %T, want []byte", v.Pen, v.Type, v.Value)
		}
		k := ieKey{v.Pen, v.Type}
		if _, dup := m[k]; dup {
			t.Fatalf("element %d/%d appears twice in a record", v.Pen, v.Type)
		}
		m[k] = b
	}
	return m
}

// checkRecord fails t unless rec carries exactly f's fields.
func checkRecord(t *testing.T, rec netflow.DataRecord, f Flow) {
	t.Helper()
	got, want := fieldsOf(t, rec), wantFields(f)
	if len(got) != len(want) {
		t.Errorf("record has %d elements, want %d", len(got), len(want))
	}
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("element %d/%d missing", k.pen, k.id)
		} else if !bytes.Equal(g, w) {
			t.Errorf("element %d/%d = %x, want %x", k.pen, k.id, g, w)
		}
	}
}

// srcPort reads a decoded record's source port.
func srcPort(t *testing.T, rec netflow.DataRecord) uint16 {
	t.Helper()
	return binary.BigEndian.Uint16(fieldsOf(t, rec)[ieKey{0, 7}])
}

// message is an IPFIX message as goflow2 decoded it, with its bytes.
type message struct {
	raw       []byte
	pkt       netflow.IPFIXPacket
	templates []netflow.TemplateRecord
	data      []netflow.DataFlowSet
}

// decoder is a collector's state for one transport session.
type decoder struct {
	ts netflow.NetFlowTemplateSystem
}

func newDecoder() *decoder { return &decoder{ts: netflow.CreateTemplateSystem()} }

// decode decodes one message with goflow2, failing t on any error,
// unknown template included.
func (d *decoder) decode(t *testing.T, raw []byte) message {
	t.Helper()
	m := message{raw: raw}
	var v9 netflow.NFv9Packet
	if err := netflow.DecodeMessageVersion(bytes.NewBuffer(raw), d.ts, &v9, &m.pkt); err != nil {
		t.Fatalf("goflow2 cannot decode message %x: %v", raw, err)
	}
	if m.pkt.Version != 10 {
		t.Fatalf("message version %d, want 10", m.pkt.Version)
	}
	for _, fs := range m.pkt.FlowSets {
		switch s := fs.(type) {
		case netflow.TemplateFlowSet:
			m.templates = append(m.templates, s.Records...)
		case netflow.DataFlowSet:
			m.data = append(m.data, s)
		default:
			t.Fatalf("unexpected set %T in message %x", fs, raw)
		}
	}
	return m
}

// records lists a message's data records in order.
func (m message) records() []netflow.DataRecord {
	var r []netflow.DataRecord
	for _, s := range m.data {
		r = append(r, s.Records...)
	}
	return r
}

// udpCollector receives datagrams on a loopback port.
type udpCollector struct {
	conn *net.UDPConn
	mu   sync.Mutex
	msgs [][]byte
	at   []time.Time
	cond chan struct{} // signalled on every datagram
}

func newUDPCollector(t *testing.T) *udpCollector {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen udp: %v", err)
	}
	c := &udpCollector{conn: conn, cond: make(chan struct{}, 1)}
	done := make(chan struct{})
	t.Cleanup(func() { conn.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, bytes.Clone(buf[:n]))
			c.at = append(c.at, time.Now())
			c.mu.Unlock()
			select {
			case c.cond <- struct{}{}:
			default:
			}
		}
	}()
	return c
}

func (c *udpCollector) addr() string { return c.conn.LocalAddr().String() }

// messages returns the datagrams received so far.
func (c *udpCollector) messages() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.msgs...)
}

// waitFor waits up to d until ok holds for the datagrams received.
func (c *udpCollector) waitFor(d time.Duration, ok func([][]byte) bool) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		if ok(c.messages()) {
			return true
		}
		select {
		case <-c.cond:
		case <-deadline.C:
			return ok(c.messages())
		}
	}
}

// countRecords counts the data records in raw messages by their set
// lengths, without templates.
func countRecords(msgs [][]byte) int {
	n := 0
	for _, m := range msgs {
		for off := headerLen; off+setHeaderLen <= len(m); {
			id, l := binary.BigEndian.Uint16(m[off:]), int(binary.BigEndian.Uint16(m[off+2:]))
			if l < setHeaderLen {
				break
			}
			switch id {
			case templateV4:
				n += (l - setHeaderLen) / recordLenV4
			case templateV6:
				n += (l - setHeaderLen) / recordLenV6
			}
			off += l
		}
	}
	return n
}

// readMessage reads one IPFIX message from a TCP stream.
func readMessage(r io.Reader) ([]byte, error) {
	hdr := make([]byte, headerLen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[2:]))
	if n < headerLen {
		return nil, errors.New("message length shorter than its header")
	}
	msg := make([]byte, n)
	copy(msg, hdr)
	_, err := io.ReadFull(r, msg[headerLen:])
	return msg, err
}

// testTuning speeds the sender up for tests.
var testTuning = tuning{
	flushEvery:   50 * time.Millisecond,
	minBackoff:   10 * time.Millisecond,
	maxBackoff:   100 * time.Millisecond,
	stableAfter:  time.Second,
	dialTimeout:  time.Second,
	writeTimeout: time.Second,
	maxAttempts:  3,
}

// start starts an exporter closed (with a bounded wait) at cleanup.
func start(t testing.TB, cfg Config, tune tuning) *Exporter {
	t.Helper()
	e, err := newExporter(cfg, nil, tune)
	if err != nil {
		t.Fatalf("new exporter: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		e.Close(ctx)
	})
	return e
}

// closeWithin closes e, failing t on error.
func closeWithin(t *testing.T, e *Exporter, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
}
