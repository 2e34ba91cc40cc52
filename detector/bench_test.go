package detector

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// BenchmarkObserve judges one window with every member enabled. Target:
// at most 1 ms.
func BenchmarkObserve(b *testing.B) {
	set, err := trainSet(b, 1).Clone()
	if err != nil {
		b.Fatal(err)
	}
	cfg := testConfig()
	d := New(cfg, "eth0", set)
	ws := script(40, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		w := ws[i%len(ws)]
		w.Start, w.End = t0+int64(i)*10*sec, t0+int64(i+1)*10*sec // no gap: the forecaster keeps its history
		d.Observe(w)
	}
}

// BenchmarkObserveFlood judges windows of a random-source flood, each
// with the behaviour lists full (2048 pairs, 1024 services and 1024
// initiators, none seen before), the horizon at its default length: the
// worst case of the rules' work. Target: at most 50 ms a window.
func BenchmarkObserveFlood(b *testing.B) {
	victim := ip("10.0.0.10")
	benchmarkBehaviour(b, func(i, j int, bh *features.Behaviour) {
		src := ip(fmt.Sprintf("198.%d.%d.%d", 18+i%2, (i*2048+j)/250%250, j%250+1))
		bh.Pairs = append(bh.Pairs, tcp(src, victim, uint16(1024+j), features.Conns{Attempts: 1, Syns: 1, Unanswered: 1}))
		if j < 1024 {
			bh.Services = append(bh.Services, features.ServiceActivity{Key: features.ServiceKey{Addr: src, Proto: features.ProtoTCP, AllPorts: true}, Conns: features.Conns{Unsolicited: 1}})
			bh.Hosts = append(bh.Hosts, features.HostActivity{Addr: src, NewPorts: 1, NewHosts: 1, FailedFirst: 1, Target: victim, TargetPorts: 1})
		}
	})
}

// BenchmarkObserveCarpet judges windows of a SYN flood from forged
// sources to random ports of 512 hosts at once (carpet bombing): every
// host is a question to the SYN flood rule, and each asks whether one
// source walks its ports.
func BenchmarkObserveCarpet(b *testing.B) {
	benchmarkBehaviour(b, func(i, j int, bh *features.Behaviour) {
		src := ip(fmt.Sprintf("198.%d.%d.%d", 18+i%2, (i*2048+j)/250%250, j%250+1))
		host := ip(fmt.Sprintf("10.0.%d.%d", j%512/250, j%512%250+1))
		bh.Pairs = append(bh.Pairs, tcp(src, host, uint16(1024+i*7+j), features.Conns{Attempts: 1, Syns: 1, Unanswered: 1}))
		if j < 512 {
			bh.Services = append(bh.Services, hostWide(host, features.ProtoTCP, features.Conns{Attempts: 600, Syns: 600, Unanswered: 600}))
			bh.Hosts = append(bh.Hosts, features.HostActivity{Addr: src, NewPorts: 1, NewHosts: 1, FailedFirst: 1, Target: host, TargetPorts: 1})
		}
	})
}

// BenchmarkObserveBackscatter judges windows in which 1024 hosts each
// receive ICMP answers nobody here asked for (the backscatter of a flood
// with forged sources, or a smurf), from 2048 senders: every host is a
// question to the ICMP flood rule.
func BenchmarkObserveBackscatter(b *testing.B) {
	benchmarkBehaviour(b, func(i, j int, bh *features.Behaviour) {
		src := ip(fmt.Sprintf("198.%d.%d.%d", 18+i%2, (i*2048+j)/250%250, j%250+1))
		host := ip(fmt.Sprintf("10.0.%d.%d", j%1024/250, j%1024%250+1))
		bh.Pairs = append(bh.Pairs, pair(src, host, 0, features.ProtoICMP, features.Conns{Unsolicited: 3}))
		if j < 1024 {
			bh.Services = append(bh.Services, features.ServiceActivity{Key: features.ServiceKey{Addr: host, Proto: features.ProtoICMP, AllPorts: true}, Conns: features.Conns{Unsolicited: 6}})
		}
	})
}

// benchmarkBehaviour judges 64 windows in turn, window i's behaviour made
// by 2048 calls of add(i, j), with an untrained detector.
func benchmarkBehaviour(b *testing.B, add func(i, j int, bh *features.Behaviour)) {
	d := New(testConfig(), "eth0", nil)
	ws := make([]*features.Window, 64)
	for i := range ws {
		ws[i] = &features.Window{Interface: "eth0", Seconds: windowSecs}
		for j := range 2048 {
			add(i, j, &ws[i].Behaviour)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		w := ws[i%len(ws)]
		w.Start, w.End = t0+int64(i)*10*sec, t0+int64(i+1)*10*sec
		d.Observe(w)
	}
}

// BenchmarkTrain trains every member on an hour of windows (target: at
// most 10 s) and reports the heap the trained set keeps and its JSON size.
func BenchmarkTrain(b *testing.B) {
	rows := vectors(newGen(1).benignN(360))
	cfg := DefaultConfig().Train
	retained := retainedByTrain(b, cfg, rows) // before anything else is on the heap
	b.ReportAllocs()
	var set *ModelSet
	for b.Loop() {
		var err error
		if set, err = Train(cfg, rows, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	js, err := json.Marshal(set)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(js))/(1<<20), "json-MiB")
	b.ReportMetric(float64(retained)/(1<<20), "heap-MiB")
}

// retainedByTrain measures the heap a trained set keeps alive.
func retainedByTrain(tb testing.TB, cfg TrainConfig, rows []features.Vector) uint64 {
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	set, err := Train(cfg, rows, nil)
	if err != nil {
		tb.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	runtime.KeepAlive(set)
	if m1.HeapAlloc < m0.HeapAlloc {
		return 0
	}
	return m1.HeapAlloc - m0.HeapAlloc
}

// The models of one interface together stay under 32 MiB in memory.
func TestModelSetMemory(t *testing.T) {
	rows := vectors(newGen(1).benignN(360))
	retained := retainedByTrain(t, DefaultConfig().Train, rows)
	js, err := json.Marshal(trainSet(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("trained set: %.2f MiB of heap, %.2f MiB of JSON", float64(retained)/(1<<20), float64(len(js))/(1<<20))
	if retained > 32<<20 {
		t.Errorf("trained set keeps %.1f MiB, want at most 32 MiB", float64(retained)/(1<<20))
	}
}

// BenchmarkTrainDay is the live retrain: a day of windows (the default
// reservoir).
func BenchmarkTrainDay(b *testing.B) {
	rows := vectors(newGen(1).benignN(DefaultConfig().Reservoir))
	cfg := DefaultConfig().Train
	retained := retainedByTrain(b, cfg, rows)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Train(cfg, rows, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(retained)/(1<<20), "heap-MiB")
}
