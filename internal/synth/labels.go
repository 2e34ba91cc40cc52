package synth

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// LabelsHeader is the first line of a labels file.
const LabelsHeader = "start,end,type,source"

// WriteLabels writes labels as CSV: the header, then one line per label
// with start and end in Unix seconds with six decimals.
func WriteLabels(w io.Writer, labels []Label) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, LabelsHeader)
	for i, l := range labels {
		if strings.ContainsAny(l.Source, ",\"\r\n") {
			return fmt.Errorf("label %d: source %q contains a comma, quote or newline", i+1, l.Source)
		}
		fmt.Fprintf(bw, "%s,%s,%s,%s\n", formatTime(l.Start), formatTime(l.End), l.Type, l.Source)
	}
	return bw.Flush()
}

// formatTime formats t as Unix seconds with microseconds, rounding
// sub-microsecond parts down.
func formatTime(t time.Time) string {
	ns := t.UnixNano()
	s, us := ns/1e9, (ns%1e9)/1e3
	if us < 0 {
		s--
		us += 1e6
	}
	return fmt.Sprintf("%d.%06d", s, us)
}

// ParseLabels reads labels written by WriteLabels. It is strict: the
// header must be there, times must be plain decimal Unix seconds with at
// most nine decimals, start before end, the type known, and the source
// empty, an IP address or a MAC address. Errors name the line.
func ParseLabels(r io.Reader) ([]Label, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var labels []Label
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSuffix(sc.Text(), "\r")
		if line == 1 {
			if strings.TrimPrefix(text, "\ufeff") != LabelsHeader {
				return nil, fmt.Errorf("labels line 1: header is %q, want %q", text, LabelsHeader)
			}
			continue
		}
		if text == "" {
			continue
		}
		f := strings.Split(text, ",")
		if len(f) != 4 {
			return nil, fmt.Errorf("labels line %d: %d fields, want 4 (start,end,type,source)", line, len(f))
		}
		start, err := parseTime(f[0])
		if err != nil {
			return nil, fmt.Errorf("labels line %d: start: %w", line, err)
		}
		end, err := parseTime(f[1])
		if err != nil {
			return nil, fmt.Errorf("labels line %d: end: %w", line, err)
		}
		if !start.Before(end) {
			return nil, fmt.Errorf("labels line %d: start %s is not before end %s", line, f[0], f[1])
		}
		if !slices.Contains(AttackTypes, f[2]) {
			return nil, fmt.Errorf("labels line %d: unknown type %q (known: %s)", line, f[2], strings.Join(AttackTypes, ", "))
		}
		if src := f[3]; src != "" {
			if _, err := netip.ParseAddr(src); err != nil {
				if _, err := net.ParseMAC(src); err != nil {
					return nil, fmt.Errorf("labels line %d: source %q is neither an IP nor a MAC address", line, src)
				}
			}
		}
		labels = append(labels, Label{Start: start, End: end, Type: f[2], Source: f[3]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("labels line %d: %w", line+1, err)
	}
	if line == 0 {
		return nil, fmt.Errorf("labels: empty input, want the header %q", LabelsHeader)
	}
	return labels, nil
}

// parseTime parses decimal Unix seconds exactly, without floating point.
func parseTime(s string) (time.Time, error) {
	ip, fp, hasDot := strings.Cut(s, ".")
	if ip == "" || (hasDot && fp == "") || len(fp) > 9 || !digits(ip) || !digits(fp) {
		return time.Time{}, fmt.Errorf("%q is not a number of seconds like 1700000000.250000", s)
	}
	sec, err := strconv.ParseInt(ip, 10, 64)
	if err != nil || sec > 1<<33 {
		return time.Time{}, fmt.Errorf("%q is out of range", s)
	}
	var ns int64
	if fp != "" {
		v, _ := strconv.ParseInt(fp, 10, 64)
		for range 9 - len(fp) {
			v *= 10
		}
		ns = v
	}
	return time.Unix(sec, ns).UTC(), nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
