package evidence

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/units"
)

// Defaults of the Config fields left zero.
const (
	DefaultSnaplen      = 128
	DefaultRingBytes    = 16 << 20
	DefaultBefore       = 10 * time.Second
	DefaultMaxPackets   = 10000
	DefaultMaxBytes     = 8 << 20
	DefaultMaxDuration  = 5 * time.Minute
	DefaultMaxFilesOpen = 4
	DefaultTotalBytes   = 256 << 20
)

// Limits of the Config fields. They keep every buffer bounded whatever the
// configuration file says.
const (
	// MinSnaplen is the least snaplen: it still holds an Ethernet header
	// with two VLAN tags and an IPv6 header, so addresses can be found.
	MinSnaplen = 68
	// MaxSnaplen is the largest snaplen: a captured length is kept in 16
	// bits in the ring.
	MaxSnaplen = 65535

	MinRingBytes    = 64 << 10
	MaxRingBytes    = 1 << 30
	MaxBefore       = time.Hour
	MaxMaxPackets   = 10_000_000
	MinMaxBytes     = 64 << 10
	MaxMaxBytes     = 4 << 30
	MaxMaxDuration  = 24 * time.Hour
	MaxMaxFilesOpen = 16 // one bit each in a record's 16-bit mask
)

// Config configures evidence captures. A zero field takes its default. It
// has YAML tags so that it can be a section of a configuration file.
type Config struct {
	// Dir is the directory of the evidence files. It is created (0750)
	// when missing.
	Dir string `yaml:"dir"`
	// Snaplen is the most bytes kept of each packet (headers only by
	// default); the original length is kept too.
	Snaplen int `yaml:"snaplen"`
	// RingBytes bounds the memory of recent packets kept per interface,
	// record headers included. At high rates it holds less than Before.
	RingBytes Bytes `yaml:"ring_bytes"`
	// Before is how far before an attack's onset its file starts.
	Before time.Duration `yaml:"before"`
	// MaxPackets and MaxBytes cap each file; MaxBytes counts the file
	// header.
	MaxPackets int   `yaml:"max_packets"`
	MaxBytes   Bytes `yaml:"max_bytes"`
	// MaxDuration ends a recording this long after the onset on the packet
	// clock, or after its start on the wall clock, whichever comes first.
	MaxDuration time.Duration `yaml:"max_duration"`
	// MaxFilesOpen caps the files recorded at once over all interfaces;
	// attacks beyond it are skipped and counted.
	MaxFilesOpen int `yaml:"max_files_open"`
	// TotalBytes caps the evidence files in Dir. The oldest are deleted to
	// make room for a new one; files of other names are never touched.
	TotalBytes Bytes `yaml:"total_bytes"`

	// Anonymize, when set, replaces every IPv4 and IPv6 source and
	// destination address (and ARP protocol address) in the written
	// headers; see the package documentation for what else it changes.
	Anonymize func([16]byte) [16]byte `yaml:"-"`
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	set := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	setB := func(v *Bytes, d Bytes) {
		if *v == 0 {
			*v = d
		}
	}
	setD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	set(&c.Snaplen, DefaultSnaplen)
	setB(&c.RingBytes, DefaultRingBytes)
	setD(&c.Before, DefaultBefore)
	set(&c.MaxPackets, DefaultMaxPackets)
	setB(&c.MaxBytes, DefaultMaxBytes)
	setD(&c.MaxDuration, DefaultMaxDuration)
	set(&c.MaxFilesOpen, DefaultMaxFilesOpen)
	setB(&c.TotalBytes, DefaultTotalBytes)
	return c
}

// validate checks a configuration with defaults applied.
// Validate checks the configuration with its defaults filled in, as
// Open does, without touching the directory.
func (c Config) Validate() error { return c.withDefaults().validate() }

func (c Config) validate() error {
	if c.Dir == "" {
		return errors.New("evidence: dir is empty: give the directory for evidence captures")
	}
	type check struct {
		name     string
		ok       bool
		val, rng string
	}
	for _, k := range []check{
		{"snaplen", c.Snaplen >= MinSnaplen && c.Snaplen <= MaxSnaplen, strconv.Itoa(c.Snaplen), fmt.Sprintf("%d to %d", MinSnaplen, MaxSnaplen)},
		{"ring_bytes", c.RingBytes >= MinRingBytes && c.RingBytes <= MaxRingBytes, c.RingBytes.String(), fmt.Sprintf("%v to %v", Bytes(MinRingBytes), Bytes(MaxRingBytes))},
		{"before", c.Before > 0 && c.Before <= MaxBefore, c.Before.String(), fmt.Sprintf("more than 0s, at most %v", MaxBefore)},
		{"max_packets", c.MaxPackets > 0 && c.MaxPackets <= MaxMaxPackets, strconv.Itoa(c.MaxPackets), fmt.Sprintf("1 to %d", MaxMaxPackets)},
		{"max_bytes", c.MaxBytes >= MinMaxBytes && c.MaxBytes <= MaxMaxBytes, c.MaxBytes.String(), fmt.Sprintf("%v to %v", Bytes(MinMaxBytes), Bytes(MaxMaxBytes))},
		{"max_duration", c.MaxDuration > 0 && c.MaxDuration <= MaxMaxDuration, c.MaxDuration.String(), fmt.Sprintf("more than 0s, at most %v", MaxMaxDuration)},
		{"max_files_open", c.MaxFilesOpen > 0 && c.MaxFilesOpen <= MaxMaxFilesOpen, strconv.Itoa(c.MaxFilesOpen), fmt.Sprintf("1 to %d", MaxMaxFilesOpen)},
	} {
		if !k.ok {
			return fmt.Errorf("evidence: %s %s out of range: use %s", k.name, k.val, k.rng)
		}
	}
	if least := Bytes(16 * recSize(c.Snaplen)); c.RingBytes < least {
		return fmt.Errorf("evidence: ring_bytes %v holds fewer than 16 packets of snaplen %d: raise ring_bytes to at least %v or lower snaplen", c.RingBytes, c.Snaplen, least)
	}
	// Every open file may grow to max_bytes, and rotation never deletes an
	// open file: the cap must hold them all.
	if need := Bytes(c.MaxFilesOpen) * c.MaxBytes; c.TotalBytes < need {
		return fmt.Errorf("evidence: total_bytes %v is below max_files_open × max_bytes (%d × %v = %v): raise total_bytes or lower the other two", c.TotalBytes, c.MaxFilesOpen, c.MaxBytes, need)
	}
	return nil
}

// Bytes is a size in bytes. In YAML it is a plain number of bytes or a
// number with a base-2 unit: 512KiB, 16MiB, 1GiB (KB and MB are 1024 too).
type Bytes int64

// String renders b with the largest exact unit, such as 16MiB.
func (b Bytes) String() string { return units.Base2Bytes(b).String() }

// MarshalText renders b as String does.
func (b Bytes) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText parses a plain number of bytes or a number with a unit.
func (b *Bytes) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*b = Bytes(n)
		return nil
	}
	n, err := units.ParseBase2Bytes(s)
	if err != nil {
		return fmt.Errorf("size %q: use a number of bytes or a number with a unit such as 512KiB, 16MiB or 1GiB", s)
	}
	*b = Bytes(n)
	return nil
}
