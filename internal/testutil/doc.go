// Package testutil holds the waits baton's tests share: polling a condition
// with a deadline instead of sleeping (Eventually, EventuallyNil, Poll),
// receiving from a channel with a deadline (Recv), and running work on a
// goroutine of its own whose failure is reported on the test goroutine (Go).
//
// Every helper that fails a test does so on the test goroutine, where
// t.Fatal is allowed (testing.T.FailNow "must be called from the goroutine
// running the test"); code on other goroutines uses Poll and returns errors.
// The deadlines are upper bounds for liveness, never timed assertions: a
// condition that holds is seen at once, one that never holds fails after
// Timeout, on a machine as slow as it needs to be.
package testutil
