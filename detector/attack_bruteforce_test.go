package detector

import (
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

func TestBruteForce(t *testing.T) {
	guess := func(port uint16, n uint32) bw {
		return bw{pairs: []features.PairActivity{{Key: features.PairKey{Src: attacker, Dst: server, Port: port, Proto: features.ProtoTCP},
			Conns: features.Conns{Attempts: n, Syns: n, Established: n, Requests: 3 * n}, Sessions: n, ShortSessions: n}}}
	}
	interactive := guess(22, 25)
	interactive.pairs[0].ShortSessions = 5
	post := func(posts, requests uint32) bw {
		return bw{pairs: []features.PairActivity{{Key: features.PairKey{Src: attacker, Dst: server, Port: 8080, Proto: features.ProtoTCP},
			Conns: features.Conns{Attempts: 4, Syns: 4, Established: 4, Requests: requests}, Posts: posts}}}
	}
	// A slow POST: 70 connections announce a body and trickle it; the
	// form answers each at once, the connections stay held.
	slowPost := post(70, 70)
	slowPost.pairs[0].Attempts, slowPost.pairs[0].Syns, slowPost.pairs[0].Established, slowPost.pairs[0].Held = 70, 70, 70, 70
	synOnly := bw{pairs: []features.PairActivity{tcp(attacker, server, 22, features.Conns{Attempts: 500, Syns: 500, HalfOpen: 500})}}
	// One short session every 10 s, each with four slow exchanges: the
	// server answers late, as sshd with PAM and vsftpd delay failed
	// logins, or the guesser waits between tries (hydra -c).
	delayed := guess(22, 1)
	delayed.pairs[0].SlowTurns = 4
	// An admin's two quick logins, pausing between commands.
	pauses := guess(22, 1)
	pauses.pairs[0].SlowTurns = 6
	typo := guess(22, 1)
	typo.pairs[0].SlowTurns = 1
	slowSMB := guess(445, 1)
	slowSMB.pairs[0].SlowTurns = 8
	// SSH on a port of its own, known by the server's greeting.
	sshGreeted := func(port uint16, n uint32) bw {
		b := guess(port, n)
		b.pairs[0].SSH = n
		return b
	}
	slowSSH := sshGreeted(2222, 1)
	slowSSH.pairs[0].SlowTurns = 4
	// Configuration management: key logins running one command each,
	// as short as guesses, but the server said yes to every one; a
	// guesser that got in once is still guessing.
	logins := func(n, ok uint32) bw {
		b := sshGreeted(22, n)
		b.pairs[0].Logins = ok
		return b
	}

	// Requests a web server refused with 401 or 407, of requests answered.
	refused := func(port uint16, n, requests uint32) bw {
		return bw{pairs: []features.PairActivity{{Key: features.PairKey{Src: attacker, Dst: server, Port: port, Proto: features.ProtoTCP},
			Conns: features.Conns{Attempts: n, Syns: n, Established: n, Requests: requests}, AuthRefused: n}}}
	}

	// Logins refused on a few connections, each trying many passwords
	// (hydra against Redis; IMAP and SMTP allow several tries a login).
	refusedOn := func(port uint16, conns, requests, n uint32) bw {
		return bw{pairs: []features.PairActivity{{Key: features.PairKey{Src: attacker, Dst: server, Port: port, Proto: features.ProtoTCP},
			Conns: features.Conns{Attempts: conns, Syns: conns, Established: conns, Requests: requests}, Sessions: conns, AuthRefused: n}}}
	}

	// A refusal every third window (every 30 s), the phone's session
	// held open between.
	var phoneRetries []bw
	for i := range 30 {
		w := bw{}
		if i%3 == 2 {
			w = refusedOn(143, 1, 1, 1)
		}
		phoneRetries = append(phoneRetries, w)
	}

	// SNMP requests to an agent: communities changed from request to
	// request, requests sent and answered.
	snmp := func(tried, requests, replies uint32) bw {
		return bw{pairs: []features.PairActivity{{Key: features.PairKey{Src: attacker, Dst: server, Port: 161, Proto: features.ProtoUDP},
			Conns: features.Conns{Attempts: 1, Packets: requests, Replies: replies}, Communities: tried}}}
	}

	// A connection flood (nping --tcp-connect): handshakes complete, held
	// or closed, and the client says nothing.
	silent := guess(22, 300)
	silent.pairs[0].Requests, silent.pairs[0].Sessions, silent.pairs[0].ShortSessions = 0, 0, 0
	silentClosed := guess(22, 300)
	silentClosed.pairs[0].Requests = 0

	checkRuleCases(t, BruteForce, []ruleCase{
		{name: "HTTP Basic logins guessed at, 25 refused in a window", windows: []bw{refused(80, 25, 25)}, want: true, sources: srcs(attacker), targets: srcs(server)},
		{name: "refused logins on an admin console's port", windows: []bw{refused(9090, 25, 30)}, want: true, sources: srcs(attacker), targets: srcs(server)},
		{name: "a slow guesser: 3 refused a window for 200 s", windows: repeat(20, refused(80, 3, 3)), want: true, sources: srcs(attacker), targets: srcs(server)},
		{name: "a client with a stale token, refused every 5 s for 2 minutes", windows: repeat(12, refused(80, 2, 2))},
		{name: "a browser refused before its user logs in", windows: repeat(3, refused(8080, 1, 40))},
		{name: "refused requests among many answered", windows: []bw{refused(80, 25, 100)}},
		{name: "fast SSH guessing", windows: []bw{guess(22, 30)}, want: true, sources: srcs(attacker), targets: srcs(server)},
		{name: "a burst of 20 cut by the grid", windows: []bw{guess(22, 8), guess(22, 12)}, want: true, sources: srcs(attacker), targets: srcs(server)},
		// Mirai's telnet guessing: one credential a connection, a
		// handful of connections in a second or two.
		{name: "a burst of 11 telnet logins", windows: []bw{guess(23, 11)}, want: true, sources: srcs(attacker), targets: srcs(server)},
		{name: "a burst of 10 cut by the grid", windows: []bw{guess(23, 4), guess(23, 6)}, want: true, sources: srcs(attacker), targets: srcs(server)},
		{name: "nine quick logins", windows: []bw{guess(23, 9)}},
		{name: "slow guesser: two a window for 100 s", windows: repeat(10, guess(21, 2)), want: true, sources: srcs(attacker), targets: srcs(server)},
		{name: "slow guesser, not yet enough", windows: repeat(9, guess(21, 2))},
		{name: "a guesser that stopped", windows: append(repeat(3, guess(22, 30)), bw{})},
		{name: "long interactive sessions", windows: []bw{interactive}},
		{name: "not an authentication port", windows: []bw{guess(8443, 40)}},
		{name: "SSH key logins, each seen to succeed", windows: repeat(5, logins(6, 6))},
		{name: "a burst of SSH key logins", windows: []bw{logins(15, 15), logins(15, 15)}},
		{name: "SSH guessing with one login that got in", windows: []bw{logins(30, 1)}, want: true, sources: srcs(attacker), targets: srcs(server)},
		{name: "SSH guessing on port 902, known by its greeting", windows: []bw{sshGreeted(902, 30)}, want: true, sources: srcs(attacker), targets: srcs(server)},
		{name: "slow SSH logins on port 2222", windows: []bw{slowSSH, {}, slowSSH, slowSSH}, want: true, sources: srcs(attacker), targets: srcs(server)},
		{name: "a login form posted at", windows: repeat(3, post(30, 30)), want: true, sources: srcs(attacker), targets: srcs(server)},
		{name: "a client getting pages", windows: repeat(3, post(3, 60))},
		{name: "a guesser fetching the form before each POST", windows: repeat(3, post(30, 60)), want: true, sources: srcs(attacker), targets: srcs(server)},
		{name: "slow POSTs held open, answered early", windows: []bw{slowPost}},
		{name: "SYNs that complete no handshake are no guesses", windows: []bw{synOnly}},
		{name: "slow failed logins", windows: []bw{delayed, {}, delayed, delayed}, want: true, sources: srcs(attacker), targets: srcs(server)},
		{name: "two short sessions with pauses", windows: []bw{pauses, {}, pauses}},
		{name: "a user's mistyped password", windows: []bw{typo, {}, typo}},
		{name: "a file server answering slowly", windows: []bw{slowSMB, slowSMB}},
		{name: "Redis passwords tried, 25 a connection", windows: []bw{refusedOn(6379, 4, 101, 100)}, want: true, sources: srcs(attacker), targets: srcs(server)},
		{name: "IMAP logins refused on three long sessions", windows: repeat(3, refusedOn(143, 1, 30, 20)), want: true, sources: srcs(attacker), targets: srcs(server)},
		{name: "a mail client with a stale password, refused once a minute", windows: repeat(12, refusedOn(143, 1, 20, 1))},
		// hydra against Dovecot, which delays each refusal 2 s: 4 tasks,
		// 24 tries a minute on 8 connections.
		{name: "IMAP guessing slowed by the server, 4 refused a window for 60 s", windows: repeat(6, refusedOn(143, 1, 14, 4)), want: true, sources: srcs(attacker), targets: srcs(server)},
		{name: "a webmail front end, its users mistyping among thousands of requests", windows: repeat(6, refusedOn(143, 40, 2000, 5))},
		{name: "a phone retrying a wrong IMAP password every 30 s for 5 minutes", windows: phoneRetries},
		{name: "a connection flood on SSH, the connections held", windows: []bw{silent}},
		// An application sending mail through an authenticated submission
		// server, one connection a mail: every login accepted (235).
		{name: "an application's mail, each connection logged in", windows: repeat(6, func() bw { b := guess(587, 8); b.pairs[0].Logins = 8; return b }())},
		{name: "a connection flood on SSH, each closed at once", windows: repeat(2, silentClosed)},
		// onesixtyone: 500 communities in 5 s, none right.
		{name: "SNMP communities guessed, 499 in a window", windows: []bw{snmp(499, 500, 0)}, want: true, sources: srcs(attacker), targets: srcs(server)},
		// hydra: 4 tasks, each community sent 3 times as it waits.
		{name: "a slow community guesser: 4 a window for 60 s", windows: repeat(6, snmp(4, 14, 0)), want: true, sources: srcs(attacker), targets: srcs(server)},
		{name: "a burst of 10 communities cut by the grid", windows: []bw{snmp(4, 4, 0), snmp(6, 6, 0)}, want: true, sources: srcs(attacker), targets: srcs(server)},
		{name: "one that found the community among 30", windows: []bw{snmp(30, 31, 1)}, want: true, sources: srcs(attacker), targets: srcs(server)},
		{name: "a discovery trying its 3 communities", windows: repeat(3, snmp(2, 3, 1))},
		{name: "a poller alternating its read and write communities, answered", windows: repeat(3, snmp(30, 30, 30))},
		{name: "nine communities", windows: []bw{snmp(9, 9, 0)}},
		{name: "a community guesser that stopped", windows: []bw{snmp(100, 100, 0), {}}},
		{name: "a guesser that found the community and now polls with it", windows: []bw{snmp(100, 100, 0), snmp(0, 60, 60)}},
	})
	// Where connections and slow exchanges both hold, the evidence named
	// is the one furthest over its bar, and the confidence its.
	for _, c := range []struct {
		conns, slow uint32
		want        string
	}{{22, 40, "slow_login_turns"}, {40, 10, "completed_connections_20s"}} {
		b := guess(21, c.conns)
		b.pairs[0].SlowTurns = c.slow
		a := attackOf(runRules(t, repeat(3, b)).Attacks, BruteForce)
		if a == nil || a.Evidence[0].Feature != c.want || a.Confidence != confidence(a.Evidence[0].Value, a.Evidence[0].Threshold) {
			t.Errorf("%d connections, %d slow exchanges: %+v, want %s as the evidence", c.conns, c.slow, a, c.want)
		}
	}
}
