// Package evidence records the packets behind an attack. It sits beside
// the pipeline: the capture loop hands each interface's Recorder every
// frame, which keeps the first bytes (headers) of the recent ones in a
// bounded ring; when the detector reports an attack start, the Recorder
// writes a classic pcap file of the ring's packets that involve the
// attack's hosts from a little before the onset, then the attack's packets
// as they come, until the attack ends or a cap is reached. The Store owns
// the directory of these files, shared by the interfaces, and keeps it
// under a size cap by deleting its own oldest files.
//
// The capture loop pays a copy into the ring per packet and never locks;
// a Start costs it one walk over the ring (milliseconds for 16 MiB). Files
// are written on each Recorder's own goroutine, fed through a bounded
// hand-off that drops, counted, when the disk falls behind.
//
// With Config.Anonymize set, every IPv4 and IPv6 address in the written
// headers is replaced, and the bytes after the transport header are left
// out (they may hold more addresses); the IPv4 header checksum is kept
// right, but TCP, UDP and ICMPv6 checksums, which cover the addresses, are
// left wrong. A packet whose addresses cannot be found is left out and
// counted, never written as captured.
package evidence

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/capture/pcapfile"
)

// ErrSkipped is returned by Start when an attack is not recorded because
// max_files_open files are already being written.
var ErrSkipped = errors.New("evidence: too many captures open")

var errClosed = errors.New("evidence: recorder closed")

const (
	pcapFileHdr   = pcapfile.HeaderSize
	pcapRecHdr    = pcapfile.RecordHeaderSize
	maxNameSuffix = 99 // same-second files of one attack type: name-2 to name-99
	maxNamePart   = 64 // bytes kept of a sanitized interface name or attack type
	timeLayout    = "20060102T150405Z"
	fileMode      = 0o640
	dirMode       = 0o750
	probePattern  = ".evidence-probe-*"
	maxDirScan    = 100_000 // entries read from the directory at one rotation
)

// ourName matches the names of the files this package writes, and only
// those: rotation deletes nothing else.
var ourName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*-[A-Za-z0-9_][A-Za-z0-9_.-]*-[0-9]{8}T[0-9]{6}Z(-[0-9]{1,2})?\.pcap$`)

// Stats are cumulative counts for metrics. Recorder.Stats gives one
// interface's; Store.Stats the sum over interfaces plus the directory's
// own (BytesOnDisk, FilesDeleted), which are zero in a Recorder's.
type Stats struct {
	FilesWritten   uint64 // evidence files finished
	PacketsWritten uint64 // packets written into evidence files
	PacketsDropped uint64 // attack packets lost because the hand-off to the file writer was full
	AttacksSkipped uint64 // attacks not recorded: too many files open, or no room could be made
	Unparseable    uint64 // packets left out because anonymization could not find their addresses
	WriteErrors    uint64 // failed file writes; each ends its file
	FilesDeleted   uint64 // evidence files deleted to stay under total_bytes
	BytesOnDisk    int64  // size of the evidence files, as of the last start or finish
}

// Store is the directory of evidence files, shared by the Recorders of
// all interfaces. It is safe for concurrent use.
type Store struct {
	cfg    Config
	logger *slog.Logger

	mu          sync.Mutex
	open        map[string]*recording // by file name; rotation never deletes them
	closedBytes int64                 // finished files of ours on disk
	recorders   []*Recorder
	closed      bool

	deleted atomic.Uint64
}

// Open checks the configuration, creates the directory when missing and
// checks that it can be written. A nil logger discards.
func Open(cfg Config, logger *slog.Logger) (*Store, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, dirMode); err != nil {
		return nil, fmt.Errorf("evidence: cannot create directory %s: %w; create it writable by the exporter's user or set dir to another path", cfg.Dir, err)
	}
	probe, err := os.CreateTemp(cfg.Dir, probePattern)
	if err != nil {
		return nil, fmt.Errorf("evidence: directory %s is not writable: %w; make it writable by the exporter's user or set dir to another path", cfg.Dir, err)
	}
	probe.Close()
	_ = os.Remove(probe.Name()) // a probe: a leftover is harmless
	s := &Store{cfg: cfg, logger: logger, open: map[string]*recording{}}
	files, err := s.scan()
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		s.closedBytes += f.size
	}
	return s, nil
}

// Config returns the configuration in use, defaults filled in.
func (s *Store) Config() Config { return s.cfg }

// Interface describes the capture a Recorder records.
type Interface struct {
	// Name is the interface's name; it is part of the file names.
	Name string
	// LinkType is the LINKTYPE_* value of its frames, written in the
	// files' headers.
	LinkType uint16
	// Lossless makes Packet wait for the file writer when the hand-off is
	// full, rather than drop: for capture files replayed faster than the
	// disk takes them. A live capture must not wait, and drops.
	Lossless bool
}

// NewRecorder returns the recorder of one interface. It takes ring_bytes
// of memory plus 2 MiB for the hand-off. With anonymization on, the link
// type must be one whose addresses can be found: Ethernet, Linux cooked
// (SLL, SLL2), raw IP or BSD loopback.
func (s *Store) NewRecorder(ifc Interface) (*Recorder, error) {
	if s.cfg.Anonymize != nil && !anonymizable(ifc.LinkType) {
		return nil, fmt.Errorf("evidence: interface %s has link type %d, in which addresses cannot be found for anonymization, so its evidence files would hold no packet: turn anonymization off or leave evidence off on this interface", ifc.Name, ifc.LinkType)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	r := newRecorder(s, ifc)
	s.recorders = append(s.recorders, r)
	return r, nil
}

// Stats returns the totals over the store's recorders and the directory's
// size and deletions.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	recs := slices.Clone(s.recorders)
	st := Stats{BytesOnDisk: s.closedBytes}
	for _, rec := range s.open {
		st.BytesOnDisk += rec.size.Load()
	}
	s.mu.Unlock()
	st.FilesDeleted = s.deleted.Load()
	for _, r := range recs {
		rs := r.Stats()
		st.FilesWritten += rs.FilesWritten
		st.PacketsWritten += rs.PacketsWritten
		st.PacketsDropped += rs.PacketsDropped
		st.AttacksSkipped += rs.AttacksSkipped
		st.Unparseable += rs.Unparseable
		st.WriteErrors += rs.WriteErrors
	}
	return st
}

// Close closes every recorder, finishing their files. The capture loops
// must have stopped calling Packet.
func (s *Store) Close() error {
	s.mu.Lock()
	recs := slices.Clone(s.recorders)
	s.closed = true
	s.mu.Unlock()
	for _, r := range recs {
		r.Close()
	}
	return nil
}

// onDisk is one finished evidence file found in the directory.
type onDisk struct {
	name string
	size int64
	mod  time.Time
}

// scan lists the finished evidence files, oldest first. Files of other
// names, directories, links and the files being written are left out.
// Called with s.mu held, or before s is shared.
func (s *Store) scan() ([]onDisk, error) {
	d, err := os.Open(s.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("evidence: cannot read directory %s: %w", s.cfg.Dir, err)
	}
	defer d.Close()
	entries, err := d.ReadDir(maxDirScan)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("evidence: cannot read directory %s: %w", s.cfg.Dir, err)
	}
	var files []onDisk
	for _, e := range entries {
		if !e.Type().IsRegular() || !ourName.MatchString(e.Name()) || s.open[e.Name()] != nil {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // deleted meanwhile
		}
		files = append(files, onDisk{e.Name(), info.Size(), info.ModTime()})
	}
	slices.SortFunc(files, func(a, b onDisk) int {
		if c := a.mod.Compare(b.mod); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	return files, nil
}

// create makes room for a new file under total_bytes and creates it with
// its pcap header. The caller has checked max_files_open.
func (s *Store) create(rec *recording, iface string, link uint16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	if len(s.open) >= s.cfg.MaxFilesOpen {
		return ErrSkipped
	}
	files, err := s.scan()
	if err != nil {
		return err
	}
	s.closedBytes = 0
	for _, f := range files {
		s.closedBytes += f.size
	}
	// Each open file, this one too, may still grow to max_bytes.
	limit := int64(s.cfg.TotalBytes) - int64(len(s.open)+1)*int64(s.cfg.MaxBytes)
	for len(files) > 0 && s.closedBytes > limit {
		f := files[0]
		files = files[1:]
		if err := os.Remove(filepath.Join(s.cfg.Dir, f.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("evidence: cannot delete old evidence file to stay under total_bytes %v: %w", s.cfg.TotalBytes, err)
		}
		s.closedBytes -= f.size
		s.deleted.Add(1)
		s.logger.Info("deleted old evidence file to stay under the size cap", "file", f.name, "total_bytes", s.cfg.TotalBytes.String())
	}
	if s.closedBytes > limit {
		return fmt.Errorf("evidence: no room for a new file under total_bytes %v: %w", s.cfg.TotalBytes, ErrSkipped)
	}

	base := sanitize(iface) + "-" + sanitize(rec.attack.Type) + "-" + fileTime(rec.attack.Start)
	var f *os.File
	for i := 1; ; i++ {
		name := base + ".pcap"
		if i > 1 {
			name = fmt.Sprintf("%s-%d.pcap", base, i)
		}
		path := filepath.Join(s.cfg.Dir, name)
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
		if err == nil {
			rec.name, rec.path = name, path
			break
		}
		if !errors.Is(err, fs.ErrExist) || i == maxNameSuffix {
			return fmt.Errorf("evidence: cannot create %s: %w", path, err)
		}
	}
	hdr := pcapfile.Header(link, uint32(s.cfg.Snaplen))
	if _, err := f.Write(hdr[:]); err != nil {
		f.Close()
		_ = os.Remove(rec.path) // best effort: a header-only file is useless
		return fmt.Errorf("evidence: cannot write %s: %w", rec.path, err)
	}
	rec.f = f
	rec.size.Store(pcapFileHdr)
	s.open[rec.name] = rec
	return nil
}

// finished records that a file is complete: it becomes a candidate for
// rotation and its size counts as finished.
func (s *Store) finished(rec *recording) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open[rec.name] == rec {
		delete(s.open, rec.name)
		s.closedBytes += rec.size.Load()
	}
}

// sanitize makes an interface name or attack type safe as part of a file
// name: letters, digits, '_', '.' and '-' are kept, anything else becomes
// '_', and so does a leading '.' or '-'.
func sanitize(s string) string {
	if s == "" {
		return "unknown"
	}
	b := []byte(s[:min(len(s), maxNamePart)])
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case (c == '.' || c == '-') && i > 0:
		default:
			b[i] = '_'
		}
	}
	return string(b)
}

// fileTime renders the onset for a file name, in UTC to the second. An
// onset not after 1970 (unknown, or a broken clock) takes the wall clock.
func fileTime(ns int64) string {
	if ns <= 0 {
		ns = time.Now().UnixNano()
	}
	return time.Unix(0, ns).UTC().Format(timeLayout)
}
