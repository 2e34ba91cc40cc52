package siem

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/internal/testutil"
)

const rsyslogdPath = "/usr/sbin/rsyslogd"

// needRsyslogd skips a test on a machine without rsyslog.
func needRsyslogd(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(rsyslogdPath); err != nil {
		t.Skipf("%s not found (%v): install the Debian packages rsyslog and rsyslog-gnutls to run the tests against a real syslog receiver", rsyslogdPath, err)
	}
}

// rsyslogOpts says which inputs a test rsyslogd listens on, all on
// 127.0.0.1. A zero port is picked at random (TCP: by rsyslogd itself).
type rsyslogOpts struct {
	udp, tcp         bool
	tls              *testCerts // a TLS input with these certificates
	udpPort, tcpPort int
}

// rsyslogd is a real rsyslogd run by a test, writing every message it
// receives, raw, one a line, to out.
type rsyslogd struct {
	t      *testing.T
	dir    string
	out    string
	opts   rsyslogOpts
	cmd    *exec.Cmd
	stderr *testutil.SyncBuffer
	exited chan struct{}
}

// startRsyslog starts rsyslogd in the foreground with a generated config
// and waits until it listens; cleanup stops it.
func startRsyslog(t *testing.T, opts rsyslogOpts) *rsyslogd {
	t.Helper()
	needRsyslogd(t)
	dir := t.TempDir()
	if opts.udp && opts.udpPort == 0 {
		opts.udpPort = testutil.FreeUDPPort(t)
	}
	r := &rsyslogd{t: t, dir: dir, out: filepath.Join(dir, "received.log"), opts: opts}
	// Registered first: a start that fails still leaves a process.
	t.Cleanup(r.stop)
	r.start()
	return r
}

func (r *rsyslogd) config() string {
	var b strings.Builder
	fmt.Fprintf(&b, "global(workDirectory=%q maxMessageSize=\"64k\")\n", r.dir)
	// Messages go to their own ruleset: rsyslogd's own go nowhere.
	fmt.Fprintf(&b, "template(name=\"raw\" type=\"string\" string=\"%%rawmsg%%\\n\")\n")
	fmt.Fprintf(&b, "ruleset(name=\"recv\") { action(type=\"omfile\" file=%q template=\"raw\") }\n", r.out)
	if r.opts.udp {
		b.WriteString("module(load=\"imudp\")\n")
		fmt.Fprintf(&b, "input(type=\"imudp\" address=\"127.0.0.1\" port=\"%d\" ruleset=\"recv\")\n", r.opts.udpPort)
	}
	if r.opts.tcp || r.opts.tls != nil {
		b.WriteString("module(load=\"imtcp\")\n")
	}
	if r.opts.tcp {
		fmt.Fprintf(&b, "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"%d\" listenPortFileName=%q ruleset=\"recv\")\n",
			r.opts.tcpPort, filepath.Join(r.dir, "tcp.port"))
	}
	if c := r.opts.tls; c != nil {
		// x509/certvalid: the sender must show a certificate of our CA.
		fmt.Fprintf(&b, "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"0\" listenPortFileName=%q ruleset=\"recv\" "+
			"streamDriver.name=\"gtls\" streamDriver.mode=\"1\" streamDriver.authMode=\"x509/certvalid\" "+
			"streamDriver.CAFile=%q streamDriver.CertFile=%q streamDriver.KeyFile=%q)\n",
			filepath.Join(r.dir, "tls.port"), c.CA, c.ServerCert, c.ServerKey)
	}
	return b.String()
}

func (r *rsyslogd) start() {
	t := r.t
	t.Helper()
	for _, f := range []string{"tcp.port", "tls.port", "rsyslogd.pid"} {
		_ = os.Remove(filepath.Join(r.dir, f))
	}
	conf := filepath.Join(r.dir, "rsyslog.conf")
	if err := os.WriteFile(conf, []byte(r.config()), 0o600); err != nil {
		t.Fatal(err)
	}
	r.stderr = &testutil.SyncBuffer{}
	r.cmd = exec.Command(rsyslogdPath, "-n", "-f", conf, "-i", filepath.Join(r.dir, "rsyslogd.pid"))
	r.cmd.Stdout, r.cmd.Stderr = r.stderr, r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start rsyslogd: %v", err)
	}
	r.exited = make(chan struct{})
	go func(cmd *exec.Cmd, exited chan struct{}) {
		_ = cmd.Wait()
		close(exited)
	}(r.cmd, r.exited)
	deadline := time.Now().Add(10 * time.Second)
	if r.opts.tcp {
		r.opts.tcpPort = r.waitPort("tcp.port", r.opts.tcpPort, deadline)
	}
	if r.opts.tls != nil {
		r.waitPort("tls.port", 0, deadline)
	}
	if r.opts.udp {
		r.waitUDP(deadline)
	}
}

// waitPort waits for rsyslogd to accept on a listener: on port, or, when
// it is 0, on the one rsyslogd writes to file.
func (r *rsyslogd) waitPort(file string, port int, deadline time.Time) int {
	r.t.Helper()
	for {
		select {
		case <-r.exited:
			r.t.Fatalf("rsyslogd exited at startup:\n%s", r.stderr)
		default:
		}
		p := port
		if p == 0 {
			if b, err := os.ReadFile(filepath.Join(r.dir, file)); err == nil {
				p, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			}
		}
		if p > 0 {
			if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), time.Second); err == nil {
				c.Close()
				return p
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("rsyslogd did not listen (%s) in time:\n%s", file, r.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitUDP sends probes until one is written out: UDP has no handshake
// to tell that rsyslogd listens.
func (r *rsyslogd) waitUDP(deadline time.Time) {
	r.t.Helper()
	c, err := net.Dial("udp", r.udpAddr())
	if err != nil {
		r.t.Fatal(err)
	}
	defer c.Close()
	for {
		_, _ = c.Write([]byte("<134>1 - - probe - - - ready"))
		time.Sleep(20 * time.Millisecond)
		if b, err := os.ReadFile(r.out); err == nil && bytes.Contains(b, []byte(" probe ")) {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("rsyslogd did not receive on UDP in time:\n%s", r.stderr)
		}
	}
}

func (r *rsyslogd) udpAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.opts.udpPort))
}
func (r *rsyslogd) tcpAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.opts.tcpPort))
}

func (r *rsyslogd) tlsAddr() string {
	b, err := os.ReadFile(filepath.Join(r.dir, "tls.port"))
	if err != nil {
		r.t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", strings.TrimSpace(string(b)))
}

// stop ends rsyslogd: SIGTERM (it flushes its output), then SIGKILL.
func (r *rsyslogd) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	select {
	case <-r.exited:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(5 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}

// restart stops rsyslogd and starts it again on the same ports.
func (r *rsyslogd) restart(down time.Duration) {
	r.t.Helper()
	r.stop()
	time.Sleep(down)
	r.start()
}

// messages waits until rsyslogd has written n messages of ours (the
// probes left out) and returns them.
func (r *rsyslogd) messages(n int) []string {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		msgs := r.read()
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("rsyslogd wrote %d messages of ours, want %d:\n%s\nrsyslogd said:\n%s", len(msgs), n, strings.Join(msgs, "\n"), r.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *rsyslogd) read() []string {
	f, err := os.Open(r.out)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		r.t.Fatal(err)
	}
	defer f.Close()
	var msgs []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), " "+Product+" ") {
			msgs = append(msgs, sc.Text())
		}
	}
	return msgs
}

// freeTCPPort returns a port nothing listens on, for now.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// testCerts are PEM files of a CA, a server certificate for
// rsyslog.test and 127.0.0.1, and a client certificate.
type testCerts struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
}

func newTestCerts(t *testing.T, name string) *testCerts {
	t.Helper()
	dir := t.TempDir()
	caKey := newKey(t)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	c := &testCerts{CA: filepath.Join(dir, "ca.pem")}
	writePEM(t, c.CA, "CERTIFICATE", caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, dns []string, ips []net.IP) (string, string) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			DNSNames: dns, IPAddresses: ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		certPath, keyPath := filepath.Join(dir, cn+".pem"), filepath.Join(dir, cn+".key")
		writePEM(t, certPath, "CERTIFICATE", der)
		writePEM(t, keyPath, "PRIVATE KEY", keyDER)
		return certPath, keyPath
	}
	c.ServerCert, c.ServerKey = issue(2, "rsyslog.test", x509.ExtKeyUsageServerAuth, []string{"rsyslog.test"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	c.ClientCert, c.ClientKey = issue(3, "netanomaly", x509.ExtKeyUsageClientAuth, nil, nil)
	return c
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
