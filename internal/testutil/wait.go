package testutil

import (
	"testing"
	"time"
)

// WaitFor polls cond until it holds, failing the test after 10 s: for
// what another goroutine (a pipeline, a sender, a reloader) does soon.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
