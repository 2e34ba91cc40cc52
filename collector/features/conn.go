package features

import (
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/decode"
	"github.com/netanomaly/netanomaly_exporter/collector/features/sketch"
)

// Connection outcomes.
type outcome uint8

const (
	outEstablished outcome = iota
	outRefused
	outUnanswered
	outHalfOpen
)

// answerWait is how long an attempt may go without any reply before it
// counts as unanswered: past the first SYN retransmission (1 s) and any
// LAN or Internet round trip.
const answerWait = int64(3 * time.Second)

// A connection is held when a request on it has gone unanswered for
// stallAge (slowloris and slow POST never finish theirs), when its
// initiator advertised a zero window during the window (slow read: the
// answer waits for a reader that takes a few bytes now and then), or when
// it is heldAge old and has carried under a packet every two seconds (a
// keep-alive client asking every few seconds carries more).
const (
	stallAge = int64(5 * time.Second)
	heldAge  = int64(10 * time.Second)
)

// slowTurn is how long, in milliseconds, a request turn takes to count as
// slow: the server delayed its answer (as servers delay a failed login)
// or the client waited as long after the last answer before asking again
// (a guesser pacing its tries).
const slowTurn = 800

// track follows the connection an IP packet belongs to and counts what the
// packet says about it in the window's behaviour tables.
func (a *Aggregator) track(p *decode.PacketInfo, h *packetHashes) {
	if p.Refusal {
		a.refused(p, h)
	}
	t := a.flows
	i, isNew := t.lookup(h.flow, p.Time)
	f := &t.slots[i]
	e := &t.ends[i]
	h.trace = false
	if isNew {
		opener := opens(p)
		h.trace = opener && a.traces.probe(p, h.src, h.dst)
		*f = flowSlot{hash: h.flow, last: p.Time}
		if h.fromA == opener {
			f.state = stInitA
		}
		if opener {
			*e = flowEnds{init: p.Src, resp: p.Dst, iport: p.SrcPort, rport: p.DstPort, proto: p.Proto}
		} else {
			*e = flowEnds{init: p.Dst, resp: p.Src, iport: p.DstPort, rport: p.SrcPort, proto: p.Proto}
		}
		e.web = p.Proto == decode.ProtoTCP && (webPorts.has(p.SrcPort) || webPorts.has(p.DstPort))
		e.seq = a.seq - 1 // no slots looked up yet
	}
	fromI := h.fromA == (f.state&stInitA != 0)
	f.seen(p.Time)
	if t.counts != nil {
		t.countFlow(i, p, isNew, fromI)
	}
	if fromI {
		f.pktsI++
	} else {
		f.pktsR++
		a.bh.responses++
	}
	switch p.Proto {
	case decode.ProtoTCP:
		a.trackTCP(f, e, p, h, isNew, fromI)
	case decode.ProtoUDP, decode.ProtoICMP, decode.ProtoICMPv6:
		a.trackDatagram(f, e, p, h, isNew, fromI)
	case decode.ProtoOther:
		if sctpPacket(p) {
			// SCTP: an INIT opens an association to a port as a SYN
			// opens a connection; an INIT ACK answers it, an ABORT or an
			// ICMP unreachable refuses it.
			a.trackDatagram(f, e, p, h, isNew, fromI)
		}
	}
}

// refused decides the attempt an ICMP unreachable from its responder
// quotes (decode.PacketInfo.Refusal) as refused, as a reset would: a UDP
// probe of a closed port, a connection a host's firewall rejects. Only an
// attempt still undecided is; the unreachable is also a packet of its own
// ICMP flow.
func (a *Aggregator) refused(p *decode.PacketInfo, h *packetHashes) {
	// The quoted packet went from the unreachable's receiver to its sender.
	hash, _ := endpointsKey(&p.Dst, &p.Src, p.RefusedSrc, p.RefusedDst, p.RefusedProto, h.dst, h.src)
	i, ok := a.flows.find(hash)
	if !ok {
		return
	}
	f, e := &a.flows.slots[i], &a.flows.ends[i]
	if f.state&(stAttempt|stDecided) == stAttempt && e.init == p.Dst && e.resp == p.Src && e.rport == p.RefusedDst {
		a.outcome(f, e, outRefused)
	}
}

func (a *Aggregator) trackTCP(f *flowSlot, e *flowEnds, p *decode.PacketInfo, h *packetHashes, isNew, fromI bool) {
	fl := p.TCPFlags
	syn, ack := fl&decode.TCPSyn != 0, fl&decode.TCPAck != 0
	rst, fin := fl&decode.TCPRst != 0, fl&decode.TCPFin != 0
	defer func() {
		// What an initiator sends before any handshake completes: SYNs,
		// and the ACK, FIN or junk of a flood that never shakes hands.
		if fromI && f.state&stAttempt != 0 && f.state&(stEst|stUnsolicited) == 0 {
			c, _ := a.pairConns(e)
			c.Packets++
			a.serviceConns(e, false).Packets++
			a.serviceConns(e, true).Packets++
		}
	}()
	if isNew {
		switch {
		case !fromI:
			// A SYN-ACK or RST nobody asked for: reflection or backscatter.
			f.state |= stUnsolicited | stDecided
			a.unsolicited(e, p)
		case syn && !ack:
			a.attempt(f, e, h, true)
		case p.Payload == 0:
			// A probe without SYN (FIN, NULL, Xmas and ACK scans), or a
			// bare ACK of a connection older than the capture: either way
			// its answer tells whether someone is there.
			f.state |= stMid
			a.attempt(f, e, h, false)
		default:
			// Data of a connection older than the capture.
			f.state |= stMid | stDecided | stEst
		}
		return
	}
	if f.state&stUnsolicited != 0 {
		if !fromI {
			a.unsolicited(e, p)
		}
		return
	}
	if fromI {
		switch {
		case syn && !ack:
			// The same 5-tuple again: a retransmission, or a flood that
			// reuses its source ports.
			c, _ := a.pairConns(e)
			c.Syns++
			a.serviceConns(e, false).Syns++
			a.serviceConns(e, true).Syns++
		case rst:
			if f.state&stDecided == 0 {
				if f.state&stSynAck != 0 {
					a.outcome(f, e, outHalfOpen)
				} else {
					a.outcome(f, e, outUnanswered)
				}
			} else if f.state&stEst != 0 && f.state&stEnded == 0 {
				a.sessionEnd(f, e, p.Time)
			}
			f.state |= stRst
		default:
			if f.state&stDecided == 0 && f.state&stSynAck != 0 && ack {
				a.outcome(f, e, outEstablished)
			}
			if f.state&(stMid|stDecided) == stMid && p.Payload > 0 {
				// Data after a bare ACK: a connection older than the
				// capture, as a first packet with data is (a junk flood
				// changes ports). Its answers may be on another link:
				// no outcome is counted, nobody was seen serving it.
				f.state |= stDecided | stEst
			}
			if p.TCPWindow == 0 && f.state&stEst != 0 {
				e.zeroWindow = true
			}
			if p.Payload > 0 && f.state&stEst != 0 {
				f.state |= stHeard
			}
			if e.ssh && e.sshAuth == sshKex && p.SSHNewKeys {
				e.sshAuth = sshWaitAccept
			}
			if fin {
				f.state |= stFinI
			}
			// A TLS handshake's flights are the connection's set-up: the
			// request turns are the application data after them.
			if p.Payload > 0 && f.state&stReqOpen == 0 && f.state&stEst != 0 && !p.TLSSetup {
				f.state |= stReqOpen
				if int64(f.age)-int64(f.reqAt)*100 >= slowTurn {
					f.state |= stReqPaced
				}
				f.reqAt = tenths(f.age)
				if p.HTTPMethod == decode.HTTPPost {
					f.state |= stReqPost
				}
			}
		}
	} else {
		switch {
		case syn && ack:
			f.state |= stSynAck
			if s := a.serviceOf(e, false); s != nil {
				s.SynAcks++
			}
		case rst:
			if f.state&stDecided == 0 {
				a.outcome(f, e, outRefused)
			} else if f.state&stEst != 0 && f.state&stEnded == 0 {
				a.sessionEnd(f, e, p.Time)
			}
			f.state |= stRst
		default:
			if f.state&stDecided == 0 && f.state&stMid != 0 {
				a.outcome(f, e, outEstablished) // a probe or old connection answered
			}
			if fin {
				f.state |= stFinR
			}
			if p.Payload > 0 && f.state&stReqOpen == 0 {
				f.reqAt = tenths(f.age) // the responder spoke unasked (a banner)
			}
			if p.SSH && !e.ssh {
				e.ssh = true
				if pa := a.pairOf(e); pa != nil {
					pa.SSH++
				}
			}
			if e.ssh && e.sshAuth != sshKex && e.sshAuth < sshLogin && p.Payload > 0 {
				a.sshAnswer(e, p)
			}
			if p.AuthAccepted && e.sshAuth != sshLogin {
				// A login the server accepted in the clear (SMTP 235, FTP
				// 230, a database's): no guess, as an SSH login seen.
				e.sshAuth = sshLogin
				if pa := a.pairOf(e); pa != nil {
					pa.Logins++
				}
			}
			if p.Payload > 0 && f.state&stReqOpen != 0 {
				c, pa := a.pairConns(e)
				c.Requests++
				// A guess is a POST the form answered; a slow POST's
				// body never ends and is not answered.
				if f.state&stReqPost != 0 && pa != nil {
					pa.Posts++
				}
				if p.AuthRefused && pa != nil {
					pa.AuthRefused++
				}
				a.serviceConns(e, false).Requests++
				if e.web {
					a.w.httpRequests++
				}
				// An authentication server delays its answer to a wrong
				// password (sshd with PAM 2 s, vsftpd 1 s); a guesser that
				// paces itself waits before the next try. Counted when a
				// short session ends: an interactive session's pauses
				// are not guesses.
				if int64(f.age) < ShortSession*1000 && (f.state&stReqPaced != 0 || int64(f.age)-int64(f.reqAt)*100 >= slowTurn) && e.slowTurns < 255 {
					e.slowTurns++
				}
				f.state &^= stReqOpen | stReqPost | stReqPaced
				f.reqAt = tenths(f.age)
			}
		}
	}
	if f.state&(stFinI|stFinR) == stFinI|stFinR && f.state&stEst != 0 && f.state&stEnded == 0 {
		a.sessionEnd(f, e, p.Time)
	}
}

// trackDatagram follows UDP and ICMP: a request opens a flow, any answer
// establishes it.
func (a *Aggregator) trackDatagram(f *flowSlot, e *flowEnds, p *decode.PacketInfo, h *packetHashes, isNew, fromI bool) {
	size := uint64(p.WireLen)
	if isNew {
		switch {
		case fromI:
			a.attempt(f, e, h, false)
		case p.Proto == decode.ProtoUDP && !reflectionPorts.has(p.SrcPort):
			// An answer from a service that amplifies nothing (QUIC, a
			// game server): a conversation older than the capture.
			f.state |= stMid | stDecided
			return
		default:
			f.state |= stUnsolicited | stDecided
			a.unsolicited(e, p)
			return
		}
	}
	if f.state&stUnsolicited != 0 {
		if !fromI {
			a.unsolicited(e, p)
		}
		return
	}
	c, pa := a.pairConns(e)
	s := a.serviceConns(e, false)
	if fromI {
		c.Packets++
		c.Bytes += size
		if p.DHCPOp == decode.DHCPNone {
			// A DHCP flood is the DHCP rule's, by the MACs it comes
			// from: its forged senders would make the server's port a UDP
			// flood target no claim on them could clear.
			s.Packets++
			s.Bytes += size
		}
		if echoRequest(p) {
			e.echoLen = uint16(min(p.WireLen, 1<<16-1))
			if pa != nil && p.DataHash != 0 && e.data != 0 && p.DataHash != e.data {
				// A pinger repeats one pattern: data that changes from
				// request to request is data being sent.
				pa.EchoVaried++
			}
			e.data = p.DataHash
		} else if p.Proto == decode.ProtoUDP && p.DataHash != 0 {
			// An SNMP request: a poller (and its retries) uses one
			// community; a guesser tries the next of its list.
			if pa != nil && e.data != 0 && p.DataHash != e.data {
				pa.Communities++
			}
			e.data = p.DataHash
		}
		if pa != nil && p.DNS && !p.DNSResponse {
			pa.DNSQueries++
			pa.DNSNameBytes += uint32(p.DNSNameLen)
			if tunnelLike(p) {
				pa.DNSTunnel++
			}
		}
		return
	}
	c.Replies++
	c.ReplyBytes += size
	s.Replies++
	s.ReplyBytes += size
	if pa != nil && e.echoLen != 0 && echoReply(p) && uint16(min(p.WireLen, 1<<16-1)) != e.echoLen {
		// A host answering a ping sends back the request's data, so a
		// reply of another length carries data of its own: a tunnel.
		pa.EchoMismatch++
	}
	if f.state&stDecided == 0 {
		if icmpError(p) || sctpPacket(p) && p.SCTPChunk == sctpAbort {
			a.outcome(f, e, outRefused)
		} else {
			a.outcome(f, e, outEstablished)
		}
	}
}

// tunnelLike reports whether a DNS query looks like a tunnel's: a name
// that looks like encoded data, long, with a long label of random-looking
// characters (base32, base64 and hex chunks), as tunnels (iodine,
// dnscat2) send data upstream; or a question for a record type that
// carries arbitrary bytes and that ordinary clients never ask for (NULL,
// the private-use types), as iodine asks to take data downstream, with
// names as short as its polls.
func tunnelLike(p *decode.PacketInfo) bool {
	return p.DNSNameLen >= 40 && p.DNSLabelMax >= 24 && p.DNSNameEntropy >= 56 || // 3.5 bits per character
		dataRecordType(p.DNSQType)
}

// dataRecordType reports whether a DNS record type is one whose data is
// free-form bytes with no use by ordinary resolvers: NULL (RFC 1035,
// experimental) and the private-use types 65280-65534 (RFC 6895).
func dataRecordType(t uint16) bool {
	return t == 10 || t >= 65280 && t <= 65534
}

// attempt counts a flow the initiator opened, and whether it was its
// first contact with the responder's service or host within the horizon.
func (a *Aggregator) attempt(f *flowSlot, e *flowEnds, h *packetHashes, syn bool) {
	f.state |= stAttempt
	if GroupAddr(e.resp) || h.trace {
		// Multicast and broadcast are not one host's service, and a path
		// trace's probe dies on the way to its destination: no outcome.
		f.state |= stDecided
		return
	}
	a.bh.opened++
	// The packet opened the flow, so its address hashes are the
	// initiator's and the responder's: the flow's keys hash from them
	// rather than from its addresses, hashed again per table. These are
	// the flow's first lookups in the window, in the order the calls
	// below would make them.
	a.refresh(e)
	hp := h.pair
	if hp == 0 {
		hp = pairHashFrom(h.src, h.dst, pairPort(e.proto, e.rport), e.proto)
	}
	k := pairKeyOf(e)
	if e.pair = int16(a.bh.pairs.index(hp, k)); e.pair >= 0 {
		a.bh.pairs.vals[e.pair].Key = k
	}
	a.lookService(e, false, h.dst)
	if syn {
		a.lookService(e, true, h.dst)
	}
	a.lookInitiator(e, h.src)
	c, _ := a.pairConns(e)
	c.Attempts++
	s := a.serviceConns(e, false)
	s.Attempts++
	if syn {
		c.Syns++
		s.Syns++
		a.serviceConns(e, true).Syns++
	}
	hs := a.initiatorOf(e)
	if hs == nil {
		// An initiator the host table cannot take (one seen once, in a
		// flood of forged addresses): its contacts are not remembered,
		// and count as new.
		a.newSource(e)
		return
	}
	hh, ph := h.cHost, h.cPort
	if hh == 0 {
		hh, ph = contactKeys(sketch.HashAddr(e.init), sketch.HashAddr(e.resp), pairPort(e.proto, e.rport), e.proto)
	}
	newPort := !a.contacts.testAndAdd(ph)
	newHost := !a.contacts.testAndAdd(hh)
	if newPort {
		f.state |= stFirstPort
		a.newSource(e)
		{
			hs.NewPorts++
			// Misra-Gries with one counter: the host that most new ports
			// were on, certainly so when it had more than half of them.
			switch {
			case hs.Target == e.resp:
				hs.TargetPorts++
			case hs.TargetPorts == 0:
				hs.Target, hs.TargetPorts = e.resp, 1
			default:
				hs.TargetPorts--
			}
		}
	}
	if newHost {
		hs.NewHosts++
	}
}

// contactKeys returns the filter keys of a first contact with a host and
// with one of its services (port 0 for ICMP), from the addresses' hashes.
func contactKeys(from, to uint64, port uint16, proto decode.Protocol) (host, service uint64) {
	host = max(sketch.Mix64(from^sketch.Mix64(to+0x632be59bd9b4e019)), 1)
	return host, max(sketch.Mix64(host^uint64(port)<<8^uint64(proto)^0x94d049bb133111eb), 1)
}

// newSource counts a first contact with the flow's service, and for TCP
// with its host's.
func (a *Aggregator) newSource(e *flowEnds) {
	if sv := a.serviceOf(e, false); sv != nil {
		sv.NewSources++
	}
	if e.proto == decode.ProtoTCP {
		if sv := a.serviceOf(e, true); sv != nil {
			sv.NewSources++
		}
	}
}

// outcome counts what became of an attempt.
func (a *Aggregator) outcome(f *flowSlot, e *flowEnds, o outcome) {
	f.state |= stDecided
	if o == outEstablished {
		f.state |= stEst
	}
	if f.state&stAttempt == 0 {
		return // an old connection's answer: not an attempt we counted
	}
	c, _ := a.pairConns(e)
	s := a.serviceConns(e, false)
	var hc *Conns
	if e.proto == decode.ProtoTCP {
		hc = a.serviceConns(e, true)
	}
	for _, x := range [3]*Conns{c, s, hc} {
		if x == nil {
			continue
		}
		switch o {
		case outEstablished:
			x.Established++
		case outRefused:
			x.Refused++
		case outUnanswered:
			x.Unanswered++
		case outHalfOpen:
			x.HalfOpen++
		}
	}
	switch o {
	case outEstablished:
		if e.proto == decode.ProtoTCP {
			a.w.established++
		}
	case outRefused:
		a.w.refused++
	default:
		a.w.unanswered++
	}
	if f.state&stFirstPort != 0 {
		if hs := a.initiatorOf(e); hs != nil {
			if o == outEstablished {
				hs.OKFirst++
			} else {
				hs.FailedFirst++
			}
		}
	}
}

// The states of an SSH connection's login, in flowEnds.sshAuth: the key
// exchange, in the clear, until the client's SSH_MSG_NEWKEYS; then the
// server's first encrypted answer; then up to sshAnswers more answers
// read for the login's outcome; then a login seen, or no more looking.
const (
	sshKex        uint8 = 0
	sshWaitAccept uint8 = 1
	sshAnswers    uint8 = 32
	sshLogin      uint8 = 254
	sshDone       uint8 = 255
)

// sshAnswer reads the size of an SSH server's answer after the key
// exchange for the login's outcome, as Zeek does: the client asks for
// the ssh-userauth service first, and SSH_MSG_SERVICE_ACCEPT carries
// 17 bytes where SSH_MSG_USERAUTH_SUCCESS carries one; padded to the
// cipher's block and with the same MAC, a success is 16 bytes shorter
// than the accept, whatever the cipher, and no other message of the
// login is (a failure lists the methods left, at least as long as the
// accept). A connection whose login succeeded is counted in its pair
// and is no guess; one whose segments do not tell (a server that sends
// more in one segment) is left as it was. Zeek's limit holds here too: a
// client that provokes an answer of a success's size (an
// SSH_MSG_UNIMPLEMENTED under a 16-byte-block cipher) is taken to have
// logged in.
func (a *Aggregator) sshAnswer(e *flowEnds, p *decode.PacketInfo) {
	switch {
	case p.SSHNewKeys:
		// The server's own, when it comes after the client's.
	case e.sshAuth == sshWaitAccept:
		e.sshAccept = uint16(min(p.Payload, 1<<16-1))
		e.sshAuth++
	case p.Payload+16 == uint32(e.sshAccept):
		e.sshAuth = sshLogin
		if pa := a.pairOf(e); pa != nil {
			pa.Logins++
		}
	case e.sshAuth-sshWaitAccept >= sshAnswers:
		e.sshAuth = sshDone
	default:
		e.sshAuth++
	}
}

// sessionEnd counts an established connection that closed.
func (a *Aggregator) sessionEnd(f *flowSlot, e *flowEnds, now int64) {
	f.state |= stEnded
	if f.state&stAttempt == 0 {
		return
	}
	if e.proto == decode.ProtoTCP && f.state&(stEst|stHeard|stMid) == stEst {
		a.silence(f, e) // a handshake and nothing said: a connection flood's
	}
	if _, pa := a.pairConns(e); pa != nil {
		pa.Sessions++
		if max(now, f.last)-f.first() <= ShortSession*int64(time.Second) {
			pa.ShortSessions++
			if e.sshAuth != sshLogin {
				pa.SlowTurns += uint32(e.slowTurns) // a login's pauses are no failed guesses
			}
		}
	}
}

// tenths is a flow age in tenths of a second, saturating.
func tenths(ageMS uint32) uint16 { return uint16(min(int64(ageMS)/100, 1<<16-1)) }

// unsolicited counts an answer nobody asked for: the packet's sender is
// the flow's responder, its receiver the initiator that never spoke.
func (a *Aggregator) unsolicited(e *flowEnds, p *decode.PacketInfo) {
	size := uint64(p.WireLen)
	var dns uint64
	if p.Proto == decode.ProtoUDP && p.SrcPort == 53 {
		dns = size
	}
	port := p.SrcPort
	if p.Proto != decode.ProtoTCP && p.Proto != decode.ProtoUDP {
		port = 0
	}
	for _, c := range [2]*Conns{
		a.pairConnsKey(PairKey{Src: e.resp, Dst: e.init, Port: port, Proto: p.Proto}),
		a.bh.serviceConns(ServiceKey{Addr: e.init, Proto: p.Proto, AllPorts: true}),
	} {
		c.Unsolicited++
		c.UnsolicitedBytes += size
		c.UnsolicitedDNSBytes += dns
	}
}

// visitFlow runs at window close for each flow that stays open: it decides
// attempts that got no answer in time and counts held connections.
func (a *Aggregator) visitFlow(i int, now int64) {
	f := &a.flows.slots[i]
	e := &a.flows.ends[i]
	// A TCP attempt waits from its first SYN: retransmissions are the
	// same unanswered attempt, not new ones to wait for.
	since := f.last
	if e.proto == decode.ProtoTCP {
		since = f.first()
	}
	if f.state&(stAttempt|stDecided) == stAttempt && now-since >= answerWait {
		if f.state&stSynAck != 0 {
			a.outcome(f, e, outHalfOpen)
		} else if f.pktsR == 0 {
			a.outcome(f, e, outUnanswered)
		}
	}
	if e.proto == decode.ProtoTCP && f.state&(stEst|stEnded|stAttempt) == stEst|stAttempt {
		age := now - f.first()
		stalled := f.state&stReqOpen != 0 && age-int64(f.reqAt)*int64(100*time.Millisecond) >= stallAge
		if stalled || e.zeroWindow || age >= heldAge && (uint64(f.pktsI)+uint64(f.pktsR))*2*uint64(time.Second) < uint64(age) {
			c, _ := a.pairConns(e)
			c.Held++
			a.serviceConns(e, false).Held++
		}
		e.zeroWindow = false
		if f.state&(stHeard|stMid) == 0 && age >= stallAge {
			// Held stallAge with nothing said: counted now, as a flood
			// holding its connections (nping) may close them all at its
			// end only.
			a.silence(f, e)
		}
	}
}

// silence counts a TCP connection that completed its handshake and
// carried nothing from its initiator (Conns.Silent), once.
func (a *Aggregator) silence(f *flowSlot, e *flowEnds) {
	f.state |= stHeard
	c, _ := a.pairConns(e)
	c.Silent++
	a.serviceConns(e, false).Silent++
}

// decidePending counts the attempts still waiting for an answer when the
// capture ends (a file's last packet): nothing more will answer them.
func (a *Aggregator) decidePending() {
	for i := range a.flows.slots {
		f := &a.flows.slots[i]
		if f.hash == 0 || f.state&(stAttempt|stDecided) != stAttempt {
			continue
		}
		e := &a.flows.ends[i]
		switch {
		case f.state&stSynAck != 0:
			a.outcome(f, e, outHalfOpen)
		case f.pktsR == 0:
			a.outcome(f, e, outUnanswered)
		}
	}
}

// finishFlow runs when a flow leaves the table: what it had not counted
// yet is counted now.
func (a *Aggregator) finishFlow(i int, now int64) {
	f := &a.flows.slots[i]
	e := &a.flows.ends[i]
	if a.flows.counts != nil {
		a.exportFlow(i)
	}
	if f.state&(stAttempt|stDecided) == stAttempt {
		if f.state&stSynAck != 0 {
			a.outcome(f, e, outHalfOpen)
		} else if f.pktsR == 0 {
			a.outcome(f, e, outUnanswered)
		} else {
			a.outcome(f, e, outEstablished)
		}
	}
	if f.state&(stEst|stEnded) == stEst {
		a.sessionEnd(f, e, f.last)
	}
}

// pairKeyOf is the pair of a flow: initiator to responder's service.
func pairKeyOf(e *flowEnds) PairKey {
	return PairKey{Src: e.init, Dst: e.resp, Port: pairPort(e.proto, e.rport), Proto: e.proto}
}

// serviceKeyOf is the responder's service of a flow: for TCP the port, or
// the whole host when host is set; UDP and ICMP count per host.
func serviceKeyOf(e *flowEnds, host bool) ServiceKey {
	if e.proto == decode.ProtoTCP && !host {
		return ServiceKey{Addr: e.resp, Port: e.rport, Proto: e.proto}
	}
	return ServiceKey{Addr: e.resp, Proto: e.proto, AllPorts: true}
}

// refresh forgets a flow's table slots from an earlier window.
func (a *Aggregator) refresh(e *flowEnds) {
	if e.seq != a.seq {
		e.seq = a.seq
		e.pair, e.svc, e.all, e.host = notLooked, notLooked, notLooked, notLooked
	}
}

// pairOf returns the flow's pair in this window's table, nil without room.
// The slot is looked up once a window per flow.
func (a *Aggregator) pairOf(e *flowEnds) *PairActivity {
	a.refresh(e)
	t := a.bh.pairs
	if e.pair == notLooked {
		k := pairKeyOf(e)
		if e.pair = int16(t.index(pairHash(&k), k)); e.pair >= 0 {
			t.vals[e.pair].Key = k
		}
	}
	if e.pair < 0 {
		return nil
	}
	return &t.vals[e.pair]
}

// serviceOf returns the flow's service, or with all its responder's
// host-wide TCP entry, nil without room.
func (a *Aggregator) serviceOf(e *flowEnds, all bool) *ServiceActivity {
	a.refresh(e)
	slot := &e.svc
	if all {
		slot = &e.all
	}
	if *slot == notLooked {
		a.lookService(e, all, sketch.HashAddr(e.resp))
	}
	if *slot < 0 {
		return nil
	}
	return &a.bh.services.vals[*slot]
}

// lookService looks the flow's service up in this window's table (see
// serviceOf), hr being the hash of the responder's address.
func (a *Aggregator) lookService(e *flowEnds, all bool, hr uint64) {
	slot := &e.svc
	if all {
		slot = &e.all
	}
	t := a.bh.services
	k := serviceKeyOf(e, all)
	if *slot = int16(t.index(serviceHashFrom(hr, &k), k)); *slot >= 0 {
		t.vals[*slot].Key = k
	}
}

// initiatorOf returns the flow initiator's first-contact counters.
func (a *Aggregator) initiatorOf(e *flowEnds) *HostActivity {
	a.refresh(e)
	if e.host == notLooked {
		a.lookInitiator(e, sketch.HashAddr(e.init))
	}
	if e.host < 0 {
		return nil
	}
	return &a.bh.hosts.vals[e.host]
}

// lookInitiator looks the flow's initiator up in this window's table, hi
// being the hash of its address.
func (a *Aggregator) lookInitiator(e *flowEnds, hi uint64) {
	if e.host = int16(a.bh.hosts.index(max(hi, 1), e.init)); e.host >= 0 {
		a.bh.hosts.vals[e.host].Addr = e.init
	}
}

// pairConns returns the counters of the flow's pair, and the pair itself
// when it found room (scratch counters otherwise).
func (a *Aggregator) pairConns(e *flowEnds) (*Conns, *PairActivity) {
	if p := a.pairOf(e); p != nil {
		return &p.Conns, p
	}
	return &a.bh.scratch, nil
}

func (a *Aggregator) pairConnsKey(k PairKey) *Conns {
	if p := a.bh.pair(k); p != nil {
		return &p.Conns
	}
	return &a.bh.scratch
}

func (a *Aggregator) serviceConns(e *flowEnds, all bool) *Conns {
	if s := a.serviceOf(e, all); s != nil {
		return &s.Conns
	}
	return &a.bh.scratch
}

// opens reports whether a packet that starts a flow makes its sender the
// initiator, or is an answer whose request we did not see: a SYN-ACK, an
// RST with ACK, a DNS response, a UDP datagram from an amplifying
// service's port or from a service port to an ephemeral one, an ICMP echo
// reply or error.
//
// A reset that answers a SYN carries an ACK (RFC 9293, 3.10.7.1): a
// refusal, or backscatter of SYNs forged in the receiver's name. A bare
// reset answers a segment with an ACK; starting a flow, that segment was
// not seen, and the reset is its sender's own: a RST flood (hping3 -R),
// or a stale connection's reset, which a flood of them is not.
func opens(p *decode.PacketInfo) bool {
	switch p.Proto {
	case decode.ProtoTCP:
		if p.TCPFlags&decode.TCPSyn != 0 {
			return p.TCPFlags&decode.TCPAck == 0
		}
		return p.TCPFlags&(decode.TCPRst|decode.TCPAck) != decode.TCPRst|decode.TCPAck
	case decode.ProtoUDP:
		switch {
		case p.DNS && p.DNSResponse:
			return false // an answer, whatever port it is sent to
		case p.DHCPOp == decode.DHCPReply:
			return false // a DHCP server answering a client's broadcast, to an address the client does not have yet
		case reflectionPorts.has(p.SrcPort) && !reflectionPorts.has(p.DstPort):
			return false // an amplifier answering, maybe to a forged low port
		}
		return !servicePort(p.SrcPort) || servicePort(p.DstPort)
	case decode.ProtoICMP:
		switch p.ICMPType {
		case 0, 3, 4, 5, 11, 12, 14, 16, 18:
			return false
		}
	case decode.ProtoICMPv6:
		switch p.ICMPType {
		case 1, 2, 3, 4, 129, 136:
			return false
		}
	case decode.ProtoOther:
		if sctpPacket(p) {
			// An association's answers: INIT ACK, ABORT, SHUTDOWN ACK,
			// COOKIE ACK, SHUTDOWN COMPLETE (RFC 9260, 3.2).
			switch p.SCTPChunk {
			case 2, sctpAbort, 8, 11, 14:
				return false
			}
		}
	}
	return true
}

// sctpPacket reports whether p is an SCTP packet whose common header the
// decoder read (decode.PacketInfo.SCTPChunk and the ports).
func sctpPacket(p *decode.PacketInfo) bool {
	return p.Proto == decode.ProtoOther && p.IPProto == 132 && !p.NonFirstFragment
}

// sctpAbort is the SCTP ABORT chunk's type: a host refusing an INIT to a
// port without a listener, as a reset refuses a SYN.
const sctpAbort = 6

// echoRequest and echoReply report whether a packet is an ICMP or ICMPv6
// echo request or reply.
func echoRequest(p *decode.PacketInfo) bool {
	return p.Proto == decode.ProtoICMP && p.ICMPType == 8 || p.Proto == decode.ProtoICMPv6 && p.ICMPType == 128
}

func echoReply(p *decode.PacketInfo) bool {
	return p.Proto == decode.ProtoICMP && p.ICMPType == 0 || p.Proto == decode.ProtoICMPv6 && p.ICMPType == 129
}

// icmpError reports whether a packet is an ICMP or ICMPv6 error.
func icmpError(p *decode.PacketInfo) bool {
	switch p.Proto {
	case decode.ProtoICMP:
		return p.ICMPType == 3 || p.ICMPType == 11 || p.ICMPType == 12 || p.ICMPType == 4 || p.ICMPType == 5
	case decode.ProtoICMPv6:
		return p.ICMPType >= 1 && p.ICMPType <= 4
	}
	return false
}

// servicePort reports whether a UDP port is a service's: well-known, or
// one that reflection attacks abuse.
func servicePort(port uint16) bool {
	return port < 1024 || reflectionPorts.has(port)
}

// GroupAddr reports whether a is a multicast or the IPv4 broadcast
// address: one that every host of a group (or of the link) receives.
func GroupAddr(a [16]byte) bool {
	if a[0] == 0xff {
		return true // IPv6 multicast
	}
	v4 := a[10] == 0xff && a[11] == 0xff && a[0]|a[1]|a[2]|a[3]|a[4]|a[5]|a[6]|a[7]|a[8]|a[9] == 0
	return v4 && (a[12]&0xf0 == 0xe0 || a[12]&a[13]&a[14]&a[15] == 0xff)
}
