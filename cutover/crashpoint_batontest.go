//go:build batontest

package cutover

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// The crash matrix's failpoint, in test builds only (go build -tags
// batontest, as the integration harness builds baton): BATON_CRASH_AT=step
// or step:n makes baton SIGKILL itself right after the record of the nth
// write of that step (1 unless given; a rolling deploy writes its steps once
// per batch) reached the disk. It fires once per state dir: the restarted
// baton, which inherits the same environment, resumes without crashing again.
//
// Besides the steps, "created" fires after the record naming a container
// just created is written, "restored" after the record naming a replica a
// rolling revert restored.
var crash struct {
	mu   sync.Mutex
	seen map[Step]int
}

func crashAfter(s *Store, step Step) {
	at := os.Getenv("BATON_CRASH_AT")
	if at == "" || s == nil {
		return
	}
	name, nth := at, 1
	if i := strings.IndexByte(at, ':'); i >= 0 {
		n, err := strconv.Atoi(at[i+1:])
		if err != nil || n < 1 {
			panic(fmt.Sprintf("BATON_CRASH_AT=%q: want step or step:n with n >= 1", at))
		}
		name, nth = at[:i], n
	}
	if Step(name) != step {
		return
	}
	crash.mu.Lock()
	defer crash.mu.Unlock()
	if crash.seen == nil {
		crash.seen = map[Step]int{}
	}
	crash.seen[step]++
	if crash.seen[step] != nth {
		return
	}
	marker := filepath.Join(filepath.Dir(s.dir), "crashpoint.fired")
	if _, err := os.Stat(marker); err == nil {
		return
	}
	if err := os.WriteFile(marker, []byte(at+"\n"), 0o600); err != nil {
		panic("crashpoint marker: " + err.Error())
	}
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // SIGKILL is not caught; nothing after this runs
}
