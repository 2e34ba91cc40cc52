package features

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/collector/features/sketch"
)

// TestFlowKeyDirection: endpoint A is the one whose address sorts first
// byte by byte, then whose port does, as bytes.Compare orders them, and
// both directions of a flow share its key.
func TestFlowKeyDirection(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	// Addresses that differ in one byte only, anywhere, or not at all.
	randAddr := func() (a [16]byte) {
		if r.IntN(2) == 0 {
			a[r.IntN(16)] = byte(1 + r.IntN(2))
		}
		return a
	}
	for range 100000 {
		p := decode.PacketInfo{Src: randAddr(), Dst: randAddr(), SrcPort: uint16(r.IntN(3)), DstPort: uint16(r.IntN(3)), IPProto: 6}
		c := bytes.Compare(p.Src[:], p.Dst[:])
		want := c < 0 || c == 0 && p.SrcPort <= p.DstPort
		hs, hd := sketch.HashAddr(p.Src), sketch.HashAddr(p.Dst)
		h, fromA := flowKey(&p, hs, hd)
		if fromA != want {
			t.Fatalf("%x:%d -> %x:%d: fromA %v, want %v", p.Src, p.SrcPort, p.Dst, p.DstPort, fromA, want)
		}
		q := p
		q.Src, q.Dst, q.SrcPort, q.DstPort = p.Dst, p.Src, p.DstPort, p.SrcPort
		if hq, _ := flowKey(&q, hd, hs); hq != h {
			t.Fatalf("%x:%d -> %x:%d: the reverse direction has another key", p.Src, p.SrcPort, p.Dst, p.DstPort)
		}
	}
}
