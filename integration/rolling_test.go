package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/batonproxy/baton/admin"
	"github.com/batonproxy/baton/integration/harness"
)

// capacity polls baton's status and records the fewest ready targets of web.
type capacity struct {
	mu   sync.Mutex
	min  int
	stop chan struct{}
	done chan struct{}
}

func watchCapacity(t *testing.T, b *harness.Baton) *capacity {
	c := &capacity{min: 1 << 30, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			select {
			case <-c.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			out, code := b.CLI("status", "--json")
			if code != 0 {
				continue
			}
			var st admin.Status
			if json.Unmarshal([]byte(out), &st) != nil {
				continue
			}
			for _, s := range st.Services {
				if s.Name != "web" {
					continue
				}
				ready := 0
				for _, tg := range s.Targets {
					if tg.State == "ready" {
						ready++
					}
				}
				c.mu.Lock()
				if ready < c.min {
					c.min = ready
				}
				c.mu.Unlock()
			}
		}
	}()
	return c
}

func (c *capacity) Stop() int {
	close(c.stop)
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.min
}

func rollingService(t *testing.T, img string, binds []string) (*harness.Baton, []harness.Container) {
	t.Helper()
	net := harness.Network(t)
	b := harness.StartBaton(t, "")
	l := labels(map[string]string{"baton.service": "web", "baton.host": "web.test", "baton.deploy.strategy": "rolling",
		"baton.deploy.max_parallel": "1", "baton.deploy.stagger": "1s", "baton.drain.timeout": "3s", "baton.verify.timeout": "3s", "baton.health.deadline": "30s"})
	var cs []harness.Container
	for i := 0; i < 3; i++ {
		cs = append(cs, harness.Run(t, harness.ContainerOpts{Image: img, Network: net, Labels: l, Binds: binds, Restart: "on-failure"}))
	}
	harness.Eventually(t, 30*time.Second, "three ready replicas", func() bool {
		out, _ := b.CLI("status")
		return strings.Count(out, "(ready,") == 3
	})
	return b, cs
}

func TestRollingDeployKeepsCapacity(t *testing.T) {
	v1, v2 := release(t, "aaaaaaa"), release(t, "bbbbbbb")
	b, _ := rollingService(t, v1, nil)
	load := (&harness.Load{URL: b.URL + "/", Host: "web.test", Workers: 6}).Start()
	capac := watchCapacity(t, b)
	out, code := b.CLI("deploy", "web", "--image", v2)
	fewest := capac.Stop()
	rep := load.Stop()
	t.Logf("rolling deploy exit %d, fewest ready replicas %d, load %s:\n%s", code, fewest, rep, out)
	if code != 0 || strings.Count(out, "batch ") < 3 {
		t.Fatalf("rolling deploy failed or did not run in batches")
	}
	if fewest < 3 {
		t.Fatalf("capacity dropped to %d ready replicas", fewest)
	}
	if rep.Non2xx != 0 || rep.ConnErrors != 0 {
		t.Fatalf("users saw errors: %s", rep)
	}
	status, _ := b.CLI("status")
	if strings.Count(status, "(ready,") != 3 || !strings.Contains(status, "bbbbbbb") {
		t.Fatalf("after the rolling deploy:\n%s", status)
	}
}

func TestRollingDeployCrashInSecondBatchRestoresTheFirst(t *testing.T) {
	shared := t.TempDir()
	os.Chmod(shared, 0o777)
	v1 := release(t, "aaaaaaa")
	// Starts once, then crashes: the first batch passes, the second crash-loops.
	bad := release(t, "ccccccc", "CRASH_AFTER_STARTS=1", "STARTS_FILE=/shared/starts")
	b, old := rollingService(t, v1, []string{shared + ":/shared"})
	load := (&harness.Load{URL: b.URL + "/", Host: "web.test", Workers: 6}).Start()
	out, code := b.CLI("deploy", "web", "--image", bad)
	rep := load.Stop()
	t.Logf("exit %d, load %s:\n%s", code, rep, out)
	if code != 5 || !strings.Contains(out, "batch 2/3") || !strings.Contains(out, "crash_loop") {
		t.Fatalf("want a revert in batch 2 with cause crash_loop")
	}
	if rep.Non2xx != 0 || rep.ConnErrors != 0 {
		t.Fatalf("users saw errors: %s", rep)
	}
	harness.Eventually(t, 30*time.Second, "three ready replicas of the old release", func() bool {
		status, _ := b.CLI("status")
		return strings.Count(status, "(ready,") == 3 && !strings.Contains(status, "ccccccc")
	})
	if harness.Exists(t, old[0].ID) {
		t.Fatal("the first replaced replica was not retired in batch 1 (nothing to restore)")
	}
	if _, err := os.Stat(filepath.Join(shared, "starts")); err != nil {
		t.Fatal("the crashing release never started")
	}
}
