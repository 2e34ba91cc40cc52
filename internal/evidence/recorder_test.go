package evidence

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/capture/pcapfile"
	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/internal/testutil"
)

// t0 is the start of the synthetic traffic: 2025-12-06T21:55:01Z and
// 1234 ns, so that exact timestamps are tested.
const t0 = int64(1_765_058_101)*1e9 + 1234

const second = int64(time.Second)

// frame is a packet of the synthetic traffic.
type frame struct {
	ts       int64
	data     []byte
	src, dst [16]byte
}

var (
	attackers = [][16]byte{v4(198, 51, 100, 1), v4(198, 51, 100, 2), v4(198, 51, 100, 3)}
	victim    = v4(203, 0, 113, 9)
	victim6   = v6("2001:db8:ffff::9")
	arpHost   = v4(10, 0, 0, 254)
)

// traffic is 12 seconds of an Ethernet link: background TCP (some with
// 1000-byte payloads), IPv6 UDP and ARP; a SYN flood from three attackers
// on victim from second 6, with the victim's replies and three early
// probes at second 1; and a UDP flood from forged IPv6 sources on victim6
// from second 6.5.
func traffic(t testing.TB) []frame {
	var fs []frame
	add := func(ts int64, et uint16, pkt []byte, src, dst [16]byte) {
		fs = append(fs, frame{ts, ether(t, et, pkt), src, dst})
	}
	for ms := int64(0); ms < 12000; ms += 5 {
		ts := t0 + ms*1e6
		i := ms / 5
		if ms%10 == 0 {
			src, dst := v4(10, 0, 0, byte(i%20+1)), v4(192, 0, 2, byte(i%5+1))
			payload := 0
			if i%3 == 0 {
				payload = 1000
			}
			add(ts, etherIPv4, tcpPacket(t, src, dst, payload), src, dst)
		}
		if ms%50 == 0 {
			src, dst := v6(fmt.Sprintf("2001:db8::%x", i%4+1)), v6("2001:db8:eeee::1")
			add(ts, etherIPv6, udpPacket(t, src, dst, 200), src, dst)
		}
		if ms%500 == 0 {
			add(ts, etherARP, arpBody(t, arpHost, v4(10, 0, 0, 1)), arpHost, v4(10, 0, 0, 1))
		}
		if (ms >= 1000 && ms < 1015) || ms >= 6000 {
			src := attackers[i%3]
			add(ts+1, etherIPv4, tcpPacket(t, src, victim, 0), src, victim)
		}
		if ms >= 6000 && ms%20 == 0 {
			dst := attackers[i%3]
			add(ts+2, etherIPv4, tcpPacket(t, victim, dst, 0), victim, dst)
		}
		if ms >= 6500 && ms%10 == 5 {
			src := v6(fmt.Sprintf("2001:db8:bad::%x", i))
			add(ts+3, etherIPv6, udpPacket(t, src, victim6, 8), src, victim6)
		}
	}
	return fs
}

// event is a call made before the first frame at or after its time.
type event struct {
	at int64
	do func()
}

// drive feeds frames to r as a capture loop would, running each event
// before the first frame at or after its time.
func drive(r *Recorder, frames []frame, events ...event) {
	for _, f := range frames {
		for len(events) > 0 && events[0].at <= f.ts {
			events[0].do()
			events = events[1:]
		}
		r.Packet(f.ts, f.data, len(f.data), f.src, f.dst)
	}
	for _, e := range events {
		e.do()
	}
}

// want returns the frames from from (inclusive) to until (exclusive) that
// involve any of hosts (all frames for no hosts), at most n.
func want(frames []frame, from, until int64, n int, hosts ...[16]byte) []frame {
	set := map[[16]byte]bool{}
	for _, h := range hosts {
		set[h] = true
	}
	var out []frame
	for _, f := range frames {
		if f.ts >= from && f.ts < until && (len(set) == 0 || set[f.src] || set[f.dst]) && len(out) < n {
			out = append(out, f)
		}
	}
	return out
}

func openStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.RingBytes == 0 {
		cfg.RingBytes = 1 << 20
	}
	s, err := Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newRec(t *testing.T, s *Store, link uint16, lossless bool) *Recorder {
	t.Helper()
	r, err := s.NewRecorder(Interface{Name: "eth0", LinkType: link, Lossless: lossless})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustStart(t *testing.T, r *Recorder, a Attack) string {
	t.Helper()
	path, err := r.Start(a)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// readBack reads an evidence file with the project's own reader.
func readBack(t *testing.T, path string) (snaplen uint32, link uint16, pkts []pcapfile.Packet) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) < pcapFileHdr {
		t.Fatalf("%s: %d bytes, no pcap header", path, len(raw))
	}
	r, err := pcapfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		p, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s after %d packets: %v", path, len(pkts), err)
		}
		p.Data = bytes.Clone(p.Data)
		pkts = append(pkts, p)
	}
	return uint32(raw[16]) | uint32(raw[17])<<8 | uint32(raw[18])<<16 | uint32(raw[19])<<24, r.LinkType(), pkts
}

// checkFile compares an evidence file with the frames it must hold.
func checkFile(t *testing.T, path string, frames []frame) {
	t.Helper()
	snaplen, link, got := readBack(t, path)
	if snaplen != DefaultSnaplen || link != decode.LinkEthernet {
		t.Errorf("%s: header snaplen %d link type %d, want %d and %d", filepath.Base(path), snaplen, link, DefaultSnaplen, decode.LinkEthernet)
	}
	if len(got) != len(frames) {
		t.Errorf("%s: %d packets, want %d", filepath.Base(path), len(got), len(frames))
	}
	for i := range min(len(got), len(frames)) {
		g, w := got[i], frames[i]
		capLen := min(len(w.data), DefaultSnaplen)
		if g.TimeNanos != w.ts || g.WireLength != len(w.data) || g.CaptureLength != capLen || !bytes.Equal(g.Data, w.data[:capLen]) {
			t.Fatalf("%s: packet %d is time %d, %d of %d bytes; want time %d, %d of %d bytes (%s > %s)",
				filepath.Base(path), i, g.TimeNanos, g.CaptureLength, g.WireLength, w.ts, capLen, len(w.data), addrString(w.src), addrString(w.dst))
		}
	}
}

// tsharkFields runs tshark on a file, IPv4 checksums checked, and returns
// the fields of each packet. It skips the test when tshark is absent.
func tsharkFields(t *testing.T, path string, fields ...string) [][]string {
	t.Helper()
	bin, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not found (Debian package tshark): skipping the check of evidence files with Wireshark's dissectors")
	}
	args := []string{"-r", path, "-o", "ip.check_checksum:TRUE", "-T", "fields", "-E", "separator=,", "-E", "occurrence=f"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var rows [][]string
	for line := range strings.Lines(string(out)) {
		rows = append(rows, strings.Split(strings.TrimRight(line, "\n"), ","))
	}
	return rows
}

var tsharkCols = []string{"frame.time_epoch", "frame.len", "frame.cap_len", "ip.src", "ip.dst", "ip.checksum.status", "ipv6.src", "ipv6.dst", "arp.src.proto_ipv4", "arp.dst.proto_ipv4"}

// tsharkRow is what tshark must print for a frame written with capLen
// bytes, its addresses passed through addr.
func tsharkRow(f frame, capLen int, addr func([16]byte) [16]byte) []string {
	row := make([]string, len(tsharkCols))
	row[0] = fmt.Sprintf("%d.%09d", f.ts/second, f.ts%second)
	row[1], row[2] = strconv.Itoa(len(f.data)), strconv.Itoa(capLen)
	src, dst := addrString(addr(f.src)), addrString(addr(f.dst))
	switch uint16(f.data[12])<<8 | uint16(f.data[13]) {
	case etherIPv4:
		row[3], row[4], row[5] = src, dst, "1" // checksum good
	case etherIPv6:
		row[6], row[7] = src, dst
	case etherARP:
		row[8], row[9] = src, dst
	}
	return row
}

func checkTshark(t *testing.T, path string, frames []frame, capLen func(frame) int, addr func([16]byte) [16]byte) {
	t.Helper()
	rows := tsharkFields(t, path, tsharkCols...)
	if len(rows) != len(frames) {
		t.Fatalf("tshark read %d packets from %s, want %d", len(rows), filepath.Base(path), len(frames))
	}
	for i, f := range frames {
		if w := tsharkRow(f, capLen(f), addr); strings.Join(rows[i], ",") != strings.Join(w, ",") {
			t.Fatalf("tshark packet %d of %s:\n got %v\nwant %v", i, filepath.Base(path), rows[i], w)
		}
	}
}

// TestRecorderEvidence records three attacks at once from a running
// capture and checks each file, with the project's reader and with
// tshark: the packets from Before before the onset that involve the
// attack's hosts (and no earlier ones), then its packets until Stop and
// none after; snaplen kept; original lengths and timestamps exact.
func TestRecorderEvidence(t *testing.T) {
	before := 3 * second
	s := openStore(t, Config{Before: time.Duration(before)})
	r := newRec(t, s, decode.LinkEthernet, true)
	frames := traffic(t)

	onsetA, onsetB, onsetC := t0+6*second, t0+6500*1e6, t0+2*second
	attackA := Attack{ID: "a", Type: "syn_flood", Start: onsetA, Sources: attackers, Targets: [][16]byte{victim}}
	attackB := Attack{ID: "b", Type: "udp_flood", Start: onsetB, Targets: [][16]byte{victim6}}
	attackC := Attack{ID: "c", Type: "arp spoof/../x", Start: onsetC, Sources: [][16]byte{arpHost}}
	var pathA, pathB, pathC string
	drive(r, frames,
		event{t0 + 8*second, func() { pathA = mustStart(t, r, attackA) }},
		event{t0 + 8*second, func() { pathB = mustStart(t, r, attackB) }},
		event{t0 + 9*second, func() { pathC = mustStart(t, r, attackC) }},
		event{t0 + 10*second, func() { r.Stop("a") }},
		event{t0 + 11*second, func() { r.Stop("b"); r.Stop("c"); r.Stop("unknown") }},
	)
	r.Idle()
	s.Close()

	for _, c := range []struct {
		path, name string
	}{
		{pathA, "eth0-syn_flood-20251206T215507Z.pcap"},
		{pathB, "eth0-udp_flood-20251206T215507Z.pcap"},
		{pathC, "eth0-arp_spoof_.._x-20251206T215503Z.pcap"},
	} {
		if filepath.Base(c.path) != c.name || filepath.Dir(c.path) != s.Config().Dir {
			t.Errorf("file %s, want %s in %s", c.path, c.name, s.Config().Dir)
		}
	}
	wantA := want(frames, onsetA-before, t0+10*second, 1<<30, append(attackers, victim)...)
	wantB := want(frames, onsetB-before, t0+11*second, 1<<30, victim6)
	wantC := want(frames, onsetC-before, t0+11*second, 1<<30, arpHost)
	// The early probes (second 1) are before onset-before; the IPv6 flood
	// is only after its onset; ARP reaches back to the start.
	if wantA[0].ts != t0+6*second+1 || wantB[0].ts < onsetB || wantC[0].ts != t0 {
		t.Fatalf("scenario broken: first packets at %d, %d, %d", wantA[0].ts-t0, wantB[0].ts-t0, wantC[0].ts-t0)
	}
	checkFile(t, pathA, wantA)
	checkFile(t, pathB, wantB)
	checkFile(t, pathC, wantC)

	st := r.Stats()
	if n := uint64(len(wantA) + len(wantB) + len(wantC)); st.FilesWritten != 3 || st.PacketsWritten != n || st.PacketsDropped != 0 || st.AttacksSkipped != 0 {
		t.Errorf("stats %+v, want 3 files and %d packets", st, n)
	}
	var size int64
	for _, p := range []string{pathA, pathB, pathC} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		size += fi.Size()
		if perm := fi.Mode().Perm(); perm&^0o640 != 0 || perm&0o600 != 0o600 {
			t.Errorf("%s has mode %v, want 0640 (less by umask)", filepath.Base(p), perm)
		}
	}
	if ss := s.Stats(); ss.BytesOnDisk != size || ss.FilesWritten != 3 {
		t.Errorf("store stats %+v, want %d bytes on disk", ss, size)
	}

	t.Run("tshark", func(t *testing.T) {
		capLen := func(f frame) int { return min(len(f.data), DefaultSnaplen) }
		same := func(a [16]byte) [16]byte { return a }
		checkTshark(t, pathA, wantA, capLen, same)
		checkTshark(t, pathB, wantB, capLen, same)
		checkTshark(t, pathC, wantC, capLen, same)
	})
}

// TestRecorderAnonymized records with addresses anonymized: tshark must
// see the replaced addresses, good IPv4 header checksums, headers only
// with the original lengths; no original address may be left in the
// files; frames whose addresses cannot be found are left out, counted.
func TestRecorderAnonymized(t *testing.T) {
	before := 2 * second
	s := openStore(t, Config{Before: time.Duration(before), Anonymize: flipAddr})
	r := newRec(t, s, decode.LinkEthernet, true)
	frames := traffic(t)
	// Two LLDP frames, which carry no IP address: an attack that takes
	// every packet wants them, and anonymization cannot vouch for them.
	lldp := ether(t, 0x88cc, bytes.Repeat([]byte{0x02}, 40))
	var withLLDP []frame
	for i, f := range frames {
		if (f.ts == t0+8*second || f.ts == t0+8500*1e6) && frames[i-1].ts != f.ts {
			withLLDP = append(withLLDP, frame{ts: f.ts - 1, data: lldp})
		}
		withLLDP = append(withLLDP, f)
	}
	frames = withLLDP

	attackA := Attack{ID: "a", Type: "syn_flood", Start: t0 + 6*second, Sources: attackers, Targets: [][16]byte{victim}}
	attackAll := Attack{ID: "all", Type: "volume_spike", Start: t0 + 8*second}
	var pathA, pathAll string
	drive(r, frames,
		event{t0 + 7*second, func() { pathA = mustStart(t, r, attackA) }},
		event{t0 + 9*second, func() { pathAll = mustStart(t, r, attackAll) }},
		event{t0 + 9*second, func() { r.Stop("all") }},
		event{t0 + 10*second, func() { r.Stop("a") }},
	)
	r.Idle()
	s.Close()

	wantA := want(frames, attackA.Start-before, t0+10*second, 1<<30, append(attackers, victim)...)
	wantAll := want(frames, attackAll.Start-before, t0+9*second, 1<<30)
	var ip []frame
	for _, f := range wantAll {
		if !bytes.Equal(f.data, lldp) {
			ip = append(ip, f)
		}
	}
	if st := r.Stats(); st.Unparseable != 2 || st.PacketsWritten != uint64(len(wantA)+len(ip)) {
		t.Errorf("stats %+v, want 2 unparseable and %d packets written", st, len(wantA)+len(ip))
	}
	hdrLen := func(f frame) int {
		switch uint16(f.data[12])<<8 | uint16(f.data[13]) {
		case etherIPv4:
			return 14 + 20 + 20 // the traffic's IPv4 is all TCP
		case etherIPv6:
			return 14 + 40 + 8
		}
		return 14 + 28
	}
	for _, c := range []struct {
		path   string
		frames []frame
	}{{pathA, wantA}, {pathAll, ip}} {
		_, _, got := readBack(t, c.path)
		if len(got) != len(c.frames) {
			t.Fatalf("%s: %d packets, want %d", filepath.Base(c.path), len(got), len(c.frames))
		}
		for i, g := range got {
			if w := c.frames[i]; g.TimeNanos != w.ts || g.CaptureLength != hdrLen(w) || g.WireLength != len(w.data) {
				t.Fatalf("%s: packet %d is time %d, %d of %d bytes, want %d, %d of %d", filepath.Base(c.path), i, g.TimeNanos, g.CaptureLength, g.WireLength, w.ts, hdrLen(w), len(w.data))
			}
		}
		raw, err := os.ReadFile(c.path)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range c.frames {
			for _, a := range [][16]byte{f.src, f.dst} {
				b := a[:]
				if isV4(a) {
					b = a[12:]
				}
				if bytes.Contains(raw, b) {
					t.Fatalf("%s holds the address %s", filepath.Base(c.path), addrString(a))
				}
			}
		}
	}
	t.Run("tshark", func(t *testing.T) {
		checkTshark(t, pathA, wantA, hdrLen, flipAddr)
		checkTshark(t, pathAll, ip, hdrLen, flipAddr)
	})
}

// TestRecorderCaps checks that a file ends at each cap by itself, before
// the attack is stopped.
func TestRecorderCaps(t *testing.T) {
	frames := traffic(t)
	hosts := append(attackers, victim)
	onset := t0 + 6*second
	for _, c := range []struct {
		name  string
		cfg   Config
		check func(t *testing.T, path string)
	}{
		{"max_packets", Config{MaxPackets: 50}, func(t *testing.T, path string) {
			checkFile(t, path, want(frames, onset-int64(DefaultBefore), t0+12*second, 50, hosts...))
		}},
		{"max_duration", Config{MaxDuration: 2 * time.Second}, func(t *testing.T, path string) {
			checkFile(t, path, want(frames, onset-int64(DefaultBefore), onset+2*second, 1<<30, hosts...))
		}},
		{"max_bytes", Config{MaxBytes: MinMaxBytes}, func(t *testing.T, path string) {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() > MinMaxBytes || fi.Size() < MinMaxBytes-pcapRecHdr-DefaultSnaplen {
				t.Errorf("file of %d bytes, want at most %d and not a packet less", fi.Size(), MinMaxBytes)
			}
			_, _, pkts := readBack(t, path)
			checkFile(t, path, want(frames, onset-int64(DefaultBefore), t0+12*second, len(pkts), hosts...))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := openStore(t, c.cfg)
			r := newRec(t, s, decode.LinkEthernet, true)
			var path string
			drive(r, frames, event{t0 + 7*second, func() {
				path = mustStart(t, r, Attack{ID: "a", Type: "syn_flood", Start: onset, Sources: attackers, Targets: [][16]byte{victim}})
			}})
			r.Idle()
			testutil.WaitFor(t, "the file to end at its cap", func() bool { return r.Stats().FilesWritten == 1 })
			c.check(t, path)
			// The slot is freed: the same attack can record again.
			testutil.WaitFor(t, "the slot to be freed", func() bool {
				r.mu.Lock()
				defer r.mu.Unlock()
				return r.slots == 0
			})
		})
	}
}

// TestRecorderSkips checks max_files_open: a second attack is skipped and
// counted while the first records, and recorded once it has ended.
func TestRecorderSkips(t *testing.T) {
	s := openStore(t, Config{MaxFilesOpen: 1, TotalBytes: 64 << 20})
	r := newRec(t, s, decode.LinkEthernet, true)
	a := Attack{ID: "a", Type: "syn_flood", Start: t0, Sources: attackers}
	b := Attack{ID: "b", Type: "udp_flood", Start: t0, Targets: [][16]byte{victim6}}
	pa := mustStart(t, r, a)
	if again := mustStart(t, r, a); again != pa {
		t.Errorf("starting a recorded attack again gave %s, want its file %s", again, pa)
	}
	if _, err := r.Start(b); !errors.Is(err, ErrSkipped) || !strings.Contains(err.Error(), "max_files_open") {
		t.Fatalf("second attack: %v, want ErrSkipped naming max_files_open", err)
	}
	if st := s.Stats(); st.AttacksSkipped != 1 {
		t.Errorf("%d attacks skipped, want 1", st.AttacksSkipped)
	}
	r.Stop("a")
	testutil.WaitFor(t, "the first file to end", func() bool { return r.Stats().FilesWritten == 1 })
	var err error
	testutil.WaitFor(t, "a slot for the second", func() bool { _, err = r.Start(b); return err == nil })
	if _, err := r.Start(Attack{Type: "x", Start: t0}); err == nil || !strings.Contains(err.Error(), "ID") {
		t.Errorf("attack without ID: %v, want an error naming the ID", err)
	}
	if _, err := r.Start(Attack{ID: "c", Type: "x"}); err == nil || !strings.Contains(err.Error(), "onset") {
		t.Errorf("attack without onset: %v, want an error naming the onset", err)
	}
}

// TestRecorderIdle checks a Start while the capture loop is idle (after
// Idle): the ring's packets are written at once, and the next Packet
// takes the ring back and records live packets.
func TestRecorderIdle(t *testing.T) {
	s := openStore(t, Config{})
	r := newRec(t, s, decode.LinkEthernet, true)
	frames := traffic(t)
	var first, rest []frame
	for _, f := range frames {
		if f.ts < t0+8*second {
			first = append(first, f)
		} else {
			rest = append(rest, f)
		}
	}
	drive(r, first)
	r.Idle()
	a := Attack{ID: "a", Type: "syn_flood", Start: t0 + 6*second, Sources: attackers, Targets: [][16]byte{victim}}
	path := mustStart(t, r, a)
	hosts := append(attackers, victim)
	backfill := want(frames, a.Start-int64(DefaultBefore), t0+8*second, 1<<30, hosts...)
	testutil.WaitFor(t, "the ring's packets to be written", func() bool {
		return r.Stats().PacketsWritten == uint64(len(backfill))
	})
	drive(r, rest, event{t0 + 9*second, func() { r.Stop("a") }})
	r.Idle()
	testutil.WaitFor(t, "the file to end", func() bool { return r.Stats().FilesWritten == 1 })
	checkFile(t, path, want(frames, a.Start-int64(DefaultBefore), t0+9*second, 1<<30, hosts...))
}

// TestRecorderDrops checks that a full hand-off drops and counts packets
// rather than blocking the capture loop.
func TestRecorderDrops(t *testing.T) {
	s := openStore(t, Config{})
	r := newRec(t, s, decode.LinkEthernet, false)
	var held []*chunk
	for range chunkCount {
		held = append(held, <-r.free)
	}
	mustStart(t, r, Attack{ID: "a", Type: "spike", Start: t0})
	frames := traffic(t)[:100]
	drive(r, frames)
	if st := r.Stats(); st.PacketsDropped != 100 {
		t.Errorf("%d packets dropped, want 100", st.PacketsDropped)
	}
	for _, c := range held {
		r.free <- c
	}
	drive(r, frames[:10])
	r.Stop("a")
	r.Idle()
	testutil.WaitFor(t, "the file to end", func() bool { return r.Stats().FilesWritten == 1 })
	if st := r.Stats(); st.PacketsWritten != 10 {
		t.Errorf("%d packets written after the hand-off freed, want 10", st.PacketsWritten)
	}
}

// TestRecorderClosed checks the calls after Close: no panic, clear errors.
func TestRecorderClosed(t *testing.T) {
	s := openStore(t, Config{})
	r := newRec(t, s, decode.LinkEthernet, true)
	mustStart(t, r, Attack{ID: "a", Type: "spike", Start: t0})
	s.Close()
	s.Close()
	f := traffic(t)[0]
	r.Packet(f.ts, f.data, len(f.data), f.src, f.dst)
	r.Idle()
	r.Stop("a")
	if _, err := r.Start(Attack{ID: "b", Type: "spike", Start: t0}); err == nil {
		t.Error("Start after Close succeeded")
	}
	if _, err := s.NewRecorder(Interface{Name: "eth1", LinkType: decode.LinkEthernet}); err == nil {
		t.Error("NewRecorder after Close succeeded")
	}
	if st := r.Stats(); st.FilesWritten != 1 {
		t.Errorf("%d files written, want the one Close finished", st.FilesWritten)
	}
}

// TestRecorderConcurrent runs the capture loop and the detector's calls
// on their own goroutines (run it with -race), then checks every file:
// readable, in time order, and only packets of its attack.
func TestRecorderConcurrent(t *testing.T) {
	s := openStore(t, Config{MaxFilesOpen: 8, TotalBytes: 128 << 20, MaxPackets: 2000})
	r := newRec(t, s, decode.LinkEthernet, false)
	frames := traffic(t)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for lap := range 200 {
			for i, f := range frames {
				r.Packet(f.ts+int64(lap)*12*second, f.data, len(f.data), f.src, f.dst)
				if i%500 == 0 {
					r.Idle()
				}
			}
			select {
			case <-stop:
				r.Idle()
				return
			default:
			}
		}
		r.Idle()
	}()
	attacks := map[string][][16]byte{}
	paths := map[string]string{}
	for i := range 30 {
		id := strconv.Itoa(i)
		hosts := [][16]byte{attackers[i%3]}
		if i%4 == 0 {
			hosts = [][16]byte{victim6}
		}
		if p, err := r.Start(Attack{ID: id, Type: "flood", Start: t0 + int64(i)*1e6, Targets: hosts}); err == nil {
			attacks[id], paths[id] = hosts, p
		} else if !errors.Is(err, ErrSkipped) {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
		r.Stop(strconv.Itoa(i - 2))
	}
	close(stop)
	<-done
	s.Close()
	if len(paths) < 3 {
		t.Fatalf("only %d attacks recorded", len(paths))
	}
	for id, p := range paths {
		_, _, pkts := readBack(t, p)
		set := map[[16]byte]bool{}
		for _, h := range attacks[id] {
			set[h] = true
		}
		last := int64(0)
		for i, pk := range pkts {
			if pk.TimeNanos < last {
				t.Fatalf("%s: packet %d goes back in time", filepath.Base(p), i)
			}
			last = pk.TimeNanos
			if !involves(pk.Data, set) {
				t.Fatalf("%s: packet %d does not involve the attack's hosts", filepath.Base(p), i)
			}
		}
	}
}

// involves reports whether an Ethernet frame of the traffic has an
// address in set.
func involves(b []byte, set map[[16]byte]bool) bool {
	switch uint16(b[12])<<8 | uint16(b[13]) {
	case etherIPv4:
		return set[v4(b[26], b[27], b[28], b[29])] || set[v4(b[30], b[31], b[32], b[33])]
	case etherIPv6:
		return set[[16]byte(b[22:38])] || set[[16]byte(b[38:54])]
	case etherARP:
		return set[v4(b[28], b[29], b[30], b[31])] || set[v4(b[38], b[39], b[40], b[41])]
	}
	return false
}
