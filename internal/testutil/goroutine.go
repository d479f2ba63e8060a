package testutil

import (
	"sync"
	"testing"
	"time"
)

// Go runs fn on a goroutine of its own and returns wait, which the test
// goroutine calls: it blocks until fn has returned (at most Timeout) and
// fails t with fn's error. fn must report by its error, never through t:
// t.Fatal off the test goroutine does not stop the test (testing.T.FailNow).
// wait is also registered with t.Cleanup, so an error is not lost when the
// test returns without calling it; calling it twice is harmless.
func Go(t testing.TB, what string, fn func() error) (wait func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	var once sync.Once
	wait = func() {
		t.Helper()
		once.Do(func() {
			t.Helper()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			case <-time.After(Timeout):
				t.Fatalf("%s: still running after %s", what, Timeout)
			}
		})
	}
	t.Cleanup(wait)
	return wait
}
