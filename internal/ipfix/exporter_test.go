package ipfix

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
)

// wantTemplates is the template set a collector must learn, as goflow2
// decodes it.
func checkTemplates(t *testing.T, got []netflow.TemplateRecord) {
	t.Helper()
	if len(got) != 2 {
		t.Fatalf("%d templates, want 2", len(got))
	}
	for i, tr := range got {
		if tr.TemplateId != templateIDs[i] || int(tr.FieldCount) != len(layouts[i]) {
			t.Fatalf("template %d: id %d with %d fields", i, tr.TemplateId, tr.FieldCount)
		}
		want := wantFields(tcpFlow4)
		if i == 1 {
			want = wantFields(udpFlow6)
		}
		for _, f := range tr.Fields {
			w, ok := want[ieKey{f.Pen, f.Type}]
			if !ok || int(f.Length) != len(w) || f.PenProvided != (f.Pen != 0) {
				t.Errorf("template %d: unexpected field %+v", tr.TemplateId, f)
			}
			delete(want, ieKey{f.Pen, f.Type})
		}
		if len(want) != 0 {
			t.Errorf("template %d lacks %v", tr.TemplateId, want)
		}
	}
}

// TestGoflow2UDP sends flows over UDP to a loopback socket and decodes
// every message with goflow2's IPFIX decoder, as a collector would.
func TestGoflow2UDP(t *testing.T) {
	t.Parallel()
	col := newUDPCollector(t)
	const mtu, extra = 400, 40
	e := start(t, Config{Address: col.addr(), MTU: mtu, ObservationDomain: 7}, testTuning)
	t0 := time.Now().Unix()
	flows := []Flow{tcpFlow4, udpFlow6}
	for i := range extra {
		if i%3 == 0 {
			flows = append(flows, numbered(udpFlow6, i))
		} else {
			flows = append(flows, numbered(tcpFlow4, i))
		}
	}
	for i := range flows {
		if !e.Export(&flows[i]) {
			t.Fatalf("flow %d not queued", i)
		}
	}
	closeWithin(t, e, 5*time.Second)
	t1 := time.Now().Unix()
	if !col.waitFor(2*time.Second, func(m [][]byte) bool { return countRecords(m) >= len(flows) }) {
		t.Fatalf("received %d records, want %d", countRecords(col.messages()), len(flows))
	}

	msgs := col.messages()
	d := newDecoder()
	seq := uint32(0)
	seen := map[uint16]int{}
	for i, raw := range msgs {
		m := d.decode(t, raw)
		if int(m.pkt.Length) != len(raw) || len(raw) > mtu {
			t.Errorf("message %d: length field %d, %d bytes, mtu %d", i, m.pkt.Length, len(raw), mtu)
		}
		if m.pkt.ObservationDomainId != 7 {
			t.Errorf("message %d: observation domain %d, want 7", i, m.pkt.ObservationDomainId)
		}
		if et := int64(m.pkt.ExportTime); et < t0 || et > t1 {
			t.Errorf("message %d: export time %d outside [%d, %d]", i, et, t0, t1)
		}
		if m.pkt.SequenceNumber != seq {
			t.Errorf("message %d: sequence %d, want %d (records sent before it)", i, m.pkt.SequenceNumber, seq)
		}
		if i == 0 {
			if len(m.templates) == 0 || len(m.data) != 0 {
				t.Fatalf("first message has %d templates and %d data sets, want the templates alone", len(m.templates), len(m.data))
			}
			checkTemplates(t, m.templates)
		}
		for _, rec := range m.records() {
			port := srcPort(t, rec)
			seen[port]++
			switch port {
			case tcpFlow4.SrcPort:
				checkRecord(t, rec, tcpFlow4)
			case udpFlow6.SrcPort:
				checkRecord(t, rec, udpFlow6)
			default:
				checkRecord(t, rec, flows[2+int(port)-20000])
			}
		}
		seq += uint32(len(m.records()))
	}
	if len(seen) != len(flows) {
		t.Errorf("%d distinct flows received, want %d", len(seen), len(flows))
	}
	for port, n := range seen {
		if n != 1 {
			t.Errorf("flow with source port %d received %d times", port, n)
		}
	}
	if len(msgs) < 3 {
		t.Errorf("%d messages: %d records at MTU %d should need several", len(msgs), len(flows), mtu)
	}
	st := e.Stats()
	if st.RecordsSent != uint64(len(flows)) || st.MessagesSent != uint64(len(msgs)) || st.RecordsDropped != 0 || st.SendErrors != 0 {
		t.Errorf("stats %+v; want %d records in %d messages, no drops or errors", st, len(flows), len(msgs))
	}
}

// TestTemplatesResentUDP checks that templates go out at start and then
// every template_refresh, ahead of data when data flows, so that a
// collector that restarts learns them again.
func TestTemplatesResentUDP(t *testing.T) {
	t.Parallel()
	col := newUDPCollector(t)
	e := start(t, Config{Address: col.addr(), TemplateRefresh: time.Second}, testTuning)
	begin := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // steady traffic
		defer wg.Done()
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tk.C:
				f := numbered(tcpFlow4, i%1000)
				e.Export(&f)
			}
		}
	}()
	templated := func(msgs [][]byte) (n int) {
		for _, m := range msgs {
			if len(m) > headerLen+1 && m[headerLen+1] == templateSetID {
				n++
			}
		}
		return n
	}
	ok := col.waitFor(5*time.Second, func(m [][]byte) bool { return templated(m) >= 3 })
	close(stop)
	wg.Wait()
	if !ok {
		t.Fatalf("%d messages with templates in %s, want 3 (start and two refreshes)", templated(col.messages()), time.Since(begin))
	}

	col.mu.Lock()
	msgs, at := col.msgs, col.at
	col.mu.Unlock()
	var times []time.Time
	restarted := newDecoder() // a collector that lost the first templates
	withData := 0
	for i, raw := range msgs {
		if len(raw) <= headerLen+1 || raw[headerLen+1] != templateSetID {
			continue
		}
		m := newDecoder().decode(t, raw)
		checkTemplates(t, m.templates)
		if len(m.data) > 0 {
			withData++
		}
		times = append(times, at[i])
		if len(times) == 2 {
			// From the refresh on, a fresh collector decodes everything.
			for _, later := range msgs[i:] {
				restarted.decode(t, later)
			}
		}
	}
	for i := 1; i < len(times); i++ {
		// Not before the interval; later only by the tick (50ms) and a
		// loaded machine.
		if gap := times[i].Sub(times[i-1]); gap < 950*time.Millisecond || gap > 2500*time.Millisecond {
			t.Errorf("templates %d and %d %s apart, want 1s (template_refresh)", i-1, i, gap)
		}
	}
	if withData == 0 {
		t.Error("no refresh rode ahead of data, though flows kept coming")
	}
	closeWithin(t, e, 2*time.Second)
}

// tcpCollector accepts connections and decodes each as its own session.
type tcpCollector struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	msgs  chan tcpMessage
}

type tcpMessage struct {
	conn int
	raw  []byte
}

func newTCPCollector(t *testing.T) *tcpCollector {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen tcp: %v", err)
	}
	c := &tcpCollector{ln: ln, msgs: make(chan tcpMessage, 1024)}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		c.mu.Lock()
		for _, conn := range c.conns {
			conn.Close()
		}
		c.mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			c.conns = append(c.conns, conn)
			c.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					raw, err := readMessage(conn)
					if err != nil {
						return
					}
					c.msgs <- tcpMessage{i, raw}
				}
			}()
		}
	}()
	return c
}

// next returns the next message, failing t after d.
func (c *tcpCollector) next(t *testing.T, d time.Duration) tcpMessage {
	t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-time.After(d):
		t.Fatalf("no IPFIX message within %s", d)
		return tcpMessage{}
	}
}

// dropConn closes the collector's end of connection i.
func (c *tcpCollector) dropConn(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conns[i].Close()
}

// TestTCPReconnect checks templates once per connection, records on the
// stream, and a reconnect (templates again, sequence from zero) that
// loses nothing when the collector closes the connection.
func TestTCPReconnect(t *testing.T) {
	t.Parallel()
	col := newTCPCollector(t)
	e := start(t, Config{Address: col.ln.Addr().String(), Transport: "tcp", ObservationDomain: 9}, testTuning)

	expect := func(conn int, f Flow, seq uint32, d *decoder) {
		t.Helper()
		first := col.next(t, 2*time.Second)
		m := d.decode(t, first.raw)
		if first.conn != conn || len(m.templates) != 2 || len(m.data) != 0 || m.pkt.SequenceNumber != 0 {
			t.Fatalf("first message on connection %d (want %d): %d templates, %d data sets, sequence %d; want templates alone, sequence 0",
				first.conn, conn, len(m.templates), len(m.data), m.pkt.SequenceNumber)
		}
		checkTemplates(t, m.templates)
		e.Export(&f)
		msg := col.next(t, 2*time.Second)
		m = d.decode(t, msg.raw)
		if msg.conn != conn || len(m.templates) != 0 || len(m.records()) != 1 || m.pkt.SequenceNumber != seq || m.pkt.ObservationDomainId != 9 {
			t.Fatalf("data message on connection %d: %d templates, %d records, sequence %d, domain %d",
				msg.conn, len(m.templates), len(m.records()), m.pkt.SequenceNumber, m.pkt.ObservationDomainId)
		}
		checkRecord(t, m.records()[0], f)
	}
	d0 := newDecoder()
	expect(0, tcpFlow4, 0, d0)
	f := numbered(tcpFlow4, 1)
	e.Export(&f)
	second := col.next(t, 2*time.Second)
	if m := d0.decode(t, second.raw); second.conn != 0 || len(m.records()) != 1 || m.pkt.SequenceNumber != 1 {
		t.Fatalf("second record: connection %d, %d records, sequence %d; want connection 0, sequence 1", second.conn, len(m.records()), m.pkt.SequenceNumber)
	}

	// The exporter notices the closed connection and reconnects at once,
	// templates first, before any data is written into the dead one.
	col.dropConn(0)
	expect(1, udpFlow6, 0, newDecoder())

	// The counters move just after the write the collector already read.
	st := waitStats(e, func(st Stats) bool { return st.RecordsSent == 3 })
	if st.RecordsSent != 3 || st.RecordsDropped != 0 || st.SendErrors == 0 || !st.Connected {
		t.Errorf("stats %+v: want 3 records sent, none dropped, the lost connection counted, connected", st)
	}
	closeWithin(t, e, 2*time.Second)
	if e.Stats().Connected {
		t.Error("still connected after Close")
	}
}

// TestTCPCollectorLate checks that flows exported while the collector
// is down wait in the queue and all arrive once it is up.
func TestTCPCollectorLate(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	e := start(t, Config{Address: addr, Transport: "tcp"}, testTuning)
	const n = 50
	for i := range n {
		f := numbered(tcpFlow4, i)
		if !e.Export(&f) {
			t.Fatalf("flow %d not queued", i)
		}
	}
	if st := waitStats(e, func(st Stats) bool { return st.SendErrors >= 2 }); st.SendErrors < 2 || st.RecordsSent != 0 {
		t.Fatalf("stats %+v; want refused connects retried, nothing sent", st)
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s was taken meanwhile: %v", addr, err)
	}
	defer ln.Close()
	conn, err := ln.Accept() // within the 100ms backoff cap
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	d := newDecoder()
	got := 0
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for got < n {
		raw, err := readMessage(conn)
		if err != nil {
			t.Fatalf("after %d of %d records: %v", got, n, err)
		}
		m := d.decode(t, raw)
		if int(m.pkt.SequenceNumber) != got {
			t.Errorf("sequence %d, want %d", m.pkt.SequenceNumber, got)
		}
		for _, rec := range m.records() {
			checkRecord(t, rec, numbered(tcpFlow4, got))
			got++
		}
	}
	if st := waitStats(e, func(st Stats) bool { return st.RecordsSent == n }); st.RecordsSent != n || st.RecordsDropped != 0 || !st.Connected {
		t.Errorf("stats %+v; want all %d sent, none dropped", st, n)
	}

	// With nothing left to send, Close does not wait for a collector
	// that is gone.
	conn.Close()
	ln.Close()
	begin := time.Now()
	closeWithin(t, e, 5*time.Second)
	if d := time.Since(begin); d > time.Second {
		t.Errorf("Close with nothing to send took %s", d)
	}
}

// TestQueueBoundsAndClose checks that Export never blocks: with the
// collector down, flows wait in the bounded queue, the rest are dropped
// and counted, and Close reports what it could not deliver.
func TestQueueBoundsAndClose(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: every connect is refused
	e := start(t, Config{Address: addr, Transport: "tcp", QueueSize: 4}, testTuning)
	queued := 0
	for i := range 10 {
		f := numbered(tcpFlow4, i)
		if e.Export(&f) {
			queued++
		}
	}
	if e.Export(nil) {
		t.Error("a nil flow was queued")
	}
	st := e.Stats()
	if queued != 4 || st.RecordsDropped != 6 || st.RecordsSent != 0 || st.Connected {
		t.Errorf("queued %d, stats %+v; want 4 queued, 6 dropped, nothing sent, not connected", queued, st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	begin := time.Now()
	err = e.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "4 flow records not delivered to tcp collector "+addr) || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Errorf("Close: %v; want the 4 undelivered records and the deadline named", err)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("Close took %s with a 200ms deadline", d)
	}
	if e.Export(&tcpFlow4) {
		t.Error("Export after Close queued a flow")
	}
	st = e.Stats()
	if st.RecordsDropped != 11 || st.SendErrors == 0 {
		t.Errorf("stats %+v; want 11 dropped (6 full, 4 at close, 1 after), connect errors counted", st)
	}
	if err2 := e.Close(context.Background()); err2 != err {
		t.Errorf("second Close: %v, want the first result %v", err2, err)
	}
}

// TestFlushWithinASecond checks, with the production timings, that a
// lone record does not wait for its message to fill.
func TestFlushWithinASecond(t *testing.T) {
	t.Parallel()
	col := newUDPCollector(t)
	e, err := New(Config{Address: col.addr()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeWithin(t, e, time.Second)
	if !col.waitFor(2*time.Second, func(m [][]byte) bool { return len(m) >= 1 }) {
		t.Fatal("no templates at start")
	}
	begin := time.Now()
	e.Export(&udpFlow6)
	if !col.waitFor(3*time.Second, func(m [][]byte) bool { return countRecords(m) == 1 }) {
		t.Fatal("the record was not sent within 3s")
	}
	// At most the 1s flush interval, and some slack for a loaded machine.
	if d := time.Since(begin); d > 1800*time.Millisecond {
		t.Errorf("the record waited %s, want at most the 1s flush interval", d)
	}
}

// TestUDPRefusedGivesUp checks that a message the collector keeps
// refusing (ICMP port unreachable) is retried on a new socket and then
// dropped and counted, instead of blocking the queue forever.
func TestUDPRefusedGivesUp(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	tune := testTuning
	tune.flushEvery, tune.minBackoff, tune.maxBackoff = 10*time.Millisecond, time.Millisecond, 5*time.Millisecond
	e := start(t, Config{Address: addr}, tune)
	e.Export(&tcpFlow4)
	if st := waitStats(e, func(st Stats) bool { return st.RecordsDropped > 0 }); st.RecordsDropped != 1 || st.SendErrors < uint64(tune.maxAttempts) || st.RecordsSent != 0 {
		t.Errorf("stats %+v; want the record dropped after %d refused sends", st, tune.maxAttempts)
	}
	closeWithin(t, e, time.Second)
}

// waitStats polls e's counters for up to 3s until ok holds, and returns
// the last read.
func waitStats(e *Exporter, ok func(Stats) bool) Stats {
	deadline := time.Now().Add(3 * time.Second)
	for {
		st := e.Stats()
		if ok(st) || time.Now().After(deadline) {
			return st
		}
		time.Sleep(5 * time.Millisecond)
	}
}
