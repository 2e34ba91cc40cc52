package realtools

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
	"github.com/netanomaly/netanomaly_exporter/internal/stacktest"
	"github.com/netanomaly/netanomaly_exporter/internal/testpcap"
)

// TestSSHLoginOutcome runs a real OpenSSH server on loopback, logs in to it
// with a key over each kind of cipher OpenSSH offers (an AEAD, AES-GCM,
// and CTR with a MAC before and after encryption), fails password logins
// to it, records it all with tcpdump at the corpus's snap length (98
// bytes: headers and a few bytes of payload), and checks what the feature
// stage reads through encryption: every key login succeeded, no failed
// one did. Configuration management logging in with keys is not password
// guessing (the brute-force rule leaves such logins out).
func TestSSHLoginOutcome(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: sshd runs its privilege separation as root")
	}
	sshd := stacktest.NeedTool(t, "sshd")
	ssh := stacktest.NeedTool(t, "ssh")
	keygen := stacktest.NeedTool(t, "ssh-keygen")
	tcpdump := stacktest.NeedTool(t, "tcpdump")
	dir := t.TempDir()
	stacktest.Run(t, dir, keygen, "-q", "-t", "ed25519", "-N", "", "-f", "host")
	stacktest.Run(t, dir, keygen, "-q", "-t", "ed25519", "-N", "", "-f", "client")
	pub, err := os.ReadFile(filepath.Join(dir, "client.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	// Key logins go to 127.0.0.1, failed ones to 127.0.0.2: two pairs.
	_, port, err := net.SplitHostPort(stacktest.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "sshd_config")
	conf := fmt.Sprintf(`Port %s
ListenAddress 127.0.0.1
ListenAddress 127.0.0.2
HostKey %[2]s/host
PidFile %[2]s/sshd.pid
AuthorizedKeysFile %[2]s/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication yes
KbdInteractiveAuthentication no
MaxAuthTries 6
`, port, dir)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // privilege separation
		t.Fatal(err)
	}
	stacktest.Run(t, dir, sshd, "-t", "-f", cfg)

	server := exec.Command(sshd, "-D", "-e", "-f", cfg)
	var serverLog strings.Builder
	server.Stdout, server.Stderr = &serverLog, &serverLog
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = server.Process.Kill(); _ = server.Wait() }()
	// Wait until it listens; the probes are made before the capture starts.
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.2", port), time.Second)
		if err == nil {
			_ = c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd does not listen after 10 s: %v\n%s", err, serverLog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	pcap := filepath.Join(dir, "ssh.pcap")
	dump := exec.Command(tcpdump, "-i", "lo", "-n", "--immediate-mode", "-U", "-s", "98", "-w", pcap, "tcp port "+port)
	stderr, err := dump.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = dump.Process.Kill(); _ = dump.Wait() }()
	listening := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				listening <- nil
				_, _ = io.Copy(io.Discard, stderr)
				return
			}
		}
		listening <- errors.New("tcpdump ended before listening")
	}()
	select {
	case err := <-listening:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("tcpdump is not listening after 10 s")
	}

	askpass := filepath.Join(dir, "askpass")
	if err := os.WriteFile(askpass, []byte("#!/bin/sh\necho wrong-password\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	common := []string{"-F", "none", "-p", port, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR"}
	login := func(host string, env []string, args ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, ssh, append(append(append([]string{}, common...), args...), "root@"+host, "true")...)
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdin = nil
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // no terminal to ask on
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	ciphers := [][2]string{
		{"chacha20-poly1305@openssh.com", "hmac-sha2-256-etm@openssh.com"},
		{"aes128-gcm@openssh.com", "hmac-sha2-256-etm@openssh.com"},
		{"aes256-ctr", "hmac-sha2-256"},
		{"aes128-ctr", "hmac-sha2-512-etm@openssh.com"},
	}
	for _, c := range ciphers {
		if err := login("127.0.0.1", nil, "-i", filepath.Join(dir, "client"), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
			"-o", "Ciphers="+c[0], "-o", "MACs="+c[1]); err != nil {
			t.Fatalf("key login with %s: %v\n%s", c[0], err, serverLog.String())
		}
	}
	// Three wrong passwords a connection, over two ciphers: sshd refuses
	// every one (root may log in with a key only) and answers each as a
	// failure, as it answers a guesser.
	guessEnv := []string{"SSH_ASKPASS=" + askpass, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=none"}
	for _, c := range ciphers[:2] {
		for range 2 {
			err := login("127.0.0.2", guessEnv, "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password",
				"-o", "NumberOfPasswordPrompts=3", "-o", "Ciphers="+c[0], "-o", "MACs="+c[1])
			if err == nil {
				t.Fatalf("a wrong password logged in with %s", c[0])
			}
		}
	}
	time.Sleep(500 * time.Millisecond) // the last segments to tcpdump
	_ = dump.Process.Signal(syscall.SIGINT)
	_ = dump.Wait()

	logins, conns := pairsOf(t, pcap, port)
	local, other := netip.MustParseAddr("127.0.0.1").As16(), netip.MustParseAddr("127.0.0.2").As16()
	if logins[local] != uint32(len(ciphers)) || conns[local] != uint32(len(ciphers)) {
		t.Errorf("key logins: %d of %d connections counted as logins, want %d of %d", logins[local], conns[local], len(ciphers), len(ciphers))
	}
	if logins[other] != 0 || conns[other] != 4 {
		t.Errorf("failed password logins: %d of %d connections counted as logins, want 0 of 4", logins[other], conns[other])
	}
}

// pairsOf replays a capture through the decoder and the feature stage and
// returns, per server address on port, the SSH logins and the completed
// connections counted.
func pairsOf(t *testing.T, path, port string) (logins, conns map[[16]byte]uint32) {
	t.Helper()
	logins, conns = map[[16]byte]uint32{}, map[[16]byte]uint32{}
	agg := features.NewAggregator(features.DefaultConfig(), "lo", func(w *features.Window) {
		for _, p := range w.Behaviour.Pairs {
			if fmt.Sprint(p.Key.Port) == port && p.Key.Proto == features.ProtoTCP {
				logins[p.Key.Dst] += p.Logins
				conns[p.Key.Dst] += p.Established
			}
		}
	})
	if err := testpcap.AggregateFile(path, agg); err != nil {
		t.Fatal(err)
	}
	return logins, conns
}
