package collector

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

// NewAnonymizer returns an anonymizer for mode. key salts the hash mode;
// without one, IPv4 hashes can be reversed by trying all addresses.
func NewAnonymizer(mode string, key []byte) (*Anonymizer, error) {
	switch mode {
	case PrivacyFull, PrivacyTruncate, PrivacyHash:
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
