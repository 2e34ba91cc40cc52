package blocklist

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/internal/testutil"
)

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeAtomic replaces path the way lists should be updated: a new file
// renamed over the old one.
func writeAtomic(t *testing.T, path, text string) {
	t.Helper()
	write(t, path+".tmp", text)
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// setup writes one file per list text and returns a Blocklists over them.
func setup(t *testing.T, texts ...string) (*Blocklists, []string) {
	t.Helper()
	dir := t.TempDir()
	lists := make([]List, len(texts))
	paths := make([]string, len(texts))
	for i, text := range texts {
		paths[i] = filepath.Join(dir, fmt.Sprintf("list%d.netset", i))
		write(t, paths[i], text)
		lists[i] = List{Name: fmt.Sprint("list", i), Path: paths[i]}
	}
	b, err := New(lists, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return b, paths
}

func TestReload(t *testing.T) {
	b, paths := setup(t, "192.0.2.0/24\n", `{"cidr":"2001:db8::/32","sblid":"SBL1"}`+"\n")
	a4, a6, other := addr("192.0.2.9"), addr("2001:db8::9"), addr("198.51.100.1")
	if b.Lookup(a4) != 0 || b.Status().LastReloadOK || !b.Status().LastReload.IsZero() {
		t.Fatal("lists in force before the first Reload")
	}
	if err := b.Reload(); err != nil {
		t.Fatal(err)
	}
	if b.Lookup(a4) != 1 || b.Lookup(a6) != 2 || b.Lookup(other) != 0 {
		t.Fatalf("after load: %d %d %d", b.Lookup(a4), b.Lookup(a6), b.Lookup(other))
	}
	st := b.Status()
	l0, l1 := st.Lists[0], st.Lists[1]
	if !st.LastReloadOK || st.LastReload.IsZero() || l0.Name != "list0" || l0.Path != paths[0] ||
		l0.Entries != 1 || l0.Addresses4 != 256 || l0.Addresses6 != 0 || l0.LastSuccess.IsZero() || l0.Err != nil ||
		l1.Entries != 1 || l1.Addresses6 == 0 {
		t.Fatalf("status %+v", st)
	}

	// A changed file is read again, an unchanged one is not.
	write(t, paths[0], "192.0.2.0/24\n198.51.100.0/24\n")
	if err := b.Reload(); err != nil {
		t.Fatal(err)
	}
	st = b.Status()
	if b.Lookup(other) != 1 || st.Lists[0].Entries != 2 || !st.Lists[0].LastSuccess.After(l0.LastSuccess) {
		t.Errorf("changed list not reloaded: %+v", st.Lists[0])
	}
	if !st.Lists[1].LastSuccess.Equal(l1.LastSuccess) {
		t.Errorf("unchanged list reloaded: %+v", st.Lists[1])
	}

	// A bad file leaves the previous contents in force.
	good := st.Lists[0]
	write(t, paths[0], "192.0.2.0/24\nnot-an-address\n")
	err := b.Reload()
	if err == nil || !strings.Contains(err.Error(), `blocklist "list0"`) || !strings.Contains(err.Error(), paths[0]+`:2: "not-an-address"`) {
		t.Fatalf("bad file: %v", err)
	}
	st = b.Status()
	if b.Lookup(other) != 1 || b.Lookup(a6) != 2 || st.LastReloadOK || st.Lists[0].Err == nil ||
		st.Lists[0].Entries != good.Entries || !st.Lists[0].LastSuccess.Equal(good.LastSuccess) || st.Lists[1].Err != nil {
		t.Errorf("after bad file: %+v", st)
	}
	// Still bad on the next poll, though not read again.
	if err := b.Reload(); err == nil || b.Status().LastReloadOK {
		t.Error("a list still broken reported as reloaded")
	}

	// A file that disappears: error, previous kept.
	if err := os.Remove(paths[0]); err != nil {
		t.Fatal(err)
	}
	err = b.Reload()
	if err == nil || !strings.Contains(err.Error(), "no such file") || !strings.Contains(err.Error(), "previous contents stay in force") {
		t.Fatalf("missing file: %v", err)
	}
	if b.Lookup(other) != 1 || b.Status().Lists[0].Err == nil {
		t.Error("missing file dropped the list")
	}

	// Back, fixed.
	write(t, paths[0], "203.0.113.0/24\n")
	if err := b.Reload(); err != nil {
		t.Fatal(err)
	}
	st = b.Status()
	if b.Lookup(other) != 0 || b.Lookup(addr("203.0.113.1")) != 1 || !st.LastReloadOK || st.Lists[0].Err != nil {
		t.Errorf("after fix: %+v", st)
	}
}

// TestReloadUnchangedFile shows that Reload decides on the file's identity,
// size and modification time, not its contents: a same-size rewrite with the
// old time restored is not read.
func TestReloadUnchangedFile(t *testing.T) {
	b, paths := setup(t, "192.0.2.1\n")
	if err := b.Reload(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	write(t, paths[0], "192.0.2.2\n")
	if err := os.Chtimes(paths[0], fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := b.Reload(); err != nil {
		t.Fatal(err)
	}
	if b.Lookup(addr("192.0.2.1")) != 1 {
		t.Error("unchanged file was read again")
	}
	// The same bytes and time in a new file (replaced by rename) are read.
	tmp := paths[0] + ".tmp"
	write(t, tmp, "192.0.2.3\n")
	if err := os.Chtimes(tmp, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, paths[0]); err != nil {
		t.Fatal(err)
	}
	if err := b.Reload(); err != nil {
		t.Fatal(err)
	}
	if b.Lookup(addr("192.0.2.3")) != 1 {
		t.Error("file replaced by rename not read")
	}
}

func TestReloadMissingAtStart(t *testing.T) {
	b, err := New([]List{{Name: "later", Path: filepath.Join(t.TempDir(), "absent.netset")}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = b.Reload()
	if err == nil || !strings.Contains(err.Error(), `blocklist "later"`) || !strings.Contains(err.Error(), "matches nothing until it loads") {
		t.Errorf("missing at start: %v", err)
	}
	if st := b.Status(); st.LastReloadOK || st.Lists[0].Err == nil || !st.Lists[0].LastSuccess.IsZero() {
		t.Errorf("status %+v", st)
	}
}

func TestReloadNotRegular(t *testing.T) {
	dir := t.TempDir()
	b, err := New([]List{{Name: "dir", Path: dir}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Reload(); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory as list: %v", err)
	}
}

func TestReloadMaxEntries(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "big")
	write(t, path, "1.1.1.1\n2.2.2.2\n3.3.3.3\n")
	b, err := New([]List{{Name: "big", Path: path}}, Options{MaxEntries: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Reload(); err == nil || !strings.Contains(err.Error(), path+":3: more than 2 entries") {
		t.Errorf("over the cap: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	many := make([]List, MaxLists+1)
	for i := range many {
		many[i] = List{Name: fmt.Sprint("l", i), Path: "/x"}
	}
	for _, c := range []struct {
		name  string
		lists []List
		want  string
	}{
		{"65 lists", many, "65 blocklists configured, at most 64 are supported"},
		{"duplicate names", []List{{"spamhaus", "/a"}, {"firehol", "/b"}, {"spamhaus", "/c"}}, `blocklist name "spamhaus" is used by lists 1 and 3`},
		{"no name", []List{{"", "/a"}}, "blocklist 1 has no name"},
		{"no path", []List{{"firehol", ""}}, `blocklist "firehol" has no path`},
	} {
		_, err := New(c.lists, Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	b, err := New(many[:MaxLists], Options{})
	if err != nil {
		t.Fatalf("64 lists: %v", err)
	}
	if len(b.Names()) != MaxLists || b.Names()[63] != "l63" {
		t.Errorf("names %v", b.Names())
	}
	b, err = New(nil, Options{})
	if err != nil || b.Reload() != nil || b.Lookup(addr("1.2.3.4")) != 0 || !b.Status().LastReloadOK {
		t.Errorf("no lists: %v", err)
	}
}

func TestWatch(t *testing.T) {
	b, paths := setup(t, "192.0.2.1\n")
	if err := b.Reload(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Watch(ctx, 5*time.Millisecond); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	writeAtomic(t, paths[0], "192.0.2.1\n192.0.2.2\n")
	testutil.WaitFor(t, "changed file picked up", func() bool { return b.Lookup(addr("192.0.2.2")) == 1 })
	writeAtomic(t, paths[0], "bad\n")
	testutil.WaitFor(t, "bad file reported", func() bool { return b.Status().Lists[0].Err != nil })
	if b.Lookup(addr("192.0.2.2")) != 1 {
		t.Error("bad file dropped the list")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return after cancel")
	}
}

// TestLookupDuringReload runs lookups while lists are swapped (for -race).
func TestLookupDuringReload(t *testing.T) {
	b, paths := setup(t, "192.0.2.0/24\n", "2001:db8::/32\n")
	if err := b.Reload(); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			a4, a6 := addr("192.0.2.1"), addr("2001:db8::1")
			for {
				select {
				case <-stop:
					return
				default:
				}
				if b.Lookup(a4) != 1 || b.Lookup(a6) != 2 {
					t.Error("lookup missed a list during reload")
					return
				}
				_ = b.Status()
			}
		})
	}
	for i := range 50 {
		write(t, paths[0], fmt.Sprintf("192.0.2.0/24\n10.0.0.%d\n", i))
		if err := b.Reload(); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
}
