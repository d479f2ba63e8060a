package h1

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestConnContextRunsTheHookOnceWhenTheConnectionEnds(t *testing.T) {
	c, cancel := newConnContext(context.Background())
	ran := make(chan struct{}, 2)
	f := func() { ran <- struct{}{} }
	c.OnDone(&f)
	cancel(errors.New("client left"))
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("the hook did not run when the connection's context ended")
	}
	if c.StopOnDone(&f) {
		t.Fatal("StopOnDone reported it stopped a hook that already ran")
	}
	select {
	case <-ran:
		t.Fatal("the hook ran twice")
	default:
	}
}

func TestConnContextHookStoppedBeforeTheEndNeverRuns(t *testing.T) {
	c, end := newConnContext(context.Background())
	cancel := func() { end(nil) }
	f := func() {}
	c.OnDone(&f)
	other := func() {}
	if c.StopOnDone(&other) {
		t.Fatal("StopOnDone cleared another request's hook")
	}
	if !c.StopOnDone(&f) {
		t.Fatal("StopOnDone did not stop a hook set for the current request")
	}
	if c.hook.Load() != nil {
		t.Fatal("the slot still holds the stopped hook: the connection's end would run it")
	}
	cancel()
}

func TestConnContextHookSetAfterTheEndRunsAtOnce(t *testing.T) {
	c, end := newConnContext(context.Background())
	cancel := func() { end(nil) }
	cancel()
	ran := make(chan struct{}, 1)
	f := func() { ran <- struct{}{} }
	c.OnDone(&f)
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("a hook set on an ended connection did not run")
	}
}

func TestConnContextHookRunsWhenTheServersContextEnds(t *testing.T) {
	base, cancelBase := context.WithCancel(context.Background())
	c, _ := newConnContext(base)
	ran := make(chan struct{}, 1)
	f := func() { ran <- struct{}{} }
	c.OnDone(&f)
	cancelBase()
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("the hook did not run when the server's base context ended")
	}
}
