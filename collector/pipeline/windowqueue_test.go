package pipeline

import (
	"testing"
	"time"

	"github.com/netanomaly/netanomaly_exporter/collector/features"
)

// The queue to the detector holds quiet windows by the hundred, so that a
// replay's features run on while the detector trains, but no more bytes of
// windows than its budget: a flood's windows wait for the detector.
func TestWindowQueueBudget(t *testing.T) {
	big := func() *features.Window {
		return &features.Window{Behaviour: features.Behaviour{Pairs: make([]features.PairActivity, 1000)}}
	}
	n := int64(big().Footprint())
	q := newWindowQueue(100, 3*n)

	// Three fit; the fourth waits until the detector is done with one.
	for range 3 {
		q.put(big())
	}
	put := make(chan struct{})
	go func() { q.put(big()); close(put) }()
	select {
	case <-put:
		t.Fatalf("a fourth window of %d bytes went past a budget of %d", n, 3*n)
	case <-time.After(100 * time.Millisecond):
	}
	q.judged(<-q.ch)
	select {
	case <-put:
	case <-time.After(5 * time.Second):
		t.Fatal("the fourth window still waits after the detector judged one")
	}
	if got := q.queued.Load(); got != 3*n {
		t.Errorf("queued %d bytes, want %d", got, 3*n)
	}

	// A window larger than the whole budget goes when the queue is empty.
	for range 3 {
		q.judged(<-q.ch)
	}
	huge := &features.Window{Behaviour: features.Behaviour{Pairs: make([]features.PairActivity, 5000)}}
	done := make(chan struct{})
	go func() { q.put(huge); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a window larger than the budget waits on an empty queue")
	}

	// Small windows are bounded by the count alone.
	q = newWindowQueue(100, 3*n)
	for range 100 {
		q.put(&features.Window{})
	}
	if len(q.ch) != 100 {
		t.Errorf("%d quiet windows queued, want 100", len(q.ch))
	}
}
