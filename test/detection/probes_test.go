package detection

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/detector"
)

// probeCaptures are tools and admin traffic first tried on the detector
// after its corpus was full (README, "Variants probed outside the
// corpus"), each of which the detector got wrong until the behaviour
// model was fixed: recorded with tcpdump -s 256 on the victim's side of
// a veth between two network namespaces (client 10.99.0.66, victim
// 10.99.0.10), a few HTTPS requests before and after. typ "" is benign
// traffic: nothing may be named.
var probeCaptures = []publicAttack{
	// nmap -sY --top-ports 200: SCTP INITs, answered protocol unreachable
	// (no SCTP in the victim's kernel) or not at all. Was nothing.
	{file: "nmap-sctp.pcap.gz", typ: detector.PortScan, sources: []string{"10.99.0.66/32"}, targets: []string{"10.99.0.10/32"}},
	// nmap -sZ -p 1-500: SCTP COOKIE ECHO probes. Was nothing.
	{file: "nmap-sctp-cookie.pcap.gz", typ: detector.PortScan, sources: []string{"10.99.0.66/32"}, targets: []string{"10.99.0.10/32"}},
	// onesixtyone with 500 communities against snmpd. Was nothing.
	{file: "snmp-guess.pcap.gz", typ: detector.BruteForce, sources: []string{"10.99.0.66/32"}, targets: []string{"10.99.0.10/32"}},
	// hydra -t 4 snmp: 4 sockets, each community sent three times, 32
	// tries a minute for 90 s. Was nothing.
	{file: "snmp-hydra.pcap.gz", typ: detector.BruteForce, sources: []string{"10.99.0.66/32"}, targets: []string{"10.99.0.10/32"}},
	// hydra -t 4 redis: 100 passwords over 4 connections. Was nothing.
	{file: "redis-hydra.pcap.gz", typ: detector.BruteForce, sources: []string{"10.99.0.66/32"}, targets: []string{"10.99.0.10/32"}},
	// hydra -t 4 mysql against MariaDB 10.11: 100 passwords, each
	// refused with error 1045.
	{file: "mysql-hydra.pcap.gz", typ: detector.BruteForce, sources: []string{"10.99.0.66/32"}, targets: []string{"10.99.0.10/32"}},
	// hydra -t 4 ldap3 against slapd: 100 simple binds, each refused
	// with result 49.
	{file: "ldap-hydra.pcap.gz", typ: detector.BruteForce, sources: []string{"10.99.0.66/32"}, targets: []string{"10.99.0.10/32"}},
	// hydra -t 4 imap against Dovecot, which delays each refusal: 24
	// tries a minute on 8 connections, stopped after 60 s. Was nothing.
	{file: "imap-hydra.pcap.gz", typ: detector.BruteForce, sources: []string{"10.99.0.66/32"}, targets: []string{"10.99.0.10/32"}},
	// hydra -t 4 postgres: 100 passwords, each refused 28P01.
	{file: "pg-hydra.pcap.gz", typ: detector.BruteForce, sources: []string{"10.99.0.66/32"}, targets: []string{"10.99.0.10/32"}},
	// nping --tcp-connect -p 6379 --rate 300 -c 1500 against Redis: every
	// handshake completes, nothing is sent. Was nothing.
	{file: "redis-connflood.pcap.gz", typ: detector.SynFlood, sources: []string{"10.99.0.66/32"}, targets: []string{"10.99.0.10/32"}},
	// The same against sshd, whose queue overflows: was brute_force in
	// its first window; a connection flood is no login.
	{file: "ssh-connflood.pcap.gz", typ: detector.SynFlood, sources: []string{"10.99.0.66/32"}, targets: []string{"10.99.0.10/32"}},
	// Benign: an application sending 40 mails through an authenticated
	// submission server (swaks, aiosmtpd on 587), one connection a mail
	// every 2 s, each login accepted 235. Was brute_force.
	{file: "smtp-mailer.pcap.gz"},
	// Benign: an application's 30 database connections, one every 2 s,
	// each logging in (MariaDB's OK) and running a query. Was
	// brute_force.
	{file: "mysql-app.pcap.gz"},
	// Benign: an application authenticating its users against slapd, a
	// bind a login every 2 s, 27 accepted and 3 mistyped. Was
	// brute_force.
	{file: "ldap-app.pcap.gz"},
	// Benign: a script fetching a 20 kB report by anonymous FTP from
	// vsftpd, a connection every 2 s, 30 times (230 Login successful;
	// the passive data connections carry nothing from the client). Was
	// brute_force.
	{file: "ftp-app.pcap.gz"},
	// Benign: SNMP polling with the right community (bulk walk, v1 walk,
	// gets), a poller retrying a wrong one, a discovery trying three.
	{file: "snmp-benign.pcap.gz"},
}

// TestProbeCaptures replays each probe capture alone into a detector that
// was never trained, at four alignments on the window grid: an attack is
// named with its type at every one, and nothing else, its senders and
// targets right; benign traffic names nothing.
func TestProbeCaptures(t *testing.T) {
	var report strings.Builder
	fmt.Fprintf(&report, "| capture | want | windows | named in | first | types named | named at shifts |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, c := range probeCaptures {
		typed := 0
		var first publicRun
		for i, sh := range publicShifts {
			r := replayCapture(t, filepath.Join("testdata", "probes", c.file), c, sh)
			if i == 0 {
				first = r
			}
			if c.typ == "" {
				if len(r.types) > 0 {
					t.Errorf("%s (benign) shifted %s: named %v", c.file, sh, r.types)
				}
				continue
			}
			if r.namedIn == 0 {
				t.Errorf("%s shifted %s: %s not named (named %v)", c.file, sh, c.typ, r.types)
				continue
			}
			typed++
			if slices.ContainsFunc(r.types, func(ty string) bool { return ty != c.typ }) {
				t.Errorf("%s shifted %s: named %v, want %s only", c.file, sh, r.types, c.typ)
			}
			if !within(r.sources, c.sources) || !within(r.targets, c.targets) {
				t.Errorf("%s shifted %s: sources %s, targets %s; want %v and %v", c.file, sh, shown(r.sources), shown(r.targets), c.sources, c.targets)
			}
		}
		want := c.typ
		if want == "" {
			want = "(benign)"
		}
		fmt.Fprintf(&report, "| %s | %s | %d | %d | %d | %s | %d of %d |\n", c.file, want, first.windows, first.namedIn, first.first, strings.Join(first.types, ", "), typed, len(publicShifts))
	}
	t.Logf("probe captures, before training:\n%s", report.String())
}
