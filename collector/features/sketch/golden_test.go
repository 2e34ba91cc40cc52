package sketch

import (
	"fmt"
	"testing"
)

// TestGolden pins outputs for fixed inputs. The exporter's golden tests rely
// on these numbers being the same in every process and release; a change
// here means their expectations must be regenerated, deliberately.
func TestGolden(t *testing.T) {
	h := NewHLL(14)
	for i := range uint64(100000) {
		h.Add(HashAddr(addr(i)))
	}
	bf := NewBloom(1<<16, 4)
	seen := 0
	for i := range uint64(20000) {
		if bf.TestAndAdd(Mix64(i)) {
			seen++
		}
	}
	hist := NewHistogram(4096)
	for i := range uint64(3000) {
		hist.Add(Mix64(i%700), i%7+1)
	}
	ss := NewSpaceSaving(4)
	for i := range uint64(1000) {
		key := addr(Mix64(i) % 9)
		ss.Add(key, HashAddr(key), i%5+1)
	}
	top := ss.Top(nil)

	got := fmt.Sprintf("hll=%d bloom=%d/%d entropy=%.12f top=%x:%d:%d %x:%d:%d",
		h.Estimate(), seen, bf.Len(), hist.Entropy(),
		top[0].Key[12:], top[0].Count, top[0].Err, top[3].Key[12:], top[3].Count, top[3].Err)
	const want = "hll=101444 bloom=1492/18508 entropy=9.089529534901 top=0a000001:751:746 0a000004:747:742"
	if got != want {
		t.Errorf("golden output changed:\n got %s\nwant %s", got, want)
	}
}
