// Command netanomaly_synth writes a synthetic capture of a campus network,
// benign traffic with attacks at chosen times, and the attacks' labels.
//
//	netanomaly_synth -seed 7 -duration 2h -preset mixed -o mixed.pcap -labels mixed.csv
//	netanomaly_synth -duration 1h -attack port_scan@30m+60s:vertical -attack syn_flood@50m+2m/5000 -o out.pcap -labels out.csv
//
// An attack is TYPE@OFFSET+DURATION[:VARIANT][/RATE], offsets and durations
// in Go syntax (90s, 2m, 1h30m).
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/netanomaly/netanomaly_exporter/internal/synth"
)

func main() {
	err := run(os.Args[1:], os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.As(err, new(parseError)):
		os.Exit(2) // the flag package printed it with the usage
	default:
		fmt.Fprintln(os.Stderr, "netanomaly_synth:", err)
		os.Exit(1)
	}
}

// parseError is a flag error already reported by the flag package.
type parseError struct{ error }

func (e parseError) Unwrap() error { return e.error }

type attackList []synth.Attack

func (a *attackList) String() string { return fmt.Sprint(len(*a), " attacks") }

func (a *attackList) Set(s string) error {
	at, err := parseAttack(s)
	if err != nil {
		return err
	}
	*a = append(*a, at)
	return nil
}

// parseAttack parses TYPE@OFFSET+DURATION[:VARIANT][/RATE].
func parseAttack(s string) (synth.Attack, error) {
	const form = "TYPE@OFFSET+DURATION[:VARIANT][/RATE], e.g. port_scan@30m+60s:vertical or syn_flood@50m+2m/5000"
	var a synth.Attack
	typ, rest, ok := strings.Cut(s, "@")
	if !ok || typ == "" {
		return a, fmt.Errorf("attack %q: want %s", s, form)
	}
	known := false
	for _, t := range synth.AttackTypes {
		known = known || t == typ
	}
	if !known {
		return a, fmt.Errorf("attack %q: unknown type %q (known: %s)", s, typ, strings.Join(synth.AttackTypes, ", "))
	}
	a.Type = typ
	if i := strings.LastIndex(rest, "/"); i >= 0 {
		rate, err := strconv.ParseFloat(rest[i+1:], 64)
		if err != nil || rate <= 0 {
			return a, fmt.Errorf("attack %q: rate %q is not a positive number", s, rest[i+1:])
		}
		a.Rate = rate
		rest = rest[:i]
	}
	if i := strings.Index(rest, ":"); i >= 0 {
		a.Variant = rest[i+1:]
		rest = rest[:i]
		vs := synth.Variants(typ)
		found := false
		for _, v := range vs {
			found = found || v == a.Variant
		}
		if !found {
			return a, fmt.Errorf("attack %q: unknown variant %q of %s (known: %s)", s, a.Variant, typ, strings.Join(vs, ", "))
		}
	}
	off, dur, ok := strings.Cut(rest, "+")
	if !ok {
		return a, fmt.Errorf("attack %q: want %s", s, form)
	}
	var err error
	if a.Start, err = time.ParseDuration(off); err != nil || a.Start < 0 {
		return a, fmt.Errorf("attack %q: offset %q is not a duration like 30m", s, off)
	}
	if a.Duration, err = time.ParseDuration(dur); err != nil || a.Duration <= 0 {
		return a, fmt.Errorf("attack %q: duration %q is not a positive duration like 90s", s, dur)
	}
	return a, nil
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("netanomaly_synth", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		seed     = fs.Uint64("seed", 1, "random seed: the same flags and seed give the same capture")
		duration = fs.Duration("duration", 2*time.Hour, "length of the capture")
		start    = fs.String("start", synth.DefaultStart.Format(time.RFC3339), "time of the capture start (RFC3339)")
		rate     = fs.Float64("rate", synth.DefaultBaseRate, "mean background packets per second")
		clients  = fs.Int("clients", synth.DefaultClients, "internal clients")
		servers  = fs.Int("servers", synth.DefaultServers, "internal servers")
		network  = fs.String("network", synth.DefaultNetwork.String(), "internal IPv4 network")
		preset   = fs.String("preset", "", "named scenario: "+strings.Join(synth.Presets, ", "))
		snaplen  = fs.Int("snaplen", 0, "bytes kept of each packet, its length recorded whole (256 keeps every header the exporter reads); 0 keeps packets whole")
		out      = fs.String("o", "", "capture file to write (pcap)")
		labels   = fs.String("labels", "", "labels file to write (CSV: start,end,type,source)")
		attacks  attackList
	)
	fs.Var(&attacks, "attack", "an attack, TYPE@OFFSET+DURATION[:VARIANT][/RATE] (repeatable); types: "+strings.Join(synth.AttackTypes, ", "))
	usage := func() {
		fmt.Fprintf(stderr, "Usage: netanomaly_synth [flags] -o out.pcap [-labels out.csv]\n\nWrites a synthetic capture with labelled attacks.\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nVariants (the first is the default):\n")
		for _, t := range synth.AttackTypes {
			fmt.Fprintf(stderr, "  %-24s %s\n", t, strings.Join(synth.Variants(t), ", "))
		}
	}
	fs.Usage = func() { fmt.Fprintln(stderr, "Run netanomaly_synth -h for the flags.") }
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" || a == "--h" {
			usage()
			return flag.ErrHelp
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return parseError{err}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: every option is a flag (see -h)", fs.Arg(0))
	}
	if *out == "" {
		return errors.New("-o is required: the capture file to write")
	}
	st, err := time.Parse(time.RFC3339, *start)
	if err != nil {
		return fmt.Errorf("-start %q is not an RFC3339 time like 2024-03-04T08:00:00Z", *start)
	}
	pfx, err := netip.ParsePrefix(*network)
	if err != nil {
		return fmt.Errorf("-network %q is not a prefix like 10.20.0.0/16", *network)
	}
	s := synth.Scenario{Seed: *seed, Start: st, Duration: *duration, Network: pfx, Clients: *clients, Servers: *servers, BaseRate: *rate, Snaplen: *snaplen}
	if *preset != "" {
		pa, err := synth.Preset(*preset, *seed, *duration)
		if err != nil {
			return fmt.Errorf("-preset: %w", err)
		}
		s.Attacks = append(s.Attacks, pa...)
	}
	s.Attacks = append(s.Attacks, attacks...)
	if err := s.Validate(); err != nil {
		return err
	}

	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	began := time.Now()
	bw := bufio.NewWriterSize(f, 1<<20)
	ls, err := synth.Write(bw, s)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(*out) // half a capture is of no use
		return fmt.Errorf("write %s: %w", *out, err)
	}
	if *labels != "" {
		lf, err := os.Create(*labels)
		if err != nil {
			return err
		}
		err = synth.WriteLabels(lf, ls)
		if cerr := lf.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", *labels, err)
		}
	}
	fi, _ := os.Stat(*out)
	size := int64(0)
	if fi != nil {
		size = fi.Size()
	}
	fmt.Fprintf(stderr, "wrote %s (%.1f MB, %v of traffic, %d attacks) in %v\n", *out, float64(size)/1e6, s.Duration, len(ls), time.Since(began).Round(time.Millisecond))
	for _, l := range ls {
		fmt.Fprintf(stderr, "  %-24s %s +%-9v %s\n", l.Type, l.Start.Sub(st).Round(time.Second), l.End.Sub(l.Start).Round(time.Millisecond), l.Source)
	}
	return nil
}
