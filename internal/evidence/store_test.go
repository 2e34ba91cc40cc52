package evidence

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v2"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/internal/testutil"
)

// TestStoreRotation fills the directory with old evidence files and
// foreign ones, then starts an attack: the oldest of ours are deleted
// until the new file fits under total_bytes; nothing else is touched.
func TestStoreRotation(t *testing.T) {
	dir := t.TempDir()
	const kib = 1 << 10
	old := time.Now().Add(-time.Hour)
	files := []struct {
		name    string
		size    int
		age     time.Duration // older is larger
		deleted bool
	}{
		{"eth0-syn_flood-20251201T000000Z.pcap", 60 * kib, 4 * time.Minute, true},
		{"eth1-udp_flood-20251202T000000Z-2.pcap", 60 * kib, 3 * time.Minute, true},
		{"eth0-port_scan-20251203T000000Z.pcap", 60 * kib, 2 * time.Minute, false},
		{"eth0-port_scan-20251204T000000Z.pcap", 40 * kib, time.Minute, false},
		// Not ours, however old or large.
		{"notes.txt", 500 * kib, time.Hour, false},
		{"eth0-syn_flood.pcap", 100 * kib, time.Hour, false},
		{"capture-20251201T000000Z.pcap", 100 * kib, time.Hour, false},
		{".eth0-syn_flood-20251201T000000Z.pcap", 100 * kib, time.Hour, false},
		{"eth0-syn_flood-20251201T000000Z.pcapng", 100 * kib, time.Hour, false},
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, make([]byte, f.size), 0o644); err != nil {
			t.Fatal(err)
		}
		at := old.Add(-f.age)
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
	// A directory and a link named like ours are not files of ours.
	if err := os.Mkdir(filepath.Join(dir, "eth9-x-20200101T000000Z.pcap"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "notes.txt"), filepath.Join(dir, "eth8-x-20200101T000000Z.pcap")); err != nil {
		t.Fatal(err)
	}

	// Ours hold 220 KiB; a new file may take 64 KiB: 284 > 200, and
	// deleting the two oldest (120 KiB) makes 164.
	s := openStore(t, Config{Dir: dir, MaxBytes: MinMaxBytes, MaxFilesOpen: 1, TotalBytes: 200 * kib})
	if st := s.Stats(); st.BytesOnDisk != 220*kib {
		t.Errorf("%d bytes on disk at open, want %d", st.BytesOnDisk, 220*kib)
	}
	r := newRec(t, s, decode.LinkEthernet, true)
	path := mustStart(t, r, Attack{ID: "a", Type: "syn_flood", Start: t0})
	for _, f := range files {
		_, err := os.Stat(filepath.Join(dir, f.name))
		if gone := errors.Is(err, os.ErrNotExist); gone != f.deleted {
			t.Errorf("%s: deleted %v, want %v", f.name, gone, f.deleted)
		}
	}
	for _, name := range []string{"eth9-x-20200101T000000Z.pcap", "eth8-x-20200101T000000Z.pcap"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	st := s.Stats()
	if st.FilesDeleted != 2 || st.BytesOnDisk != 100*kib+pcapFileHdr {
		t.Errorf("stats %+v, want 2 deleted and %d bytes on disk", st, 100*kib+pcapFileHdr)
	}
	r.Stop("a")
	testutil.WaitFor(t, "the file to end", func() bool { return r.Stats().FilesWritten == 1 })
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the new file: %v", err)
	}
}

// TestStoreRotationKeepsOpen checks that a file being written is never
// deleted to make room, even when it is the oldest.
func TestStoreRotationKeepsOpen(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, Config{Dir: dir, MaxBytes: MinMaxBytes, MaxFilesOpen: 2, TotalBytes: 2 * MinMaxBytes})
	r := newRec(t, s, decode.LinkEthernet, true)
	open := mustStart(t, r, Attack{ID: "a", Type: "syn_flood", Start: t0})
	closed := filepath.Join(dir, "eth0-spike-20251201T000000Z.pcap")
	if err := os.WriteFile(closed, make([]byte, 1000), 0o640); err != nil {
		t.Fatal(err)
	}
	for i, p := range []string{open, closed} {
		at := time.Now().Add(time.Duration(i-10) * time.Hour)
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
	// Two open files may take all of total_bytes: the closed one goes.
	mustStart(t, r, Attack{ID: "b", Type: "udp_flood", Start: t0})
	if _, err := os.Stat(open); err != nil {
		t.Errorf("open file deleted: %v", err)
	}
	if _, err := os.Stat(closed); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("finished file kept: %v", err)
	}
}

// TestStoreNames checks file names: sanitized parts, UTC time of the
// onset, a suffix for the same second, the pattern rotation matches.
func TestStoreNames(t *testing.T) {
	s := openStore(t, Config{MaxFilesOpen: 3, TotalBytes: 64 << 20})
	r, err := s.NewRecorder(Interface{Name: "../br-lan.10@if3", LinkType: decode.LinkEthernet})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, id := range []string{"a", "b", "c"} {
		p := mustStart(t, r, Attack{ID: id, Type: "syn flood", Start: t0})
		if filepath.Dir(p) != s.Config().Dir {
			t.Errorf("%s is not in %s", p, s.Config().Dir)
		}
		names = append(names, filepath.Base(p))
	}
	want := []string{
		"_._br-lan.10_if3-syn_flood-20251206T215501Z.pcap",
		"_._br-lan.10_if3-syn_flood-20251206T215501Z-2.pcap",
		"_._br-lan.10_if3-syn_flood-20251206T215501Z-3.pcap",
	}
	for i := range want {
		if names[i] != want[i] {
			t.Errorf("file %d is %s, want %s", i, names[i], want[i])
		}
		if !ourName.MatchString(names[i]) {
			t.Errorf("%s does not match the pattern of our files", names[i])
		}
	}
	for _, c := range []struct{ in, want string }{
		{"eth0", "eth0"},
		{"", "unknown"},
		{".hidden", "_hidden"},
		{"-x", "_x"},
		{"a/b\\c:d e", "a_b_c_d_e"},
		{"wlan0.ü", "wlan0.__"},
		{strings.Repeat("x", 100), strings.Repeat("x", maxNamePart)},
	} {
		if got := sanitize(c.in); got != c.want {
			t.Errorf("sanitize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := fileTime(0); len(got) != len("20060102T150405Z") {
		t.Errorf("fileTime(0) = %q, want the wall clock's time", got)
	}
}

// TestOpenErrors checks that a directory that cannot be written and
// values out of range fail at construction, naming the problem.
func TestOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"no dir", Config{}, []string{"dir is empty"}},
		{"dir under a file", Config{Dir: filepath.Join(file, "evidence")}, []string{"cannot create directory", file, "writable"}},
		{"dir is a file", Config{Dir: file}, []string{file, "writable"}},
		{"snaplen", Config{Dir: dir, Snaplen: 20}, []string{"snaplen 20 out of range", "68 to 65535"}},
		{"ring_bytes", Config{Dir: dir, RingBytes: 1 << 40}, []string{"ring_bytes 1TiB out of range"}},
		{"ring for snaplen", Config{Dir: dir, Snaplen: 65535, RingBytes: 512 << 10}, []string{"ring_bytes 512KiB holds fewer than 16 packets"}},
		{"before", Config{Dir: dir, Before: -time.Second}, []string{"before -1s out of range"}},
		{"max_packets", Config{Dir: dir, MaxPackets: -1}, []string{"max_packets -1 out of range"}},
		{"max_bytes", Config{Dir: dir, MaxBytes: 100}, []string{"max_bytes 100B out of range"}},
		{"max_duration", Config{Dir: dir, MaxDuration: 48 * time.Hour}, []string{"max_duration 48h0m0s out of range"}},
		{"max_files_open", Config{Dir: dir, MaxFilesOpen: 17}, []string{"max_files_open 17 out of range", "1 to 16"}},
		{"total_bytes", Config{Dir: dir, TotalBytes: 16 << 20}, []string{"total_bytes 16MiB is below", "4 × 8MiB"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Open(c.cfg, nil)
			if err == nil {
				t.Fatal("opened")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	if os.Geteuid() != 0 {
		ro := filepath.Join(t.TempDir(), "ro")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(Config{Dir: ro}, nil); err == nil || !strings.Contains(err.Error(), "not writable") {
			t.Errorf("read-only directory: %v, want an error saying it is not writable", err)
		}
	}
}

// TestOpenCreatesDir checks the new directory's mode, and that the
// writability probe leaves nothing behind.
func TestOpenCreatesDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "evidence")
	openStore(t, Config{Dir: dir})
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&^0o750 != 0 || perm&0o700 != 0o700 {
		t.Errorf("directory mode %v, want 0750 (less by umask)", perm)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 0 {
		t.Errorf("directory holds %v (%v), want nothing", entries, err)
	}
}

func TestNewRecorderLinkType(t *testing.T) {
	s := openStore(t, Config{Anonymize: flipAddr})
	_, err := s.NewRecorder(Interface{Name: "wlan0mon", LinkType: 127})
	if err == nil || !strings.Contains(err.Error(), "wlan0mon") || !strings.Contains(err.Error(), "link type 127") {
		t.Errorf("radiotap with anonymization: %v, want an error naming the interface and link type", err)
	}
	if _, err := s.NewRecorder(Interface{Name: "eth0", LinkType: decode.LinkSLL2}); err != nil {
		t.Error(err)
	}
}

// TestConfigYAML checks the YAML keys, sizes with and without units, and
// that zero fields take the defaults.
func TestConfigYAML(t *testing.T) {
	in := `
dir: /var/lib/netanomaly/evidence
snaplen: 256
ring_bytes: 32MiB
before: 15s
max_packets: 5000
max_bytes: 4194304
max_duration: 2m
max_files_open: 2
total_bytes: 1GiB
`
	var c Config
	if err := yaml.UnmarshalStrict([]byte(in), &c); err != nil {
		t.Fatal(err)
	}
	want := Config{Dir: "/var/lib/netanomaly/evidence", Snaplen: 256, RingBytes: 32 << 20, Before: 15 * time.Second, MaxPackets: 5000,
		MaxBytes: 4 << 20, MaxDuration: 2 * time.Minute, MaxFilesOpen: 2, TotalBytes: 1 << 30}
	if c.Dir != want.Dir || c.Snaplen != want.Snaplen || c.RingBytes != want.RingBytes || c.Before != want.Before || c.MaxPackets != want.MaxPackets ||
		c.MaxBytes != want.MaxBytes || c.MaxDuration != want.MaxDuration || c.MaxFilesOpen != want.MaxFilesOpen || c.TotalBytes != want.TotalBytes {
		t.Errorf("parsed %+v\nwant   %+v", c, want)
	}
	if err := c.withDefaults().validate(); err != nil {
		t.Error(err)
	}
	if err := yaml.UnmarshalStrict([]byte("ring_bytes: 16 apples\n"), &c); err == nil || !strings.Contains(err.Error(), "16MiB") {
		t.Errorf("bad size: %v, want an error showing the format", err)
	}
	if err := yaml.UnmarshalStrict([]byte("ringbytes: 1\n"), &c); err == nil {
		t.Error("unknown key accepted")
	}
	d := Config{Dir: "x"}.withDefaults()
	if d.Snaplen != DefaultSnaplen || d.RingBytes != DefaultRingBytes || d.Before != DefaultBefore || d.MaxPackets != DefaultMaxPackets ||
		d.MaxBytes != DefaultMaxBytes || d.MaxDuration != DefaultMaxDuration || d.MaxFilesOpen != DefaultMaxFilesOpen || d.TotalBytes != DefaultTotalBytes {
		t.Errorf("defaults %+v", d)
	}
	if err := d.validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
	out, err := yaml.Marshal(Config{RingBytes: 16 << 20})
	if err != nil || !strings.Contains(string(out), "ring_bytes: 16MiB") {
		t.Errorf("marshalled %q (%v), want ring_bytes: 16MiB", out, err)
	}
}
