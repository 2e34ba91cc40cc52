package evidence

import (
	"bufio"
	"math/bits"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/capture/pcapfile"
)

// writeBuffer is the write buffer of each open file.
const writeBuffer = 64 << 10

// writer is the state of the recorder's file-writing goroutine.
type writer struct {
	r       *Recorder
	open    [MaxMaxFilesOpen]*recording // by slot
	scratch []byte                      // a packet being anonymized
	hdr     [pcapRecHdr]byte
}

// writeLoop writes the records the capture side hands off until quit.
func (r *Recorder) writeLoop() {
	defer close(r.done)
	w := &writer{r: r, scratch: make([]byte, r.cfg.Snaplen)}
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	for {
		select {
		case it := <-r.work:
			switch {
			case it.quit:
				for _, rec := range w.open {
					if rec != nil && !rec.done {
						w.finish(rec, "exporter stopping")
					}
				}
				return
			case it.chunk != nil:
				w.records(it.chunk.buf[:it.chunk.n])
				it.chunk.n = 0
				r.free <- it.chunk
			case it.start != nil:
				rec := it.start
				rec.w = bufio.NewWriterSize(rec.f, writeBuffer)
				w.open[rec.slot] = rec
				w.records(it.data)
			case it.stop != nil:
				rec := it.stop
				if !rec.done {
					w.finish(rec, "attack ended")
				}
				w.open[rec.slot] = nil
				r.mu.Lock()
				r.slots &^= rec.bit
				if r.recs[rec.attack.ID] == rec {
					delete(r.recs, rec.attack.ID)
				}
				r.mu.Unlock()
			}
		case now := <-tick.C:
			for _, rec := range w.open {
				switch {
				case rec == nil || rec.done:
				case now.After(rec.wallDeadline):
					w.finish(rec, "max_duration")
				default:
					if err := rec.w.Flush(); err != nil {
						w.failed(rec, err)
					}
				}
			}
		}
	}
}

// records writes a run of records to the files their masks name.
func (w *writer) records(b []byte) {
	for len(b) >= recHdr {
		p := readRecord(b)
		b = b[recSize(len(p.data)):]
		data, prepared, ok := p.data, false, true
		for m := p.flags; m != 0; m &= m - 1 {
			rec := w.open[bits.TrailingZeros16(m)]
			if rec == nil || rec.done {
				continue
			}
			if !prepared {
				prepared = true
				if data, ok = w.prepare(p.data); !ok {
					w.r.unparseable.Add(1)
				}
			}
			if ok {
				w.packet(rec, p.ts, p.wire, data)
			}
		}
	}
}

// prepare anonymizes a packet when configured, in the scratch buffer.
func (w *writer) prepare(data []byte) ([]byte, bool) {
	fn := w.r.cfg.Anonymize
	if fn == nil {
		return data, true
	}
	b := w.scratch[:copy(w.scratch, data)]
	keep, ok := rewrite(w.r.link, b, fn)
	return b[:keep], ok
}

// packet appends one packet to a file, finishing the file at a cap.
func (w *writer) packet(rec *recording, ts int64, wire uint32, data []byte) {
	cfg := &w.r.cfg
	switch {
	case ts >= rec.pktDeadline:
		w.finish(rec, "max_duration")
		return
	case rec.size.Load()+pcapRecHdr+int64(len(data)) > int64(cfg.MaxBytes):
		w.finish(rec, "max_bytes")
		return
	}
	pcapfile.PutRecordHeader(w.hdr[:], ts, len(data), int(wire))
	if _, err := rec.w.Write(w.hdr[:]); err != nil {
		w.failed(rec, err)
		return
	}
	if _, err := rec.w.Write(data); err != nil {
		w.failed(rec, err)
		return
	}
	rec.packets++
	rec.size.Add(pcapRecHdr + int64(len(data)))
	w.r.packetsWritten.Add(1)
	if rec.packets == cfg.MaxPackets {
		w.finish(rec, "max_packets")
	}
}

// failed ends a file after a write error.
func (w *writer) failed(rec *recording, err error) {
	w.r.writeErrors.Add(1)
	w.r.logger().Error("cannot write evidence file; it ends here", "file", rec.path, "err", err)
	rec.failed = true
	w.finish(rec, "write error")
}

// finish flushes and closes a file, and has the capture side stop
// matching its attack.
func (w *writer) finish(rec *recording, reason string) {
	rec.done = true
	err := rec.w.Flush()
	if cerr := rec.f.Close(); err == nil {
		err = cerr
	}
	if err != nil && !rec.failed { // a failed write was counted, and fails the flush again
		w.r.writeErrors.Add(1)
		w.r.logger().Error("cannot finish evidence file", "file", rec.path, "err", err)
	}
	w.r.s.finished(rec)
	w.r.filesWritten.Add(1)
	w.r.logger().Info("evidence file finished", "file", rec.path, "attack", rec.attack.Type, "packets", rec.packets, "bytes", rec.size.Load(), "reason", reason)
	w.r.requestStop(rec)
}
