package detector

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// AddrFunc renders an address for output (privacy modes).
type AddrFunc func([16]byte) string

// AttackJSON is an attack as the verdict and event records show it.
type AttackJSON struct {
	Type           string     `json:"type"`
	Confidence     float64    `json:"confidence"`
	Summary        string     `json:"summary,omitempty"`
	Evidence       []Evidence `json:"evidence,omitempty"`
	Sources        []string   `json:"sources,omitempty"`
	SourceMACs     []string   `json:"source_macs,omitempty"`
	Spoofed        bool       `json:"spoofed_sources,omitempty"`
	Targets        []string   `json:"targets,omitempty"`
	Recommendation string     `json:"recommendation"`
	EvidenceFile   string     `json:"evidence_file,omitempty"`
	// SourceCountries are the named sources' countries (ISO codes), with
	// --geoip.database.
	SourceCountries []string `json:"source_countries,omitempty"`
}

// VerdictJSON is one line of the verdicts JSONL file and of the event log.
type VerdictJSON struct {
	Kind        string        `json:"kind,omitempty"` // event log only: anomaly, attack_start, attack_end
	Interface   string        `json:"interface"`
	Group       string        `json:"group,omitempty"`
	Start       float64       `json:"start"` // Unix seconds
	End         float64       `json:"end"`
	Partial     bool          `json:"partial,omitempty"`
	Trained     bool          `json:"trained"`
	Score       float64       `json:"score"`
	Threshold   float64       `json:"threshold"`
	Anomalous   bool          `json:"anomalous"`
	ThreatLevel string        `json:"threat_level"`
	Confidence  float64       `json:"confidence"`
	Attacks     []string      `json:"attacks"`
	Details     []AttackJSON  `json:"attack_details,omitempty"`
	TopFeatures []Explanation `json:"top_features"`
	Extremes    []Explanation `json:"extreme_features,omitempty"`
	Models      []ModelScore  `json:"models,omitempty"`
	Active      []string      `json:"active_attacks,omitempty"`
}

func seconds(ns int64) float64 { return float64(ns) / 1e9 }

// JSON renders a verdict for the verdicts file.
func (v *Verdict) JSON(addr AddrFunc) VerdictJSON {
	j := VerdictJSON{
		Interface: v.Interface, Group: v.Group, Start: seconds(v.Start), End: seconds(v.End), Partial: v.Partial, Trained: v.Trained,
		Score: round(v.Score), Threshold: round(v.Threshold), Anomalous: v.Anomalous,
		ThreatLevel: ThreatNames[v.Threat], Confidence: round(v.Confidence),
		Attacks: []string{}, TopFeatures: v.Explanations, Extremes: v.Extremes, Models: v.Models,
	}
	if j.TopFeatures == nil {
		j.TopFeatures = []Explanation{}
	}
	for _, a := range v.Attacks {
		j.Attacks = append(j.Attacks, a.Type)
		j.Details = append(j.Details, attackJSON(a, addr))
	}
	for _, a := range v.Active {
		j.Active = append(j.Active, a.Type)
	}
	return j
}

func attackJSON(a Attack, addr AddrFunc) AttackJSON {
	j := AttackJSON{Type: a.Type, Confidence: round(a.Confidence), Summary: a.Summary, Evidence: a.Evidence, Spoofed: a.Spoofed, Recommendation: Recommendation(a.Type), EvidenceFile: a.EvidenceFile, SourceCountries: a.SourceCountries}
	for _, s := range a.Sources {
		j.Sources = append(j.Sources, addr(s))
	}
	for _, m := range a.MACs {
		j.SourceMACs = append(j.SourceMACs, net.HardwareAddr(m[:]).String())
	}
	for _, t := range a.Targets {
		j.Targets = append(j.Targets, addr(t))
	}
	return j
}

// round keeps 6 decimals: enough for scores, and stable output.
func round(v float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 6, 64), 64)
	return r
}

// EventLogConfig configures the event log.
type EventLogConfig struct {
	Path     string
	Format   string // json or csv
	MaxBytes int64  // rotate when the file would grow past this
	Keep     int    // rotated files kept: Path.1 (newest) to Path.Keep
}

// EventLog writes one record per anomalous window and per attack start
// and end, as JSON lines or CSV, rotated by size. It is safe for
// concurrent use by the interfaces' pipelines.
type EventLog struct {
	cfg  EventLogConfig
	addr AddrFunc
	mu   sync.Mutex
	f    *os.File
	size int64
}

var csvHeader = []string{"kind", "interface", "start", "end", "score", "confidence", "threat_level", "attacks", "top_features", "sources", "recommendation"}

// OpenEventLog opens (appends to) the event log.
func OpenEventLog(cfg EventLogConfig, addr AddrFunc) (*EventLog, error) {
	if cfg.Format != "json" && cfg.Format != "csv" {
		return nil, fmt.Errorf("unknown --events.format %q: use json or csv", cfg.Format)
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 100 << 20
	}
	cfg.Keep = max(cfg.Keep, 1)
	l := &EventLog{cfg: cfg, addr: addr}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *EventLog) open() error {
	f, err := os.OpenFile(l.cfg.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open event log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open event log: %w", err)
	}
	l.f, l.size = f, st.Size()
	if l.size == 0 && l.cfg.Format == "csv" {
		return l.write(csvLine(csvHeader))
	}
	return nil
}

// EventRecords returns what a verdict has to say, as the event log writes
// it: an anomaly record for an anomalous window, one record per attack
// start and end; nothing for a quiet window. addr renders addresses.
func EventRecords(v *Verdict, addr AddrFunc) []VerdictJSON {
	if !v.Anomalous && len(v.Events) == 0 {
		return nil
	}
	var out []VerdictJSON
	if v.Anomalous {
		out = append(out, eventRecord("anomaly", v, v.Attacks, addr))
	}
	for _, e := range v.Events {
		ev := *v
		ev.Start, ev.End = e.Since, e.Time
		out = append(out, eventRecord(e.Kind, &ev, []Attack{e.Attack}, addr))
	}
	return out
}

func eventRecord(kind string, v *Verdict, attacks []Attack, addr AddrFunc) VerdictJSON {
	j := v.JSON(addr)
	j.Kind = kind
	j.Attacks, j.Details = []string{}, nil
	for _, a := range attacks {
		j.Attacks = append(j.Attacks, a.Type)
		j.Details = append(j.Details, attackJSON(a, addr))
	}
	return j
}

// Record logs what a verdict has to say: nothing for a quiet window.
func (l *EventLog) Record(v *Verdict) error {
	return l.RecordJSON(EventRecords(v, l.addr))
}

// RecordJSON logs event records made by EventRecords. A nil log
// (none configured) takes them and does nothing.
func (l *EventLog) RecordJSON(recs []VerdictJSON) error {
	if l == nil || len(recs) == 0 {
		return nil
	}
	lines := make([][]byte, len(recs))
	for i := range recs {
		lines[i] = l.format(&recs[i])
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range lines {
		if err := l.write(b); err != nil {
			return err
		}
	}
	return nil
}

func (l *EventLog) format(j *VerdictJSON) []byte {
	if l.cfg.Format == "json" {
		b, _ := json.Marshal(j)
		return append(b, '\n')
	}
	var feats, sources, recs []string
	for _, e := range j.TopFeatures {
		feats = append(feats, fmt.Sprintf("%s=%g (expected %g-%g)", e.Feature, round(e.Value), round(e.ExpectedLow), round(e.ExpectedHigh)))
	}
	for _, d := range j.Details {
		sources = append(sources, d.Sources...)
		recs = append(recs, d.Recommendation)
	}
	return csvLine([]string{j.Kind, j.Interface, strconv.FormatFloat(j.Start, 'f', 3, 64), strconv.FormatFloat(j.End, 'f', 3, 64),
		strconv.FormatFloat(j.Score, 'f', 4, 64), strconv.FormatFloat(j.Confidence, 'f', 4, 64), j.ThreatLevel,
		strings.Join(j.Attacks, ";"), strings.Join(feats, ";"), strings.Join(sources, ";"), strings.Join(recs, " ")})
}

func csvLine(fields []string) []byte {
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.Write(fields)
	w.Flush()
	return []byte(b.String())
}

// write appends b, rotating first if it would overflow the size limit.
func (l *EventLog) write(b []byte) error {
	if l.size > 0 && l.size+int64(len(b)) > l.cfg.MaxBytes {
		// A new CSV file gets its header from open.
		if err := l.rotate(); err != nil {
			return err
		}
	}
	n, err := l.f.Write(b)
	l.size += int64(n)
	if err != nil {
		return fmt.Errorf("write event log: %w", err)
	}
	return nil
}

func (l *EventLog) rotate() error {
	l.f.Close()
	for i := l.cfg.Keep - 1; i >= 1; i-- {
		_ = os.Rename(fmt.Sprintf("%s.%d", l.cfg.Path, i), fmt.Sprintf("%s.%d", l.cfg.Path, i+1))
	}
	if err := os.Rename(l.cfg.Path, l.cfg.Path+".1"); err != nil {
		return fmt.Errorf("rotate event log: %w", err)
	}
	return l.open()
}

// Close closes the log.
func (l *EventLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// WriteVerdicts writes verdicts as JSON lines.
func WriteVerdicts(w io.Writer, vs []*Verdict, addr AddrFunc) error {
	enc := json.NewEncoder(w)
	for _, v := range vs {
		if err := enc.Encode(v.JSON(addr)); err != nil {
			return err
		}
	}
	return nil
}
