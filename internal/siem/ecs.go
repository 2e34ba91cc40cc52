package siem

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/netanomaly/netanomaly_exporter/detector"
)

// ecsVersion is the Elastic Common Schema version the documents follow.
const ecsVersion = "8.17.0"

// Product is the observer.product of the documents and the APP-NAME of
// the syslog messages.
const Product = "netanomaly_exporter"

// document is an event record in the Elastic Common Schema, as nested
// objects. Pointers and omitempty leave out what a record does not have,
// and what trimming drops.
type document struct {
	Timestamp   string        `json:"@timestamp"`
	Message     string        `json:"message,omitempty"`
	ECS         ecsFields     `json:"ecs"`
	Event       eventFields   `json:"event"`
	Rule        *ruleFields   `json:"rule,omitempty"`
	Threat      *threatFields `json:"threat,omitempty"`
	Source      *endpoint     `json:"source,omitempty"`
	Destination *endpoint     `json:"destination,omitempty"`
	Related     *related      `json:"related,omitempty"`
	Observer    observer      `json:"observer"`
	Netanomaly  netanomaly    `json:"netanomaly"`
}

type ecsFields struct {
	Version string `json:"version"`
}

type eventFields struct {
	ID       string   `json:"id"`
	Kind     string   `json:"kind"`
	Category []string `json:"category"`
	Type     []string `json:"type"`
	Action   string   `json:"action"`
	Module   string   `json:"module"`
	Dataset  string   `json:"dataset"`
	Severity int      `json:"severity"`
	Start    string   `json:"start,omitempty"`
	End      string   `json:"end,omitempty"`
	Reason   string   `json:"reason,omitempty"`
}

type ruleFields struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

type threatFields struct {
	Framework string    `json:"framework"`
	Technique technique `json:"technique"`
}

// technique holds arrays, as ECS allows: an anomaly record may name
// attacks of several techniques.
type technique struct {
	ID        []string `json:"id"`
	Name      []string `json:"name,omitempty"`
	Reference []string `json:"reference,omitempty"`
}

type endpoint struct {
	IP  string `json:"ip,omitempty"`
	MAC string `json:"mac,omitempty"`
}

type related struct {
	IP    []string `json:"ip,omitempty"`
	Hosts []string `json:"hosts,omitempty"`
}

type observer struct {
	Hostname string  `json:"hostname,omitempty"`
	Product  string  `json:"product"`
	Type     string  `json:"type"`
	Ingress  ingress `json:"ingress"`
}

type ingress struct {
	Interface ifaceName `json:"interface"`
}

type ifaceName struct {
	Name string `json:"name"`
}

// netanomaly holds what ECS has no field for. Sources and targets are
// the addresses as the privacy mode rendered them, IPs or not.
type netanomaly struct {
	Interface      string       `json:"interface"`
	Attacks        []string     `json:"attacks"`
	Confidence     number       `json:"confidence"`
	Score          number       `json:"score"`
	Threshold      number       `json:"threshold"`
	ThreatLevel    string       `json:"threat_level,omitempty"`
	Trained        bool         `json:"trained"`
	Partial        bool         `json:"partial,omitempty"`
	SpoofedSources bool         `json:"spoofed_sources,omitempty"`
	Sources        []string     `json:"sources,omitempty"`
	Targets        []string     `json:"targets,omitempty"`
	SourceMACs     []string     `json:"source_macs,omitempty"`
	Evidence       []evidence   `json:"evidence,omitempty"`
	TopFeatures    []topFeature `json:"top_features,omitempty"`
}

type evidence struct {
	Attack    string `json:"attack"`
	Feature   string `json:"feature"`
	Value     number `json:"value"`
	Threshold number `json:"threshold"`
	Typical   number `json:"typical"`
}

type topFeature struct {
	Feature      string `json:"feature"`
	Value        number `json:"value"`
	Z            number `json:"z"`
	ExpectedLow  number `json:"expected_low"`
	ExpectedHigh number `json:"expected_high"`
}

// number is a float that encodes NaN and the infinities as null, which
// encoding/json refuses: a record never fails to encode for a value.
type number float64

// MarshalJSON implements json.Marshaler.
func (n number) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// Event kinds of the event log.
const (
	KindAttackStart = "attack_start"
	KindAttackEnd   = "attack_end"
	KindAnomaly     = "anomaly"
)

// Syslog severities (RFC 5424) the records map to.
const (
	SeverityCritical = 2
	SeverityWarning  = 4
	SeverityNotice   = 5
)

// Severity is the syslog severity of a record: critical for the start of
// a high-severity attack, warning for the start of a medium one and for
// an anomalous window, notice for an attack's end and anything else.
func Severity(rec *detector.VerdictJSON) int {
	switch rec.Kind {
	case KindAttackStart:
		for _, d := range rec.Details {
			if t := detector.Type(d.Type); t != nil && t.Severity >= 3 {
				return SeverityCritical
			}
		}
		return SeverityWarning
	case KindAnomaly:
		return SeverityWarning
	default:
		return SeverityNotice
	}
}

// eventType is the ECS event.type of a kind.
func eventType(kind string) string {
	switch kind {
	case KindAttackStart:
		return "start"
	case KindAttackEnd:
		return "end"
	default:
		return "info"
	}
}

// recordTime converts Unix seconds to a time, rounded to the
// microsecond; ok is false for a value no clock gives (NaN, zero or
// less, past year 9999).
func recordTime(sec float64) (t time.Time, ok bool) {
	if math.IsNaN(sec) || sec <= 0 || sec >= 253402300800 {
		return time.Time{}, false
	}
	whole := math.Floor(sec)
	us := math.Round((sec - whole) * 1e6)
	return time.Unix(int64(whole), int64(us)*1000).UTC(), true
}

// timeLayout is RFC 3339 with microseconds, as RFC 5424 allows and ECS
// dates take.
const timeLayout = "2006-01-02T15:04:05.000000Z07:00"

// newDocument maps a record to ECS. hostname is the observer's; now
// stands in for a record time that is missing or invalid.
func newDocument(rec *detector.VerdictJSON, hostname string, now time.Time) document {
	sev := Severity(rec)
	end, ok := recordTime(rec.End)
	if !ok {
		end = now.UTC()
	}
	d := document{
		Timestamp: end.Format(timeLayout),
		ECS:       ecsFields{Version: ecsVersion},
		Event: eventFields{
			ID:       eventID(rec),
			Kind:     "alert",
			Category: []string{"network", "intrusion_detection"},
			Type:     []string{eventType(rec.Kind)},
			Action:   rec.Kind,
			Module:   "netanomaly",
			Dataset:  "netanomaly.events",
			Severity: sev,
		},
		Observer: observer{Hostname: hostname, Product: Product, Type: "ids", Ingress: ingress{ifaceName{rec.Interface}}},
		Netanomaly: netanomaly{
			Interface: rec.Interface, Attacks: []string{}, Confidence: number(rec.Confidence),
			Score: number(rec.Score), Threshold: number(rec.Threshold), ThreatLevel: rec.ThreatLevel,
			Trained: rec.Trained, Partial: rec.Partial,
		},
	}
	if start, ok := recordTime(rec.Start); ok {
		d.Event.Start = start.Format(timeLayout)
	}
	// An attack that starts goes on: the record has no end to tell.
	if rec.Kind != KindAttackStart && ok {
		d.Event.End = end.Format(timeLayout)
	}
	for _, f := range rec.TopFeatures[:min(len(rec.TopFeatures), maxItems)] {
		d.Netanomaly.TopFeatures = append(d.Netanomaly.TopFeatures, topFeature{
			Feature: f.Feature, Value: number(f.Value), Z: number(f.Z), ExpectedLow: number(f.ExpectedLow), ExpectedHigh: number(f.ExpectedHigh),
		})
	}
	var ips, hosts []string
	var tech technique
	for i, a := range rec.Details[:min(len(rec.Details), maxItems)] {
		d.Netanomaly.Attacks = appendNew(d.Netanomaly.Attacks, a.Type)
		d.Netanomaly.Sources = appendNew(d.Netanomaly.Sources, a.Sources...)
		d.Netanomaly.Targets = appendNew(d.Netanomaly.Targets, a.Targets...)
		d.Netanomaly.SourceMACs = appendNew(d.Netanomaly.SourceMACs, a.SourceMACs...)
		d.Netanomaly.SpoofedSources = d.Netanomaly.SpoofedSources || a.Spoofed
		for _, e := range a.Evidence {
			if len(d.Netanomaly.Evidence) >= maxItems {
				break
			}
			d.Netanomaly.Evidence = append(d.Netanomaly.Evidence, evidence{
				Attack: a.Type, Feature: e.Feature, Value: number(e.Value), Threshold: number(e.Threshold), Typical: number(e.Typical),
			})
		}
		for _, addr := range slices.Concat(a.Sources[:min(len(a.Sources), maxItems)], a.Targets[:min(len(a.Targets), maxItems)]) {
			if ip, ok := parseIP(addr); ok {
				ips = appendNew(ips, ip)
			} else if addr != "" {
				hosts = appendNew(hosts, addr)
			}
		}
		t := detector.Type(a.Type)
		if t != nil && t.Technique != "" && !slices.Contains(tech.ID, t.Technique) {
			tech.ID = append(tech.ID, t.Technique)
			tech.Name = append(tech.Name, t.TechniqueName)
			tech.Reference = append(tech.Reference, techniqueURL(t.Technique))
		}
		if i > 0 {
			continue
		}
		// The first attack is the record's: an attack event has one, an
		// anomaly lists the window's, strongest first.
		d.Rule = &ruleFields{Name: a.Type}
		if t != nil {
			d.Rule.Description = t.Title
		}
		d.Event.Reason = a.Recommendation
		if rec.Kind != KindAnomaly {
			d.Netanomaly.Confidence = number(a.Confidence)
		}
		d.Message = a.Summary
		if len(a.Sources) > 0 {
			if ip, ok := parseIP(a.Sources[0]); ok {
				d.Source = &endpoint{IP: ip}
			}
		}
		if len(a.SourceMACs) > 0 { // a LAN attack: ARP spoofing, DHCP starvation
			if d.Source == nil {
				d.Source = &endpoint{}
			}
			d.Source.MAC = ecsMAC(a.SourceMACs[0])
		}
		if len(a.Targets) > 0 {
			if ip, ok := parseIP(a.Targets[0]); ok {
				d.Destination = &endpoint{IP: ip}
			}
		}
	}
	if len(ips) > 0 || len(hosts) > 0 {
		d.Related = &related{IP: ips, Hosts: hosts}
	}
	if len(tech.ID) > 0 {
		d.Threat = &threatFields{Framework: "MITRE ATT&CK", Technique: tech}
	}
	if rec.Kind == KindAnomaly || d.Message == "" {
		d.Message = describe(rec)
	}
	return d
}

// describe says in one line what a record is, for records without an
// attack summary: anomalous windows above all.
func describe(rec *detector.VerdictJSON) string {
	var b strings.Builder
	switch rec.Kind {
	case KindAnomaly:
		fmt.Fprintf(&b, "Anomalous traffic on %s: score %s over threshold %s", rec.Interface, fmtNum(rec.Score), fmtNum(rec.Threshold))
	case KindAttackStart, KindAttackEnd:
		what := "started"
		if rec.Kind == KindAttackEnd {
			what = "ended"
		}
		title := "An attack"
		if len(rec.Details) > 0 {
			title = rec.Details[0].Type
			if t := detector.Type(title); t != nil {
				title = t.Title
			}
		}
		fmt.Fprintf(&b, "%s %s on %s", title, what, rec.Interface)
	default:
		fmt.Fprintf(&b, "Event %q on %s", rec.Kind, rec.Interface)
	}
	if rec.ThreatLevel != "" {
		fmt.Fprintf(&b, ", threat %s", rec.ThreatLevel)
	}
	if rec.Kind == KindAnomaly && len(rec.Details) > 0 {
		types := make([]string, len(rec.Details))
		for i, a := range rec.Details[:min(len(rec.Details), maxItems)] {
			types[i] = a.Type
		}
		fmt.Fprintf(&b, "; attacks: %s", strings.Join(types, ", "))
	}
	if rec.Kind == KindAnomaly && len(rec.TopFeatures) > 0 {
		f := rec.TopFeatures[0]
		fmt.Fprintf(&b, "; most unusual: %s=%s (expected %s to %s)", f.Feature, fmtNum(f.Value), fmtNum(f.ExpectedLow), fmtNum(f.ExpectedHigh))
	}
	return b.String()
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'g', 4, 64) }

// parseIP returns the address in its canonical form when s is an IP
// address; hashes and truncated prefixes of the privacy modes are not.
func parseIP(s string) (string, bool) {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return "", false
	}
	return ip.Unmap().String(), true
}

// ecsMAC writes a MAC the way ECS asks (RFC 7042): upper case, octets
// separated by hyphens.
func ecsMAC(s string) string {
	return strings.ToUpper(strings.ReplaceAll(s, ":", "-"))
}

// techniqueURL is the page of a technique on attack.mitre.org; a
// sub-technique (T1557.002) has its own under its parent's.
func techniqueURL(id string) string {
	return "https://attack.mitre.org/techniques/" + strings.ReplaceAll(id, ".", "/") + "/"
}

// eventID identifies a record by what it reports, so that a SIEM can drop
// the copy a resend after a broken connection may deliver.
func eventID(rec *detector.VerdictJSON) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%v\x00%v", rec.Kind, rec.Interface, rec.Start, rec.End)
	// Two scanners starting in one window differ only in their hosts.
	for _, a := range rec.Details {
		fmt.Fprintf(h, "\x00%s\x00%q\x00%q\x00%q", a.Type, a.Sources, a.Targets, a.SourceMACs)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// maxItems caps every list a document carries: the detector names at most
// ten hosts an attack, but a record is input like any other.
const maxItems = 64

// appendNew appends the values of vs not yet in s, up to maxItems. The
// lists are short, so a scan beats a map.
func appendNew(s []string, vs ...string) []string {
	for _, v := range vs {
		if len(s) >= maxItems {
			break
		}
		if !slices.Contains(s, v) {
			s = append(s, v)
		}
	}
	return s
}
