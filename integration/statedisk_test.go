package integration

import (
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/batonproxy/baton/integration/harness"
)

// smallFS mounts a 2 MiB tmpfs at a new dir and unmounts it when the test
// ends; mounted is false where the machine cannot mount (not root, no
// CAP_SYS_ADMIN): the dir is then a plain one, which a user other than root
// can make read-only with chmod.
func smallFS(t *testing.T) (dir string, mounted bool) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Logf("cannot mount a tmpfs as the state dir (uid %d): %v %s", os.Getuid(), err, out)
		return dir, false
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir, true
}

// fill writes zeros into a file on dir's file system until it is full, then
// frees 16 KiB: room for a small record, not for a deploy's (the old
// container's snapshot alone is bigger), as a disk that fills up leaves it.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the state dir: %v", err)
			}
			fi, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(max(0, fi.Size()-16<<10)); err != nil {
				t.Fatal(err)
			}
			return path
		}
	}
}

func stateWriteErrors(t *testing.T, b *harness.Baton) int {
	t.Helper()
	resp, err := http.Get(b.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^baton_state_write_errors_total (\d+)`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no baton_state_write_errors_total in /metrics")
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// With the state dir full, then read-only, `baton deploy` is refused before
// anything changes, the live release goes on serving without an error, and
// status and a metric name the cause; once the disk has room the same deploy
// runs.
func TestStateDiskFullOrReadOnlyRefusesDeploys(t *testing.T) {
	state, mounted := smallFS(t)
	if !mounted && os.Getuid() == 0 {
		// Root writes through any mode bits: with no mount there is no way
		// to make the state dir fail here.
		t.Logf("!!! SKIPPED: no tmpfs can be mounted and root ignores chmod: the full and read-only state disk are NOT tested on this machine")
		t.Skip("!!! the state-disk test needs mount(2) (root with CAP_SYS_ADMIN) or a non-root user")
	}
	v1, v2 := release(t, "aaaaaaa"), release(t, "bbbbbbb")
	net := harness.Network(t)
	t.Cleanup(func() { removeOnNetwork(t, net) })
	b := harness.StartBatonState(t, state, "")
	harness.Run(t, harness.ContainerOpts{Image: v1, Network: net, Restart: "on-failure", Labels: labels(map[string]string{
		"baton.service": "web", "baton.host": "web.test", "baton.drain.timeout": "2s", "baton.stop.grace": "2s", "baton.verify.timeout": "3s"})})
	harness.WaitHTTP(t, b.URL+"/", "web.test", 20*time.Second)
	load := (&harness.Load{URL: b.URL + "/", Host: "web.test", Workers: 4}).Start()

	refused := func(why string) {
		t.Helper()
		before := stateWriteErrors(t, b)
		out, code := b.CLI("deploy", "web", "--image", v2)
		t.Logf("deploy on a %s state dir: exit %d\n%s", why, code, out)
		if code != 3 || !strings.Contains(out, "state_write_failed") || !strings.Contains(out, state) {
			t.Fatalf("deploy on a %s state dir: exit %d, want 3 (refused) naming state_write_failed and %s", why, code, state)
		}
		if _, all := onNetwork(t, net); len(all) != 1 {
			t.Fatalf("a refused deploy created containers: %d on the network", len(all))
		}
		if after := stateWriteErrors(t, b); after <= before {
			t.Fatalf("baton_state_write_errors_total %d -> %d", before, after)
		}
		st, _ := b.CLI("status")
		if !strings.Contains(st, "problems:") || !strings.Contains(st, "state dir "+state) {
			t.Fatalf("status does not name the state dir's problem:\n%s", st)
		}
		if _, rel := getRelease(t, b.URL+"/", "web.test"); rel != "aaaaaaa" {
			t.Fatalf("front door serves %q", rel)
		}
	}

	if mounted {
		filler := fill(t, state)
		refused("full")
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("mount", "-o", "remount,ro", state).CombinedOutput(); err != nil {
			t.Fatalf("remount read-only: %v %s", err, out)
		}
		refused("read-only")
		if out, err := exec.Command("mount", "-o", "remount,rw", state).CombinedOutput(); err != nil {
			t.Fatalf("remount read-write: %v %s", err, out)
		}
	} else {
		// The fallback: a read-only records dir, no full disk.
		t.Logf("!!! no tmpfs: the full state disk is NOT tested here, only a read-only one (chmod)")
		records := filepath.Join(state, "deploys")
		if err := os.Chmod(records, 0o500); err != nil {
			t.Fatal(err)
		}
		refused("read-only")
		if err := os.Chmod(records, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	harness.Eventually(t, 20*time.Second, "the state dir's problem to clear from status", func() bool {
		st, _ := b.CLI("status")
		return !strings.Contains(st, "state dir "+state)
	})
	out, code := b.CLI("deploy", "web", "--image", v2)
	rep := load.Stop()
	if code != 0 {
		t.Fatalf("deploy once the disk has room: exit %d\n%s", code, out)
	}
	t.Logf("load through both refusals and the deploy: %s", rep)
	if rep.Non2xx != 0 || rep.ConnErrors != 0 {
		t.Fatalf("users saw errors: %s", rep)
	}
	if _, rel := getRelease(t, b.URL+"/", "web.test"); rel != "bbbbbbb" {
		t.Fatalf("front door serves %q after the deploy", rel)
	}
}
