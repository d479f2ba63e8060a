package testutil

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeT records a failure and ends its goroutine as t.Fatal does.
type fakeT struct {
	testing.TB
	mu       sync.Mutex
	failed   string
	cleanups []func()
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.failed = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}
func (f *fakeT) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }

// run calls body as a test goroutine would and returns the failure, if any.
func run(body func(t *fakeT)) string {
	f := &fakeT{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			for i := len(f.cleanups) - 1; i >= 0; i-- {
				f.cleanups[i]()
			}
		}()
		body(f)
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

func TestEventuallyReturnsOnceTheConditionHolds(t *testing.T) {
	var n atomic.Int32
	if got := run(func(f *fakeT) { Eventually(f, "n reaches 3", func() bool { return n.Add(1) >= 3 }) }); got != "" {
		t.Fatalf("failed: %s", got)
	}
	if n.Load() != 3 {
		t.Fatalf("cond called %d times, want 3 (it must stop polling once true)", n.Load())
	}
}

func TestEventuallyFailsNamingWhatItAwaited(t *testing.T) {
	got := run(func(f *fakeT) {
		EventuallyWithin(f, 10*time.Millisecond, "the drain started", func() bool { return false })
	})
	if !strings.Contains(got, "the drain started") {
		t.Fatalf("failure %q does not name what was awaited", got)
	}
}

func TestEventuallyNilReportsTheLastError(t *testing.T) {
	var n atomic.Int32
	got := run(func(f *fakeT) {
		EventuallyNilWithin(f, 10*time.Millisecond, "targets", func() error {
			return errors.New("seen " + strings.Repeat("x", int(n.Add(1))))
		})
	})
	if want := "seen " + strings.Repeat("x", int(n.Load())); !strings.HasSuffix(got, want) {
		t.Fatalf("failure %q, want it to end with the last error %q", got, want)
	}
}

func TestRecvTakesAValueOrAClose(t *testing.T) {
	ch := make(chan struct{})
	close(ch)
	if got := run(func(f *fakeT) { Recv(f, ch, "the signal") }); got != "" {
		t.Fatalf("a close is a signal, got failure %q", got)
	}
	ch2 := make(chan int, 1)
	ch2 <- 7
	var v int
	if got := run(func(f *fakeT) { v = Recv(f, ch2, "the answer") }); got != "" || v != 7 {
		t.Fatalf("got %d, failure %q", v, got)
	}
}

func TestGoReportsItsErrorOnTheTestGoroutine(t *testing.T) {
	release := make(chan struct{})
	got := run(func(f *fakeT) {
		wait := Go(f, "the client", func() error { <-release; return errors.New("connection refused") })
		close(release)
		wait()
	})
	if got != "the client: connection refused" {
		t.Fatalf("failure %q", got)
	}
	// Not waited for by the test: the cleanup still reports it.
	if got := run(func(f *fakeT) { Go(f, "background", func() error { return errors.New("boom") }) }); got != "background: boom" {
		t.Fatalf("failure at cleanup %q", got)
	}
	if got := run(func(f *fakeT) { w := Go(f, "fine", func() error { return nil }); w(); w() }); got != "" {
		t.Fatalf("failure %q", got)
	}
}
