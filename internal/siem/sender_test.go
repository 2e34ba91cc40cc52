package siem

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/netanomaly/netanomaly_exporter/detector"
	nettest "github.com/netanomaly/netanomaly_exporter/internal/testutil"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func newSender(t *testing.T, cfg Config) *Sender {
	t.Helper()
	s, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

func closeSender(t *testing.T, s *Sender) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// byID parses received messages and indexes them by event.id.
func byID(t *testing.T, raw []string) map[string]message {
	t.Helper()
	out := map[string]message{}
	for _, r := range raw {
		m, err := parseMessage(r)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := field(m.doc, "event.id")
		out[id.(string)] = m
	}
	return out
}

// TestRsyslog sends the four kinds of record over each transport to a
// real rsyslogd and checks what it wrote: the header a receiver parses,
// and the ECS document a SIEM indexes.
func TestRsyslog(t *testing.T) {
	needRsyslogd(t)
	certs := newTestCerts(t, "rsyslog")
	recs := []detector.VerdictJSON{attackStart(), attackEnd(), anomaly(), hashed()}
	wantPRI := []int{19*8 + 2, 19*8 + 5, 19*8 + 4, 19*8 + 4}
	wantFields := []map[string]string{
		{"event.action": `"attack_start"`, "event.type": `["start"]`, "rule.name": `"syn_flood"`, "source.ip": `"192.0.2.1"`,
			"destination.ip": `"10.0.0.5"`, "related.ip": `["192.0.2.1","2001:db8::7","10.0.0.5"]`, "threat.technique.id": `["T1498.001"]`,
			"message": q(attackStart().Details[0].Summary), "observer.ingress.interface.name": `"eth0"`},
		{"event.action": `"attack_end"`, "event.type": `["end"]`, "event.end": `"2026-01-01T00:00:30.123456Z"`},
		{"event.action": `"anomaly"`, "event.type": `["info"]`, "netanomaly.score": `0.81`, "observer.ingress.interface.name": `"eth1"`},
		{"event.action": `"attack_start"`, "rule.name": `"port_scan"`, "event.severity": `4`,
			"related.hosts": `["h:0123456789abcdef","h:fedcba9876543210","h:00112233445566ff"]`},
	}
	for _, transport := range []string{TransportUDP, TransportTCP, TransportTLS} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			cfg := Config{Transport: transport, Facility: "local3", Hostname: "sensor-1.example.net"}
			var r *rsyslogd
			switch transport {
			case TransportUDP:
				r = startRsyslog(t, rsyslogOpts{udp: true})
				cfg.Address = r.udpAddr()
			case TransportTCP:
				r = startRsyslog(t, rsyslogOpts{tcp: true})
				cfg.Address = r.tcpAddr()
			case TransportTLS:
				r = startRsyslog(t, rsyslogOpts{tls: certs})
				cfg.Address = r.tlsAddr()
				cfg.TLS = TLSConfig{CAFile: certs.CA, CertFile: certs.ClientCert, KeyFile: certs.ClientKey, ServerName: "rsyslog.test"}
			}
			s := newSender(t, cfg)
			for _, rec := range recs {
				s.Send(rec)
			}
			closeSender(t, s)
			got := byID(t, r.messages(len(recs)))
			if len(got) != len(recs) {
				t.Fatalf("received %d distinct records, want %d", len(got), len(recs))
			}
			for i, rec := range recs {
				m, ok := got[eventID(&rec)]
				if !ok {
					t.Errorf("record %d (%s) not received", i, rec.Kind)
					continue
				}
				if m.pri != wantPRI[i] || m.hostname != "sensor-1.example.net" || m.appName != Product ||
					m.procID != strconv.Itoa(os.Getpid()) || m.msgID != rec.Kind || m.data != "-" {
					t.Errorf("record %d header: %+v", i, m)
				}
				if ts, _ := field(m.doc, "@timestamp"); m.timestamp != ts {
					t.Errorf("record %d: TIMESTAMP %s, @timestamp %v", i, m.timestamp, ts)
				}
				checkFields(t, m.doc, wantFields[i], nil)
				checkIPFields(t, m.doc, "")
			}
			if st := s.Stats(); st.Sent != uint64(len(recs)) || st.Dropped != 0 || st.Errors != 0 || st.Transport != transport {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// seq returns n distinct records: attack starts a second apart.
func seq(from, n int) []detector.VerdictJSON {
	out := make([]detector.VerdictJSON, n)
	for i := range out {
		r := attackStart()
		r.Start = t0 + float64(from+i)
		r.End = r.Start
		r.Details[0].Summary = fmt.Sprintf("record %d", from+i)
		out[i] = r
	}
	return out
}

// TestRsyslogRestart stops rsyslogd mid-stream and starts it again: the
// TCP sender reconnects and every record arrives, those sent while it
// was down included.
func TestRsyslogRestart(t *testing.T) {
	r := startRsyslog(t, rsyslogOpts{tcp: true})
	s := newSender(t, Config{Address: r.tcpAddr(), Transport: TransportTCP, MaxBackoff: time.Second})
	recs := seq(0, 9)
	for _, rec := range recs[:3] {
		s.Send(rec)
	}
	r.messages(3)
	r.stop()
	for _, rec := range recs[3:6] {
		s.Send(rec)
	}
	nettest.WaitFor(t, "a failed connect", func() bool { return s.Stats().Errors > 0 && !s.Stats().Connected })
	r.restart(300 * time.Millisecond)
	for _, rec := range recs[6:] {
		s.Send(rec)
	}
	got := byID(t, r.messages(len(recs)))
	for i, rec := range recs {
		if _, ok := got[eventID(&rec)]; !ok {
			t.Errorf("record %d not received after the restart", i)
		}
	}
	st := s.Stats()
	if !st.Connected || st.Sent < uint64(len(recs)) || st.Dropped != 0 {
		t.Errorf("stats %+v", st)
	}
	closeSender(t, s)
}

// TestQueueOverflow fills the queue while the receiver is down: what
// does not fit is dropped and counted, what fits is sent once it is up.
func TestQueueOverflow(t *testing.T) {
	needRsyslogd(t)
	port := freeTCPPort(t)
	s := newSender(t, Config{Address: "127.0.0.1:" + strconv.Itoa(port), Transport: TransportTCP, QueueSize: 4, MaxBackoff: 500 * time.Millisecond})
	recs := seq(0, 11)
	s.Send(recs[0])
	// The writer holds the first record, retrying; the queue is empty.
	nettest.WaitFor(t, "the writer to take the first record", func() bool { return s.Stats().Queued == 0 && s.Stats().Errors > 1 })
	for _, rec := range recs[1:] {
		s.Send(rec)
	}
	if st := s.Stats(); st.Dropped != 6 || st.Queued != 4 || st.Sent != 0 {
		t.Fatalf("after overflow: %+v, want 6 dropped and 4 queued", st)
	}
	r := startRsyslog(t, rsyslogOpts{tcp: true, tcpPort: port})
	got := byID(t, r.messages(5))
	for i, rec := range recs[:5] {
		if _, ok := got[eventID(&rec)]; !ok {
			t.Errorf("record %d not received", i)
		}
	}
	closeSender(t, s)
	s.Send(recs[0])
	if st := s.Stats(); st.Sent != 5 || st.Dropped != 7 {
		t.Errorf("after Close: %+v, want 5 sent and 7 dropped", st)
	}
	if err := testutil.CollectAndCompare(s, strings.NewReader(`
# HELP netanomaly_syslog_messages_dropped_total Event records never sent: the queue was full, or they were still queued at shutdown.
# TYPE netanomaly_syslog_messages_dropped_total counter
netanomaly_syslog_messages_dropped_total{transport="tcp"} 7
# HELP netanomaly_syslog_messages_sent_total Event records written to the syslog receiver.
# TYPE netanomaly_syslog_messages_sent_total counter
netanomaly_syslog_messages_sent_total{transport="tcp"} 5
# HELP netanomaly_syslog_connected Whether the exporter holds a connection to the syslog receiver (1) or not (0).
# TYPE netanomaly_syslog_connected gauge
netanomaly_syslog_connected{transport="tcp"} 0
`), "netanomaly_syslog_messages_dropped_total", "netanomaly_syslog_messages_sent_total", "netanomaly_syslog_connected"); err != nil {
		t.Error(err)
	}
}

// TestUDPSizeCap sends a record far over the cap by UDP: rsyslogd gets
// it whole, trimmed to fit, as valid JSON.
func TestUDPSizeCap(t *testing.T) {
	r := startRsyslog(t, rsyslogOpts{udp: true})
	s := newSender(t, Config{Address: r.udpAddr(), Transport: TransportUDP, MaxMessageBytes: 2048})
	rec := bigRecord()
	s.Send(rec)
	s.Send(attackStart())
	closeSender(t, s)
	got := byID(t, r.messages(2))
	m, ok := got[eventID(&rec)]
	if !ok {
		t.Fatal("trimmed record not received")
	}
	for _, raw := range r.read() {
		if len(raw) > 2048 {
			t.Errorf("received a message of %d bytes over the cap of 2048", len(raw))
		}
	}
	checkFields(t, m.doc, map[string]string{"rule.name": `"syn_flood"`, "source.ip": `"192.0.2.1"`, "event.severity": `2`},
		[]string{"netanomaly.evidence", "netanomaly.top_features"})
	if st := s.Stats(); st.Trimmed != 1 || st.Sent != 2 {
		t.Errorf("stats %+v, want 1 trimmed of 2 sent", st)
	}
}

// TestTLSWrongCA checks that a receiver whose certificate the CA file
// does not vouch for gets nothing, and that the failure shows in the
// stats and in Close's error.
func TestTLSWrongCA(t *testing.T) {
	certs := newTestCerts(t, "server")
	other := newTestCerts(t, "other")
	r := startRsyslog(t, rsyslogOpts{tls: certs})
	s := newSender(t, Config{Address: r.tlsAddr(), Transport: TransportTLS, TLS: TLSConfig{
		CAFile: other.CA, CertFile: certs.ClientCert, KeyFile: certs.ClientKey, ServerName: "rsyslog.test"}})
	s.Send(attackStart())
	nettest.WaitFor(t, "a failed handshake", func() bool { return s.Stats().Errors >= 2 })
	if s.Stats().Connected {
		t.Error("connected to a receiver with an unknown certificate")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.Close(ctx); err == nil || !strings.Contains(err.Error(), "gave up on 1 event records") {
		t.Errorf("Close: %v, want an error counting 1 record not sent", err)
	}
	if st := s.Stats(); st.Dropped != 1 || st.Sent != 0 {
		t.Errorf("stats %+v", st)
	}
	if msgs := r.read(); len(msgs) != 0 {
		t.Errorf("receiver got %d messages", len(msgs))
	}
}
