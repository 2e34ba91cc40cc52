package siem

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v2"
)

func TestConfigValidate(t *testing.T) {
	certs := newTestCerts(t, "config")
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cfg  Config
		want string // in the error; "" for none
	}{
		{"udp", Config{Address: "127.0.0.1:514", Transport: "udp"}, ""},
		{"tcp to a name", Config{Address: "siem.example.com:601", Transport: "tcp", Facility: "auth"}, ""},
		{"tls with a client certificate", Config{Address: "[::1]:6514", Transport: "tls", TLS: TLSConfig{
			CAFile: certs.CA, CertFile: certs.ClientCert, KeyFile: certs.ClientKey, ServerName: "rsyslog.test"}}, ""},
		{"tls with system roots", Config{Address: "siem.example.com:6514", Transport: "tls"}, ""},
		{"no transport", Config{Address: "h:514"}, "syslog.transport is required"},
		{"unknown transport", Config{Address: "h:514", Transport: "relp"}, `unknown syslog.transport "relp": use udp, tcp or tls`},
		{"no address", Config{Transport: "udp"}, "syslog.address is required"},
		{"address without port", Config{Address: "siem.example.com", Transport: "udp"}, `bad syslog.address "siem.example.com"`},
		{"address without host", Config{Address: ":514", Transport: "udp"}, "the host is empty"},
		{"port zero", Config{Address: "h:0", Transport: "udp"}, `port "0" is not a number from 1 to 65535`},
		{"named port", Config{Address: "h:syslog", Transport: "udp"}, `port "syslog" is not a number`},
		{"unknown facility", Config{Address: "h:514", Transport: "udp", Facility: "local8"}, `unknown syslog.facility "local8": use one of kern, user`},
		{"hostname with a space", Config{Address: "h:514", Transport: "udp", Hostname: "my host"}, `syslog.hostname "my host" holds a space`},
		{"cap too small", Config{Address: "h:514", Transport: "udp", MaxMessageBytes: 100}, "syslog.max_message_bytes=100 out of range: use 1024 to 65507 for the udp transport"},
		{"cap over a datagram", Config{Address: "h:514", Transport: "udp", MaxMessageBytes: 70000}, "syslog.max_message_bytes=70000 out of range"},
		{"large cap over tcp", Config{Address: "h:514", Transport: "tcp", MaxMessageBytes: 70000}, ""},
		{"negative queue", Config{Address: "h:514", Transport: "udp", QueueSize: -1}, "syslog.queue_size=-1 out of range"},
		{"tiny timeout", Config{Address: "h:514", Transport: "tcp", Timeout: time.Millisecond}, "syslog.timeout=1ms out of range"},
		{"tiny backoff", Config{Address: "h:514", Transport: "tcp", MaxBackoff: time.Millisecond}, "syslog.max_backoff=1ms out of range"},
		{"tls settings without tls", Config{Address: "h:514", Transport: "tcp", TLS: TLSConfig{CAFile: certs.CA}}, "syslog.tls is set but syslog.transport is tcp"},
		{"missing ca file", Config{Address: "h:6514", Transport: "tls", TLS: TLSConfig{CAFile: "/nonexistent/ca.pem"}}, "syslog.tls.ca_file: open /nonexistent/ca.pem: no such file"},
		{"ca file not PEM", Config{Address: "h:6514", Transport: "tls", TLS: TLSConfig{CAFile: notPEM}}, "holds no PEM certificate"},
		{"cert without key", Config{Address: "h:6514", Transport: "tls", TLS: TLSConfig{CertFile: certs.ClientCert}}, "syslog.tls.cert_file and syslog.tls.key_file go together"},
		{"key of another cert", Config{Address: "h:6514", Transport: "tls", TLS: TLSConfig{CertFile: certs.ClientCert, KeyFile: certs.ServerKey}}, "syslog.tls.cert_file"},
		{"unreadable cert", Config{Address: "h:6514", Transport: "tls", TLS: TLSConfig{CertFile: "/nonexistent/c.pem", KeyFile: certs.ClientKey}}, "no such file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			err := cfg.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate: %v, want an error with %q", err, c.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg := Config{Address: "127.0.0.1:514", Transport: "udp"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	want := Config{
		Address: "127.0.0.1:514", Transport: "udp", Facility: "local0", Hostname: headerField(host, maxHostname),
		MaxMessageBytes: 8192, QueueSize: 4096, Timeout: 10 * time.Second, MaxBackoff: 30 * time.Second,
	}
	if cfg != want {
		t.Errorf("defaults\n got %+v\nwant %+v", cfg, want)
	}
}

// TestConfigYAML checks that the section reads as the config file will
// hold it, strictly.
func TestConfigYAML(t *testing.T) {
	text := `syslog:
  address: siem.example.com:6514
  transport: tls
  facility: local3
  hostname: sensor-1
  max_message_bytes: 16384
  queue_size: 100
  timeout: 5s
  max_backoff: 1m
  tls:
    ca_file: /etc/netanomaly/ca.pem
    cert_file: /etc/netanomaly/client.pem
    key_file: /etc/netanomaly/client.key
    server_name: siem.example.com
`
	var file struct {
		Syslog Config `yaml:"syslog"`
	}
	if err := yaml.UnmarshalStrict([]byte(text), &file); err != nil {
		t.Fatal(err)
	}
	want := Config{
		Address: "siem.example.com:6514", Transport: "tls", Facility: "local3", Hostname: "sensor-1",
		MaxMessageBytes: 16384, QueueSize: 100, Timeout: 5 * time.Second, MaxBackoff: time.Minute,
		TLS: TLSConfig{CAFile: "/etc/netanomaly/ca.pem", CertFile: "/etc/netanomaly/client.pem", KeyFile: "/etc/netanomaly/client.key", ServerName: "siem.example.com"},
	}
	if file.Syslog != want {
		t.Errorf("read\n %+v\nwant %+v", file.Syslog, want)
	}
	if err := yaml.UnmarshalStrict([]byte("syslog:\n  adress: h:514\n"), &file); err == nil { //nolint:misspell // the misspelt key is the test
		t.Error("a misspelt key was accepted")
	}
}
