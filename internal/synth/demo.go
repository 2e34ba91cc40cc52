package synth

import "time"

// The exporter's demo: what `netanomaly_exporter` replays when started
// without a source. A small office network with a scripted attack every
// few minutes, each long enough to watch on a dashboard, and normal
// traffic between them; the exporter trains its models on DemoTraining
// first, so that the model judges beside the rules from the first window.
// The rates are well above the rules' bars but low enough for the capture
// to be held in memory.
const (
	// DemoSeed is the seed of the demo network; DemoTrainingSeed that of
	// the benign traffic the models are trained on: another network of
	// the same shape (the synthesizer draws the addresses from the seed).
	DemoSeed         uint64 = 2026
	DemoTrainingSeed uint64 = 2027

	// DemoDuration is one pass of the demo; the exporter replays pass
	// after pass.
	DemoDuration         = 16 * time.Minute
	DemoTrainingDuration = 45 * time.Minute

	// DemoPasses is how many passes differ before they repeat: each has
	// attackers of its own. The same scanner back within the hour the
	// detector remembers first contacts for scans nothing new, so the
	// cycle is longer than that (80 minutes).
	DemoPasses = 5

	demoClients  = 20
	demoServers  = 6
	demoBaseRate = 30 // packets a second
	demoSnaplen  = 256
)

// DemoAttacks are the demo's attacks in turn, two minutes each, with
// two to three and a half minutes of normal traffic between them (the
// last quiet stretch runs into the next pass's first).
var DemoAttacks = []Attack{
	// nmap -sS at 30 probes a second from one host.
	{Type: PortScan, Variant: "vertical", Start: 90 * time.Second, Duration: 2 * time.Minute, Rate: 30},
	// 200 SYNs a second to a server from forged addresses.
	{Type: SYNFlood, Variant: "spoofed", Start: 5 * time.Minute, Duration: 2 * time.Minute, Rate: 200},
	// hydra against SSH, 3 logins a second.
	{Type: BruteForce, Variant: "ssh", Start: 9 * time.Minute, Duration: 2 * time.Minute, Rate: 3},
	// One host holding 150 connections to a web server open.
	{Type: Slowloris, Variant: "single", Start: 13 * time.Minute, Duration: 2 * time.Minute, Rate: 150},
}

// demoNetwork is the shape both demo scenarios share.
func demoNetwork(seed uint64, d time.Duration) Scenario {
	return Scenario{Seed: seed, Duration: d, Clients: demoClients, Servers: demoServers, BaseRate: demoBaseRate, Snaplen: demoSnaplen}
}

// DemoScenario returns one pass of the demo (DemoSeed for the
// exporter's): DemoDuration of the demo network with DemoAttacks. Every
// pass has the same network and background; the attackers, targets and
// timing of pass p are those of pass p mod DemoPasses. Start is left to
// the caller (zero: DefaultStart): pass p follows pass p-1 at
// p*DemoDuration.
func DemoScenario(seed uint64, pass int) Scenario {
	s := demoNetwork(seed, DemoDuration)
	s.Attacks = append([]Attack(nil), DemoAttacks...)
	cycle := uint64(pass%DemoPasses + 1)
	for i := range s.Attacks {
		s.Attacks[i].Seed = seed*0x9e3779b97f4a7c15 ^ cycle<<8 ^ uint64(i+1) | 1<<63
	}
	return s
}

// DemoTraining returns benign traffic of a network of the demo's shape
// (DemoTrainingSeed for the exporter's): DemoTrainingDuration without
// attacks, to train the models on before the demo starts.
func DemoTraining(seed uint64) Scenario { return demoNetwork(seed, DemoTrainingDuration) }
