// Package blocklist loads threat-intel lists (FireHOL, Spamhaus DROP, plain
// address lists) and tells, per packet, which of them hold its source or
// destination. It sits beside the feature stage: the pipeline calls Lookup
// on each packet's addresses, counts traffic per list and names the local
// hosts that talk to listed addresses; the collector turns Status into
// metrics. Lists are files that users refresh with cron; Watch notices a
// changed file and swaps in a new Set without ever blocking Lookup, and a
// file that fails to load leaves its previous contents in force.
//
// Lists should be replaced whole: download to a temporary file and rename it
// over the list (curl -o list.tmp URL && mv list.tmp list). A file rewritten
// in place can be seen half written; a read during which the file changes is
// discarded and tried again at the next poll, but a pause in the writer
// between two polls cannot be told from a finished, shorter list.
package blocklist

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultWatchInterval is how often Watch looks for changed files when given
// no interval: lists change when cron fetches them, hours apart, so a
// minute late costs little and polls stay cheap (one stat per list).
const DefaultWatchInterval = 60 * time.Second

// List is one configured list: Name labels its metrics and its bit in a
// Lookup answer; Path is the file.
type List struct {
	Name string
	Path string
}

// Options tunes a Blocklists.
type Options struct {
	// MaxEntries caps the entries of one file; a longer file is rejected.
	// Zero means DefaultMaxEntries.
	MaxEntries int
	// Logger receives a line per list loaded and per change in reload
	// errors. Nil discards them.
	Logger *slog.Logger
}

// Blocklists holds the configured lists and the Set built from them. Lookup
// and Status never lock; Reload and Watch may run alongside them.
type Blocklists struct {
	lists      []List
	maxEntries int
	logger     *slog.Logger

	mu    sync.Mutex  // serializes reloads
	files []fileState // guarded by mu

	cur atomic.Pointer[snapshot]
}

// fileState is what Reload knows of one list's file.
type fileState struct {
	info     os.FileInfo // the file as last read, successfully or not; nil if it could not be opened
	contents *Contents   // in force: from the last successful read
	loaded   time.Time   // when contents were read
	err      error       // of the last attempt, nil if it succeeded
}

// snapshot is what readers see: a Set and the status that goes with it.
type snapshot struct {
	set    *Set
	status Status
}

// ListStatus is one list's state, for metrics.
type ListStatus struct {
	Name string
	Path string
	// Entries is the number of entries read from the file in force.
	Entries int
	// Addresses4 and Addresses6 are the addresses the list covers.
	Addresses4, Addresses6 float64
	// LastSuccess is when the contents in force were read; zero if the
	// list has never loaded.
	LastSuccess time.Time
	// Err is why the file could not be read or parsed on the last reload
	// that looked at it, nil if it loaded or was unchanged since it did.
	Err error
}

// Status is the state of every list and of the last reload.
type Status struct {
	Lists []ListStatus
	// LastReload is when Reload last ran; zero before the first.
	LastReload time.Time
	// LastReloadOK is whether, after the last Reload, every list was
	// loaded from its current file.
	LastReloadOK bool
}

// New checks the configuration (at most MaxLists lists, unique non-empty
// names, a path for each) and returns a Blocklists that contains nothing
// until Reload is called.
func New(lists []List, opts Options) (*Blocklists, error) {
	names := make([]string, len(lists))
	for i, l := range lists {
		names[i] = l.Name
	}
	if err := checkNames(names); err != nil {
		return nil, err
	}
	for _, l := range lists {
		if l.Path == "" {
			return nil, fmt.Errorf("blocklist %q has no path: name the file that holds it", l.Name)
		}
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Blocklists{
		lists:      slices.Clone(lists),
		maxEntries: opts.MaxEntries,
		logger:     opts.Logger,
		files:      make([]fileState, len(lists)),
	}
	set, err := NewSet(names, make([]*Contents, len(lists)))
	if err != nil {
		return nil, err
	}
	b.cur.Store(&snapshot{set: set, status: b.status(time.Time{}, false)})
	return b, nil
}

// Lookup returns the lists containing the address (IPv4 as ::ffff:a.b.c.d)
// as a bitmask, bit i for the i-th configured list. It does not allocate or
// lock.
func (b *Blocklists) Lookup(a [16]byte) uint64 { return b.cur.Load().set.Lookup(a) }

// Set returns the Set in force, for a caller that wants one consistent view
// over many lookups (a whole window).
func (b *Blocklists) Set() *Set { return b.cur.Load().set }

// Names returns the list names in bit order.
func (b *Blocklists) Names() []string {
	names := make([]string, len(b.lists))
	for i, l := range b.lists {
		names[i] = l.Name
	}
	return names
}

// Status returns the state of every list, in configuration order.
func (b *Blocklists) Status() Status {
	st := b.cur.Load().status
	st.Lists = slices.Clone(st.Lists)
	return st
}

// Reload re-reads the lists whose file changed (another file, size or
// modification time) since it was last read, rebuilds the Set if any did, and
// swaps it in. A list whose file is missing or bad keeps its previous
// contents; the error is recorded in Status and returned, with those of the
// other lists still failing, naming list, file and line.
func (b *Blocklists) Reload() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	changed := false
	for i, l := range b.lists {
		if b.reloadFile(l, &b.files[i]) {
			changed = true
		}
	}
	set := b.cur.Load().set
	if changed {
		contents := make([]*Contents, len(b.files))
		for i := range b.files {
			contents[i] = b.files[i].contents
		}
		var err error
		if set, err = NewSet(b.Names(), contents); err != nil {
			return err // New checked the names; cannot happen
		}
	}
	st := b.status(time.Now(), false)
	err := st.Err()
	st.LastReloadOK = err == nil
	b.cur.Store(&snapshot{set: set, status: st})
	return err
}

// reloadFile reads one list's file if it changed and reports whether its
// contents changed.
func (b *Blocklists) reloadFile(l List, st *fileState) bool {
	fi, err := os.Stat(l.Path)
	if err != nil {
		st.info, st.err = nil, st.failed(l, err)
		return false
	}
	if st.info != nil && sameFile(st.info, fi) {
		return false
	}
	start := time.Now()
	c, fi, err := readFile(l.Path, b.maxEntries)
	st.info = fi
	if err != nil {
		st.err = st.failed(l, err)
		return false
	}
	st.contents, st.loaded, st.err = c, start, nil
	v4, v6 := c.Addresses()
	b.logger.Info("blocklist loaded", "list", l.Name, "path", l.Path, "entries", c.Entries(),
		"addresses_v4", v4, "addresses_v6", v6, "duration", time.Since(start))
	return true
}

// failed words a failed read of l's file.
func (st *fileState) failed(l List, err error) error {
	if st.contents == nil {
		return fmt.Errorf("blocklist %q: %w (the list matches nothing until it loads)", l.Name, err)
	}
	return fmt.Errorf("blocklist %q: %w (the previous contents stay in force)", l.Name, err)
}

// sameFile reports whether two stats are of the same, unchanged file.
// Comparing the file's identity too catches a list replaced by rename with a
// copied modification time (rsync -t, cp -p).
func sameFile(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// readFile parses the file at path; fi describes the file that was read (nil
// if it could not be opened).
func readFile(path string, maxEntries int) (*Contents, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		// A FIFO or device would block or never end.
		return nil, fi, fmt.Errorf("%s is not a regular file", path)
	}
	c, err := parse(f, path, maxEntries, fi.Size())
	if err != nil {
		return nil, fi, err
	}
	if after, err := os.Stat(path); err != nil || !sameFile(fi, after) {
		// Not recorded as read, so the next poll reads it again.
		return nil, nil, fmt.Errorf("%s changed while being read: replace the list by renaming a finished download over it", path)
	}
	return c, fi, nil
}

// Err joins the errors of the lists that failed, in configuration order;
// nil if none did.
func (s Status) Err() error {
	var errs []error
	for _, l := range s.Lists {
		if l.Err != nil {
			errs = append(errs, l.Err)
		}
	}
	return errors.Join(errs...)
}

func (b *Blocklists) status(at time.Time, ok bool) Status {
	st := Status{Lists: make([]ListStatus, len(b.lists)), LastReload: at, LastReloadOK: ok}
	for i, l := range b.lists {
		f := &b.files[i]
		v4, v6 := f.contents.Addresses()
		st.Lists[i] = ListStatus{
			Name: l.Name, Path: l.Path,
			Entries: f.contents.Entries(), Addresses4: v4, Addresses6: v6,
			LastSuccess: f.loaded, Err: f.err,
		}
	}
	return st
}

// Watch calls Reload every interval (DefaultWatchInterval if zero or
// less) until ctx is done. It logs reload errors when they change, not on
// every poll of a list that stays broken.
func (b *Blocklists) Watch(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultWatchInterval
	}
	last := ""
	if err := b.Status().Err(); err != nil {
		last = err.Error() // reported by whoever called Reload first
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		msg := ""
		if err := b.Reload(); err != nil {
			msg = err.Error()
		}
		if msg == last {
			continue
		}
		if msg != "" {
			b.logger.Warn("blocklist reload failed", "err", msg)
		} else {
			b.logger.Info("blocklists reloaded, all lists current")
		}
		last = msg
	}
}
