package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/capture"
	"github.com/netanomaly/netanomaly_exporter/collector/pipeline"
)

// source is an opened source with its label and how to reopen it.
type source struct {
	name     string
	src      capture.Source
	lossless bool
	reopen   pipeline.Opener
	workers  []pipeline.Worker // more members of src's fanout group
	demo     *demoSource       // the synthesized demo, nil for others
}

// openSources opens every source before anything starts, so that a bad
// flag or a missing file leaves nothing half-started. offline sources are
// replayed once as fast as possible.
func openSources(o options, logger *slog.Logger, offline bool) ([]source, error) {
	var out []source
	closeAll := func() {
		for _, s := range out {
			if s.src != nil {
				_ = s.src.Close()
			}
			for _, w := range s.workers {
				_ = w.Source.Close()
			}
		}
	}
	speed, loop := o.speed, o.loop
	if offline {
		speed, loop = 0, false
	}
	if len(o.pcaps) == 0 && len(o.interfaces) == 0 {
		if offline {
			return nil, usageError{errors.New("this command needs --capture.pcap=FILE")}
		}
		if o.speed == 0 {
			return nil, usageError{errors.New("--capture.pcap.speed=0 would replay the endless demo as fast as possible: give a speed above 0, or a source")}
		}
		src, err := openDemo(time.Now().Truncate(time.Second), o.speed, logger)
		if err != nil {
			return nil, err
		}
		return []source{{name: demoName, src: src, lossless: true, demo: src}}, nil
	}
	seen := map[string]bool{}
	for _, path := range o.pcaps {
		src, err := capture.OpenFile(capture.FileConfig{Path: path, Speed: speed, Loop: loop}, logger)
		if err != nil {
			closeAll()
			return nil, err
		}
		name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		for base, i := name, 2; seen[name]; i++ {
			name = fmt.Sprintf("%s_%d", base, i)
		}
		seen[name] = true
		out = append(out, source{name: name, src: src, lossless: true})
	}
	if offline && len(o.interfaces) > 0 {
		closeAll()
		return nil, usageError{errors.New("this command reads capture files: use --capture.pcap, not --capture.interface")}
	}
	for _, iface := range o.interfaces {
		if seen[iface] {
			closeAll()
			return nil, usageError{fmt.Errorf("--capture.interface=%s given twice", iface)}
		}
		seen[iface] = true
		cfg := capture.LiveConfig{Interface: iface, Method: o.method, Filter: o.filter, Snaplen: o.snaplen, Promiscuous: o.promisc, BufferBytes: int(o.buffer)}
		n := captureWorkers(o)
		if n > 1 {
			// The workers share the ring size, each joins the group.
			ifindex := 0
			if ifi, err := net.InterfaceByName(iface); err == nil {
				ifindex = ifi.Index
			}
			cfg.Fanout, cfg.BufferBytes = capture.FanoutGroup(ifindex), int(o.buffer)/n
		}
		s := source{name: iface}
		for i := range n {
			src, err := capture.OpenLive(cfg)
			if err != nil {
				out = append(out, s)
				closeAll()
				return nil, err
			}
			reopen := func() (capture.Source, error) { return capture.OpenLive(cfg) }
			if i == 0 {
				s.src, s.reopen = src, reopen
			} else {
				s.workers = append(s.workers, pipeline.Worker{Source: src, Reopen: reopen})
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// maxAutoWorkers caps --capture.workers=0: beyond it the one feature
// stage of an interface, not capture, is the limit.
const maxAutoWorkers = 4

// captureWorkers returns the capture workers per interface: as asked, or
// for 0 one per CPU the process may use (at most maxAutoWorkers) with
// afpacket; libpcap has one.
func captureWorkers(o options) int {
	switch {
	case o.method == capture.MethodPcap:
		return 1
	case o.workers > 0:
		return o.workers
	}
	return min(runtime.GOMAXPROCS(0), maxAutoWorkers)
}

// anonymizer builds the --privacy.ip renderer. For the hash mode a missing
// key file is created with a random key, so hashes stay stable across
// restarts and cannot be reversed; an empty or short one is an error.
func anonymizer(o options, logger *slog.Logger) (*pipeline.Anonymizer, error) {
	var key []byte
	if o.privacyKey != "" {
		b, err := os.ReadFile(o.privacyKey)
		switch {
		case errors.Is(err, os.ErrNotExist) && o.privacy == pipeline.PrivacyHash:
			if b, err = newKeyFile(o.privacyKey); err != nil {
				return nil, fmt.Errorf("create --privacy.hash-key-file: %w", err)
			}
			logger.Warn("created a random key for --privacy.ip=hash: keep this file to keep the hashes stable across restarts", "file", o.privacyKey)
		case err != nil:
			return nil, fmt.Errorf("read --privacy.hash-key-file: %w", err)
		}
		key = bytes.TrimSpace(b)
	}
	return pipeline.NewAnonymizer(o.privacy, key)
}

// newKeyFile writes 32 random bytes, hex-encoded, to a new file readable by
// its owner only.
func newKeyFile(path string) ([]byte, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	key := []byte(hex.EncodeToString(raw))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(append(key, '\n')); err != nil {
		f.Close()
		return nil, err
	}
	return key, f.Close()
}
