package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
)

// RunLabel marks every resource this test process creates.
const RunLabel = "batontest.run"

var (
	runID = func() string {
		var b [4]byte
		_, _ = rand.Read(b[:])
		return hex.EncodeToString(b[:])
	}()

	cliOnce sync.Once
	cli     *client.Client
	cliErr  error

	created = &registry{}
)

// RunID identifies this test process's resources.
func RunID() string { return runID }

// Docker returns the engine client. Without an engine the test is skipped with
// a clear message, except in CI (CI=true), where that is a failure: Docker
// tests must never be skipped silently there.
func Docker(t T) *client.Client {
	t.Helper()
	cliOnce.Do(func() {
		cli, cliErr = client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if cliErr == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, cliErr = cli.Ping(ctx)
		}
		if cliErr == nil {
			installInterruptCleanup()
			sweepStale()
		}
	})
	if cliErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Docker engine answers (%v): the integration tests must run in CI", cliErr)
		}
		t.Skipf("no Docker engine answers (%v): skipping the integration test", cliErr)
	}
	return cli
}

// registry remembers what this process created, for interrupt cleanup.
type registry struct {
	mu         sync.Mutex
	containers map[string]bool
	networks   map[string]bool
	images     map[string]bool
}

func (r *registry) add(kind map[string]bool, id string) {
	r.mu.Lock()
	kind[id] = true
	r.mu.Unlock()
}

func (r *registry) remove(kind map[string]bool, id string) {
	r.mu.Lock()
	delete(kind, id)
	r.mu.Unlock()
}

func init() {
	created.containers, created.networks, created.images = map[string]bool{}, map[string]bool{}, map[string]bool{}
}

// removeAll deletes every resource this process created: what the registry
// holds, and whatever else carries this run's label (containers that baton
// created from a labelled container's snapshot during a deploy).
func removeAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	created.mu.Lock()
	defer created.mu.Unlock()
	mine := filters.NewArgs(filters.Arg("label", RunLabel+"="+runID))
	if cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: mine}); err == nil {
		for _, c := range cs {
			created.containers[c.ID] = true
		}
	}
	for id := range created.containers {
		_ = cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	}
	for id := range created.networks {
		_ = cli.NetworkRemove(ctx, id)
	}
	for id := range created.images {
		_, _ = cli.ImageRemove(ctx, id, image.RemoveOptions{Force: true, PruneChildren: true})
	}
}

func installInterruptCleanup() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		killBatons() // first, so no baton creates a container behind removeAll
		removeAll()
		removeBatonBinary()
		signal.Reset()
		p, _ := os.FindProcess(os.Getpid())
		_ = p.Signal(sig)
	}()
}

// Sweep removes what crashed runs left behind: containers, networks and
// images labelled RunLabel and older than an hour, so a test binary killed
// with SIGKILL or by -timeout does not leak them forever. Docker calls it
// once per process; a runner may call it on its own.
func Sweep(t T) {
	t.Helper()
	Docker(t)
	sweepStale()
}

func sweepStale() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	f := filters.NewArgs(filters.Arg("label", RunLabel))
	cutoff := time.Now().Add(-time.Hour)
	sweepBatonBinaries(cutoff)
	if cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f}); err == nil {
		for _, c := range cs {
			if time.Unix(c.Created, 0).Before(cutoff) {
				_ = cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
			}
		}
	}
	if ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: f}); err == nil {
		for _, n := range ns {
			if n.Created.Before(cutoff) {
				_ = cli.NetworkRemove(ctx, n.ID)
			}
		}
	}
	if is, err := cli.ImageList(ctx, image.ListOptions{Filters: f}); err == nil {
		for _, i := range is {
			if time.Unix(i.Created, 0).Before(cutoff) {
				_, _ = cli.ImageRemove(ctx, i.ID, image.RemoveOptions{Force: true, PruneChildren: true})
			}
		}
	}
}
