package siem

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/netanomaly/netanomaly_exporter/detector"
)

var now = time.Date(2026, 2, 3, 4, 5, 6, 7000, time.UTC)

func TestSeverity(t *testing.T) {
	mixed := attackStart()
	mixed.Details = append([]detector.AttackJSON{hashed().Details[0]}, mixed.Details...)
	for _, c := range []struct {
		name string
		rec  detector.VerdictJSON
		want int
	}{
		{"start of a high-severity type is critical", attackStart(), SeverityCritical},
		{"start of a medium-severity type is a warning", hashed(), SeverityWarning},
		{"start naming a high type among others is critical", mixed, SeverityCritical},
		{"an anomalous window is a warning", anomaly(), SeverityWarning},
		{"an attack end is a notice", attackEnd(), SeverityNotice},
		{"an unknown kind is a notice", detector.VerdictJSON{Kind: "other"}, SeverityNotice},
	} {
		if got := Severity(&c.rec); got != c.want {
			t.Errorf("%s: severity %d, want %d", c.name, got, c.want)
		}
	}
}

func TestFormatHeader(t *testing.T) {
	noTime := anomaly()
	noTime.End = 0
	noKind := anomaly()
	noKind.Kind = ""
	for _, c := range []struct {
		name string
		f    Formatter
		rec  detector.VerdictJSON
		want message
	}{
		{"local0 critical", Formatter{Facility: 16, Hostname: "sensor-1", ProcID: "4242"}, attackStart(),
			message{pri: 130, timestamp: "2026-01-01T00:00:00.123456Z", hostname: "sensor-1", procID: "4242", msgID: "attack_start"}},
		{"local7 notice", Formatter{Facility: 23, Hostname: "sensor-1", ProcID: "1"}, attackEnd(),
			message{pri: 189, timestamp: "2026-01-01T00:00:30.123456Z", hostname: "sensor-1", procID: "1", msgID: "attack_end"}},
		{"kern warning", Formatter{Facility: 0, Hostname: "h", ProcID: "1"}, anomaly(),
			message{pri: 4, timestamp: "2026-01-01T00:00:00.123456Z", hostname: "h", procID: "1", msgID: "anomaly"}},
		{"unfit hostname made fit", Formatter{Facility: 16, Hostname: "my sensör", ProcID: "1"}, anomaly(),
			message{pri: 132, timestamp: "2026-01-01T00:00:00.123456Z", hostname: "my_sens__r", procID: "1", msgID: "anomaly"}},
		{"empty fields are NILVALUE", Formatter{Facility: 16}, noKind,
			message{pri: 133, timestamp: "2026-01-01T00:00:00.123456Z", hostname: "-", procID: "-", msgID: "-"}},
		{"a record without time gets the queue time", Formatter{Facility: 16, Hostname: "h", ProcID: "1"}, noTime,
			message{pri: 132, timestamp: "2026-02-03T04:05:06.000007Z", hostname: "h", procID: "1", msgID: "anomaly"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, trimmed, err := c.f.Format(nil, &c.rec, now)
			if err != nil || trimmed {
				t.Fatalf("Format: trimmed %v, err %v", trimmed, err)
			}
			m, err := parseMessage(string(b))
			if err != nil {
				t.Fatal(err)
			}
			c.want.appName, c.want.data = Product, "-"
			c.want.facility, c.want.severity = c.want.pri/8, c.want.pri%8
			m.doc = nil
			if !reflect.DeepEqual(m, c.want) {
				t.Errorf("header\n got %+v\nwant %+v", m, c.want)
			}
			if got, want := string(b[:strings.Index(string(b), " {")]), fmt.Sprintf("<%d>1 %s %s %s %s %s -", c.want.pri,
				c.want.timestamp, c.want.hostname, Product, c.want.procID, c.want.msgID); got != want {
				t.Errorf("header %q, want %q", got, want)
			}
		})
	}
}

// bigRecord is an attack record far over any small cap: many hosts, much
// evidence, a long summary with characters JSON escapes.
func bigRecord() detector.VerdictJSON {
	r := attackStart()
	r.Start, r.End = t0+5, t0+5
	a := &r.Details[0]
	a.Summary = strings.Repeat(`SYN "flood" to ünïcode <hosts> & ports; `, 15)
	for i := range 40 {
		a.Sources = append(a.Sources, fmt.Sprintf("198.51.100.%d", i+1))
		a.Targets = append(a.Targets, fmt.Sprintf("h:%016x", i))
		a.Evidence = append(a.Evidence, detector.Evidence{Feature: fmt.Sprintf("feature_%d", i), Value: float64(i) * 1.5, Threshold: 10})
		r.TopFeatures = append(r.TopFeatures, detector.Explanation{Feature: fmt.Sprintf("feature_%d", i), Value: 1e6, Z: 9})
	}
	return r
}

func TestFormatCap(t *testing.T) {
	for _, c := range []struct {
		name    string
		rec     detector.VerdictJSON
		max     int
		trimmed bool
		// kept are fields that must survive trimming.
		kept   []string
		absent []string
		// cut is set when the message must be shortened, with an ellipsis.
		cut bool
	}{
		{"fits as it is", attackStart(), 8192, false,
			[]string{"netanomaly.evidence", "related.ip", "event.reason"}, nil, false},
		{"evidence goes first", bigRecord(), 9000, true,
			[]string{"message", "rule.name", "source.ip", "netanomaly.sources", "netanomaly.top_features", "related.ip"},
			[]string{"netanomaly.evidence"}, false},
		{"then features and related hosts", bigRecord(), 4000, true,
			[]string{"message", "rule.name", "source.ip", "destination.ip", "threat.technique.name", "event.reason", "netanomaly.sources.1"},
			[]string{"netanomaly.evidence", "netanomaly.top_features", "related"}, false},
		{"then the reason", bigRecord(), 1700, true,
			[]string{"message", "rule.name", "source.ip", "destination.ip", "threat.technique.id", "netanomaly.sources.0"},
			[]string{"netanomaly.evidence", "related", "event.reason", "netanomaly.sources.1", "threat.technique.name", "rule.description"}, false},
		{"then the message is shortened", bigRecord(), 1200, true,
			[]string{"message", "@timestamp", "event.action", "event.severity", "rule.name", "source.ip", "netanomaly.score"},
			[]string{"netanomaly.evidence", "related", "event.reason"}, true},
		{"the smallest cap", bigRecord(), MinMessageBytes, true,
			[]string{"message", "@timestamp", "event.action", "rule.name", "threat.technique.id"}, []string{"event.reason"}, true},
		{"an anomaly at the smallest cap", anomaly(), MinMessageBytes, false, []string{"message", "netanomaly.score", "netanomaly.top_features"}, nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := Formatter{Facility: 16, Hostname: "sensor-1.example.net", ProcID: "123456", MaxBytes: c.max}
			b, trimmed, err := f.Format(nil, &c.rec, now)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > c.max {
				t.Errorf("message of %d bytes over the cap of %d", len(b), c.max)
			}
			if trimmed != c.trimmed {
				t.Errorf("trimmed %v, want %v", trimmed, c.trimmed)
			}
			if !utf8.Valid(b) {
				t.Error("message is not valid UTF-8")
			}
			m, err := parseMessage(string(b))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range c.kept {
				if _, ok := field(m.doc, p); !ok {
					t.Errorf("%s dropped", p)
				}
			}
			checkFields(t, m.doc, nil, c.absent)
			msg, _ := m.doc["message"].(string)
			if cut := strings.HasSuffix(msg, "…"); cut != c.cut {
				t.Errorf("message %q: cut %v, want %v", msg, cut, c.cut)
			}
		})
	}
}

func TestFormatTooLarge(t *testing.T) {
	rec := anomaly()
	rec.Interface = strings.Repeat("x", 300)
	f := Formatter{Facility: 16, Hostname: "h", ProcID: "1", MaxBytes: MinMessageBytes}
	b, _, err := f.Format([]byte("keep"), &rec, now)
	if err == nil || !strings.Contains(err.Error(), "syslog.max_message_bytes") {
		t.Errorf("err %v, want one naming syslog.max_message_bytes", err)
	}
	if string(b) != "keep" {
		t.Errorf("dst changed to %q", b)
	}
}

// FuzzFormat checks that whatever a record holds, the message parses as
// RFC 5424 with a JSON MSG, stays under the cap, and puts only IPs in
// ip fields.
func FuzzFormat(f *testing.F) {
	f.Add("eth0", "SYN flood", "192.0.2.1", "h:0011", "attack_start", "syn_flood", 0.5, 1767225600.5, 1024)
	f.Add("", "", "", "", "", "", 0.0, 0.0, 0)
	f.Add("eth\x00\xff", "\"<&>\"\n\t…", "::ffff:10.0.0.1", "10.0.0.0/24", "anomaly kind", "arp_spoofing", 1e308, -5.0, 100000)
	f.Fuzz(func(t *testing.T, iface, summary, src, dst, kind, typ string, score, end float64, max int) {
		rec := detector.VerdictJSON{
			Kind: kind, Interface: iface, Start: end, End: end, Score: score,
			Details: []detector.AttackJSON{{Type: typ, Summary: summary, Sources: []string{src, dst}, Targets: []string{dst}, SourceMACs: []string{src}}},
		}
		if max < 0 || max > 1<<20 {
			max = 0
		}
		fm := Formatter{Facility: 16, Hostname: "h", ProcID: "1", MaxBytes: max}
		b, _, err := fm.Format(nil, &rec, now)
		if err != nil {
			if len(b) != 0 {
				t.Fatalf("error %v with output %q", err, b)
			}
			return
		}
		if max > 0 && len(b) > max {
			t.Fatalf("message of %d bytes over the cap of %d", len(b), max)
		}
		m, err := parseMessage(string(b))
		if err != nil {
			t.Fatal(err)
		}
		checkIPFields(t, m.doc, "")
	})
}

func BenchmarkFormat(b *testing.B) {
	for _, c := range []struct {
		name string
		rec  detector.VerdictJSON
		max  int
	}{
		{"attack_start", attackStart(), DefaultMaxMessageBytes},
		{"anomaly", anomaly(), DefaultMaxMessageBytes},
		{"trimmed", bigRecord(), 1200},
	} {
		b.Run(c.name, func(b *testing.B) {
			f := Formatter{Facility: 16, Hostname: "sensor-1", ProcID: "1", MaxBytes: c.max}
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, _, err = f.Format(buf[:0], &c.rec, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
