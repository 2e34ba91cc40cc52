package ipfix

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultTransport       = "udp"
	DefaultMTU             = 1400
	DefaultTemplateRefresh = 60 * time.Second
	DefaultQueueSize       = 65536
	// Port is the IANA port of IPFIX, for examples in error messages.
	Port = 4739
)

// Limits of Config's fields.
const (
	maxUDPMessage      = 65507 // the largest UDP payload over IPv4
	maxTCPMessage      = 65535 // the message length field is 16 bits
	minTemplateRefresh = time.Second
	maxQueueSize       = 1 << 22 // 4M flows of 96 bytes: 400 MB
)

// Config is the `ipfix:` section of the configuration file. A zero
// field takes its default; Validate reports a bad field by its YAML key.
type Config struct {
	// Address is the collector's host:port.
	Address string `yaml:"address"`
	// Transport is udp (default) or tcp.
	Transport string `yaml:"transport"`
	// MTU is the largest IPFIX message in bytes: with UDP, the datagram
	// payload, so keep it under the path MTU less 28 bytes of IPv4 and
	// UDP headers (48 with IPv6); with TCP, it bounds each message.
	// Default 1400.
	MTU int `yaml:"mtu"`
	// TemplateRefresh is how often the templates are resent over UDP,
	// where a collector that restarts or misses a datagram learns them
	// again only this way. Default 60s, at least 1s; TCP sends them once
	// per connection.
	TemplateRefresh time.Duration `yaml:"template_refresh"`
	// ObservationDomain is the observation domain ID in every message
	// header, telling this sensor's records apart at the collector.
	ObservationDomain uint32 `yaml:"observation_domain"`
	// QueueSize is how many flows wait for the sender at most; Export
	// drops (and counts) flows beyond it. Default 65536.
	QueueSize int `yaml:"queue_size"`
}

// withDefaults returns c with its zero fields set to the defaults.
func (c Config) withDefaults() Config {
	if c.Transport == "" {
		c.Transport = DefaultTransport
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.TemplateRefresh == 0 {
		c.TemplateRefresh = DefaultTemplateRefresh
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	return c
}

// Validate checks c (its zero fields taking the defaults) and returns an
// error naming the first bad field and what to put there.
func (c Config) Validate() error {
	c = c.withDefaults()
	if err := validateAddress(c.Address); err != nil {
		return err
	}
	maxMTU := maxUDPMessage
	switch c.Transport {
	case "udp":
	case "tcp":
		maxMTU = maxTCPMessage
	default:
		return fmt.Errorf("ipfix.transport %q is not supported: use udp or tcp", c.Transport)
	}
	if c.MTU < minMessage || c.MTU > maxMTU {
		return fmt.Errorf("ipfix.mtu %d is out of range: use %d to %d bytes (%s)", c.MTU, minMessage, maxMTU, c.Transport)
	}
	if c.TemplateRefresh < minTemplateRefresh {
		return fmt.Errorf("ipfix.template_refresh %s is too short: use at least %s", c.TemplateRefresh, minTemplateRefresh)
	}
	if c.QueueSize < 1 || c.QueueSize > maxQueueSize {
		return fmt.Errorf("ipfix.queue_size %d is out of range: use 1 to %d flows", c.QueueSize, maxQueueSize)
	}
	return nil
}

func validateAddress(addr string) error {
	if addr == "" {
		return fmt.Errorf("ipfix.address is empty: set the collector's host:port, e.g. collector.example.org:%d", Port)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("ipfix.address %q is not host:port (e.g. collector.example.org:%d, [2001:db8::1]:%d): %w", addr, Port, Port, err)
	}
	if host == "" {
		return fmt.Errorf("ipfix.address %q has no host: name the collector, e.g. 192.0.2.10:%s", addr, port)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return fmt.Errorf("ipfix.address %q: port %q is not a number from 1 to 65535 (IPFIX uses %d)", addr, port, Port)
	}
	return nil
}
