package detector

import (
	"bytes"
	"log/slog"
	"strconv"
	"strings"
	"testing"
)

// TestLogEvents checks the log lines of an attack's start and end: the
// start says what to do about it, the end does not repeat it.
func TestLogEvents(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	src := [16]byte{10: 0xff, 11: 0xff, 12: 203, 13: 0, 14: 113, 15: 7}
	a := Attack{Type: PortScan, Confidence: 0.9, Sources: [][16]byte{src}, Summary: "probed 300 new services"}
	v := &Verdict{Interface: "eth0", Events: []Event{{Kind: "attack_start", Attack: a}, {Kind: "attack_end", Attack: a}}}
	LogEvents(logger, v, plainAddr)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), buf.String())
	}
	rec := "recommendation=" + strconv.Quote(Recommendation(PortScan))
	for _, want := range []string{`msg="attack started"`, "type=port_scan", "sources=[203.0.113.7]", `summary="probed 300 new services"`, rec} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("start line lacks %s: %s", want, lines[0])
		}
	}
	if !strings.Contains(lines[1], `msg="attack ended"`) || strings.Contains(lines[1], "recommendation=") {
		t.Errorf("end line: %s", lines[1])
	}
}
