package synth

import (
	"bytes"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/capture/pcapfile"
	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/internal/testpcap"
)

// rec is one packet of a generated capture, decoded by the exporter's
// decoder.
type rec struct {
	t    int64
	data []byte
	info decode.PacketInfo
}

func (r *rec) src() netip.Addr { return r.info.SrcAddr() }
func (r *rec) dst() netip.Addr { return r.info.DstAddr() }
func (r *rec) syn() bool {
	return r.info.Proto == decode.ProtoTCP && r.info.TCPFlags&(decode.TCPSyn|decode.TCPAck) == decode.TCPSyn
}
func (r *rec) synAck() bool {
	return r.info.Proto == decode.ProtoTCP && r.info.TCPFlags&(decode.TCPSyn|decode.TCPAck) == decode.TCPSyn|decode.TCPAck
}
func (r *rec) flag(f uint8) bool { return r.info.Proto == decode.ProtoTCP && r.info.TCPFlags&f != 0 }

// ipLen is the IPv4 total length.
func (r *rec) ipLen() int { return int(r.data[16])<<8 | int(r.data[17]) }

// tcpHeaderLen is the TCP header length with options.
func (r *rec) tcpHeaderLen() int { return int(r.data[14+20+12]>>4) * 4 }

func generate(t testing.TB, s Scenario) ([]byte, []Label) {
	t.Helper()
	var buf bytes.Buffer
	labels, err := Write(&buf, s)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes(), labels
}

func records(t testing.TB, data []byte) []rec {
	t.Helper()
	r, err := pcapfile.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	d := decode.NewDecoder()
	var out []rec
	for {
		p, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		x := rec{t: p.TimeNanos, data: append([]byte(nil), p.Data...)}
		x.info.Time, x.info.WireLen = p.TimeNanos, uint32(p.WireLength)
		if !d.Decode(p.LinkType, x.data, &x.info) {
			t.Fatalf("packet at %d: link type %d not decoded", p.TimeNanos, p.LinkType)
		}
		out = append(out, x)
	}
	// Application errors are allowed: a flood's random datagram that hits
	// port 53 is not DNS.
	if d.Errors[decode.LayerLink]+d.Errors[decode.LayerNetwork]+d.Errors[decode.LayerTransport] > 0 {
		t.Errorf("decoder errors: %v", d.Errors)
	}
	return out
}

// generateWindows writes a scenario straight into the aggregator, without
// holding the capture.
func generateWindows(t testing.TB, s Scenario) ([]*features.Window, []Label) {
	t.Helper()
	pr, pw := io.Pipe()
	var labels []Label
	var werr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		labels, werr = Write(pw, s)
		pw.CloseWithError(werr)
	}()
	ws := aggregate(t, pr)
	<-done
	if werr != nil {
		t.Fatal(werr)
	}
	return ws, labels
}

func aggregate(t testing.TB, in io.Reader) []*features.Window {
	t.Helper()
	var ws []*features.Window
	agg := features.NewAggregator(features.DefaultConfig(), "synth", func(w *features.Window) { ws = append(ws, w) })
	if err := testpcap.Aggregate(in, agg); err != nil {
		t.Fatal(err)
	}
	return ws
}

// attackRecords returns the packets of attacked that are not in benign,
// failing if benign is not contained in attacked in order.
func attackRecords(t testing.TB, attacked, benign []rec) []rec {
	t.Helper()
	var out []rec
	j := 0
	for i := range attacked {
		if j < len(benign) && attacked[i].t == benign[j].t && bytes.Equal(attacked[i].data, benign[j].data) {
			j++
			continue
		}
		out = append(out, attacked[i])
	}
	if j != len(benign) {
		t.Fatalf("the background changed with the attack: %d of %d benign packets found in order", j, len(benign))
	}
	return out
}

func count(rs []rec, f func(*rec) bool) int {
	n := 0
	for i := range rs {
		if f(&rs[i]) {
			n++
		}
	}
	return n
}

func distinct[K comparable](rs []rec, f func(*rec) (K, bool)) map[K]int {
	m := map[K]int{}
	for i := range rs {
		if k, ok := f(&rs[i]); ok {
			m[k]++
		}
	}
	return m
}

func at(ns int64) string { return time.Unix(0, ns).UTC().Format("15:04:05.000000") }
