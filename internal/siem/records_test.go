package siem

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/detector"
)

// t0 is 2026-01-01T00:00:00Z plus a fraction that needs microseconds.
const t0 = 1767225600.123456

// The records the tests send: what the event log writes, as
// detector.EventLog.format builds them.
func attackStart() detector.VerdictJSON {
	return detector.VerdictJSON{
		Kind: KindAttackStart, Interface: "eth0", Start: t0, End: t0, Trained: true,
		Score: 0.93, Threshold: 0.7, Anomalous: true, ThreatLevel: "high", Confidence: 0.9,
		Attacks: []string{detector.SynFlood},
		Details: []detector.AttackJSON{{
			Type: detector.SynFlood, Confidence: 0.88,
			Summary:        "SYN flood: 12000 SYN/s to one host & port 80, bar > 1000",
			Evidence:       []detector.Evidence{{Feature: "tcp_syn_rate", Value: 12000, Threshold: 1000, Typical: 3}},
			Sources:        []string{"192.0.2.1", "2001:db8::7"},
			Targets:        []string{"10.0.0.5"},
			Recommendation: detector.Recommendation(detector.SynFlood),
		}},
		TopFeatures: []detector.Explanation{{Feature: "tcp_syn_rate", Value: 12000, Z: 40, ExpectedLow: 1, ExpectedHigh: 50}},
	}
}

func attackEnd() detector.VerdictJSON {
	r := attackStart()
	r.Kind, r.Start, r.End = KindAttackEnd, t0-120, t0+30
	r.Details[0].Summary = "SYN flood over: 40 SYN/s"
	return r
}

func anomaly() detector.VerdictJSON {
	return detector.VerdictJSON{
		Kind: KindAnomaly, Interface: "eth1", Start: t0 - 10, End: t0, Trained: true,
		Score: 0.81, Threshold: 0.7, Anomalous: true, ThreatLevel: "low", Confidence: 0.6, Attacks: []string{},
		TopFeatures: []detector.Explanation{{Feature: "bytes_per_sec", Value: 9e6, Z: 7.5, ExpectedLow: 1e5, ExpectedHigh: 2e6}},
	}
}

// hashed is a port scan under --privacy.ip=hash: no address is an IP.
func hashed() detector.VerdictJSON {
	return detector.VerdictJSON{
		Kind: KindAttackStart, Interface: "eth0", Start: t0 + 60, End: t0 + 60, Trained: true,
		Score: 0.75, Threshold: 0.7, Anomalous: true, ThreatLevel: "medium", Confidence: 0.7,
		Attacks: []string{detector.PortScan},
		Details: []detector.AttackJSON{{
			Type: detector.PortScan, Confidence: 0.7, Summary: "Port scan: 800 new services, 95% refused",
			Sources:        []string{"h:0123456789abcdef"},
			Targets:        []string{"h:fedcba9876543210", "h:00112233445566ff"},
			Recommendation: detector.Recommendation(detector.PortScan),
		}},
		TopFeatures: []detector.Explanation{},
	}
}

// message is an RFC 5424 message taken apart.
type message struct {
	pri, facility, severity                           int
	timestamp, hostname, appName, procID, msgID, data string
	doc                                               map[string]any
}

var rfc5424 = regexp.MustCompile(`^<([0-9]{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*\]) (.*)$`)

// parseMessage parses a message the way a strict receiver would: header
// fields, then MSG as one JSON object with nothing around it.
func parseMessage(raw string) (message, error) {
	m := rfc5424.FindStringSubmatch(raw)
	if m == nil {
		return message{}, fmt.Errorf("not an RFC 5424 message: %q", raw)
	}
	var msg message
	msg.pri, _ = strconv.Atoi(m[1])
	msg.facility, msg.severity = msg.pri/8, msg.pri%8
	msg.timestamp, msg.hostname, msg.appName, msg.procID, msg.msgID, msg.data = m[2], m[3], m[4], m[5], m[6], m[7]
	if strings.HasPrefix(m[8], "\ufeff") {
		return msg, fmt.Errorf("MSG starts with a BOM")
	}
	dec := json.NewDecoder(strings.NewReader(m[8]))
	if err := dec.Decode(&msg.doc); err != nil {
		return msg, fmt.Errorf("MSG is not JSON: %v: %s", err, m[8])
	}
	if dec.More() {
		return msg, fmt.Errorf("MSG has more than one JSON value: %s", m[8])
	}
	return msg, nil
}

// field returns the value at a dotted path of nested objects (and
// array indexes).
func field(doc map[string]any, path string) (any, bool) {
	var v any = doc
	for _, k := range strings.Split(path, ".") {
		switch c := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = c[k]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			v = c[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// checkFields compares fields against their JSON text and checks that
// absent ones are absent.
func checkFields(t *testing.T, doc map[string]any, want map[string]string, absent []string) {
	t.Helper()
	for path, w := range want {
		v, ok := field(doc, path)
		if !ok {
			t.Errorf("%s missing", path)
			continue
		}
		got, _ := json.Marshal(v)
		var wv any
		if err := json.Unmarshal([]byte(w), &wv); err != nil {
			t.Fatalf("bad expectation for %s: %v", path, err)
		}
		wb, _ := json.Marshal(wv)
		if string(got) != string(wb) {
			t.Errorf("%s = %s, want %s", path, got, wb)
		}
	}
	for _, path := range absent {
		if v, ok := field(doc, path); ok {
			t.Errorf("%s = %v, want it absent", path, v)
		}
	}
}

// checkIPFields checks that every field named ip holds IP addresses
// only: a SIEM maps them to the ip type and rejects the whole document
// over one hash.
func checkIPFields(t *testing.T, v any, path string) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		for k, c := range v {
			p := strings.TrimPrefix(path+"."+k, ".")
			if k != "ip" {
				checkIPFields(t, c, p)
				continue
			}
			vals, ok := c.([]any)
			if !ok {
				vals = []any{c}
			}
			for _, x := range vals {
				s, _ := x.(string)
				if _, err := netip.ParseAddr(s); err != nil {
					t.Errorf("%s holds %v, not an IP address", p, x)
				}
			}
		}
	case []any:
		for _, c := range v {
			checkIPFields(t, c, path)
		}
	}
}
