package pipeline

import (
	"maps"

	"github.com/netanomaly/netanomaly_exporter/collector/capture"
	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/detector"
	"github.com/netanomaly/netanomaly_exporter/internal/evidence"
)

// evidencePacket hands a captured frame to the evidence recorder, which
// the first frame opens (its file header needs the link type). Frames of
// another link type than the first (a pcapng of several interfaces) are
// left out of the evidence. Capture workers take turns.
func (p *Pipeline) evidencePacket(pkt *capture.Packet, info *decode.PacketInfo) {
	if p.merger != nil {
		p.recMu.Lock()
		defer p.recMu.Unlock()
	}
	r := p.rec.Load()
	if r == nil {
		if p.recFailed {
			return
		}
		var err error
		if r, err = p.cfg.Evidence.NewRecorder(evidence.Interface{Name: p.cfg.Interface, LinkType: pkt.LinkType, Lossless: p.cfg.Lossless}); err != nil {
			p.recFailed = true
			p.logger.Error("no evidence captures on this interface", "err", err)
			return
		}
		p.recLink = pkt.LinkType
		p.rec.Store(r)
	}
	if pkt.LinkType == p.recLink {
		r.Packet(pkt.TimeNanos, pkt.Data, pkt.WireLen, info.Src, info.Dst)
	}
}

// evidenceIdle tells the recorder the capture loop has no packet for now.
func (p *Pipeline) evidenceIdle() {
	if p.merger != nil {
		p.recMu.Lock()
		defer p.recMu.Unlock()
	}
	if r := p.rec.Load(); r != nil {
		r.Idle()
	}
}

// evidenceEvents starts an evidence capture at each attack start and
// stops it at the attack's end, naming the file in the events. It runs
// on the detector goroutine, before the verdict is handed on.
func (p *Pipeline) evidenceEvents(v *detector.Verdict) {
	r := p.rec.Load()
	if r == nil {
		return
	}
	for i := range v.Events {
		e := &v.Events[i]
		typ := e.Attack.Type
		switch e.Kind {
		case "attack_start":
			path, err := r.Start(evidence.Attack{ID: typ, Type: typ, Start: e.Since, Sources: e.Attack.Sources, Targets: e.Attack.Targets})
			if err != nil {
				p.logger.Warn("no evidence capture for this attack", "type", typ, "err", err)
				continue
			}
			p.evidenceFiles[typ] = path
			e.Attack.EvidenceFile = path
		case "attack_end":
			if path, ok := p.evidenceFiles[typ]; ok {
				r.Stop(typ)
				e.Attack.EvidenceFile = path
				delete(p.evidenceFiles, typ)
			}
		}
	}
	p.evidenceSnap = maps.Clone(p.evidenceFiles)
}

// closeEvidence finishes the files being written.
func (p *Pipeline) closeEvidence() {
	if r := p.rec.Load(); r != nil {
		r.Close()
	}
}
