// Command genflood writes a synthetic flood capture for benchmarks:
// genflood -n 5000000 -o flood.pcap
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/netanomaly/netanomaly_exporter/internal/synth"
)

func main() {
	n := flag.Int("n", 5_000_000, "packets")
	out := flag.String("o", "flood.pcap", "output file")
	seed := flag.Uint64("seed", 1, "random seed")
	gap := flag.Int64("gap", 1000, "nanoseconds between packets")
	flag.Parse()
	f, err := os.Create(*out)
	if err == nil {
		err = synth.WriteFlood(f, *n, *seed, *gap)
	}
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "genflood:", err)
		os.Exit(1)
	}
}
