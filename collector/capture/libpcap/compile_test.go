//go:build linux && (amd64 || arm64 || loong64 || ppc64le || riscv64)

package libpcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/bpf"
)

const testSnaplen = 262144

// requireLibpcap skips the test when libpcap cannot be loaded.
func requireLibpcap(t testing.TB) {
	t.Helper()
	if err := Load(); err != nil {
		if errors.Is(err, ErrNotFound) {
			t.Skipf("skipping: libpcap is not installed on this machine: %v", err)
		}
		t.Fatalf("Load: %v", err)
	}
}

func TestLoadNotFound(t *testing.T) {
	err := load([]string{"libpcap-does-not-exist.so.42", "/nonexistent/libpcap.so"})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("load of missing libraries: got %v, want ErrNotFound", err)
	}
	for _, want := range []string{"libpcap not found", "apt-get install libpcap0.8", "--capture.method=afpacket", "libpcap.so.0.8"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestLoadAndVersion(t *testing.T) {
	requireLibpcap(t)
	// Concurrent and repeated calls return the same result.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := Load(); err != nil {
				t.Errorf("Load: %v", err)
			}
		})
	}
	wg.Wait()
	v := Version()
	if !strings.Contains(v, "libpcap") {
		t.Fatalf("Version() = %q, want a libpcap version string", v)
	}
	t.Logf("Version() = %q", v)
}

// tcpdumpProgram runs tcpdump -ddd on an empty pcap file with the given
// LINKTYPE_ value and returns the program it prints. It reports ok=false when
// tcpdump is not installed.
func tcpdumpProgram(t *testing.T, linkType uint32, expr string) (prog []bpf.RawInstruction, ok bool) {
	t.Helper()
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		for _, p := range []string{"/usr/bin/tcpdump", "/usr/sbin/tcpdump"} {
			if _, err2 := os.Stat(p); err2 == nil {
				tcpdump, err = p, nil
			}
		}
	}
	if err != nil {
		return nil, false
	}
	// A pcap file header only: tcpdump takes the link type and snap length
	// from it and does not need an interface or privileges.
	var hdr bytes.Buffer
	for _, v := range []any{uint32(0xa1b2c3d4), uint16(2), uint16(4), int32(0), uint32(0), uint32(testSnaplen), linkType} {
		_ = binary.Write(&hdr, binary.LittleEndian, v)
	}
	file := filepath.Join(t.TempDir(), fmt.Sprintf("empty-%d.pcap", linkType))
	if err := os.WriteFile(file, hdr.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tcpdump, "-ddd", "-r", file, expr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tcpdump -ddd -r %s %q: %v: %s", file, expr, err, stderr.String())
	}
	lines := strings.Fields(strings.TrimSpace(string(out)))
	if len(lines) < 1 {
		t.Fatalf("tcpdump printed nothing")
	}
	n, err := strconv.Atoi(lines[0])
	if err != nil || len(lines) != 1+4*n {
		t.Fatalf("unexpected tcpdump -ddd output %q", out)
	}
	for i := range n {
		var f [4]uint64
		for j := range 4 {
			f[j], err = strconv.ParseUint(lines[1+4*i+j], 10, 32)
			if err != nil {
				t.Fatalf("unexpected tcpdump -ddd output %q: %v", out, err)
			}
		}
		prog = append(prog, bpf.RawInstruction{Op: uint16(f[0]), Jt: uint8(f[1]), Jf: uint8(f[2]), K: uint32(f[3])})
	}
	return prog, true
}

func TestCompileBPFMatchesTcpdump(t *testing.T) {
	requireLibpcap(t)
	common := []string{"tcp port 80", "udp and not port 53", "icmp or icmp6", ""}
	cases := []struct {
		name     string
		dlt      int    // passed to CompileBPF
		linkType uint32 // written in the pcap file for tcpdump
		exprs    []string
	}{
		{"EN10MB", 1, 1, append([]string{"vlan and tcp"}, common...)},
		{"LINUX_SLL", 113, 113, common},
		{"RAW/DLT_RAW", 12, 101, common},
		{"RAW/LINKTYPE_RAW", 101, 101, common},
	}
	warned := false
	for _, c := range cases {
		for _, expr := range c.exprs {
			t.Run(fmt.Sprintf("%s/%q", c.name, expr), func(t *testing.T) {
				got, err := CompileBPF(c.dlt, testSnaplen, expr)
				if err != nil {
					t.Fatalf("CompileBPF(%d, %q): %v", c.dlt, expr, err)
				}
				if len(got) == 0 {
					t.Fatalf("CompileBPF(%d, %q) returned an empty program", c.dlt, expr)
				}
				if _, ok := bpf.Disassemble(got); !ok {
					t.Errorf("program does not disassemble completely: %v", got)
				}
				want, ok := tcpdumpProgram(t, c.linkType, expr)
				if !ok {
					if !warned {
						t.Log("tcpdump not installed: skipping only the comparison with tcpdump -ddd")
						warned = true
					}
					return
				}
				if len(got) != len(want) {
					t.Fatalf("CompileBPF(%d, %q): %d instructions, tcpdump -ddd: %d\n got %v\nwant %v", c.dlt, expr, len(got), len(want), got, want)
				}
				for i := range got {
					if got[i] != want[i] {
						t.Errorf("instruction %d: got %+v, tcpdump -ddd %+v", i, got[i], want[i])
					}
				}
			})
		}
	}
}

func TestCompileBPFBadExpression(t *testing.T) {
	requireLibpcap(t)
	for _, expr := range []string{"tcp prot 80", "port 99999999", "tcp port 80 and"} {
		prog, err := CompileBPF(1, 0, expr)
		if err == nil {
			t.Fatalf("CompileBPF(%q) = %v, want an error", expr, prog)
		}
		msg := err.Error()
		if !strings.Contains(msg, strconv.Quote(expr)) || !strings.HasPrefix(msg, "compile filter ") {
			t.Errorf("error %q does not quote the expression %q", msg, expr)
		}
		// libpcap's own text follows the expression.
		if rest := strings.TrimPrefix(msg, "compile filter "+strconv.Quote(expr)+": "); rest == msg || len(rest) < 5 {
			t.Errorf("error %q does not carry libpcap's message", msg)
		}
		t.Logf("%q -> %v", expr, err)
	}
	// The exact libpcap text for the classic syntax error.
	_, err := CompileBPF(1, 0, "tcp prot 80")
	if !strings.Contains(err.Error(), "syntax error") {
		t.Errorf("error %q does not contain libpcap's \"syntax error\"", err)
	}
	if _, err := CompileBPF(1, 0, "tcp\x00port 80"); err == nil {
		t.Errorf("expression with a NUL byte accepted")
	}
	// The handle is still usable after errors.
	if _, err := CompileBPF(1, 0, "tcp"); err != nil {
		t.Fatal(err)
	}
}

func TestCompileBPFConcurrent(t *testing.T) {
	requireLibpcap(t)
	exprs := []string{"tcp port 80", "udp and not port 53", "icmp or icmp6", "vlan and tcp", "tcp prot 80"}
	want := make([][]bpf.RawInstruction, len(exprs))
	wantErr := make([]string, len(exprs))
	for i, e := range exprs {
		p, err := CompileBPF(1, testSnaplen, e)
		want[i] = p
		if err != nil {
			wantErr[i] = err.Error()
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for n := range 50 {
				i := (g + n) % len(exprs)
				got, err := CompileBPF(1, testSnaplen, exprs[i])
				gotErr := ""
				if err != nil {
					gotErr = err.Error()
				}
				if gotErr != wantErr[i] {
					t.Errorf("goroutine %d: %q: error %q, want %q", g, exprs[i], gotErr, wantErr[i])
					return
				}
				if fmt.Sprint(got) != fmt.Sprint(want[i]) {
					t.Errorf("goroutine %d: %q: program differs", g, exprs[i])
					return
				}
			}
		})
	}
	wg.Wait()
}
