// Command netanomaly_synth writes synthetic captures for tests, demos and
// benchmarks. The default command, scenario, writes a campus network's
// benign traffic with attacks at chosen times and the attacks' labels;
// flood writes a random-source flood, every packet a new source and flow.
//
//	netanomaly_synth --seed=7 --duration=2h --attack.preset=mixed --output=mixed.pcap --labels=mixed.csv
//	netanomaly_synth --duration=1h --attack=port_scan@30m+60s:vertical --attack=syn_flood@50m+2m/5000 --output=out.pcap --labels=out.csv
//	netanomaly_synth flood --packets=5000000 --output=flood.pcap
//
// An attack is TYPE@OFFSET+DURATION[:VARIANT][/RATE], offsets and durations
// in Go syntax (90s, 2m, 1h30m).
package main

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/netanomaly/netanomaly_exporter/internal/synth"
)

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

// scenarioOptions holds the scenario command's flags.
type scenarioOptions struct {
	seed     uint64
	duration time.Duration
	start    string
	rate     float64
	clients  int
	servers  int
	network  string
	preset   string
	snaplen  int
	out      string
	labels   string
	attacks  attackList
}

// floodOptions holds the flood command's flags.
type floodOptions struct {
	packets int
	seed    uint64
	gap     time.Duration
	out     string
}

// attackList is the repeatable --attack flag.
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

// IsCumulative makes kingpin accept the flag more than once.
func (a *attackList) IsCumulative() bool { return true }

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

// variantsHelp lists every attack type with its variants, the default
// first, for the --attack flag's help.
func variantsHelp() string {
	var b strings.Builder
	for i, t := range synth.AttackTypes {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s (%s)", t, strings.Join(synth.Variants(t), ", "))
	}
	return b.String()
}

func run(args []string, stderr io.Writer) int {
	app := kingpin.New("netanomaly_synth", "Writes synthetic captures for tests, demos and benchmarks: benign traffic with labelled attacks, or a random-source flood. 'netanomaly_synth help scenario' and 'help flood' list their flags.")
	app.Writer(stderr)
	app.ErrorWriter(stderr)
	app.UsageWriter(stderr)
	app.HelpFlag.Short('h')
	// Help prints the usage and stops here, not in os.Exit inside Parse,
	// so that tests can ask for it.
	helped := false
	app.Terminate(func(int) { helped = true })

	var s scenarioOptions
	scenarioCmd := app.Command("scenario", "Write a capture of a campus network's benign traffic with attacks at chosen times, and the attacks' labels (the default).").Default()
	scenarioCmd.Flag("seed", "Random seed: the same flags and seed give the same capture.").Default("1").Uint64Var(&s.seed)
	scenarioCmd.Flag("duration", "Length of the capture.").Default("2h").DurationVar(&s.duration)
	scenarioCmd.Flag("start", "Time of the capture start (RFC3339).").Default(synth.DefaultStart.Format(time.RFC3339)).StringVar(&s.start)
	scenarioCmd.Flag("background.rate", "Mean background packets per second.").Default(fmt.Sprint(synth.DefaultBaseRate)).Float64Var(&s.rate)
	scenarioCmd.Flag("network.prefix", "Internal IPv4 network.").Default(synth.DefaultNetwork.String()).StringVar(&s.network)
	scenarioCmd.Flag("network.clients", "Internal clients.").Default(fmt.Sprint(synth.DefaultClients)).IntVar(&s.clients)
	scenarioCmd.Flag("network.servers", "Internal servers.").Default(fmt.Sprint(synth.DefaultServers)).IntVar(&s.servers)
	scenarioCmd.Flag("attack", "An attack, TYPE@OFFSET+DURATION[:VARIANT][/RATE] (repeatable). Types and their variants, the default first: "+variantsHelp()+".").SetValue(&s.attacks)
	scenarioCmd.Flag("attack.preset", "Named scenario, its attacks placed by the seed: benign (none), mixed (every type once, clear intensities), subtle (every type once, low intensities).").Default("").StringVar(&s.preset)
	scenarioCmd.Flag("snaplen", "Bytes kept of each packet, its length recorded whole (256 keeps every header the exporter reads); 0 keeps packets whole.").Default("0").IntVar(&s.snaplen)
	scenarioCmd.Flag("output", "Capture file to write (pcap).").Short('o').Required().StringVar(&s.out)
	scenarioCmd.Flag("labels", "Labels file to write (CSV: start,end,type,source).").Default("").StringVar(&s.labels)

	var f floodOptions
	floodCmd := app.Command("flood", "Write a flood from random IPv4 sources and ports to 16 destinations (TCP SYNs, UDP and ICMP), every packet a new flow: the worst case for per-source and per-flow state, for benchmarks.")
	floodCmd.Flag("packets", "Packets to write.").Default("5000000").IntVar(&f.packets)
	floodCmd.Flag("seed", "Random seed: the same flags and seed give the same capture.").Default("1").Uint64Var(&f.seed)
	floodCmd.Flag("gap", "Time between packets.").Default("1us").DurationVar(&f.gap)
	floodCmd.Flag("output", "Capture file to write (pcap).").Short('o').Default("flood.pcap").StringVar(&f.out)

	cmd, err := app.Parse(args)
	if helped {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "netanomaly_synth: error: %v; try --help\n", err)
		return 2
	}
	switch cmd {
	case floodCmd.FullCommand():
		err = writeFlood(f, stderr)
	default:
		err = writeScenario(s, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "netanomaly_synth: error: %v\n", err)
		return 1
	}
	return 0
}

// writeScenario is the scenario command.
func writeScenario(o scenarioOptions, stderr io.Writer) error {
	st, err := time.Parse(time.RFC3339, o.start)
	if err != nil {
		return fmt.Errorf("--start %q is not an RFC3339 time like 2024-03-04T08:00:00Z", o.start)
	}
	pfx, err := netip.ParsePrefix(o.network)
	if err != nil {
		return fmt.Errorf("--network.prefix %q is not a prefix like 10.20.0.0/16", o.network)
	}
	s := synth.Scenario{Seed: o.seed, Start: st, Duration: o.duration, Network: pfx, Clients: o.clients, Servers: o.servers, BaseRate: o.rate, Snaplen: o.snaplen}
	if o.preset != "" {
		pa, err := synth.Preset(o.preset, o.seed, o.duration)
		if err != nil {
			return fmt.Errorf("--attack.preset: %w", err)
		}
		s.Attacks = append(s.Attacks, pa...)
	}
	s.Attacks = append(s.Attacks, o.attacks...)
	if err := s.Validate(); err != nil {
		return err
	}

	began := time.Now()
	var ls []synth.Label
	err = writeFile(o.out, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		var err error
		if ls, err = synth.Write(bw, s); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return err
	}
	if o.labels != "" {
		lf, err := os.Create(o.labels)
		if err != nil {
			return err
		}
		err = synth.WriteLabels(lf, ls)
		if cerr := lf.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", o.labels, err)
		}
	}
	fmt.Fprintf(stderr, "wrote %s (%.1f MB, %v of traffic, %d attacks) in %v\n", o.out, fileMB(o.out), s.Duration, len(ls), time.Since(began).Round(time.Millisecond))
	for _, l := range ls {
		fmt.Fprintf(stderr, "  %-24s %s +%-9v %s\n", l.Type, l.Start.Sub(st).Round(time.Second), l.End.Sub(l.Start).Round(time.Millisecond), l.Source)
	}
	return nil
}

// writeFlood is the flood command.
func writeFlood(o floodOptions, stderr io.Writer) error {
	if o.packets < 0 {
		return fmt.Errorf("--packets %d is negative", o.packets)
	}
	if o.gap < 0 {
		return fmt.Errorf("--gap %v is negative", o.gap)
	}
	began := time.Now()
	err := writeFile(o.out, func(w io.Writer) error {
		return synth.WriteFlood(w, o.packets, o.seed, o.gap.Nanoseconds())
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s (%.1f MB, %d packets %v apart) in %v\n", o.out, fileMB(o.out), o.packets, o.gap, time.Since(began).Round(time.Millisecond))
	return nil
}

// writeFile creates path and writes it with write, removing it again if
// anything fails: half a capture is of no use.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// fileMB is the size of the file at path in megabytes, 0 when it cannot
// be read.
func fileMB(path string) float64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return float64(fi.Size()) / 1e6
}
