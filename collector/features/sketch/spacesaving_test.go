package sketch

import (
	"bytes"
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

func addr(i uint64) [16]byte {
	return ipv4(byte(10+i>>24), byte(i>>16), byte(i>>8), byte(i))
}

// exactTop returns the true weights sorted as Top sorts them.
func exactTop(counts map[[16]byte]uint64) []Entry {
	var all []Entry
	for k, c := range counts {
		all = append(all, Entry{Key: k, Count: c})
	}
	slices.SortFunc(all, func(a, b Entry) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return bytes.Compare(a.Key[:], b.Key[:])
	})
	return all
}

// checkInvariants verifies the heap and the index against the entries.
func checkInvariants(t *testing.T, s *SpaceSaving, k int) {
	t.Helper()
	if cap(s.keys) != k || cap(s.heap) != k || len(s.errs) != k || len(s.hashes) != k || len(s.heapPos) != k {
		t.Fatalf("storage changed size: keys %d, heap %d, want %d", cap(s.keys), cap(s.heap), k)
	}
	if len(s.heap) != len(s.keys) {
		t.Fatalf("heap holds %d entries, want %d", len(s.heap), len(s.keys))
	}
	for i, n := range s.heap {
		if int(s.heapPos[n.e]) != i {
			t.Fatalf("heapPos[%d] = %d, want %d", n.e, s.heapPos[n.e], i)
		}
		if i > 0 && n.count < s.heap[(i-1)/2].count {
			t.Fatalf("heap order broken at %d", i)
		}
	}
	used := 0
	for _, v := range s.index {
		if v != 0 {
			used++
		}
	}
	if used != len(s.keys) {
		t.Fatalf("index holds %d entries, want %d", used, len(s.keys))
	}
	for e, key := range s.keys {
		h := uint32(HashAddr(key))
		if s.hashes[e] != h && s.hashes[e] != uint32(collidingHash) {
			t.Fatalf("entry %d: stored hash %#x, want %#x", e, s.hashes[e], h)
		}
		i := s.hashes[e] & s.mask
		for s.index[i] != uint64(s.hashes[e])<<32|uint64(e+1) {
			if s.index[i] == 0 {
				t.Fatalf("entry %d unreachable from its home slot", e)
			}
			i = (i + 1) & s.mask
		}
	}
}

type weighted struct {
	key    uint64
	weight uint64
}

func TestSpaceSavingExactWhenKeysFit(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(keys, n int) []weighted {
		var w []weighted
		for range n {
			w = append(w, weighted{rng.Uint64N(uint64(keys)), 1 + rng.Uint64N(1500)})
		}
		return w
	}
	tests := []struct {
		name   string
		k      int
		stream []weighted
	}{
		{"empty", 4, nil},
		{"one key", 1, []weighted{{7, 1}, {7, 2}, {7, 3}}},
		{"ties ordered by key", 4, []weighted{{3, 5}, {1, 5}, {2, 7}, {0, 5}}},
		{"zero weight ignored", 2, []weighted{{1, 3}, {2, 0}, {3, 0}, {4, 2}}},
		{"k keys exactly", 8, random(8, 1000)},
		{"fewer keys than k", 100, random(60, 10000)},
		{"k keys, large k", 1000, random(1000, 100000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSpaceSaving(tt.k)
			counts := map[[16]byte]uint64{}
			var total uint64
			for _, w := range tt.stream {
				s.Add(addr(w.key), HashAddr(addr(w.key)), w.weight)
				if w.weight > 0 {
					counts[addr(w.key)] += w.weight
				}
				total += w.weight
			}
			checkInvariants(t, s, tt.k)
			got, want := s.Top(nil), exactTop(counts)
			if !slices.Equal(got, want) {
				t.Errorf("Top = %v\nwant %v", got, want)
			}
			if s.Total() != total {
				t.Errorf("Total = %d, want %d", s.Total(), total)
			}
		})
	}
}

func TestSpaceSavingTopAppends(t *testing.T) {
	s := NewSpaceSaving(4)
	s.Add(addr(1), HashAddr(addr(1)), 3)
	s.Add(addr(2), HashAddr(addr(2)), 9)
	prefix := Entry{Count: 1}
	got := s.Top([]Entry{prefix})
	want := []Entry{prefix, {Key: addr(2), Count: 9}, {Key: addr(1), Count: 3}}
	if !slices.Equal(got, want) {
		t.Errorf("Top = %v, want %v", got, want)
	}
}

// TestSpaceSavingZipf streams skewed traffic through a tracker much smaller
// than the key space and checks that the true top 10 come out in order and
// that every reported bound holds.
func TestSpaceSavingZipf(t *testing.T) {
	tests := []struct {
		name   string
		s      float64
		k      int
		weight func(x uint64) uint64
	}{
		{"packets s=1.1", 1.1, 100, func(uint64) uint64 { return 1 }},
		{"packets s=1.5", 1.5, 50, func(uint64) uint64 { return 1 }},
		{"bytes s=1.2", 1.2, 200, func(x uint64) uint64 { return 64 + Mix64(x)%1400 }},
	}
	const events = 1_000_000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), tt.s, 1, 1<<20)
			s := NewSpaceSaving(tt.k)
			counts := map[[16]byte]uint64{}
			for range events {
				x := z.Uint64()
				// Scatter ranks over the address space so that rank does
				// not follow key order.
				key := addr(Mix64(x) & 0xffffff)
				w := tt.weight(x)
				s.Add(key, HashAddr(key), w)
				counts[key] += w
			}
			checkInvariants(t, s, tt.k)
			got, want := s.Top(nil), exactTop(counts)
			for i := range 10 {
				if got[i].Key != want[i].Key {
					t.Errorf("rank %d: key %x (count %d), want %x (count %d)", i, got[i].Key[12:], got[i].Count, want[i].Key[12:], want[i].Count)
				}
			}
			bound := s.Total() / uint64(tt.k)
			for _, e := range got {
				if c := counts[e.Key]; e.Count-e.Err > c || e.Count < c || e.Err > bound {
					t.Fatalf("key %x: true %d outside [%d, %d] or error above %d", e.Key[12:], c, e.Count-e.Err, e.Count, bound)
				}
			}
		})
	}
}

// TestSpaceSavingFlood sends a million distinct random keys with one key
// carrying 2% of the packets, as during a spoofed-source flood hiding an
// attacker: memory must not grow and the heavy key must stay on top.
func TestSpaceSavingFlood(t *testing.T) {
	const k = 1000
	s := NewSpaceSaving(k)
	heavy := addr(0xc0a801)
	src := rand.NewPCG(0, 0)
	rng := rand.New(src)
	flood := func() {
		src.Seed(5, 6)
		for i := range 1_000_000 {
			var key [16]byte
			if i%50 == 0 {
				key = heavy
			} else {
				key = [16]byte{0x20, 0x01, 0x0d, 0xb8}
				for j := 4; j < 16; j++ {
					key[j] = byte(rng.Uint32())
				}
			}
			s.Add(key, HashAddr(key), 1)
		}
	}
	flood() // construction is done; everything after must not allocate
	if n := testing.AllocsPerRun(1, flood); n != 0 {
		t.Errorf("a million Adds allocate %v times, want 0", n)
	}
	checkInvariants(t, s, k)
	top := s.Top(nil)
	if len(top) != k {
		t.Fatalf("tracking %d keys, want %d", len(top), k)
	}
	// AllocsPerRun floods twice more (warm-up and measured run); each flood
	// holds 20000 heavy packets.
	if e := top[0]; e.Key != heavy || e.Count < 60000 || e.Count-e.Err > 60000 {
		t.Errorf("top entry %x count %d err %d, want the heavy key bounding 60000", e.Key, e.Count, e.Err)
	}
	t.Logf("heavy key: count %d err %d; smallest tracked count %d", top[0].Count, top[0].Err, top[k-1].Count)
}

// TestSpaceSavingHashOnlyAffectsSpeed feeds the same stream with real hashes
// and with every hash equal, the worst case an attacker can force: the
// output must be identical, which also exercises backward-shift deletion
// along one long probe run.
const collidingHash = 0x5eed

func TestSpaceSavingHashOnlyAffectsSpeed(t *testing.T) {
	const k = 64
	good, bad := NewSpaceSaving(k), NewSpaceSaving(k)
	z := rand.NewZipf(rand.New(rand.NewPCG(7, 8)), 1.3, 1, 5000)
	for range 100000 {
		key := addr(z.Uint64())
		good.Add(key, HashAddr(key), 1)
		bad.Add(key, collidingHash, 1)
	}
	checkInvariants(t, good, k)
	checkInvariants(t, bad, k)
	if g, b := good.Top(nil), bad.Top(nil); !slices.Equal(g, b) {
		t.Errorf("colliding hashes changed the output:\n%v\n%v", g, b)
	}
}

func TestSpaceSavingReset(t *testing.T) {
	s := NewSpaceSaving(8)
	for i := range uint64(100) {
		s.Add(addr(i), HashAddr(addr(i)), i+1)
	}
	s.Reset()
	if len(s.Top(nil)) != 0 || s.Total() != 0 {
		t.Fatal("tracker not empty after Reset")
	}
	s.Add(addr(1), HashAddr(addr(1)), 5)
	s.Add(addr(2), HashAddr(addr(2)), 2)
	s.Add(addr(1), HashAddr(addr(1)), 1)
	want := []Entry{{Key: addr(1), Count: 6}, {Key: addr(2), Count: 2}}
	if got := s.Top(nil); !slices.Equal(got, want) {
		t.Errorf("Top after Reset = %v, want %v", got, want)
	}
	checkInvariants(t, s, 8)
}

func TestSpaceSavingAddAllocs(t *testing.T) {
	s := NewSpaceSaving(100)
	var i uint64
	if n := testing.AllocsPerRun(10000, func() {
		i++
		key := addr(Mix64(i) % 1000)
		s.Add(key, HashAddr(key), 1)
	}); n != 0 {
		t.Errorf("Add allocates %v times, want 0", n)
	}
}

// TestFilteredSpaceSavingExactWhenSmall: with no more keys than slots and
// an empty filter, counts are exact.
func TestFilteredSpaceSavingExactWhenSmall(t *testing.T) {
	s := NewFilteredSpaceSaving(16, 1024)
	want := map[[16]byte]uint64{}
	for i := range 10 {
		k := keyN(uint64(i))
		for range i + 1 {
			s.Add(k, HashAddr(k), 1)
			want[k]++
		}
	}
	for _, e := range s.Top(nil) {
		if e.Count != want[e.Key] || e.Err != 0 {
			t.Errorf("key %x: Count %d Err %d, want %d exact", e.Key[12:], e.Count, e.Err, want[e.Key])
		}
	}
}

// TestFilteredSpaceSavingFindsHeavyInFlood hides one key seen 2000 times in a
// flood of a million keys seen once: the filter must still admit it, and
// Count-Err must be a lower bound close to its weight.
func TestFilteredSpaceSavingFindsHeavyInFlood(t *testing.T) {
	s := NewFilteredSpaceSaving(16, 8192)
	heavy := keyN(1 << 40)
	for i := range uint64(1_000_000) {
		k := keyN(i)
		s.Add(k, HashAddr(k), 1)
		if i%500 == 0 {
			s.Add(heavy, HashAddr(heavy), 1)
		}
	}
	top := s.Top(nil)
	if top[0].Key != heavy {
		t.Fatalf("heaviest entry %x (count %d), want the heavy key", top[0].Key[12:], top[0].Count)
	}
	lower := top[0].Count - top[0].Err
	if lower > 2000 || lower < 1800 {
		t.Errorf("heavy key lower bound %d, want within 10%% below its 2000", lower)
	}
	for _, e := range top[1:] {
		if e.Count-e.Err > 1 {
			t.Errorf("flood key %x has lower bound %d, want at most 1", e.Key[12:], e.Count-e.Err)
		}
	}
	if n := testing.AllocsPerRun(1000, func() { k := keyN(7); s.Add(k, HashAddr(k), 1) }); n != 0 {
		t.Errorf("Add allocates %v times", n)
	}
}

// keyN is the 16-byte key for n, big-endian in the last 8 bytes.
func keyN(n uint64) (k [16]byte) {
	for i := range 8 {
		k[15-i] = byte(n >> (8 * i))
	}
	return k
}

// addProbing is Add as it was before it skipped the index for light keys:
// every Add of a filtered summary probes the index.
func (s *SpaceSaving) addProbing(key [16]byte, hash uint64, weight uint64) {
	if weight == 0 {
		return
	}
	s.total += weight
	var est uint64
	if s.filter != nil {
		est = s.estimate(hash, weight)
	}
	h := uint32(hash)
	i := h & s.mask
	for ; s.index[i] != 0; i = (i + 1) & s.mask {
		slot := s.index[i]
		e := int32(slot) - 1
		if uint32(slot>>32) == h && s.keys[e] == key {
			p := s.heapPos[e]
			s.heap[p].count += weight
			s.down(int(p))
			return
		}
	}
	count, errw := weight, uint64(0)
	if s.filter != nil {
		count, errw = est, est-weight
	}
	if len(s.keys) < cap(s.keys) {
		e := int32(len(s.keys))
		s.keys = append(s.keys, key)
		s.errs[e] = errw
		s.hashes[e] = h
		s.index[i] = uint64(h)<<32 | uint64(e+1)
		s.heapPos[e] = int32(len(s.heap))
		s.heap = append(s.heap, heapNode{count: count, e: e})
		s.up(len(s.heap) - 1)
		return
	}
	root := &s.heap[0]
	if est <= root.count {
		return
	}
	e := root.e
	s.unindex(e)
	s.keys[e] = key
	s.hashes[e] = h
	root.count, s.errs[e] = count, errw
	i = h & s.mask
	for s.index[i] != 0 {
		i = (i + 1) & s.mask
	}
	s.index[i] = uint64(h)<<32 | uint64(e+1)
	s.down(0)
}

// TestFilteredSpaceSavingSkipsLightKeys: skipping the index for keys too
// light to be tracked leaves the summary exactly as probing did, with
// narrow filters (collisions), heavy-tailed keys, ties, and weights that
// saturate the counters.
func TestFilteredSpaceSavingSkipsLightKeys(t *testing.T) {
	for _, c := range []struct {
		k, width, keys int
		maxWeight      uint64
	}{
		{4, 16, 50, 1},
		{16, 64, 1000, 1},
		{16, 8192, 100000, 3},
		{8, 32, 300, 1 << 20},
		{4, 16, 40, 1 << 31},
	} {
		r := rand.New(rand.NewPCG(uint64(c.k), uint64(c.width)))
		got, want := NewFilteredSpaceSaving(c.k, c.width), NewFilteredSpaceSaving(c.k, c.width)
		for i := range 200000 {
			// Squaring a uniform draw skews it toward the low keys.
			u := r.Float64()
			key := keyN(uint64(u * u * float64(c.keys)))
			w := 1 + r.Uint64N(c.maxWeight)
			got.Add(key, HashAddr(key), w)
			want.addProbing(key, HashAddr(key), w)
			if i%997 == 0 || i == 199999 {
				if !slices.Equal(got.Top(nil), want.Top(nil)) || !slices.Equal(got.filter, want.filter) || got.total != want.total {
					t.Fatalf("k=%d width=%d: after %d adds the summaries differ:\n got %v\nwant %v", c.k, c.width, i+1, got.Top(nil), want.Top(nil))
				}
			}
		}
	}
}
