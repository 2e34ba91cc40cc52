package synth

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// ---- TLS 1.3 ----

var cipherSuites = []uint16{0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035}

// clientHello returns a TLS 1.3 ClientHello record for sni, padded to about
// target bytes; pq adds a large hybrid post-quantum key share as recent
// browsers send.
func clientHello(r *rand.Rand, sni string, target int, pq bool) []byte {
	var ext []byte
	ext16 := func(typ uint16, body []byte) {
		ext = putU16(ext, typ)
		ext = putU16(ext, uint16(len(body)))
		ext = append(ext, body...)
	}
	if sni != "" {
		var b []byte
		b = putU16(b, uint16(len(sni)+3))
		b = append(b, 0)
		b = putU16(b, uint16(len(sni)))
		b = append(b, sni...)
		ext16(0x0000, b)
	}
	ext16(0x0017, nil) // extended master secret
	ext16(0xff01, []byte{0})
	ext16(0x000a, []byte{0, 8, 0x63, 0x99, 0, 0x1d, 0, 0x17, 0, 0x18})
	ext16(0x000b, []byte{1, 0})
	ext16(0x0023, nil)
	ext16(0x0010, []byte{0, 12, 2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'})
	ext16(0x0005, []byte{1, 0, 0, 0, 0})
	ext16(0x000d, []byte{0, 16, 4, 3, 8, 4, 4, 1, 5, 3, 8, 5, 5, 1, 8, 6, 6, 1})
	ext16(0x0012, nil)
	var ks []byte
	if pq {
		ks = putU16(ks, 0x6399)
		ks = putU16(ks, 1216)
		ks = append(ks, randBytes(r, 1216)...)
	}
	ks = putU16(ks, 0x001d)
	ks = putU16(ks, 32)
	ks = append(ks, randBytes(r, 32)...)
	ext16(0x0033, append(putU16(nil, uint16(len(ks))), ks...))
	ext16(0x002d, []byte{1, 1})
	ext16(0x002b, []byte{6, 3, 4, 3, 3, 3, 2})
	ext16(0x001b, []byte{2, 0, 2})

	var body []byte
	body = append(body, 3, 3)
	body = append(body, randBytes(r, 32)...)
	body = append(body, 32)
	body = append(body, randBytes(r, 32)...)
	body = putU16(body, uint16(2*len(cipherSuites)))
	for _, c := range cipherSuites {
		body = putU16(body, c)
	}
	body = append(body, 1, 0)
	// fixed part so far, plus extensions length, plus headers (4 + 5)
	if pad := target - (len(body) + 2 + len(ext) + 9) - 4; pad > 0 {
		ext16(0x0015, make([]byte, pad))
	}
	body = putU16(body, uint16(len(ext)))
	body = append(body, ext...)
	return tlsRecord(0x16, 0x0301, append([]byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...))
}

func tlsRecord(typ byte, version uint16, body []byte) []byte {
	b := []byte{typ, byte(version >> 8), byte(version), byte(len(body) >> 8), byte(len(body))}
	return append(b, body...)
}

// serverFlight returns the start of a TLS 1.3 server flight of n bytes:
// ServerHello, ChangeCipherSpec, and the header of the encrypted record
// holding the rest (certificate and friends).
func serverFlight(r *rand.Rand, n int) []byte {
	var body []byte
	body = append(body, 3, 3)
	body = append(body, randBytes(r, 32)...)
	body = append(body, 32)
	body = append(body, randBytes(r, 32)...)
	body = putU16(body, 0x1301)
	body = append(body, 0)
	ext := []byte{0, 0x2b, 0, 2, 3, 4, 0, 0x33, 0, 0x24, 0, 0x1d, 0, 32}
	ext = append(ext, randBytes(r, 32)...)
	body = putU16(body, uint16(len(ext)))
	body = append(body, ext...)
	sh := tlsRecord(0x16, 0x0303, append([]byte{2, 0, byte(len(body) >> 8), byte(len(body))}, body...))
	sh = append(sh, 0x14, 3, 3, 0, 1, 1)
	rest := n - len(sh) - 5
	return append(sh, 0x17, 3, 3, byte(rest>>8), byte(rest))
}

// clientFinished is the client's ChangeCipherSpec and encrypted Finished.
var clientFinished = []byte{0x14, 3, 3, 0, 1, 1, 0x17, 3, 3, 0, 53}

const clientFinishedLen = 6 + 5 + 53

// randBytes returns n random-looking bytes (from the filler pool at a
// random offset: cheap, and good enough for keys, nonces and ciphertext).
func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 65536 {
		off := r.IntN(len(fillerPool) - 65536)
		copy(b[i:], fillerPool[off:off+min(65536, n-i)])
	}
	return b
}

// ---- HTTP ----

var userAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:123.0) Gecko/20100101 Firefox/123.0",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36",
	"Microsoft-CryptoAPI/10.0",
	"Windows-Update-Agent/10.0.10011.16384 Client-Protocol/2.50",
}

var paths = []string{"/", "/index.html", "/static/app.js", "/static/main.css", "/api/v1/items", "/images/logo.png", "/favicon.ico", "/search", "/news", "/assets/vendor.js", "/login", "/api/session", "/fonts/roboto.woff2", "/img/banner.jpg"}

const cookieChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789%-_"

// httpRequest returns a GET request of about size bytes.
func httpRequest(r *rand.Rand, hostName string, size int) []byte {
	var b strings.Builder
	path := pick(r, paths)
	if r.Float64() < 0.3 {
		path += fmt.Sprintf("?v=%d", r.IntN(100000))
	}
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nAccept-Language: en-US,en;q=0.9\r\nConnection: keep-alive\r\n", path, hostName, pick(r, userAgents[:4]))
	if extra := size - b.Len() - 12; extra > 0 {
		b.WriteString("Cookie: ")
		for range extra {
			b.WriteByte(cookieChars[r.IntN(len(cookieChars))])
		}
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

var contentTypes = []string{"image/png", "image/jpeg", "image/webp", "font/woff2", "application/octet-stream", "video/mp4"}

// httpResponseHeader returns a response header for a body of size bytes.
func httpResponseHeader(r *rand.Rand, t int64, body int, status string) []byte {
	// The bodies are random bytes: declared as binary content so that
	// analysers do not try to read them as text.
	ct := pick(r, contentTypes)
	return []byte(fmt.Sprintf("HTTP/1.1 %s\r\nServer: nginx\r\nDate: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: keep-alive\r\nCache-Control: max-age=%d\r\n\r\n",
		status, time.Unix(0, t).UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"), ct, body, 60*r.IntN(600)))
}

// ---- DNS ----

type dnsRR struct {
	name []byte // encoded owner name
	typ  uint16
	ttl  uint32
	data []byte
}

func encName(name string) []byte {
	var b []byte
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if l == "" {
			continue
		}
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

var ptrQuestion = []byte{0xc0, 0x0c}

func dnsMessage(id, flags uint16, qname string, qtype uint16, an, ns, ar []dnsRR) []byte {
	b := make([]byte, 0, 512)
	b = putU16(b, id)
	b = putU16(b, flags)
	b = putU16(b, 1)
	b = putU16(b, uint16(len(an)))
	b = putU16(b, uint16(len(ns)))
	b = putU16(b, uint16(len(ar)))
	b = append(b, encName(qname)...)
	b = putU16(b, qtype)
	b = putU16(b, 1)
	for _, sec := range [][]dnsRR{an, ns, ar} {
		for _, rr := range sec {
			b = append(b, rr.name...)
			b = putU16(b, rr.typ)
			if rr.typ == 41 {
				b = putU16(b, 1232) // OPT: UDP payload size in the class field
			} else {
				b = putU16(b, 1)
			}
			b = putU32(b, rr.ttl)
			b = putU16(b, uint16(len(rr.data)))
			b = append(b, rr.data...)
		}
	}
	return b
}

var optRR = dnsRR{name: []byte{0}, typ: 41}

var cdnSuffixes = []string{"edgekey.net", "akamaiedge.net", "cloudfront.net", "fastly.net", "azureedge.net", "cdn.cloudflare.net", "trafficmanager.net"}

// dnsAnswer returns the response to a lookup of name: a CNAME chain of
// chain links, then addresses; nx makes it NXDOMAIN with an SOA.
func dnsAnswer(r *rand.Rand, id uint16, name string, qtype uint16, chain int, nx bool, ips [][4]byte) []byte {
	if nx {
		zone := name
		if i := strings.Index(name, "."); i >= 0 {
			zone = name[i+1:]
		}
		var soa []byte
		soa = append(soa, encName("ns1."+zone)...)
		soa = append(soa, encName("hostmaster."+zone)...)
		for _, v := range []uint32{uint32(2024000000 + r.IntN(99999)), 7200, 3600, 1209600, 300} {
			soa = putU32(soa, v)
		}
		return dnsMessage(id, 0x8183, name, qtype, nil, []dnsRR{{name: encName(zone), typ: 6, ttl: 900, data: soa}}, nil)
	}
	var an []dnsRR
	owner := ptrQuestion
	for i := range chain {
		target := fmt.Sprintf("%s.%s", strings.SplitN(name, ".", 2)[0]+fmt.Sprint(i), pick(r, cdnSuffixes))
		an = append(an, dnsRR{name: owner, typ: 5, ttl: uint32(60 + r.IntN(3600)), data: encName(target)})
		owner = encName(target)
	}
	ttl := uint32(20 + r.IntN(300))
	switch qtype {
	case 28:
		for range 1 + r.IntN(2) {
			a := randBytes(r, 16)
			a[0], a[1] = 0x26, 0x06
			an = append(an, dnsRR{name: owner, typ: 28, ttl: ttl, data: a})
		}
	case 65:
		data := []byte{0, 1, 0}
		data = append(data, 0, 1, 0, 6, 2, 'h', '2', 2, 'h', '3')
		an = append(an, dnsRR{name: owner, typ: 65, ttl: ttl, data: data})
	default:
		for _, ip := range ips {
			an = append(an, dnsRR{name: owner, typ: 1, ttl: ttl, data: ip[:]})
		}
	}
	return dnsMessage(id, 0x8180, name, qtype, an, nil, nil)
}

func dnsQuery(id uint16, name string, qtype uint16, edns bool) []byte {
	var ar []dnsRR
	if edns {
		ar = []dnsRR{optRR}
	}
	return dnsMessage(id, 0x0100, name, qtype, nil, nil, ar)
}

// bigDNSResponse returns an ANY/DNSSEC response of about size bytes, as
// abused for amplification.
func bigDNSResponse(r *rand.Rand, id uint16, zone string, size int) []byte {
	var an []dnsRR
	cur := 12 + len(zone) + 2 + 4 + 11
	types := []uint16{46, 48, 16, 46, 2, 46, 15, 46, 1, 28}
	for i := 0; cur < size; i++ {
		typ := types[i%len(types)]
		var data []byte
		switch typ {
		case 46: // RRSIG
			data = putU16(nil, types[(i+1)%len(types)])
			data = append(data, 8, 2)
			data = putU32(data, 3600)
			data = putU32(data, 1710000000)
			data = putU32(data, 1700000000)
			data = putU16(data, uint16(r.Uint32()))
			data = append(data, encName(zone)...)
			data = append(data, randBytes(r, 256)...)
		case 48: // DNSKEY
			data = []byte{1, 1, 3, 8}
			data = append(data, randBytes(r, 260)...)
		case 16:
			txt := "v=spf1 include:_spf." + zone + " ip4:192.0.2.0/24 ~all"
			data = append([]byte{byte(len(txt))}, txt...)
		case 2:
			data = encName("ns" + fmt.Sprint(1+i%4) + "." + zone)
		case 15:
			data = append(putU16(nil, 10), encName("mx."+zone)...)
		case 1:
			data = randBytes(r, 4)
		case 28:
			data = randBytes(r, 16)
		}
		if cur+12+len(data) > size+200 && len(an) > 0 {
			break
		}
		an = append(an, dnsRR{name: ptrQuestion, typ: typ, ttl: 3600, data: data})
		cur += 12 + len(data)
	}
	return dnsMessage(id, 0x8580, zone, 255, an, nil, []dnsRR{optRR})
}

// ---- NTP ----

const ntpEpoch = 2208988800

func ntpTime(b []byte, t int64) []byte {
	s := uint64(t/1e9) + ntpEpoch
	f := uint64(t%1e9) << 32 / 1e9
	b = putU32(b, uint32(s))
	return putU32(b, uint32(f))
}

func ntpClient(t int64) []byte {
	b := []byte{0x23, 0, 6, 0xe9}
	b = append(b, make([]byte, 36)...)
	return ntpTime(b, t)
}

func ntpServer(t, orig int64, stratum byte, ref [4]byte) []byte {
	b := []byte{0x24, stratum, 6, 0xe9}
	b = putU32(b, uint32(200+stratum)*16)
	b = putU32(b, 0x00000400)
	b = append(b, ref[:]...)
	b = ntpTime(b, t-sec(300))
	b = ntpTime(b, orig)
	b = ntpTime(b, t-20000)
	return ntpTime(b, t)
}

// monlistResponse is one mode 7 MON_GETLIST_1 reply packet with six
// entries (440 bytes: IP length 468).
func monlistResponse(r *rand.Rand, seq int, more bool) []byte {
	b0 := byte(0x97)
	if more {
		b0 = 0xd7
	}
	b := []byte{b0, byte(seq & 0x7f), 3, 42, 0, 6, 0, 72}
	for range 6 {
		e := make([]byte, 72)
		copy(e, randBytes(r, 24))
		e[28], e[29] = 0, 123
		b = append(b, e...)
	}
	return b
}

// ---- SSDP ----

func ssdpSearch(r *rand.Rand) []byte {
	st := pick(r, []string{"urn:dial-multiscreen-org:service:dial:1", "ssdp:all", "urn:schemas-upnp-org:device:MediaRenderer:1", "upnp:rootdevice"})
	return []byte("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: " + st + "\r\nUSER-AGENT: Microsoft Edge/122.0.2365.66 Windows\r\n\r\n")
}

func ssdpResponse(r *rand.Rand, t int64, ip [4]byte) []byte {
	return []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nDATE: %s\r\nEXT:\r\nLOCATION: http://%d.%d.%d.%d:%d/rootDesc.xml\r\nSERVER: Linux/3.14.0 UPnP/1.0 MiniUPnPd/2.1\r\nST: upnp:rootdevice\r\nUSN: uuid:%08x-%04x-%04x-%04x-%012x::upnp:rootdevice\r\n\r\n",
		time.Unix(0, t).UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"), ip[0], ip[1], ip[2], ip[3], 1024+r.IntN(60000),
		r.Uint32(), r.IntN(65536), r.IntN(65536), r.IntN(65536), r.Uint64()&0xffffffffffff))
}

// ---- mDNS, NetBIOS ----

func mdnsQuery(r *rand.Rand) []byte {
	name := pick(r, []string{"_googlecast._tcp.local", "_airplay._tcp.local", "_spotify-connect._tcp.local", "_ipp._tcp.local", "_companion-link._tcp.local"})
	return dnsMessage(0, 0, name, 12, nil, nil, nil)
}

func netbiosQuery(r *rand.Rand) []byte {
	b := putU16(nil, uint16(r.Uint32()))
	b = append(b, 0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 0, 0x20)
	name := pick(r, []string{"WPAD", "FILESRV", "PRINTER01", "NAS"})
	for i := range 16 {
		c := byte(' ')
		if i < len(name) {
			c = name[i]
		}
		b = append(b, 'A'+c>>4, 'A'+c&0xf)
	}
	return append(b, 0, 0, 0x20, 0, 1)
}

// ---- SSH ----

var sshClientBanners = []string{"SSH-2.0-OpenSSH_9.6\r\n", "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6\r\n", "SSH-2.0-PuTTY_Release_0.80\r\n", "SSH-2.0-OpenSSH_for_Windows_8.1\r\n"}

const sshServerBanner = "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10\r\n"

// sshKexInit returns an SSH_MSG_KEXINIT binary packet.
func sshKexInit(r *rand.Rand, server bool) []byte {
	lists := []string{
		"curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,sntrup761x25519-sha512@openssh.com,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256,ext-info-c",
		"ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,rsa-sha2-512-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256",
		"chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com",
		"chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com",
		"umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,hmac-sha2-256,hmac-sha2-512",
		"umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,hmac-sha2-256,hmac-sha2-512",
		"none,zlib@openssh.com", "none,zlib@openssh.com", "", "",
	}
	if server {
		lists[0] = "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,sntrup761x25519-sha512@openssh.com,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,kex-strict-s-v00@openssh.com"
		lists[1] = "rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519"
	}
	body := []byte{20}
	body = append(body, randBytes(r, 16)...)
	for _, l := range lists {
		body = putU32(body, uint32(len(l)))
		body = append(body, l...)
	}
	body = append(body, 0, 0, 0, 0, 0)
	return sshPacket(r, body)
}

// sshECDHReply returns the server's SSH_MSG_KEX_ECDH_REPLY with an RSA
// or Ed25519 host key, followed by SSH_MSG_NEWKEYS.
func sshECDHReply(r *rand.Rand) []byte {
	str := func(b, v []byte) []byte { return append(putU32(b, uint32(len(v))), v...) }
	var key, sig []byte
	if r.Float64() < 0.5 {
		key = str(key, []byte("ssh-rsa"))
		key = str(key, []byte{1, 0, 1})
		key = str(key, append([]byte{0}, randBytes(r, 256)...))
		sig = str(sig, []byte("rsa-sha2-512"))
		sig = str(sig, randBytes(r, 256))
	} else {
		key = str(key, []byte("ssh-ed25519"))
		key = str(key, randBytes(r, 32))
		sig = str(sig, []byte("ssh-ed25519"))
		sig = str(sig, randBytes(r, 64))
	}
	body := []byte{31}
	body = str(body, key)
	body = str(body, randBytes(r, 32))
	body = str(body, sig)
	return append(sshPacket(r, body), sshPacket(r, []byte{21})...)
}

func sshPacket(r *rand.Rand, body []byte) []byte {
	padLen := 8 - (len(body)+5)%8
	if padLen < 4 {
		padLen += 8
	}
	b := putU32(nil, uint32(len(body)+padLen+1))
	b = append(b, byte(padLen))
	b = append(b, body...)
	return append(b, randBytes(r, padLen)...)
}

// ---- QUIC ----

// quicLong returns the start of a QUIC v1 long-header packet that fills a
// datagram of total bytes.
func quicLong(typ byte, dcid, scid []byte, total int) []byte {
	b := []byte{0xc0 | typ<<4 | 3, 0, 0, 0, 1, byte(len(dcid))}
	b = append(b, dcid...)
	b = append(b, byte(len(scid)))
	b = append(b, scid...)
	if typ == 0 {
		b = append(b, 0) // token length
	}
	return putU16(b, 0x4000|uint16(total-len(b)-2))
}

func quicShort(dcid []byte) []byte {
	return append([]byte{0x43}, dcid...)
}

// ---- SMB2 ----

func le16(b []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(b, v) }
func le32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }
func le64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

// smbHeader returns NetBIOS and SMB2 headers for a message of n bytes.
func smbHeader(n int, cmd uint16, response bool, msgID uint64) []byte {
	l := n - 4
	b := []byte{0, byte(l >> 16), byte(l >> 8), byte(l)}
	b = append(b, 0xfe, 'S', 'M', 'B')
	b = le16(b, 64) // structure size
	b = le16(b, 1)  // credit charge
	b = le32(b, 0)  // status
	b = le16(b, cmd)
	b = le16(b, 1) // credits
	flags := uint32(0)
	if response {
		flags = 1
	}
	b = le32(b, flags)
	b = le32(b, 0) // next command
	b = le64(b, msgID)
	b = le32(b, 0xfeff)                   // process id
	b = le32(b, 1)                        // tree id
	b = le64(b, 0x00002c0010000041)       // session id
	return append(b, make([]byte, 16)...) // signature
}

var smbFileID = []byte{7, 0, 0, 0, 0, 0, 0, 0, 0x13, 0, 0, 0, 0, 0, 0, 0}

// smbEcho is an SMB2 ECHO request or response (72 bytes).
func smbEcho(response bool, id uint64) []byte {
	return append(smbHeader(72, 13, response, id), 4, 0, 0, 0)
}

// smbRead is a READ request for n bytes (117 bytes), or the header of the
// response carrying them (4+64+16 bytes, then the data).
func smbRead(response bool, id uint64, n int, off uint64) []byte {
	if response {
		b := smbHeader(84+n, 8, true, id)
		b = append(b, 17, 0, 80, 0)
		b = le32(b, uint32(n))
		return append(b, make([]byte, 8)...)
	}
	b := smbHeader(117, 8, false, id)
	b = append(b, 49, 0, 80, 0)
	b = le32(b, uint32(n))
	b = le64(b, off)
	b = append(b, smbFileID...)
	return append(b, make([]byte, 17)...)
}

// smbWrite is the header of a WRITE request carrying n bytes, or its
// response (84 bytes).
func smbWrite(response bool, id uint64, n int, off uint64) []byte {
	if response {
		b := smbHeader(84, 9, true, id)
		b = append(b, 17, 0, 0, 0)
		b = le32(b, uint32(n))
		return append(b, make([]byte, 8)...)
	}
	b := smbHeader(116+n, 9, false, id)
	b = append(b, 49, 0, 112, 0)
	b = le32(b, uint32(n))
	b = le64(b, off)
	b = append(b, smbFileID...)
	return append(b, make([]byte, 16)...)
}
