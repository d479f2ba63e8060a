package drain

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func TestRetirePostsThenPollsWaitThenSignals(t *testing.T) {
	docker := newFakeDocker("SIGTERM")
	addr := hookServer(t, docker, 3) // drained on the third poll
	r := &Retirer{Docker: docker}
	rep, err := r.Retire(context.Background(), RetireSpec{ID: "c", Name: "worker", Addr: addr,
		Grace: 5 * time.Second, PreStop: PreStop{HTTP: "/drain", Wait: "/drained", Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if got := docker.log(); got != "POST /drain, GET /drained 200, signal SIGTERM, remove" {
		t.Fatalf("order: %s", got)
	}
	if rep.Killed || !rep.Removed {
		t.Fatalf("report %+v: want no SIGKILL and the container removed", rep)
	}
	// Two 202s came first, each followed by a poll interval.
	if rep.PreStopWait < 2*waitPollInterval {
		t.Fatalf("wait took %s: the 200 cannot have come after two 202s", rep.PreStopWait)
	}
}

func TestRetireKillsAfterGraceWhenStopSignalIgnored(t *testing.T) {
	docker := newFakeDocker("SIGKILL") // ignores its stop signal
	docker.exitCode = 137
	r := &Retirer{Docker: docker}
	const grace = 300 * time.Millisecond
	start := time.Now()
	rep, err := r.Retire(context.Background(), RetireSpec{ID: "c", Name: "stubborn", StopSignal: "SIGQUIT", Grace: grace})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Killed || docker.log() != "signal SIGQUIT, signal SIGKILL, remove" {
		t.Fatalf("killed=%v calls=%s", rep.Killed, docker.log())
	}
	if time.Since(start) < grace || rep.Stop < grace {
		t.Fatalf("SIGKILL %s after the stop signal, before the %s grace ended", rep.Stop, grace)
	}
	if rep.ExitCode != 137 {
		t.Fatalf("exit code %d, want 137", rep.ExitCode)
	}
}

func TestRetireNoKillWhenContainerStopsOnSIGTERM(t *testing.T) {
	docker := newFakeDocker("SIGTERM")
	rep, err := (&Retirer{Docker: docker}).Retire(context.Background(), RetireSpec{ID: "c", Grace: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Killed || docker.log() != "signal SIGTERM, remove" {
		t.Fatalf("killed=%v calls=%s: want the default SIGTERM and no SIGKILL", rep.Killed, docker.log())
	}
	if rep.Stop > 10*time.Second {
		t.Fatalf("stop took %s: it should end at the exit, not at the grace", rep.Stop)
	}
}

func TestRetireExecHookExitEndsTheWait(t *testing.T) {
	docker := newFakeDocker("SIGTERM")
	r := &Retirer{Docker: docker} // Docker also implements Execer
	rep, err := r.Retire(context.Background(), RetireSpec{ID: "c",
		PreStop: PreStop{Exec: "/app/drain --wait", Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if got := docker.log(); got != "exec /app/drain --wait, signal SIGTERM, remove" || rep.Killed {
		t.Fatalf("calls %s, killed %v", got, rep.Killed)
	}
}

func TestRetireShellExecHookRunsUnderSh(t *testing.T) {
	docker := newFakeDocker("SIGTERM")
	_, err := (&Retirer{Docker: docker}).Retire(context.Background(), RetireSpec{ID: "c",
		PreStop: PreStop{Exec: "touch /tmp/stop; sleep 1", Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(docker.log(), "exec /bin/sh -c touch /tmp/stop; sleep 1,") {
		t.Fatalf("calls %s", docker.log())
	}
}

func TestRetireSignalHookThenWait(t *testing.T) {
	docker := newFakeDocker("SIGTERM")
	addr := hookServer(t, docker, 2)
	_, err := (&Retirer{Docker: docker}).Retire(context.Background(), RetireSpec{ID: "c", Addr: addr,
		PreStop: PreStop{Signal: "SIGTSTP", Wait: "/drained", Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if got := docker.log(); got != "signal SIGTSTP, GET /drained 200, signal SIGTERM, remove" {
		t.Fatalf("order: %s", got)
	}
}

func TestRetireStopsAnywayWhenWorkerNeverDrains(t *testing.T) {
	docker := newFakeDocker("SIGTERM")
	addr := hookServer(t, docker, 1<<30) // never answers 200
	rep, err := (&Retirer{Docker: docker}).Retire(context.Background(), RetireSpec{ID: "c", Addr: addr,
		PreStop: PreStop{HTTP: "/drain", Wait: "/drained", Timeout: 400 * time.Millisecond}})
	if !errors.Is(err, ErrNotDrained) {
		t.Fatalf("err = %v, want ErrNotDrained", err)
	}
	if !rep.Removed || docker.log() != "POST /drain, signal SIGTERM, remove" {
		t.Fatalf("removed %v, calls %s: the container must still be stopped and removed", rep.Removed, docker.log())
	}
	if rep.PreStopWait < 300*time.Millisecond {
		t.Fatalf("gave up after %s, before the 400ms timeout", rep.PreStopWait)
	}
}

func TestRetireSkipsSignalsWhenHookStoppedTheContainer(t *testing.T) {
	docker := newFakeDocker()
	docker.execRun = docker.exit // `kill -TERM 1`: the hook ends the container itself
	addr := hookServer(t, docker, 1<<30)
	rep, err := (&Retirer{Docker: docker}).Retire(context.Background(), RetireSpec{ID: "c", Addr: addr,
		PreStop: PreStop{Exec: "kill -TERM 1", Wait: "/drained", Timeout: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Killed || docker.log() != "exec kill -TERM 1, remove" {
		t.Fatalf("killed %v, calls %s: want no signal to an exited container", rep.Killed, docker.log())
	}
	if rep.PreStopWait > 10*time.Second {
		t.Fatalf("waited %s for a container that had exited", rep.PreStopWait)
	}
}

func TestRetireErrorsNameContainerAndStep(t *testing.T) {
	docker := &failingSignal{fakeDocker: newFakeDocker()}
	_, err := (&Retirer{Docker: docker}).Retire(context.Background(), RetireSpec{ID: "0123456789abcdef", Name: "web-1"})
	if err == nil || !strings.Contains(err.Error(), "web-1 (0123456789ab)") || !strings.Contains(err.Error(), "stop signal SIGTERM") {
		t.Fatalf("err = %v: want the container and the step named", err)
	}
	if strings.Contains(docker.log(), "remove") {
		t.Fatal("removed a container that could not be stopped")
	}
}

type failingSignal struct{ *fakeDocker }

func (f *failingSignal) Signal(context.Context, string, string) error {
	return errors.New("engine unreachable")
}

func TestRetireOfExitedContainerIgnoresUnreachableHook(t *testing.T) {
	docker := newFakeDocker()
	docker.exit() // crashed before its retirement
	rep, err := (&Retirer{Docker: docker}).Retire(context.Background(), RetireSpec{ID: "c", Addr: deadAddr(t),
		PreStop: PreStop{HTTP: "/drain", Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatalf("err = %v: a hook that cannot reach an exited container is not a failure", err)
	}
	if rep.PreStopErr == nil || !rep.Removed || docker.log() != "remove" {
		t.Fatalf("report %+v, calls %s", rep, docker.log())
	}
}

// deadAddr is a loopback address that refuses connections.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
