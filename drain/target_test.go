package drain

import (
	"context"
	"sync"
	"testing"
)

func TestBeginFinishCountsUnderConcurrency(t *testing.T) {
	tg := NewRegistry().For("a")
	const goroutines, perG = 64, 300
	var started, release sync.WaitGroup
	started.Add(goroutines)
	release.Add(1)
	var done sync.WaitGroup
	for range goroutines {
		done.Go(func() {
			toks := make([]uint64, 0, perG)
			for range perG {
				_, cancel := context.WithCancelCause(context.Background())
				toks = append(toks, tg.Begin(cancel))
			}
			started.Done()
			release.Wait()
			for _, tok := range toks {
				tg.Finish(tok)
			}
		})
	}
	started.Wait()
	if n := tg.InFlight(); n != goroutines*perG {
		t.Fatalf("in flight with every request begun: %d, want %d", n, goroutines*perG)
	}
	release.Done()
	done.Wait()
	if n := tg.InFlight(); n != 0 {
		t.Fatalf("in flight after all finished: %d", n)
	}
	if ended, cancelled := tg.counts(); ended != goroutines*perG || cancelled != 0 {
		t.Fatalf("ended %d cancelled %d, want %d and 0", ended, cancelled, goroutines*perG)
	}
}

func TestFinishIgnoresUnknownAndRepeatedTokens(t *testing.T) {
	tg := NewRegistry().For("a")
	_, cancel := context.WithCancelCause(context.Background())
	tok := tg.Begin(cancel)
	tg.Finish(0)           // a no-op tracker's token
	tg.Finish(tok + 1<<40) // never handed out
	if n := tg.InFlight(); n != 1 {
		t.Fatalf("in flight = %d after bogus Finish calls, want 1", n)
	}
	tg.Finish(tok)
	tg.Finish(tok)
	if n := tg.InFlight(); n != 0 {
		t.Fatalf("in flight = %d after a repeated Finish, want 0", n)
	}
	// The freed slot is reused and still accounted for correctly.
	tok2 := tg.Begin(cancel)
	if tg.InFlight() != 1 {
		t.Fatal("request after a reused slot not counted")
	}
	tg.Finish(tok2)
}

func TestUpgradesCountedAndReleasedOnce(t *testing.T) {
	tg := NewRegistry().For("a")
	a, b := newFakeConn(tg), newFakeConn(tg)
	if n := tg.Upgrades(); n != 2 {
		t.Fatalf("upgrades = %d, want 2", n)
	}
	a.release()
	a.release()
	if n := tg.Upgrades(); n != 1 {
		t.Fatalf("upgrades = %d after releasing one twice, want 1", n)
	}
	b.release()
	if n := tg.Upgrades(); n != 0 {
		t.Fatalf("upgrades = %d, want 0", n)
	}
}

func TestRegistryGivesOneTargetPerID(t *testing.T) {
	r := NewRegistry()
	a := r.For("a")
	if r.For("a") != a {
		t.Fatal("For returned a different Target for the same id")
	}
	if r.For("b") == a {
		t.Fatal("two ids share a Target")
	}
	r.Forget("a")
	if r.For("a") == a {
		t.Fatal("Forget kept the old Target")
	}
}

func TestRegistryForgetsOnlyIdleTargets(t *testing.T) {
	r := NewRegistry()
	a := r.For("a")
	_, cancel := context.WithCancelCause(context.Background())
	tok := a.Begin(cancel)
	if r.ForgetIdle("a") || r.For("a") != a {
		t.Fatal("forgot a target with a request in flight")
	}
	a.Finish(tok)
	up := newFakeConn(a)
	if r.ForgetIdle("a") || r.For("a") != a {
		t.Fatal("forgot a target with an upgraded connection")
	}
	up.release()
	if !r.ForgetIdle("a") || r.For("a") == a {
		t.Fatal("an idle target was kept")
	}
	if !r.ForgetIdle("never-seen") {
		t.Fatal("an unknown id is not forgotten")
	}
}

// BenchmarkBeginFinish measures the per-request cost the proxy pays, with
// many goroutines on one target as under load.
func BenchmarkBeginFinish(b *testing.B) {
	for _, perCPU := range []int{1, 64} {
		b.Run(map[int]string{1: "goroutines=GOMAXPROCS", 64: "goroutines=64xGOMAXPROCS"}[perCPU], func(b *testing.B) {
			tg := NewRegistry().For("a")
			_, cancel := context.WithCancelCause(context.Background())
			b.ReportAllocs()
			b.SetParallelism(perCPU)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					tg.Finish(tg.Begin(cancel))
				}
			})
		})
	}
}

// BenchmarkBeginFinishHeld keeps requests in flight while others come and go,
// so the slot tables and free lists are exercised as under real load.
func BenchmarkBeginFinishHeld(b *testing.B) {
	tg := NewRegistry().For("a")
	_, cancel := context.WithCancelCause(context.Background())
	b.ReportAllocs()
	b.SetParallelism(64)
	b.RunParallel(func(pb *testing.PB) {
		var held [4]uint64
		i := 0
		for j := range held {
			held[j] = tg.Begin(cancel)
		}
		for pb.Next() {
			tg.Finish(held[i])
			held[i] = tg.Begin(cancel)
			i = (i + 1) % len(held)
		}
		for _, tok := range held {
			tg.Finish(tok)
		}
	})
}
