package siem

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/detector"
)

func q(s string) string { return jsonOf(s) }

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestDocument(t *testing.T) {
	arp := detector.VerdictJSON{
		Kind: KindAttackStart, Interface: "eth0", Start: t0, End: t0, ThreatLevel: "high",
		Details: []detector.AttackJSON{{
			Type: detector.ARPSpoofing, Confidence: 0.95, Summary: "ARP spoofing: 3 addresses claimed",
			SourceMACs: []string{"02:00:5e:10:00:01"}, Targets: []string{"10.0.0.1", "10.0.0.2"},
		}},
	}
	spike := detector.VerdictJSON{
		Kind: KindAttackStart, Interface: "eth0", Start: t0, End: t0,
		Details: []detector.AttackJSON{{Type: detector.TrafficSpike, Confidence: 0.7, Summary: "Traffic spike: 20x"}},
	}
	truncated := hashed()
	truncated.Details[0].Sources = []string{"192.0.2.0/24"}
	truncated.Details[0].Targets = []string{"10.0.0.0/24"}
	unknown := spike
	unknown.Details = []detector.AttackJSON{{Type: "brand_new_attack", Summary: "new"}}
	multi := anomaly()
	multi.ThreatLevel = "high"
	multi.Details = []detector.AttackJSON{attackStart().Details[0], hashed().Details[0], attackStart().Details[0]}
	broken := anomaly()
	broken.Score, broken.Threshold, broken.TopFeatures[0].Z = math.NaN(), math.Inf(1), math.Inf(-1)
	broken.End = math.NaN()

	for _, c := range []struct {
		name   string
		rec    detector.VerdictJSON
		want   map[string]string
		absent []string
	}{
		{"attack start, high", attackStart(), map[string]string{
			"@timestamp":                      `"2026-01-01T00:00:00.123456Z"`,
			"message":                         q(attackStart().Details[0].Summary),
			"ecs.version":                     q(ecsVersion),
			"event.kind":                      `"alert"`,
			"event.category":                  `["network","intrusion_detection"]`,
			"event.type":                      `["start"]`,
			"event.action":                    `"attack_start"`,
			"event.dataset":                   `"netanomaly.events"`,
			"event.severity":                  `2`,
			"event.start":                     `"2026-01-01T00:00:00.123456Z"`,
			"event.reason":                    q(detector.Recommendation(detector.SynFlood)),
			"rule.name":                       `"syn_flood"`,
			"rule.description":                q(detector.Type(detector.SynFlood).Title),
			"threat.framework":                `"MITRE ATT&CK"`,
			"threat.technique.id":             `["T1498.001"]`,
			"threat.technique.name":           jsonOf([]string{detector.Type(detector.SynFlood).TechniqueName}),
			"threat.technique.reference":      `["https://attack.mitre.org/techniques/T1498/001/"]`,
			"source.ip":                       `"192.0.2.1"`,
			"destination.ip":                  `"10.0.0.5"`,
			"related.ip":                      `["192.0.2.1","2001:db8::7","10.0.0.5"]`,
			"observer.product":                `"netanomaly_exporter"`,
			"observer.type":                   `"ids"`,
			"observer.hostname":               `"sensor-1"`,
			"observer.ingress.interface.name": `"eth0"`,
			"netanomaly.interface":            `"eth0"`,
			"netanomaly.attacks":              `["syn_flood"]`,
			"netanomaly.confidence":           `0.88`,
			"netanomaly.score":                `0.93`,
			"netanomaly.threshold":            `0.7`,
			"netanomaly.threat_level":         `"high"`,
			"netanomaly.sources":              `["192.0.2.1","2001:db8::7"]`,
			"netanomaly.targets":              `["10.0.0.5"]`,
			"netanomaly.evidence":             `[{"attack":"syn_flood","feature":"tcp_syn_rate","value":12000,"threshold":1000,"typical":3}]`,
			"netanomaly.top_features":         `[{"feature":"tcp_syn_rate","value":12000,"z":40,"expected_low":1,"expected_high":50}]`,
		}, []string{"event.end", "related.hosts", "source.mac", "netanomaly.spoofed_sources"}},
		{"attack start, medium", hashed(), map[string]string{
			"event.severity": `4`, "rule.name": `"port_scan"`, "threat.technique.id": `["T1046"]`,
			"related.hosts":      `["h:0123456789abcdef","h:fedcba9876543210","h:00112233445566ff"]`,
			"netanomaly.sources": `["h:0123456789abcdef"]`,
			"netanomaly.targets": `["h:fedcba9876543210","h:00112233445566ff"]`,
		}, []string{"source", "destination", "related.ip"}},
		{"attack end", attackEnd(), map[string]string{
			"event.type": `["end"]`, "event.action": `"attack_end"`, "event.severity": `5`,
			"@timestamp":  `"2026-01-01T00:00:30.123456Z"`,
			"event.start": `"2025-12-31T23:58:00.123456Z"`, "event.end": `"2026-01-01T00:00:30.123456Z"`,
			"message": `"SYN flood over: 40 SYN/s"`,
		}, nil},
		{"anomaly", anomaly(), map[string]string{
			"event.type": `["info"]`, "event.action": `"anomaly"`, "event.severity": `4`, "event.kind": `"alert"`,
			"message":               `"Anomalous traffic on eth1: score 0.81 over threshold 0.7, threat low; most unusual: bytes_per_sec=9e+06 (expected 1e+05 to 2e+06)"`,
			"netanomaly.confidence": `0.6`, "netanomaly.attacks": `[]`,
			"observer.ingress.interface.name": `"eth1"`,
		}, []string{"rule", "threat", "source", "destination", "related", "event.reason"}},
		{"anomaly naming attacks", multi, map[string]string{
			"rule.name":                    `"syn_flood"`,
			"threat.technique.id":          `["T1498.001","T1046"]`,
			"netanomaly.attacks":           `["syn_flood","port_scan"]`,
			"netanomaly.confidence":        `0.6`,
			"related.ip":                   `["192.0.2.1","2001:db8::7","10.0.0.5"]`,
			"related.hosts":                `["h:0123456789abcdef","h:fedcba9876543210","h:00112233445566ff"]`,
			"message":                      `"Anomalous traffic on eth1: score 0.81 over threshold 0.7, threat high; attacks: syn_flood, port_scan, syn_flood; most unusual: bytes_per_sec=9e+06 (expected 1e+05 to 2e+06)"`,
			"netanomaly.evidence.0.attack": `"syn_flood"`,
		}, nil},
		{"truncated addresses", truncated, map[string]string{
			"related.hosts": `["192.0.2.0/24","10.0.0.0/24"]`,
		}, []string{"source", "destination", "related.ip"}},
		{"arp spoofing", arp, map[string]string{
			"source.mac":             `"02-00-5E-10-00-01"`,
			"destination.ip":         `"10.0.0.1"`,
			"netanomaly.source_macs": `["02:00:5e:10:00:01"]`,
			"threat.technique.id":    `["T1557.002"]`,
		}, []string{"source.ip"}},
		{"no technique", spike, map[string]string{
			"rule.name": `"traffic_spike"`, "event.severity": `4`, "message": `"Traffic spike: 20x"`,
		}, []string{"threat", "source", "related"}},
		{"unknown type", unknown, map[string]string{
			"rule.name": `"brand_new_attack"`, "event.severity": `4`,
		}, []string{"rule.description", "threat", "event.reason"}},
		{"non-finite values", broken, map[string]string{
			"@timestamp":                  `"2026-02-03T04:05:06.000007Z"`,
			"netanomaly.score":            `null`,
			"netanomaly.threshold":        `null`,
			"netanomaly.top_features.0.z": `null`,
		}, []string{"event.end"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			now := time.Date(2026, 2, 3, 4, 5, 6, 7000, time.UTC)
			d := newDocument(&c.rec, "sensor-1", now)
			b, err := json.Marshal(d)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			var doc map[string]any
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatalf("unmarshal %s: %v", b, err)
			}
			checkFields(t, doc, c.want, c.absent)
			checkIPFields(t, doc, "")
		})
	}
}
