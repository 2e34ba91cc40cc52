package blocklist

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/internal/testutil"
)

// genList writes n entries in the FireHOL/Spamhaus text format: 95% random
// IPv4 /24 to /32 (bare addresses for /32), 5% random IPv6 /32 to /128 in
// 2000::/3, a comment header and some Spamhaus-style comments. It returns
// the prefixes written.
func genList(tb testing.TB, path string, n int, seed uint64) []netip.Prefix {
	tb.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "#\n# generated benchmark list, %d entries\n#\n", n)
	ps := make([]netip.Prefix, n)
	for i := range ps {
		var p netip.Prefix
		if i%20 == 19 {
			var a [16]byte
			for j := range a {
				a[j] = byte(r.Uint32())
			}
			a[0] = 0x20 | a[0]&0x1f
			p = netip.PrefixFrom(netip.AddrFrom16(a), 32+r.IntN(97)).Masked()
		} else {
			v := r.Uint32()
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 24+r.IntN(9)).Masked()
		}
		ps[i] = p
		switch {
		case p.IsSingleIP():
			fmt.Fprintln(w, p.Addr())
		case i%7 == 0:
			fmt.Fprintf(w, "%s ; SBL%d\n", p, i)
		default:
			fmt.Fprintln(w, p)
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return ps
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkLoad1M: read, parse and build a 1,000,000-entry list, from file
// to lookups, and the memory it then holds per entry (contents kept for
// later rebuilds, table and IPv4 bitmap).
func BenchmarkLoad1M(b *testing.B) {
	const n = 1_000_000
	path := filepath.Join(b.TempDir(), "big.netset")
	genList(b, path, n, 1)
	load := func() *Blocklists {
		bl, err := New([]List{{Name: "big", Path: path}}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := bl.Reload(); err != nil {
			b.Fatal(err)
		}
		return bl
	}
	before := heapInUse()
	bl := load()
	after := heapInUse()
	if bl.Status().Lists[0].Entries != n {
		b.Fatalf("loaded %d entries", bl.Status().Lists[0].Entries)
	}
	perEntry := float64(after-before) / n
	runtime.KeepAlive(bl)
	bl = nil
	b.ReportAllocs()
	cpu0 := testutil.ProcessCPU()
	for b.Loop() {
		load()
	}
	b.ReportMetric(float64(testutil.ProcessCPU()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	b.ReportMetric(perEntry, "heap-B/entry")
}

// BenchmarkLookup: one address per call out of 4096 random ones, so the
// caches see a spread of table paths rather than one: hits are random
// addresses inside random entries, misses random addresses in no entry.
func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		path := filepath.Join(b.TempDir(), "list")
		ps := genList(b, path, n, 2)
		c, err := func() (*Contents, error) {
			f, err := os.Open(path)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			return Parse(f, path, 0)
		}()
		if err != nil {
			b.Fatal(err)
		}
		s, err := NewSet([]string{"l"}, []*Contents{c})
		if err != nil {
			b.Fatal(err)
		}
		r := rand.New(rand.NewPCG(3, 4))
		const k = 4096
		for _, fam := range []string{"v4", "v6"} {
			hits := make([][16]byte, 0, k)
			misses := make([][16]byte, 0, k)
			for len(hits) < k {
				p := ps[r.IntN(len(ps))]
				if p.Addr().Is4() != (fam == "v4") {
					continue
				}
				a := p.Addr().As16()
				host := p.Addr().BitLen() - p.Bits()
				for i := 15; i >= 0 && host > 0; i-- { // random host part
					bits := min(host, 8)
					a[i] |= byte(r.Uint32()) & byte(1<<bits-1)
					host -= bits
				}
				if s.Lookup(a) == 0 {
					b.Fatalf("%v not found in %v", netip.AddrFrom16(a), p)
				}
				hits = append(hits, a)
			}
			for len(misses) < k {
				var a [16]byte
				if fam == "v4" {
					a = netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}).As16()
				} else {
					for j := range a {
						a[j] = byte(r.Uint32())
					}
					a[0] = 0x20 | a[0]&0x1f
				}
				if s.Lookup(a) == 0 {
					misses = append(misses, a)
				}
			}
			for _, c := range []struct {
				name  string
				addrs [][16]byte
			}{{"hit", hits}, {"miss", misses}} {
				b.Run(fmt.Sprintf("entries=%d/%s/%s", n, fam, c.name), func(b *testing.B) {
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						s.Lookup(c.addrs[i&(k-1)])
						i++
					}
				})
			}
		}
	}
}
