package evidence

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// The hand-off from the capture loop to the file writer: chunkCount
// buffers of chunkSize bytes, so a stalled disk costs at most 2 MiB per
// interface and then drops, counted.
const (
	chunkSize  = 128 << 10 // holds at least one record of MaxSnaplen
	chunkCount = 16
	// flushAge is how much packet time a partly filled chunk waits for
	// more packets before it goes to the writer.
	flushAge = int64(100 * time.Millisecond)
	// tickEvery is how often the writer flushes open files, so that they
	// can be read while recorded, and checks their wall-clock deadlines.
	tickEvery = time.Second
	// maxAddrs caps the addresses matched for one attack.
	maxAddrs  = 4096
	bloomBits = 4096
)

// Attack is an attack to record, as the detector reports its start.
type Attack struct {
	// ID names the attack for Stop; one interface records one attack of
	// an ID at a time.
	ID string
	// Type is the attack type; it is part of the file name.
	Type string
	// Start is the onset, Unix nanoseconds on the packet clock. The file
	// starts Config.Before earlier.
	Start int64
	// Sources and Targets are the attack's hosts, IPv4 as IPv4-mapped. The
	// packets recorded are those from or to any of them; all packets when
	// both are empty. All-zero addresses (what non-IP packets carry) are
	// ignored.
	Sources, Targets [][16]byte
}

// Recorder keeps one interface's recent packets and writes the evidence
// files of its attacks.
//
// Packet and Idle are called by one goroutine, the capture loop, which
// owns the ring of recent packets without locking it. Start, Stop and
// Stats may be called from any goroutine. A Start is served at the capture
// loop's next Packet or Idle call, or at once while the loop is idle (after
// Idle, until its next Packet), so the loop must call Idle whenever it
// stops calling Packet for a while: no packet within the poll interval,
// capture paused or down, end of input. File writes happen on the
// recorder's own goroutine.
type Recorder struct {
	// The capture loop's fields come first, together, and apart from what
	// other goroutines write.

	// Owned by the capture loop while attached, by the holder of mu while
	// detached.
	ring     ring
	cur      *chunk // hand-off chunk being filled
	curFirst int64  // packet time of its first record

	// The capture loop's own: whether it owns the ring, and whether the
	// recorder was closed under it.
	attached bool
	dead     bool
	lossless bool
	snaplen  int

	active  atomic.Pointer[activeSet] // what Packet matches; replaced whole
	pending atomic.Bool               // requests wait for the capture loop
	dropped atomic.Uint64             // counted by the capture loop
	_       [64]byte

	s     *Store
	cfg   Config
	iface string
	link  uint16

	mu       sync.Mutex
	detached bool // no capture loop owns the ring
	closed   bool
	reqs     []request             // at most a start and a stop per slot
	recs     map[string]*recording // by attack ID, until the writer frees the slot
	live     [MaxMaxFilesOpen]*recording
	slots    uint16 // slots in use, freed by the writer

	work chan item
	free chan *chunk
	done chan struct{}

	filesWritten, packetsWritten, skipped, unparseable, writeErrors atomic.Uint64
}

// recording is one evidence file.
type recording struct {
	attack Attack
	all    bool                   // no address given: every packet
	addrs  map[[16]byte]struct{}  // read-only once made
	bloom  [bloomBits / 64]uint64 // addrs' bits, to reject the others fast
	slot   int
	bit    uint16
	name   string
	path   string
	f      *os.File
	size   atomic.Int64 // bytes in the file, for the store

	stopQueued bool // under Recorder.mu

	// The writer's.
	w            *bufio.Writer
	packets      int
	done         bool
	failed       bool
	pktDeadline  int64
	wallDeadline time.Time
}

func (rec *recording) matches(src, dst *[16]byte) bool {
	return rec.all || rec.has(src) || rec.has(dst)
}

func (rec *recording) has(addr *[16]byte) bool {
	i := bloomIndex(addr)
	if rec.bloom[i>>6]&(1<<(i&63)) == 0 {
		return false
	}
	_, ok := rec.addrs[*addr]
	return ok
}

// request is a start or stop for the ring's owner to serve.
type request struct {
	rec  *recording
	stop bool
}

// chunk is a batch of records for the writer.
type chunk struct {
	buf []byte
	n   int
}

// item is one message to the writer: exactly one field is set.
type item struct {
	chunk *chunk
	start *recording
	data  []byte // the start's records from the ring
	stop  *recording
	quit  bool
}

// activeSet is what Packet matches packets against: the live recordings'
// addresses behind a Bloom-style bitmap, so a packet of no attack costs
// two hashes and two bit tests.
type activeSet struct {
	all   uint16 // slots that take every packet
	some  uint16 // slots that match addresses
	bloom [bloomBits / 64]uint64
	addrs [MaxMaxFilesOpen]map[[16]byte]struct{}
}

func bloomIndex(a *[16]byte) uint {
	x := binary.LittleEndian.Uint64(a[0:8]) ^ binary.LittleEndian.Uint64(a[8:16])*0x9e3779b97f4a7c15
	return uint((x * 0xd6e8feb86659fd93) >> (64 - 12))
}

func (a *activeSet) maybe(addr *[16]byte) bool {
	i := bloomIndex(addr)
	return a.bloom[i>>6]&(1<<(i&63)) != 0
}

// match returns the mask of the slots that want a packet.
func (a *activeSet) match(src, dst *[16]byte) uint16 {
	m := a.all
	if a.some != 0 && (a.maybe(src) || a.maybe(dst)) {
		for s := a.some; s != 0; s &= s - 1 {
			i := bits.TrailingZeros16(s)
			_, hs := a.addrs[i][*src]
			_, hd := a.addrs[i][*dst]
			if hs || hd {
				m |= 1 << i
			}
		}
	}
	return m
}

func newRecorder(s *Store, ifc Interface) *Recorder {
	r := &Recorder{
		s: s, cfg: s.cfg, iface: ifc.Name, link: ifc.LinkType, lossless: ifc.Lossless, snaplen: s.cfg.Snaplen,
		ring:     newRing(int(s.cfg.RingBytes)),
		detached: true,
		recs:     map[string]*recording{},
		// Never full: chunks are at most chunkCount, and each slot has
		// at most a start and a stop in flight, plus the quit.
		work: make(chan item, chunkCount+2*MaxMaxFilesOpen+1),
		free: make(chan *chunk, chunkCount),
		done: make(chan struct{}),
	}
	for range chunkCount {
		r.free <- &chunk{buf: make([]byte, chunkSize)}
	}
	go r.writeLoop()
	return r
}

// Packet records one captured frame: its first snaplen bytes go into the
// ring, and to the files of the attacks it involves. ts is Unix
// nanoseconds, wireLen the length on the wire, src and dst the decoded
// addresses (IPv4-mapped; zero for non-IP frames). data is copied, so it
// may be reused after the call. It does not allocate, but for the copy of
// the ring's packets when it serves a Start.
func (r *Recorder) Packet(ts int64, data []byte, wireLen int, src, dst [16]byte) {
	if !r.attached && (r.dead || !r.attach()) {
		return
	}
	if r.pending.Load() {
		// Starts and stops asked for before this packet take effect
		// before it.
		r.mu.Lock()
		r.serve()
		r.mu.Unlock()
	}
	wire := clampWire(wireLen, len(data))
	if len(data) > r.snaplen {
		data = data[:r.snaplen]
	}
	r.ring.put(ts, wire, &src, &dst, data)
	if a := r.active.Load(); a != nil {
		if m := a.match(&src, &dst); m != 0 {
			r.handOff(ts, wire, m, &src, &dst, data)
		}
	}
	if r.cur != nil && ts-r.curFirst >= flushAge {
		r.flush()
	}
}

// Idle tells the recorder that the capture loop has no packet for now:
// it serves waiting starts and stops, sends what it holds to the writer,
// and leaves the ring to Start until the next Packet.
func (r *Recorder) Idle() {
	if r.dead {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		r.dead = true
		return
	}
	r.serve()
	r.flush()
	r.detached, r.attached = true, false
}

// attach takes the ring back for the capture loop. It reports false when
// the recorder is closed.
func (r *Recorder) attach() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		r.dead = true
		return false
	}
	r.detached, r.attached = false, true
	return true
}

// handOff copies a record into the chunk for the writer. When every chunk
// is taken it drops the record, or waits in lossless mode.
func (r *Recorder) handOff(ts int64, wire uint32, mask uint16, src, dst *[16]byte, data []byte) {
	size := recSize(len(data))
	if r.cur != nil && r.cur.n+size > len(r.cur.buf) {
		r.flush()
	}
	if r.cur == nil {
		select {
		case r.cur = <-r.free:
		default:
			if !r.lossless {
				r.dropped.Add(1)
				return
			}
			r.cur = <-r.free // the writer returns every chunk it takes
		}
		r.curFirst = ts
	}
	putRecord(r.cur.buf[r.cur.n:], ts, wire, mask, src, dst, data)
	r.cur.n += size
}

// flush sends the chunk being filled to the writer. Called by the owner.
func (r *Recorder) flush() {
	if r.cur != nil {
		r.work <- item{chunk: r.cur}
		r.cur = nil
	}
}

// Start begins recording an attack and returns the evidence file's path.
// The file is created at once; the ring's packets of the attack are
// written to it when the capture loop next calls Packet or Idle (at once
// if it is idle), then the attack's packets as they come, until Stop, a
// cap or max_duration. Starting an ID that is being recorded returns its
// file. An error wrapping ErrSkipped means the attack is not recorded
// because too many files are open.
func (r *Recorder) Start(a Attack) (string, error) {
	if a.ID == "" {
		return "", errors.New("evidence: attack has no ID: give each attack an ID to stop it by")
	}
	if a.Start <= 0 {
		return "", fmt.Errorf("evidence: %s attack has no onset: set Start to its first packet's time", a.Type)
	}
	rec := newRecording(a, r.cfg)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return "", errClosed
	}
	if old := r.recs[a.ID]; old != nil && !old.stopQueued {
		return old.path, nil
	}
	if len(rec.addrs) == maxAddrs {
		r.s.logger.Warn("attack names more hosts than evidence matches; packets of the others are not recorded", "interface", r.iface, "attack", a.Type, "matched", maxAddrs)
	}
	free := ^r.slots & (1<<r.cfg.MaxFilesOpen - 1)
	if free == 0 {
		r.skipped.Add(1)
		return "", fmt.Errorf("evidence: %s attack on %s not recorded: %d files of this interface are still being written (raise max_files_open): %w", a.Type, r.iface, r.cfg.MaxFilesOpen, ErrSkipped)
	}
	if err := r.s.create(rec, r.iface, r.link); err != nil {
		r.skipped.Add(1)
		if errors.Is(err, ErrSkipped) {
			return "", fmt.Errorf("evidence: %s attack on %s not recorded: %d files are open (raise max_files_open): %w", a.Type, r.iface, r.cfg.MaxFilesOpen, err)
		}
		return "", err
	}
	rec.slot = bits.TrailingZeros16(free)
	rec.bit = 1 << rec.slot
	r.slots |= rec.bit
	r.recs[a.ID] = rec
	r.reqs = append(r.reqs, request{rec: rec})
	r.kick()
	r.s.logger.Info("recording attack evidence", "interface", r.iface, "attack", a.Type, "file", rec.path)
	return rec.path, nil
}

func newRecording(a Attack, cfg Config) *recording {
	rec := &recording{attack: a, addrs: map[[16]byte]struct{}{}}
	for _, list := range [][][16]byte{a.Sources, a.Targets} {
		for _, addr := range list {
			if addr != ([16]byte{}) && len(rec.addrs) < maxAddrs {
				rec.addrs[addr] = struct{}{}
			}
		}
	}
	rec.attack.Sources, rec.attack.Targets = nil, nil // the caller's slices are not kept
	rec.all = len(rec.addrs) == 0
	for addr := range rec.addrs {
		i := bloomIndex(&addr)
		rec.bloom[i>>6] |= 1 << (i & 63)
	}
	rec.pktDeadline = a.Start + int64(cfg.MaxDuration)
	if rec.pktDeadline < a.Start { // overflow
		rec.pktDeadline = a.Start
	}
	rec.wallDeadline = time.Now().Add(cfg.MaxDuration)
	return rec
}

// Stop ends the recording of an attack (it ended): its file is finished
// once the packets already handed off are written. Unknown or finished IDs
// are ignored.
func (r *Recorder) Stop(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec := r.recs[id]; rec != nil && !rec.stopQueued && !r.closed {
		r.queueStop(rec)
	}
}

// queueStop asks the owner to stop matching rec. Called with mu held.
func (r *Recorder) queueStop(rec *recording) {
	rec.stopQueued = true
	r.reqs = append(r.reqs, request{rec: rec, stop: true})
	r.kick()
}

// kick gets the requests served: now if no capture loop owns the ring,
// else by the capture loop. Called with mu held.
func (r *Recorder) kick() {
	if r.detached {
		r.serve()
	} else {
		r.pending.Store(true)
	}
}

// serve carries out the waiting requests. Called with mu held by the
// ring's owner.
func (r *Recorder) serve() {
	changed := false
	for i, q := range r.reqs {
		rec := q.rec
		if q.stop {
			if r.live[rec.slot] == rec {
				r.live[rec.slot] = nil
				changed = true
			}
			r.flush() // its records go before its stop
			r.work <- item{stop: rec}
		} else {
			r.work <- item{start: rec, data: r.backfill(rec)}
			r.live[rec.slot] = rec
			changed = true
		}
		r.reqs[i] = request{}
	}
	r.reqs = r.reqs[:0]
	if changed {
		r.active.Store(r.activeSet())
	}
	r.pending.Store(false)
}

// activeSet builds the matcher of the live recordings, nil when none.
func (r *Recorder) activeSet() *activeSet {
	a := &activeSet{}
	for _, rec := range r.live {
		switch {
		case rec == nil:
		case rec.all:
			a.all |= rec.bit
		default:
			a.some |= rec.bit
			a.addrs[rec.slot] = rec.addrs
			for i, w := range rec.bloom {
				a.bloom[i] |= w
			}
		}
	}
	if a.all|a.some == 0 {
		return nil
	}
	return a
}

// backfill copies the ring's records of rec from Before before its onset,
// as far as the file caps allow.
func (r *Recorder) backfill(rec *recording) []byte {
	from := rec.attack.Start - int64(r.cfg.Before)
	out := make([]byte, 0, 64<<10)
	packets, size := 0, int64(pcapFileHdr)
	r.ring.each(func(b []byte) bool {
		if int64(binary.LittleEndian.Uint64(b)) < from || !rec.matches((*[16]byte)(b[16:32]), (*[16]byte)(b[32:48])) {
			return true
		}
		n := int64(binary.LittleEndian.Uint16(b[12:]))
		if packets == r.cfg.MaxPackets || size+pcapRecHdr+n > int64(r.cfg.MaxBytes) {
			return false
		}
		out = append(out, b...)
		binary.LittleEndian.PutUint16(out[len(out)-len(b)+14:], rec.bit)
		packets++
		size += pcapRecHdr + n
		return true
	})
	return out
}

// Close stops every recording, finishes its file and stops the writer.
// The capture loop must have made its last Packet or Idle call. Start
// fails after Close; Packet and Idle do nothing.
func (r *Recorder) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		<-r.done
		return
	}
	r.closed = true
	for _, rec := range r.recs {
		if !rec.stopQueued {
			rec.stopQueued = true
			r.reqs = append(r.reqs, request{rec: rec, stop: true})
		}
	}
	r.serve()
	r.flush()
	r.detached = true
	r.work <- item{quit: true}
	r.mu.Unlock()
	<-r.done
}

// Stats returns this interface's counts; BytesOnDisk and FilesDeleted are
// the Store's.
func (r *Recorder) Stats() Stats {
	return Stats{
		FilesWritten:   r.filesWritten.Load(),
		PacketsWritten: r.packetsWritten.Load(),
		PacketsDropped: r.dropped.Load(),
		AttacksSkipped: r.skipped.Load(),
		Unparseable:    r.unparseable.Load(),
		WriteErrors:    r.writeErrors.Load(),
	}
}

// requestStop has the owner stop matching a recording whose file the
// writer finished on its own (a cap, a deadline, an error).
func (r *Recorder) requestStop(rec *recording) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !rec.stopQueued && !r.closed {
		r.queueStop(rec)
	}
}

// logger returns the store's logger with the interface.
func (r *Recorder) logger() *slog.Logger { return r.s.logger.With("interface", r.iface) }
