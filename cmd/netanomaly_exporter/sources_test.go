package main

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/pipeline"
	"github.com/netanomaly/netanomaly_exporter/detector"
)

// TestHashKey checks that --privacy.ip=hash never runs with a guessable
// key: no key or a short one is refused, and a missing key file is created
// with a random key that the next start reads back.
func TestHashKey(t *testing.T) {
	dir := t.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	empty := filepath.Join(dir, "empty.key")
	_ = os.WriteFile(empty, []byte("\n"), 0o600)
	short := filepath.Join(dir, "short.key")
	_ = os.WriteFile(short, []byte("secret\n"), 0o600)
	for _, c := range []struct{ name, file, want string }{
		{"no key file", "", "--privacy.hash-key-file"},
		{"empty key file", empty, "at least 16 bytes (got 0)"},
		{"short key", short, "at least 16 bytes (got 6)"},
		{"unreadable directory", filepath.Join(dir, "nope", "k"), "create --privacy.hash-key-file"},
	} {
		_, err := anonymizer(options{privacy: pipeline.PrivacyHash, privacyKey: c.file}, logger)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want it to say %q", c.name, err, c.want)
		}
	}

	path := filepath.Join(dir, "hash.key")
	o := options{privacy: pipeline.PrivacyHash, privacyKey: path}
	a1, err := anonymizer(o, logger)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("key file not created: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	a2, err := anonymizer(o, logger)
	if err != nil {
		t.Fatal(err)
	}
	addr := [16]byte{10: 0xff, 11: 0xff, 12: 10, 15: 1}
	if h1, h2 := a1.Addr(addr), a2.Addr(addr); h1 != h2 || !strings.HasPrefix(h1, "h:") {
		t.Errorf("hash changed across restarts with the created key: %s then %s", h1, h2)
	}
	other := filepath.Join(dir, "other.key")
	a3, err := anonymizer(options{privacy: pipeline.PrivacyHash, privacyKey: other}, logger)
	if err != nil {
		t.Fatal(err)
	}
	if a3.Addr(addr) == a1.Addr(addr) {
		t.Error("two created keys hash alike: the key is not random")
	}
	// Modes without hashing need no key.
	if _, err := anonymizer(options{privacy: pipeline.PrivacyTruncate, privacyKey: filepath.Join(dir, "unused.key")}, logger); err == nil {
		t.Error("a missing key file for the truncate mode should be an error (the file was named but cannot be read)")
	}
	if _, err := anonymizer(options{privacy: pipeline.PrivacyFull}, logger); err != nil {
		t.Errorf("full mode without a key: %v", err)
	}
}

// TestEvaluateWithoutSet checks that evaluating a capture with a model file
// that holds no models for it (and no default set) is an error naming the
// sets the file has, not an evaluation of nothing with F1 0.
func TestEvaluateWithoutSet(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.model")
	capture := "--capture.pcap=testdata/ftp_bruteforce.pcap"
	var stderr bytes.Buffer
	if code := run([]string{"train", capture, "--detector.model-file=" + model}, io.Discard, &stderr); code != 0 {
		t.Fatalf("train: exit %d\n%s", code, stderr.String())
	}
	mf, err := detector.LoadModelFile(model, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	mf.Sets = map[string]*detector.ModelSet{"eth7": mf.Sets[detector.DefaultSet]}
	if err := mf.Save(model); err != nil {
		t.Fatal(err)
	}
	labels := filepath.Join(dir, "labels.csv")
	_ = os.WriteFile(labels, []byte("start,end,type\n"), 0o644)
	stderr.Reset()
	code := run([]string{"evaluate", capture, "--detector.model-file=" + model, "--labels=" + labels}, io.Discard, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), `no models for "ftp_bruteforce" (it has eth7)`) {
		t.Errorf("exit %d, stderr:\n%s\nwant an error naming the capture and the file's sets", code, stderr.String())
	}
}
