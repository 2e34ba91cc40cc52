package geoip

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DB is a database file loaded into a Table, reloadable when the file
// changes. Country is safe for concurrent use with Reload: lookups read the
// current table through an atomic pointer and never wait.
type DB struct {
	path string
	opts Options
	cur  atomic.Pointer[Table]

	mu      sync.Mutex // serializes Reload
	loaded  stamp      // the file behind cur
	failed  stamp      // the last file version that failed to load
	lastErr error      // its error
}

// stamp identifies a version of the file.
type stamp struct {
	mod  time.Time
	size int64
}

func (s stamp) same(o stamp) bool { return s.size == o.size && s.mod.Equal(o.mod) }

// Open loads the database at path (--geoip.database). The error names the
// file and says what to do.
func Open(path string, opts Options) (*DB, error) {
	t, st, err := load(path, opts)
	if err != nil {
		return nil, err
	}
	d := &DB{path: path, opts: opts, loaded: st}
	d.cur.Store(t)
	return d, nil
}

// load reads and parses the file, stamping the table with the version it
// read: the stat is of the open file, so a file renamed over the path in
// between is not mistaken for the one read.
func load(path string, opts Options) (*Table, stamp, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, stamp{}, fmt.Errorf("open geoip database: %w: set --geoip.database to a GeoLite2-Country, GeoLite2-City or DB-IP Lite country .mmdb file", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, stamp{}, fmt.Errorf("stat geoip database %q: %w", path, err)
	}
	st := stamp{mod: fi.ModTime(), size: fi.Size()}
	switch {
	case !fi.Mode().IsRegular():
		return nil, st, fmt.Errorf("geoip database %q is not a regular file", path)
	case fi.Size() > opts.maxFileBytes():
		return nil, st, fmt.Errorf("geoip database %q is %d bytes, more than the %d this loader reads: is it a country or city database?", path, fi.Size(), opts.maxFileBytes())
	}
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, st, fmt.Errorf("read geoip database %q: %w (was it being rewritten?)", path, err)
	}
	t, err := Parse(data, opts)
	if err != nil {
		return nil, st, fmt.Errorf("geoip database %q: %w", path, err)
	}
	t.info.Path, t.info.ModTime = path, st.mod
	return t, st, nil
}

// Country returns the country index of addr (16 bytes, IPv4 as
// IPv4-mapped) in the current table; Unknown on a nil DB.
func (d *DB) Country(addr [16]byte) uint16 {
	if d == nil {
		return Unknown
	}
	return d.cur.Load().Country(addr)
}

// Table returns the current table.
func (d *DB) Table() *Table { return d.cur.Load() }

// Info describes the current table's database.
func (d *DB) Info() Info { return d.cur.Load().info }

// Reload loads the file again when its modification time or size changed
// since the current table was loaded, and swaps the new table in. On error
// the current table stays, and the same error comes back without reading
// the file again until the file changes. It reports whether it swapped.
func (d *DB) Reload() (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fi, err := os.Stat(d.path)
	if err != nil {
		return false, fmt.Errorf("reload geoip database: %w (keeping the one loaded at %s)", err, d.loaded.mod.Format(time.RFC3339))
	}
	now := stamp{mod: fi.ModTime(), size: fi.Size()}
	switch {
	case now.same(d.loaded):
		return false, nil
	case now.same(d.failed):
		return false, d.lastErr
	}
	t, st, err := load(d.path, d.opts)
	if err != nil {
		d.failed = st
		d.lastErr = fmt.Errorf("reload: %w (keeping the database modified %s)", err, d.loaded.mod.Format(time.RFC3339))
		return false, d.lastErr
	}
	d.cur.Store(t)
	d.loaded, d.failed, d.lastErr = st, stamp{}, nil
	return true, nil
}
