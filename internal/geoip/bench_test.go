package geoip

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// bigDB is a Country database of about 500k networks (350k IPv4 /20 to
// /24, 150k IPv6 /32 to /48, with gaps, 250 countries), the size of
// GeoLite2-Country, and addresses in and around its networks.
var bigDB = sync.OnceValues(func() (*benchDB, error) {
	rng := rand.New(rand.NewPCG(11, 12))
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-Country", IncludeReservedNetworks: true,
		Description: map[string]string{"en": "benchmark"}})
	if err != nil {
		return nil, err
	}
	recs := make([]mmdbtype.Map, 250)
	for i := range recs {
		recs[i] = countryRec(Code(uint16(1 + i*NumCodes/len(recs))))
	}
	db := &benchDB{}
	insert := func(ip net.IP, bits, size int) {
		if e := tree.Insert(&net.IPNet{IP: ip, Mask: net.CIDRMask(bits, size)}, recs[rng.IntN(len(recs))]); e != nil && err == nil {
			err = e
		}
	}
	v4 := uint32(1 << 24) // 1.0.0.0
	for range 350_000 {
		bits := 20 + rng.IntN(5)
		n := uint32(1) << (32 - bits)
		v4 = (v4 + n - 1) &^ (n - 1)
		ip := make(net.IP, 4)
		binary.BigEndian.PutUint32(ip, v4)
		insert(ip, bits, 32)
		db.v4 = append(db.v4, netip.AddrFrom4([4]byte(ip)).As16())
		v4 += n * uint32(1+rng.IntN(3)) // a gap now and then
	}
	v6 := uint64(0x2400) << 48
	for range 150_000 {
		bits := 32 + rng.IntN(17)
		n := uint64(1) << (64 - bits)
		v6 = (v6 + n - 1) &^ (n - 1)
		ip := make(net.IP, 16)
		binary.BigEndian.PutUint64(ip, v6)
		insert(ip, bits, 128)
		db.v6 = append(db.v6, [16]byte(ip))
		v6 += n * uint64(1+rng.IntN(3))
	}
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		return nil, err
	}
	db.data = buf.Bytes()
	// Lookups: half at random offsets inside networks, half anywhere in
	// the populated range (often in a gap: unknown).
	db.v4, db.v6 = probeSet(rng, db.v4, uint64(v4), false), probeSet(rng, db.v6, v6, true)
	return db, nil
})

type benchDB struct {
	data   []byte
	v4, v6 [][16]byte // lookup addresses
}

func probeSet(rng *rand.Rand, starts [][16]byte, end uint64, v6 bool) [][16]byte {
	out := make([][16]byte, 1<<16)
	for i := range out {
		a := starts[rng.IntN(len(starts))]
		if v6 {
			hi := binary.BigEndian.Uint64(a[:8]) | rng.Uint64()&0xffff
			if i%2 == 1 {
				hi = uint64(0x2400)<<48 + rng.Uint64N(end-uint64(0x2400)<<48)
			}
			binary.BigEndian.PutUint64(a[:8], hi)
			binary.BigEndian.PutUint64(a[8:], rng.Uint64())
		} else {
			v := binary.BigEndian.Uint32(a[12:]) | rng.Uint32()&0xff
			if i%2 == 1 {
				v = 1<<24 + rng.Uint32N(uint32(end)-1<<24)
			}
			binary.BigEndian.PutUint32(a[12:], v)
		}
		out[i] = a
	}
	return out
}

// BenchmarkCountry is the per-packet lookup; the target is under 40 ns
// and no allocation.
func BenchmarkCountry(b *testing.B) {
	db, err := bigDB()
	if err != nil {
		b.Fatal(err)
	}
	tab, err := Parse(db.data, Options{})
	if err != nil {
		b.Fatal(err)
	}
	mixed := make([][16]byte, 0, 1<<16)
	for i := range 1 << 15 {
		mixed = append(mixed, db.v4[i], db.v6[i])
	}
	for _, c := range []struct {
		name  string
		addrs [][16]byte
	}{{"v4", db.v4}, {"v6", db.v6}, {"mixed", mixed}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var sink uint16
			i := 0
			for b.Loop() {
				sink += tab.Country(c.addrs[i&(1<<16-1)])
				i++
			}
			_ = sink
		})
	}
}

// BenchmarkLoad parses the 500k-network database and reports the heap the
// table holds.
func BenchmarkLoad(b *testing.B) {
	db, err := bigDB()
	if err != nil {
		b.Fatal(err)
	}
	data := db.data
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tab, _ := Parse(data, Options{})
	runtime.GC()
	runtime.ReadMemStats(&after)
	info := tab.Info()
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "table-MiB")
	b.ReportMetric(float64(info.Networks), "networks")
	b.ReportMetric(float64(info.Prefixes), "prefixes")
	b.ReportMetric(float64(len(data))/(1<<20), "file-MiB")
	runtime.KeepAlive(tab)
}

// BenchmarkCounterAdd is the per-packet count.
func BenchmarkCounterAdd(b *testing.B) {
	var c Counter
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.Add(uint16(i&511), 1500)
		i++
	}
}

// BenchmarkTop is the per-window ranking over all 676 codes.
func BenchmarkTop(b *testing.B) {
	var c Counter
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		c.Add(uint16(rng.IntN(NumCodes+1)), 100)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Top(DefaultTop)
	}
}
