package detector

import (
	"fmt"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// BruteForce is the brute_force attack type.
const BruteForce = "brute_force"

func init() {
	register(&AttackType{
		Name:           BruteForce,
		Title:          "Brute-force login attempts",
		Alert:          "NetAnomalyBruteForce",
		Severity:       3,
		Technique:      "T1110",
		TechniqueName:  "Brute Force",
		Recommendation: "Block the source, enforce key-based or multi-factor authentication and account lockout on the targeted service, and review its logs for a successful login.",
		Behaviour: "One host opening many connections that complete their handshake, carry a dialogue (at least one answered request each, on average) and end quickly to one authentication service " +
			"(SSH, FTP, Telnet, RDP, VNC, SMB, SMTP/IMAP/POP, LDAP, databases, WinRM by their ports; SSH on any port by its greeting; an SSH login seen to succeed, " +
			"its server's answer after the key exchange 16 bytes shorter than the first as Zeek reads it, is no guess, nor is a login the server accepts in the clear: SMTP 235, FTP 230, PostgreSQL, MySQL, an LDAP bind), or getting many of its answers late as servers delay " +
			"failed logins or the client paces its tries (SSH on any port, FTP, Telnet, POP3, IMAP; exchanges of 0.8 s or more in sessions under 30 s), or posting many HTTP forms that the web server answers (POSTs at least a third of its " +
			"requests, on connections it does not hold open), or getting many requests refused their credentials, however many a connection tries (a third of its answered requests or more, " +
			"on any port, as the server says so in the clear: HTTP 401 or 407, Redis WRONGPASS, SMTP 535, FTP 530, POP3 -ERR [AUTH], IMAP AUTHENTICATIONFAILED, MySQL 1045, PostgreSQL 28P01, LDAP 49; on a web port at the POST bars, elsewhere at the connection bars and a tenth of its answered requests), or trying many SNMP communities on an agent that leaves most of its requests unanswered (SNMPv1 and v2c carry the community, the agent's password, in the clear, " +
			"and an agent drops a request with a wrong one; a poller and its retries use one community, a guesser changes it from request to request); " +
			"counted over the horizon, so a guesser trying one password every few seconds " +
			"adds up as surely as a fast one. Before training: 20 completed connections over the horizon or 10 over the last two windows, " +
			"10 slow exchanges over three short sessions or more, 60 answered POSTs or credentials refused by a web server over the horizon or 20 over the last two windows (20 and 10 by another server), " +
			"20 communities tried over the horizon or 10 over the last two windows, at most half the requests answered.",
		Names:  "Sources: the guessing host; targets: the service's host.",
		Floors: true,
		order:  21, // before the HTTP flood: a guesser's requests are guesses
		detect: detectBruteForce,
	})
}

// Bars of the brute force rule: completed connections to an
// authentication service, of which most ended within 30 s, over the
// horizon (a slow guesser) or the short span (a burst); or HTTP POSTs to
// a web service over the horizon. After training, the busiest training
// pair raises them: half its pace kept up over the whole horizon, four
// times it over the short span.
const (
	bruteConnections = 20
	bruteShortShare  = 0.6
	// bruteSlowTurns slow request turns in short sessions, over
	// bruteSlowSessions of them or more, are as many failed guesses (the
	// server delays its answers to wrong passwords, or the guesser paces
	// its tries); only on loginPorts. A user who mistypes a password
	// shows one or two in one session.
	bruteSlowTurns    = 10
	bruteSlowSessions = 3
	brutePosts        = 60
	// brutePostShare: answered POSTs are at least this share of a pair's
	// answered requests. A guesser may fetch the form (for its token)
	// and follow a redirect around each POST: a third; a browser's POSTs
	// are a few among its page loads.
	brutePostShare = 0.3
	// bruteRefusedShare: logins refused by a server other than a web
	// server are at least this share of the pair's answered requests.
	bruteRefusedShare = 0.1
)

// loginPorts are the services whose early answers are logins: SSH, FTP,
// Telnet, POP3 and IMAP. A file or database server may answer slowly.
var loginPorts = map[uint16]bool{21: true, 22: true, 23: true, 2323: true, 110: true, 143: true}

// authNames names the authentication services for summaries.
var authNames = map[uint16]string{
	21: "ftp", 22: "ssh", 23: "telnet", 2323: "telnet", 465: "smtps", 587: "submission",
	110: "pop3", 995: "pop3s", 143: "imap", 993: "imaps", 389: "ldap", 636: "ldaps", 445: "smb",
	1433: "mssql", 3306: "mysql", 3389: "rdp", 5432: "postgresql", 5900: "vnc", 5985: "winrm", 5986: "winrm",
}

// horizonOrBurst picks the evidence that holds: n over the horizon at
// its bar, else burst over the last two windows at burstBar; ok is false
// when neither does.
func horizonOrBurst(n, bar, burst, burstBar float64) (value, over float64, ok bool) {
	switch {
	case n >= bar:
		return n, bar, true
	case burst >= burstBar:
		return burst, burstBar, true
	}
	return 0, 0, false
}

// refusingService names the service on port for a summary of refused
// credentials.
func refusingService(port uint16) string {
	switch {
	case authNames[port] != "":
		return authNames[port]
	case port == 6379:
		return "redis"
	case features.WebPort(port):
		return "HTTP"
	}
	return "the service"
}

// plainWebPorts are web ports whose requests can be read (not TLS).
var plainWebPorts = map[uint16]bool{80: true, 8000: true, 8008: true, 8080: true, 8888: true}

func detectBruteForce(e *evidence) []Attack {
	l := &e.h.long
	windows := float64(e.h.size)
	connBar := e.bar(bruteConnections, bruteConnections, features.MaxPairAuthConnections, 0.5, windows)
	burstBar := e.bar(bruteConnections/2, bruteConnections/2, features.MaxPairAuthConnections, 4, shortSpan)
	postBar := e.bar(brutePosts, brutePosts, features.MaxPairPosts, 1, windows)
	postBurstBar := e.bar(brutePosts/3, brutePosts/3, features.MaxPairPosts, 4, shortSpan)
	var out []Attack
	// Only pairs still active in the latest window can fire: the others
	// are not looked at (under a flood the horizon holds tens of thousands).
	// An authentication service: by its port, or an SSH server on any
	// port, known by its greeting.
	login := func(p *pairSum) bool { return features.AuthPort(p.Key.Port) || p.SSH > 0 }
	auth := func(p *pairSum) bool {
		return p.Key.Proto == features.ProtoTCP && (login(p) || plainWebPorts[p.Key.Port] || p.AuthRefused > 0)
	}
	for _, p := range activePairs(e.h, auth) {
		if _, ok := e.claimed[p.Key.Src]; ok {
			continue
		}
		now := e.h.last.pairs[p.Key]
		if login(p) {
			if a, ok := loginGuess(e, p, now, connBar, burstBar); ok {
				out = append(out, a)
				continue
			}
		}
		if a, ok := credentialsRefused(e, p, now); ok {
			out = append(out, a)
			continue
		}
		if plainWebPorts[p.Key.Port] {
			if now == nil || now.Posts == 0 {
				continue
			}
			posts := float64(p.Posts)
			burst := 0.0
			if sp := e.h.short.pairs[p.Key]; sp != nil {
				burst = float64(sp.Posts)
			}
			value, over, ok := horizonOrBurst(posts, postBar, burst, postBurstBar)
			// A guesser waits for each answer and moves on; a slow POST
			// holds its connections open (a slowloris, named by its rule).
			if !ok || posts < brutePostShare*float64(max(p.Requests, p.Posts)) || 2*p.Held >= p.Established {
				continue
			}
			out = append(out, Attack{
				Confidence: confidence(value, over),
				Evidence:   []Evidence{ev("http_posts", value, over, 0)},
				Sources:    [][16]byte{p.Key.Src},
				Targets:    [][16]byte{p.Key.Dst},
				Summary:    fmt.Sprintf("%.0f HTTP POSTs to port %d in the last %s (%.0f requests answered): a login form guessed at", float64(p.Posts), p.Key.Port, dur(l.seconds), float64(p.Requests)),
			})
		}
	}
	return append(out, communityGuesses(e)...)
}

// loginGuess judges one client of an authentication service by its
// connections: many completed and mostly short over the horizon or the
// short span, or slow login exchanges.
func loginGuess(e *evidence, p, now *pairSum, connBar, burstBar float64) (Attack, bool) {
	if now == nil || now.Attempts+now.Established == 0 {
		return Attack{}, false // the guesser stopped
	}
	name := authNames[p.Key.Port]
	if p.SSH > 0 {
		name = "ssh"
	}
	// An SSH login seen to succeed is no guess (a key login running
	// one command, as configuration management does, is as short).
	est, sessions, short := float64(p.Established-min(p.Established, p.Logins)), float64(p.Sessions), float64(p.ShortSessions)
	burst, burstRequests := 0.0, 0.0
	if sp := e.h.short.pairs[p.Key]; sp != nil {
		burst, burstRequests = float64(sp.Established-min(sp.Established, sp.Logins)), float64(sp.Requests)
	}
	// A login is a dialogue: the client sends a name, a password or a
	// key exchange, and the server answers, on every connection. Connections
	// on which nothing is said (a connection flood, nping --tcp-connect)
	// are no tries.
	if float64(p.Requests) < est {
		est = 0
	}
	if burstRequests < burst {
		burst = 0
	}
	slow := float64(p.SlowTurns)
	if !loginPorts[p.Key.Port] && p.SSH == 0 || p.ShortSessions < bruteSlowSessions {
		slow = 0
	}
	// The evidence that holds and supports it most: completed
	// connections over the horizon or in a burst, mostly short;
	// or slow login exchanges.
	bar, value, what := 0.0, 0.0, ""
	pick := func(b, v float64, w string) {
		if v >= b && (what == "" || v/b > value/bar) {
			bar, value, what = b, v, w
		}
	}
	if sessions == 0 || short >= bruteShortShare*sessions {
		pick(connBar, est, "completed_connections")
		pick(burstBar, burst, "completed_connections_20s")
	}
	pick(bruteSlowTurns, slow, "slow_login_turns")
	if what == "" {
		return Attack{}, false
	}
	summary := fmt.Sprintf("%.0f connections to %s (port %d) completed their handshake in the last %s; %.0f of the %.0f that ended lasted under %d s",
		est, name, p.Key.Port, dur(e.h.long.seconds), short, sessions, features.ShortSession)
	if p.Logins > 0 {
		summary += fmt.Sprintf("; %d more logged in", p.Logins)
	}
	if what == "slow_login_turns" {
		summary = fmt.Sprintf("%.0f slow exchanges with %s (port %d) in %.0f short sessions in the last %s: one login tried every second or more, answered late as servers answer failed logins or paced by the client",
			slow, name, p.Key.Port, short, dur(e.h.long.seconds))
	}
	return Attack{
		Confidence: confidence(value, bar),
		Evidence: []Evidence{
			ev(what, value, bar, 0),
			ev("short_sessions", short, bruteShortShare*sessions, 0),
		},
		Sources: [][16]byte{p.Key.Src},
		Targets: [][16]byte{p.Key.Dst},
		Summary: summary,
	}, true
}

// communityGuesses names the hosts guessing an SNMP agent's community:
// the community changed from request to request (PairActivity.Communities)
// at the connection bars, and the agent answered at most half the
// requests, as it drops those with a wrong community (RFC 3584). A network
// management system trying its few known communities on each device it
// discovers tries a handful per agent, and a poller's are answered.
func communityGuesses(e *evidence) []Attack {
	bar, burstBar := bruteConnections*e.scale, bruteConnections/2*e.scale
	var out []Attack
	for _, p := range activePairs(e.h, func(p *pairSum) bool { return p.Key.Proto == features.ProtoUDP && p.Communities > 0 }) {
		if _, ok := e.claimed[p.Key.Src]; ok {
			continue
		}
		if now := e.h.last.pairs[p.Key]; now == nil || now.Communities == 0 {
			continue // the guesser stopped
		}
		tried, burst := float64(p.Communities), 0.0
		if sp := e.h.short.pairs[p.Key]; sp != nil {
			burst = float64(sp.Communities)
		}
		value, over, ok := horizonOrBurst(tried, bar, burst, burstBar)
		if !ok || 2*p.Replies > p.Packets {
			continue
		}
		out = append(out, Attack{
			Confidence: confidence(value, over),
			Evidence:   []Evidence{ev("snmp_communities_tried", value, over, 0)},
			Sources:    [][16]byte{p.Key.Src},
			Targets:    [][16]byte{p.Key.Dst},
			Summary: fmt.Sprintf("tried %.0f SNMP communities on port %d in the last %s, %d of its %d requests answered: the agent's community (its password) guessed at",
				tried, p.Key.Port, dur(e.h.long.seconds), p.Replies, p.Packets),
		})
	}
	return out
}

// credentialsRefused judges the requests of one client that a server
// refused the credentials of (decode.PacketInfo.AuthRefused, on any port:
// the server said so): HTTP Basic, Digest or proxy logins, Redis, mail,
// database or directory logins guessed at, however many a connection
// tries. Over the horizon or the last two windows. On a web port at the
// POST bars, a third of its answered requests or more: a browser meets a
// 401 before its user logs in, a client with a stale token one a poll.
// Elsewhere at the connection bars, a tenth of its answered requests or
// more: a refused login is a failed one, which a user repeats a few times
// (fail2ban bans at 5 in 10 minutes); a server that delays its refusals
// (Dovecot 2 s) holds a guesser to a few a minute; and a guess takes a few
// exchanges of a line protocol (IMAP's capabilities and login, SMTP's
// EHLO, AUTH, name and password), where a webmail front end's users
// mistyping among its thousands of requests stay under a tenth.
func credentialsRefused(e *evidence, p, now *pairSum) (Attack, bool) {
	if now == nil || now.AuthRefused == 0 {
		return Attack{}, false
	}
	bar, burstBar, share := brutePosts*e.scale, brutePosts/3*e.scale, brutePostShare
	if !features.WebPort(p.Key.Port) {
		bar, burstBar, share = bruteConnections*e.scale, bruteConnections/2*e.scale, bruteRefusedShare
	}
	refused, burst := float64(p.AuthRefused), 0.0
	if sp := e.h.short.pairs[p.Key]; sp != nil {
		burst = float64(sp.AuthRefused)
	}
	value, over, ok := horizonOrBurst(refused, bar, burst, burstBar)
	if !ok || refused < share*float64(max(p.Requests, p.AuthRefused)) {
		return Attack{}, false
	}
	return Attack{
		Confidence: confidence(value, over),
		Evidence:   []Evidence{ev("credentials_refused", value, over, 0)},
		Sources:    [][16]byte{p.Key.Src},
		Targets:    [][16]byte{p.Key.Dst},
		Summary: fmt.Sprintf("%.0f requests to %s (port %d) refused their credentials in the last %s (%.0f answered in all): credentials guessed at",
			refused, refusingService(p.Key.Port), p.Key.Port, dur(e.h.long.seconds), float64(p.Requests)),
	}, true
}
