package detector

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// LabelTypes returns the attack types a labels file may name: the
// detector's types plus the amplification variants it reports as
// reflection.
func LabelTypes() []string {
	return append(slices.Clone(AttackTypes), "ntp_amplification", "ssdp_amplification", "memcached_amplification", "cldap_amplification", "snmp_amplification", "chargen_amplification")
}

// ParseLabels reads a labels CSV: the header start,end,type,source, then
// one attack per line with start and end in Unix epoch seconds (fractions
// allowed), a type from LabelTypes and an optional source. Errors name
// the line.
func ParseLabels(r io.Reader) ([]LabeledEvent, error) {
	// Spreadsheets save CSV with a UTF-8 byte order mark.
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("labels: empty file: the first line must be start,end,type,source")
	}
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	if len(header) < 3 || len(header) > 4 || strings.TrimSpace(header[0]) != "start" || strings.TrimSpace(header[1]) != "end" || strings.TrimSpace(header[2]) != "type" || (len(header) == 4 && strings.TrimSpace(header[3]) != "source") {
		line, _ := cr.FieldPos(0)
		return nil, fmt.Errorf("labels line %d: header %q, want start,end,type,source", line, strings.Join(header, ","))
	}
	var out []LabeledEvent
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("labels: %w", err)
		}
		line, _ := cr.FieldPos(0) // the file's line: blank lines count
		if len(rec) < 3 || len(rec) > 4 {
			return nil, fmt.Errorf("labels line %d: %d fields, want start,end,type[,source]", line, len(rec))
		}
		start, err1 := parseEpoch(rec[0])
		end, err2 := parseEpoch(rec[1])
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("labels line %d: %v", line, err)
		}
		if end <= start {
			return nil, fmt.Errorf("labels line %d: end %s is not after start %s", line, rec[1], rec[0])
		}
		typ := strings.TrimSpace(rec[2])
		if !slices.Contains(LabelTypes(), typ) {
			return nil, fmt.Errorf("labels line %d: unknown type %q: use one of %s", line, typ, strings.Join(LabelTypes(), ", "))
		}
		e := LabeledEvent{Start: start, End: end, Type: typ}
		if len(rec) == 4 {
			e.Source = strings.TrimSpace(rec[3])
		}
		out = append(out, e)
	}
}

func parseEpoch(s string) (int64, error) {
	t := strings.TrimSpace(s)
	f, err := strconv.ParseFloat(t, 64)
	// 9.2e9 s is the last second Unix nanoseconds hold in an int64.
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f >= 9.2e9 {
		return 0, fmt.Errorf("%q is not a Unix time in seconds", s)
	}
	// A float64 keeps only about 0.2 µs of today's epochs: read plain
	// decimals digit by digit to keep every nanosecond.
	if whole, frac, _ := strings.Cut(t, "."); digits(whole) && (frac == "" || digits(frac)) {
		sec, _ := strconv.ParseInt(whole, 10, 64)
		ns, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
		return sec*1e9 + ns, nil
	}
	sec := math.Floor(f)
	return int64(sec)*1e9 + int64(math.Round((f-sec)*1e9)), nil
}

func digits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// WriteLabels writes events in the labels CSV format.
func WriteLabels(w io.Writer, events []LabeledEvent) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"start", "end", "type", "source"})
	for _, e := range events {
		_ = cw.Write([]string{formatEpoch(e.Start), formatEpoch(e.End), e.Type, e.Source})
	}
	cw.Flush()
	return cw.Error()
}

func formatEpoch(ns int64) string {
	return fmt.Sprintf("%d.%06d", ns/1e9, (ns%1e9)/1e3)
}
