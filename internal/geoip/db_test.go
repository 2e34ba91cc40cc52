package geoip

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
)

// writeDB replaces the file at path as geoipupdate does (a new file
// renamed over it), with the given modification time.
func writeDB(t *testing.T, path string, data []byte, mod time.Time) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tmp, mod, mod); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "GeoLite2-ASN.mmdb")
	asn := build(t, mmdbwriter.Options{DatabaseType: "GeoLite2-ASN"}, []network{{"8.8.8.0/24", registeredRec("US")}})
	writeDB(t, bad, asn, time.Now())
	big := filepath.Join(dir, "big.mmdb")
	writeDB(t, big, build(t, mmdbwriter.Options{}, countryNets), time.Now())
	for _, c := range []struct {
		path string
		opts Options
		want []string
	}{
		{filepath.Join(dir, "missing.mmdb"), Options{}, []string{"missing.mmdb", "no such file", "--geoip.database"}},
		{dir, Options{}, []string{dir, "not a regular file"}},
		{bad, Options{}, []string{`geoip database "` + bad + `"`, `type "GeoLite2-ASN" has no country`}},
		{big, Options{MaxFileBytes: 100}, []string{"more than the 100 this loader reads"}},
	} {
		_, err := Open(c.path, c.opts)
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("Open(%s): error %v, want one containing %q", c.path, err, w)
			}
		}
	}
	var nilDB *DB
	if nilDB.Country(addr("8.8.8.8")) != Unknown {
		t.Error("a nil DB places addresses")
	}
}

func TestReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "GeoLite2-Country.mmdb")
	mod := time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC)
	v1 := build(t, mmdbwriter.Options{}, []network{{"8.8.8.0/24", countryRec("US")}})
	v2 := build(t, mmdbwriter.Options{}, []network{{"8.8.8.0/24", countryRec("CA")}, {"9.9.9.0/24", countryRec("CH")}})
	writeDB(t, path, v1, mod)
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if info := db.Info(); info.Path != path || !info.ModTime.Equal(mod) || info.Networks != 1 || info.Size != int64(len(v1)) {
		t.Errorf("info %+v", info)
	}
	country := func() string { return Code(db.Country(addr("8.8.8.8"))) }

	steps := []struct {
		name    string
		change  func()
		swapped bool
		err     string
		want    string
	}{
		{"unchanged", func() {}, false, "", "US"},
		{"new version", func() { writeDB(t, path, v2, mod.Add(7*24*time.Hour)) }, true, "", "CA"},
		{"unchanged again", func() {}, false, "", "CA"},
		{"truncated copy", func() { writeDB(t, path, v1[:len(v1)/2], mod.Add(8*24*time.Hour)) }, false, "keeping the database modified 2026-03-10", "CA"},
		{"same broken file", func() {}, false, "not a readable MaxMind DB file", "CA"},
		{"removed", func() { _ = os.Remove(path) }, false, "no such file", "CA"},
		{"back", func() { writeDB(t, path, v1, mod.Add(9*24*time.Hour)) }, true, "", "US"},
	}
	var prev error
	for _, s := range steps {
		s.change()
		swapped, err := db.Reload()
		if swapped != s.swapped || (err == nil) != (s.err == "") || (err != nil && !strings.Contains(err.Error(), s.err)) {
			t.Errorf("%s: Reload() = %v, %v; want %v and an error containing %q", s.name, swapped, err, s.swapped, s.err)
		}
		// A file that failed is not read again until it changes: the
		// very same error comes back.
		if s.name == "same broken file" && err != prev {
			t.Errorf("%s: a new error %p, want the cached %p", s.name, err, prev)
		}
		prev = err
		if got := country(); got != s.want {
			t.Errorf("%s: 8.8.8.8 is in %q, want %q", s.name, got, s.want)
		}
	}
	if db.Table().Country(addr("8.8.8.8")) != Index("US") {
		t.Error("Table is not the current table")
	}
}

// Lookups run while Reload swaps tables (run with -race).
func TestReloadConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.mmdb")
	versions := [][]byte{
		build(t, mmdbwriter.Options{}, []network{{"8.8.8.0/24", countryRec("US")}}),
		build(t, mmdbwriter.Options{}, []network{{"8.8.8.0/24", countryRec("CA")}}),
	}
	mod := time.Now()
	writeDB(t, path, versions[0], mod)
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 20 {
			writeDB(t, path, versions[(i+1)%2], mod.Add(time.Duration(i+1)*time.Minute))
			if _, err := db.Reload(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	us, ca := Index("US"), Index("CA")
	for {
		select {
		case <-done:
			return
		default:
		}
		if c := db.Country(addr("8.8.8.8")); c != us && c != ca {
			t.Fatalf("8.8.8.8 is in %q during reload", Code(c))
		}
	}
}
