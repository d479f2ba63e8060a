package testutil

import (
	"testing"
	"time"
)

// Timeout bounds every wait of this package: generous, since the machines
// that run the tests are shared and noisy, and a wait that succeeds returns
// as soon as its condition holds.
const Timeout = 10 * time.Second

// Poll calls cond until it returns true or within has passed, and reports
// whether it held. It never touches a *testing.T, so it may run on any
// goroutine. Polls start 1 ms apart and back off to 50 ms.
func Poll(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			return cond() // one last look, after the deadline
		}
		time.Sleep(pause)
		if pause < 50*time.Millisecond {
			pause *= 2
		}
	}
	return true
}

// Eventually fails t unless cond holds within Timeout; what names the
// condition awaited ("the drain started").
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	EventuallyWithin(t, Timeout, what, cond)
}

// EventuallyWithin is Eventually with a bound of its own, for waits that
// are long by nature (an ACME order, a child process starting).
func EventuallyWithin(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(within, cond) {
		t.Fatalf("not true after %s: %s", within, what)
	}
}

// EventuallyNil fails t unless check returns nil within Timeout; the
// failure names what and check's last error, so it says what was seen
// instead ("targets [a], want [b]").
func EventuallyNil(t testing.TB, what string, check func() error) {
	t.Helper()
	EventuallyNilWithin(t, Timeout, what, check)
}

// EventuallyNilWithin is EventuallyNil with a bound of its own.
func EventuallyNilWithin(t testing.TB, within time.Duration, what string, check func() error) {
	t.Helper()
	var last error
	if !Poll(within, func() bool { last = check(); return last == nil }) {
		t.Fatalf("not true after %s: %s: %v", within, what, last)
	}
}

// Recv receives one value from ch, or its close (then the zero value: a
// closed channel is a signal), failing t if neither comes within Timeout.
func Recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(Timeout):
		t.Fatalf("nothing after %s: %s", Timeout, what)
	}
	panic("unreachable: t.Fatalf ends the test goroutine")
}
