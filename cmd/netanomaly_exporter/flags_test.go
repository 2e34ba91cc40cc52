package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// TestNumericFlags checks that every numeric flag rejects values that are
// not finite or out of its range, with the flag's name in the one error
// line and exit code 2, before anything starts.
func TestNumericFlags(t *testing.T) {
	cases := []struct {
		arg, want string
	}{
		{"--detector.contamination=NaN", "--detector.contamination=NaN out of range"},
		{"--detector.contamination=0", "--detector.contamination"},
		{"--detector.contamination=+Inf", "--detector.contamination"},
		{"--capture.pcap.speed=NaN", "--capture.pcap.speed=NaN out of range"},
		{"--capture.pcap.speed=1e-300", "--capture.pcap.speed=1e-300 out of range"},
		{"--capture.pcap.speed=-1", "--capture.pcap.speed"},
		{"--capture.pcap.speed=+Inf", "--capture.pcap.speed"},
		{"--events.max-size=0", "--events.max-size=0B out of range"},
		{"--events.max-size=-1", "--events.max-size"},
		{"--events.keep=0", "--events.keep=0 out of range"},
		{"--window.length=2h", "--window.length=2h0m0s out of range"},
		{"--window.length=0s", "--window.length"},
		{"--capture.buffer-size=0", "--capture.buffer-size=0B out of range"},
		{"--capture.snaplen=10", "--capture.snaplen=10 out of range"},
		{"--capture.workers=-1", "--capture.workers=-1 out of range"},
		{"--capture.workers=65", "--capture.workers=65 out of range"},
		{"--flows.max=1", "--flows.max=1 out of range"},
		{"--flows.idle-timeout=-1s", "--flows.idle-timeout=-1s out of range"},
		{"--flows.active-timeout=1000h", "--flows.active-timeout"},
		{"--detector.warmup=10s", "--detector.warmup=10s out of range for --window.length=10s"},
		{"--detector.warmup=100000h", "--detector.warmup"},
		{"--detector.retrain-interval=-1s", "--detector.retrain-interval"},
		{"--detector.retrain-interval=1ms", "--detector.retrain-interval"},
		{"--detector.attack-end-windows=0", "--detector.attack-end-windows=0 out of range"},
		{"--detector.attack-end-windows=100000", "--detector.attack-end-windows"},
		{"--detector.attack-sources=9", "--detector.attack-sources=9 out of range"},
		{"--detector.horizon=1s", "--detector.horizon"},
		{"--features.top-k=-1", "--features.top-k=-1 out of range"},
		{"--detector.seed=-1", "--detector.seed"},
	}
	for _, c := range cases {
		t.Run(c.arg, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run([]string{"replay", "--capture.pcap=testdata/ftp_bruteforce.pcap", c.arg}, io.Discard, &stderr)
			if code != 2 {
				t.Errorf("exit code %d, want 2; stderr:\n%s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), c.want) {
				t.Errorf("stderr does not name %q:\n%s", c.want, stderr.String())
			}
			if n := strings.Count(strings.TrimSpace(stderr.String()), "\n"); n > 0 {
				t.Errorf("want one error line, got %d:\n%s", n+1, stderr.String())
			}
		})
	}
}

// TestWorkersNeedAFPacket: several capture workers with libpcap, which has
// no fanout, is refused before anything opens.
func TestWorkersNeedAFPacket(t *testing.T) {
	var stderr bytes.Buffer
	code := run([]string{"--capture.interface=lo", "--capture.method=pcap", "--capture.workers=2", "--web.listen-address=127.0.0.1:0"}, io.Discard, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "--capture.workers=2 needs --capture.method=afpacket") {
		t.Errorf("exit code %d, stderr:\n%s", code, stderr.String())
	}
}
