package pipeline

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
)

// Privacy modes for addresses in labels and log lines.
const (
	PrivacyFull     = "full"
	PrivacyTruncate = "truncate"
	PrivacyHash     = "hash"
)

// Anonymizer renders addresses according to --privacy.ip. It is applied to
// every label and log line that carries an address.
type Anonymizer struct {
	mode string
	key  []byte
}

// MinHashKey is the shortest key the hash mode accepts: with a short or
// guessable key, hashes of a known network are reversed by trying every
// address of it (a /16 takes under a second).
const MinHashKey = 16

// NewAnonymizer returns an anonymizer for mode. key salts the hash mode and
// must hold at least MinHashKey bytes there.
func NewAnonymizer(mode string, key []byte) (*Anonymizer, error) {
	switch mode {
	case PrivacyFull, PrivacyTruncate:
	case PrivacyHash:
		if len(key) < MinHashKey {
			return nil, fmt.Errorf("--privacy.ip=hash needs a secret key of at least %d bytes (got %d): without one the hashes can be reversed by trying every address; give --privacy.hash-key-file=FILE (a missing file is created with a random key)", MinHashKey, len(key))
		}
	default:
		return nil, fmt.Errorf("unknown --privacy.ip mode %q: use full, truncate or hash", mode)
	}
	return &Anonymizer{mode: mode, key: key}, nil
}

// Addr renders a 16-byte address (IPv4-mapped for IPv4).
func (a *Anonymizer) Addr(b [16]byte) string {
	ip := netip.AddrFrom16(b).Unmap()
	switch a.mode {
	case PrivacyTruncate:
		// /24 for IPv4 and /48 for IPv6 keep the network, drop the host.
		bits := 24
		if ip.Is6() {
			bits = 48
		}
		pfx, _ := ip.Prefix(bits)
		return pfx.String()
	case PrivacyHash:
		m := hmac.New(sha256.New, a.key)
		m.Write(b[:])
		return "h:" + hex.EncodeToString(m.Sum(nil)[:8])
	default:
		return ip.String()
	}
}

// AddrBytes returns the address to write into packet headers (evidence
// captures) in place of b, or nil in full mode where addresses stay. In
// truncate mode the host part is zeroed as Addr drops it (/24, /48). In
// hash mode the address becomes a keyed pseudonym in a range no real
// host has: 240.0.0.0/4 (reserved) for IPv4, fd00::/8 (unique local) for
// IPv6. The same address gives the same pseudonym, so conversations stay
// readable.
func (a *Anonymizer) AddrBytes() func([16]byte) [16]byte {
	switch a.mode {
	case PrivacyTruncate:
		return func(b [16]byte) [16]byte {
			if netip.AddrFrom16(b).Is4In6() {
				b[15] = 0
			} else {
				clear(b[6:])
			}
			return b
		}
	case PrivacyHash:
		return func(b [16]byte) [16]byte {
			m := hmac.New(sha256.New, a.key)
			m.Write(b[:])
			h := m.Sum(nil)
			if netip.AddrFrom16(b).Is4In6() {
				return netip.AddrFrom4([4]byte{0xf0 | h[0]&0x0f, h[1], h[2], h[3]}).As16()
			}
			var out [16]byte
			out[0] = 0xfd
			copy(out[1:], h[:15])
			return out
		}
	}
	return nil
}
