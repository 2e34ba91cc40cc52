package geoip

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestIndexCodeLabel(t *testing.T) {
	for _, c := range []struct {
		code  string
		idx   uint16
		back  string
		label string
	}{
		{"AA", 1, "AA", "AA"},
		{"ZZ", NumCodes, "ZZ", "ZZ"},
		{"de", Index("DE"), "DE", "DE"},
		{"US", 1 + 20*26 + 18, "US", "US"},
		{"", Unknown, "", LabelUnknown},
		{"EUR", Unknown, "", LabelUnknown},
		{"D1", Unknown, "", LabelUnknown},
		{"É", Unknown, "", LabelUnknown},
	} {
		idx := Index(c.code)
		if idx != c.idx || Code(idx) != c.back || Label(idx) != c.label {
			t.Errorf("Index(%q) = %d (code %q, label %q), want %d (%q, %q)", c.code, idx, Code(idx), Label(idx), c.idx, c.back, c.label)
		}
	}
	if Code(Other) != "" || Label(Other) != LabelOther || Code(Other+1) != "" || Label(65535) != LabelUnknown {
		t.Error("Other and out-of-range indexes")
	}
	for i := uint16(1); i <= NumCodes; i++ {
		if Index(Code(i)) != i {
			t.Fatalf("Index(Code(%d)) = %d", i, Index(Code(i)))
		}
	}
}

// counter counts packets of sizes per code.
func counter(packets map[string][]int) *Counter {
	c := &Counter{}
	for code, sizes := range packets {
		for _, s := range sizes {
			c.Add(Index(code), s)
		}
	}
	return c
}

func TestTop(t *testing.T) {
	for _, c := range []struct {
		name    string
		packets map[string][]int
		n       int
		rows    []Row
		other   Row
	}{
		{"empty", nil, 20, []Row{}, Row{Other, "other", 0, 0}},
		{"ranked by packets, not bytes", map[string][]int{"US": {1, 1, 1}, "DE": {1500, 1500}, "FR": {60}}, 2,
			[]Row{{Index("US"), "US", 3, 3}, {Index("DE"), "DE", 2, 3000}}, Row{Other, "other", 1, 60}},
		{"ties by code", map[string][]int{"US": {1}, "AT": {2}, "CN": {3}, "BR": {4}}, 3,
			[]Row{{Index("AT"), "AT", 1, 2}, {Index("BR"), "BR", 1, 4}, {Index("CN"), "CN", 1, 3}}, Row{Other, "other", 1, 1}},
		{"unknown apart, after the countries", map[string][]int{"": {100, 100, 100, 100}, "JP": {10}, "KR": {20}}, 1,
			[]Row{{Index("JP"), "JP", 1, 10}, {Unknown, "unknown", 4, 400}}, Row{Other, "other", 1, 20}},
		{"n beyond the countries", map[string][]int{"NL": {5}, "": {7}}, 20,
			[]Row{{Index("NL"), "NL", 1, 5}, {Unknown, "unknown", 1, 7}}, Row{Other, "other", 0, 0}},
		{"n zero", map[string][]int{"NL": {5}, "BE": {6}}, 0, []Row{}, Row{Other, "other", 2, 11}},
		{"n negative", map[string][]int{"NL": {5}}, -3, []Row{}, Row{Other, "other", 1, 5}},
		{"negative sizes count packets only", map[string][]int{"NL": {-5, 5}}, 1, []Row{{Index("NL"), "NL", 2, 5}}, Row{Other, "other", 0, 0}},
	} {
		cnt := counter(c.packets)
		rows, other := cnt.Top(c.n)
		if !reflect.DeepEqual(rows, c.rows) || other != c.other {
			t.Errorf("%s: Top(%d) = %v, %v; want %v, %v", c.name, c.n, rows, other, c.rows, c.other)
		}
	}
}

// Whatever the n, the rows and other add up to the totals.
func TestTopSums(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	c := &Counter{}
	for range 100000 {
		c.Add(uint16(rng.IntN(NumCodes+1)), rng.IntN(1500))
	}
	c.Add(Other, 40)  // out of range: unknown
	c.Add(65535, 100) // out of range: unknown
	packets, bytes := c.Totals()
	if packets != 100002 {
		t.Fatalf("totals %d packets", packets)
	}
	for _, n := range []int{0, 1, 20, 675, 676, 1000} {
		rows, other := c.Top(n)
		p, b := other.Packets, other.Bytes
		for _, r := range rows {
			p += r.Packets
			b += r.Bytes
		}
		if p != packets || b != bytes {
			t.Errorf("Top(%d): rows and other sum to %d packets %d bytes, totals are %d and %d", n, p, b, packets, bytes)
		}
		if want := min(n, NumCodes) + 1; len(rows) != want {
			t.Errorf("Top(%d): %d rows, want %d", n, len(rows), want)
		}
	}
}

func TestMergeReset(t *testing.T) {
	a := counter(map[string][]int{"US": {10}, "": {1}})
	b := counter(map[string][]int{"US": {5}, "FR": {7}})
	a.Merge(b)
	rows, _ := a.Top(5)
	want := []Row{{Index("US"), "US", 2, 15}, {Index("FR"), "FR", 1, 7}, {Unknown, "unknown", 1, 1}}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("merged %v, want %v", rows, want)
	}
	a.Reset()
	if p, by := a.Totals(); p != 0 || by != 0 {
		t.Errorf("after Reset: %d packets %d bytes", p, by)
	}
}

func TestCumulative(t *testing.T) {
	c := NewCumulative(2)
	windows := []map[string][]int{
		{"US": {1, 1, 1}, "DE": {1, 1}, "FR": {1}, "": {9}}, // US, DE named; FR other
		{"FR": {5, 5, 5}, "US": {1, 1}, "CN": {1}},          // FR named from now; CN other
		{"CN": {2}}, // CN ranks: named
		{"BR": {1}, "US": {1}, "DE": {1}, "AT": {1}}, // AT, BR rank by code
	}
	want := [][]Row{
		{{Unknown, "unknown", 1, 9}, {Index("DE"), "DE", 2, 2}, {Index("US"), "US", 3, 3}, {Other, "other", 1, 1}},
		{{Unknown, "unknown", 1, 9}, {Index("DE"), "DE", 2, 2}, {Index("FR"), "FR", 3, 15}, {Index("US"), "US", 5, 5}, {Other, "other", 2, 2}},
		{{Unknown, "unknown", 1, 9}, {Index("CN"), "CN", 1, 2}, {Index("DE"), "DE", 2, 2}, {Index("FR"), "FR", 3, 15}, {Index("US"), "US", 5, 5}, {Other, "other", 2, 2}},
		{{Unknown, "unknown", 1, 9}, {Index("AT"), "AT", 1, 1}, {Index("BR"), "BR", 1, 1}, {Index("CN"), "CN", 1, 2}, {Index("DE"), "DE", 3, 3}, {Index("FR"), "FR", 3, 15}, {Index("US"), "US", 6, 6}, {Other, "other", 2, 2}},
	}
	for i, w := range windows {
		c.Add(counter(w))
		if got := c.Rows(); !reflect.DeepEqual(got, want[i]) {
			t.Errorf("after window %d: %v\nwant %v", i, got, want[i])
		}
	}
	if NewCumulative(0).k != DefaultTop {
		t.Error("k 0 is not the default")
	}
}

// However the traffic spreads, the labels are bounded, only grow, and the
// counters only grow and add up to everything counted.
func TestCumulativeBounded(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	c := NewCumulative(DefaultTop)
	var total uint64
	prev := map[string]uint64{}
	for range 300 {
		w := &Counter{}
		for range 200 {
			w.Add(uint16(rng.IntN(NumCodes+1)), 100)
		}
		total += 200
		c.Add(w)
		rows := c.Rows()
		if len(rows) > NumCodes+2 || rows[0].Label != LabelUnknown || rows[len(rows)-1].Label != LabelOther {
			t.Fatalf("%d rows, first %q last %q", len(rows), rows[0].Label, rows[len(rows)-1].Label)
		}
		var sum uint64
		seen := map[string]bool{}
		for _, r := range rows {
			sum += r.Packets
			seen[r.Label] = true
			if r.Packets < prev[r.Label] || r.Bytes != 100*r.Packets {
				t.Fatalf("%s went from %d to %d packets (%d bytes)", r.Label, prev[r.Label], r.Packets, r.Bytes)
			}
			prev[r.Label] = r.Packets
		}
		for l := range prev {
			if !seen[l] {
				t.Fatalf("label %q went away", l)
			}
		}
		if sum != total {
			t.Fatalf("rows sum to %d packets, %d counted", sum, total)
		}
	}
}
