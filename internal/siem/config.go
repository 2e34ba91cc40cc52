package siem

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Transports a sender speaks.
const (
	TransportUDP = "udp" // RFC 5426: one message per datagram
	TransportTCP = "tcp" // RFC 6587: octet-counting framing
	TransportTLS = "tls" // RFC 5425: octet-counting framing over TLS
)

// Defaults for the fields of Config left empty.
const (
	DefaultFacility        = "local0"
	DefaultMaxMessageBytes = 8192
	DefaultQueueSize       = 4096
	DefaultTimeout         = 10 * time.Second
	DefaultMaxBackoff      = 30 * time.Second
)

// Bounds of the numeric fields.
const (
	// MinMessageBytes is the smallest cap accepted: the barest ECS
	// document of a record, with its header, takes about 700 bytes. (RFC
	// 5426 asks every receiver to take 2048.)
	MinMessageBytes = 1024
	// maxUDPBytes is the largest UDP payload over IPv4.
	maxUDPBytes = 65507
	// maxStreamBytes caps a TCP or TLS message: receivers truncate long
	// ones (rsyslog at 8 KiB unless told otherwise), and a truncated JSON
	// payload is worse than a trimmed one.
	maxStreamBytes = 1 << 20
	maxQueueSize   = 1 << 20
	maxHostname    = 255 // RFC 5424 HOSTNAME
)

// Config is the syslog output, as the `syslog:` section of the exporter's
// config file holds it. Zero values take the defaults above.
type Config struct {
	// Address is the receiver's host:port.
	Address string `yaml:"address"`
	// Transport is udp, tcp or tls.
	Transport string `yaml:"transport"`
	// Facility names the syslog facility of every message (kern, user,
	// daemon, auth, ..., local0 to local7); local0 by default.
	Facility string `yaml:"facility"`
	// Hostname is the HOSTNAME of the messages; the machine's name when
	// empty.
	Hostname string `yaml:"hostname"`
	// MaxMessageBytes caps a whole message, header included: fields are
	// dropped, least important first, to keep under it. It applies to
	// every transport, since receivers truncate long TCP messages too.
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// QueueSize is how many records wait for the writer; more are dropped
	// and counted.
	QueueSize int `yaml:"queue_size"`
	// Timeout bounds a connect (TLS handshake included) and a write.
	Timeout time.Duration `yaml:"timeout"`
	// MaxBackoff caps the wait between reconnection attempts.
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// TLS configures the tls transport.
	TLS TLSConfig `yaml:"tls"`
}

// TLSConfig is the client side of the tls transport. TLS 1.2 is the
// oldest version offered.
type TLSConfig struct {
	// CAFile holds the PEM certificates the server's chain must end in;
	// the system's roots when empty.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile hold the client certificate and its key (PEM),
	// for receivers that authenticate senders; both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name the server's certificate must carry; the
	// host of Address when empty.
	ServerName string `yaml:"server_name"`
}

// facilities are the RFC 5424 facility codes by their usual names.
var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13, "console": 14, "clock": 15,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

func facilityNames() string {
	names := make([]string, 0, len(facilities))
	for n := range facilities {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return facilities[a] - facilities[b] })
	return strings.Join(names, ", ")
}

// Validate checks the config and fills in the defaults of the fields left
// empty. Its errors name the config field at fault and say how to fix it.
// It reads the TLS files, so that a bad path fails at startup rather than
// at the first attack.
func (c *Config) Validate() error {
	_, err := c.validate()
	return err
}

// validate is Validate that also returns the TLS client config of the tls
// transport.
func (c *Config) validate() (*tls.Config, error) {
	if c.Transport == "" {
		return nil, errors.New("syslog.transport is required: use udp, tcp or tls")
	}
	switch c.Transport {
	case TransportUDP, TransportTCP, TransportTLS:
	default:
		return nil, fmt.Errorf("unknown syslog.transport %q: use udp, tcp or tls", c.Transport)
	}
	host, err := checkAddress(c.Address)
	if err != nil {
		return nil, err
	}
	if c.Facility == "" {
		c.Facility = DefaultFacility
	}
	if _, ok := facilities[c.Facility]; !ok {
		return nil, fmt.Errorf("unknown syslog.facility %q: use one of %s", c.Facility, facilityNames())
	}
	if c.Hostname == "" {
		name, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("syslog.hostname is empty and the machine's name is unknown (%w): set syslog.hostname", err)
		}
		c.Hostname = headerField(name, maxHostname)
	} else if bad := badHeaderField(c.Hostname, maxHostname); bad != "" {
		return nil, fmt.Errorf("syslog.hostname %q %s", c.Hostname, bad)
	}
	limit := maxStreamBytes
	if c.Transport == TransportUDP {
		limit = maxUDPBytes
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.MaxMessageBytes < MinMessageBytes || c.MaxMessageBytes > limit {
		return nil, fmt.Errorf("syslog.max_message_bytes=%d out of range: use %d to %d for the %s transport", c.MaxMessageBytes, MinMessageBytes, limit, c.Transport)
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.QueueSize < 1 || c.QueueSize > maxQueueSize {
		return nil, fmt.Errorf("syslog.queue_size=%d out of range: use 1 to %d records", c.QueueSize, maxQueueSize)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Timeout < 10*time.Millisecond || c.Timeout > 5*time.Minute {
		return nil, fmt.Errorf("syslog.timeout=%v out of range: use 10ms to 5m", c.Timeout)
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.MaxBackoff < minBackoff || c.MaxBackoff > time.Hour {
		return nil, fmt.Errorf("syslog.max_backoff=%v out of range: use %v to 1h", c.MaxBackoff, minBackoff)
	}
	if c.Transport != TransportTLS {
		if c.TLS != (TLSConfig{}) {
			return nil, fmt.Errorf("syslog.tls is set but syslog.transport is %s: set syslog.transport: tls, or remove syslog.tls", c.Transport)
		}
		return nil, nil
	}
	return c.TLS.client(host)
}

// checkAddress checks a host:port and returns the host.
func checkAddress(addr string) (string, error) {
	if addr == "" {
		return "", errors.New("syslog.address is required: give the receiver as host:port, e.g. siem.example.com:6514")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("bad syslog.address %q: %v: give host:port, e.g. siem.example.com:6514 or [2001:db8::1]:514", addr, err)
	}
	if host == "" {
		return "", fmt.Errorf("bad syslog.address %q: the host is empty: give host:port, e.g. siem.example.com:6514", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("bad syslog.address %q: port %q is not a number from 1 to 65535", addr, port)
	}
	return host, nil
}

// client builds the TLS client config, reading the files.
func (t TLSConfig) client(host string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("syslog.tls.ca_file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("syslog.tls.ca_file %q holds no PEM certificate: give the CA that signed the receiver's certificate", t.CAFile)
		}
	}
	switch {
	case t.CertFile == "" && t.KeyFile == "":
	case t.CertFile == "" || t.KeyFile == "":
		return nil, errors.New("syslog.tls.cert_file and syslog.tls.key_file go together: give both for a client certificate, or neither")
	default:
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("syslog.tls.cert_file %q and syslog.tls.key_file %q: %w", t.CertFile, t.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// badHeaderField says what makes s unfit for an RFC 5424 header field
// (printable US-ASCII, no space, at most max bytes), "" when it is fit.
func badHeaderField(s string, max int) string {
	if len(s) > max {
		return fmt.Sprintf("is longer than %d bytes", max)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return "holds a space or a character that is not printable ASCII: syslog headers allow neither"
		}
	}
	return ""
}

// headerField makes s fit for an RFC 5424 header field: characters
// outside printable US-ASCII become '_', and it is cut to max bytes; ""
// becomes the NILVALUE "-".
func headerField(s string, max int) string {
	if s == "" {
		return "-"
	}
	if badHeaderField(s, max) == "" {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if c < 33 || c > 126 {
			b[i] = '_'
		}
	}
	if len(b) > max {
		b = b[:max]
	}
	return string(b)
}
