package ipfix

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v2"
)

func TestConfigValidate(t *testing.T) {
	ok := Config{Address: "127.0.0.1:4739"}
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string // substring of the error; empty: valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"host name", func(c *Config) { c.Address = "collector.example.org:4739" }, ""},
		{"ipv6", func(c *Config) { c.Address = "[2001:db8::1]:4739" }, ""},
		{"tcp with a jumbo mtu", func(c *Config) { c.Transport, c.MTU = "tcp", 65535 }, ""},
		{"smallest mtu", func(c *Config) { c.MTU = minMessage }, ""},
		{"biggest udp mtu", func(c *Config) { c.MTU = 65507 }, ""},
		{"empty address", func(c *Config) { c.Address = "" }, "ipfix.address is empty"},
		{"no port", func(c *Config) { c.Address = "collector.example.org" }, "ipfix.address \"collector.example.org\" is not host:port"},
		{"no host", func(c *Config) { c.Address = ":4739" }, "ipfix.address \":4739\" has no host"},
		{"port zero", func(c *Config) { c.Address = "127.0.0.1:0" }, "ipfix.address \"127.0.0.1:0\": port \"0\""},
		{"named port", func(c *Config) { c.Address = "127.0.0.1:ipfix" }, "port \"ipfix\" is not a number"},
		{"port too big", func(c *Config) { c.Address = "127.0.0.1:70000" }, "port \"70000\""},
		{"sctp", func(c *Config) { c.Transport = "sctp" }, "ipfix.transport \"sctp\" is not supported: use udp or tcp"},
		{"upper case transport", func(c *Config) { c.Transport = "UDP" }, "ipfix.transport \"UDP\""},
		{"mtu too small", func(c *Config) { c.MTU = minMessage - 1 }, "ipfix.mtu 255 is out of range: use 256 to 65507 bytes (udp)"},
		{"negative mtu", func(c *Config) { c.MTU = -1 }, "ipfix.mtu -1"},
		{"udp mtu too big", func(c *Config) { c.MTU = 65508 }, "ipfix.mtu 65508 is out of range: use 256 to 65507"},
		{"tcp mtu too big", func(c *Config) { c.Transport, c.MTU = "tcp", 65536 }, "use 256 to 65535 bytes (tcp)"},
		{"refresh too short", func(c *Config) { c.TemplateRefresh = 500 * time.Millisecond }, "ipfix.template_refresh 500ms is too short: use at least 1s"},
		{"negative refresh", func(c *Config) { c.TemplateRefresh = -time.Second }, "ipfix.template_refresh -1s"},
		{"negative queue", func(c *Config) { c.QueueSize = -1 }, "ipfix.queue_size -1 is out of range: use 1 to 4194304 flows"},
		{"huge queue", func(c *Config) { c.QueueSize = 1 << 30 }, "ipfix.queue_size 1073741824"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := ok
			c.edit(&cfg)
			err := cfg.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case c.want != "" && err == nil:
				t.Errorf("Validate accepted %+v", cfg)
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Errorf("error %q does not contain %q", err, c.want)
			}
			if c.want != "" {
				if _, err := New(cfg, nil); err == nil {
					t.Errorf("New accepted %+v", cfg)
				}
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	got := Config{Address: "x:1"}.withDefaults()
	want := Config{Address: "x:1", Transport: "udp", MTU: 1400, TemplateRefresh: time.Minute, QueueSize: 65536}
	if got != want {
		t.Errorf("defaults %+v, want %+v", got, want)
	}
}

// TestConfigYAML reads the section as the configuration file spells it.
func TestConfigYAML(t *testing.T) {
	const doc = `
address: collector.example.org:4739
transport: tcp
mtu: 9000
template_refresh: 30s
observation_domain: 42
queue_size: 1024
`
	var got Config
	if err := yaml.UnmarshalStrict([]byte(doc), &got); err != nil {
		t.Fatal(err)
	}
	want := Config{Address: "collector.example.org:4739", Transport: "tcp", MTU: 9000, TemplateRefresh: 30 * time.Second, ObservationDomain: 42, QueueSize: 1024}
	if got != want {
		t.Errorf("decoded %+v, want %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Error(err)
	}
	if err := yaml.UnmarshalStrict([]byte("adress: x:1\n"), &got); err == nil { //nolint:misspell // the misspelt key is the test
		t.Error("a misspelt key was accepted")
	}
}
