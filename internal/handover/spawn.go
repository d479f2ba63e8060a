package handover

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Socket is a listener to hand over, with its name (one of the Name constants).
type Socket struct {
	Name     string
	Listener net.Listener
	// Packet is a datagram socket (HTTP/3's UDP) handed over instead of a
	// listener; exactly one of the two is set.
	Packet net.PacketConn
}

// conn is the socket's descriptor holder.
func (s Socket) conn() any {
	if s.Packet != nil {
		return s.Packet
	}
	return s.Listener
}

// Spawn starts the next process with this one's sockets.
type Spawn struct {
	Path    string   // the binary; os.Executable() at the time of the upgrade
	Args    []string // without the program name
	Env     []string // nil: this process's, without LISTEN_* and the upgrade's variables
	Sockets []Socket
	// Stdout and Stderr are where the child writes once ready (this
	// process's own; nil means os.Stdout and os.Stderr).
	Stdout, Stderr *os.File
	// Timeout bounds the wait for the child's "ready".
	Timeout time.Duration
}

// StartError is a child that did not become ready: it exited, said why, or
// timed out. Stderr is the end of what it wrote there.
type StartError struct {
	Path   string
	PID    int
	Reason string // "exited with status 1", "not ready within 1m0s", "error: ..."
	Stderr string
}

func (e *StartError) Error() string {
	msg := fmt.Sprintf("the new process (%s, pid %d) %s", e.Path, e.PID, e.Reason)
	if e.PID == 0 {
		msg = fmt.Sprintf("the new process (%s) %s", e.Path, e.Reason)
	}
	if tail := strings.TrimSpace(e.Stderr); tail != "" {
		msg += "; its stderr ends with:\n" + tail
	}
	return msg
}

// Started is a child that became ready.
type Started struct {
	PID  int
	Info string // what it sent after "ready"

	done *os.File // the write end of the child's ParentDone pipe
	once sync.Once
}

// Release tells the child this process is done with its traffic (the child's
// ParentDone closes). Exiting releases it too.
func (s *Started) Release() {
	s.once.Do(func() { s.done.Close() })
}

// stderrTailBytes is how much of a failed child's stderr is quoted.
const stderrTailBytes = 4 << 10

// Start starts the child with the sockets as fds 3.. (LISTEN_FDS and
// LISTEN_FDNAMES say which is which) and waits until it reports ready, exits
// or times out; a child that did not become ready is killed and reported as
// a *StartError. Until it is ready, the child's stderr is copied to
// s.Stderr and its tail kept for the error.
func (s Spawn) Start(ctx context.Context) (*Started, error) {
	stdout, stderr := s.Stdout, s.Stderr
	if stdout == nil {
		stdout = os.Stdout
	}
	if stderr == nil {
		stderr = os.Stderr
	}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	names := make([]string, 0, len(s.Sockets))
	for _, sock := range s.Sockets {
		f, err := fileOf(sock.conn(), sock.Name)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
		names = append(names, sock.Name)
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer readyR.Close()
	doneR, doneW, err := os.Pipe()
	if err != nil {
		readyW.Close()
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		readyW.Close()
		doneR.Close()
		doneW.Close()
		return nil, err
	}
	n := len(files)
	files = append(files, readyW, doneR, stderr)
	env := s.Env
	if env == nil {
		env = os.Environ()
	}
	env = append(cleanEnv(env),
		fmt.Sprintf("%s=%d", EnvFDs, n),
		EnvNames+"="+strings.Join(names, ":"),
		fmt.Sprintf("%s=%d", EnvReadyFD, firstFD+n),
		fmt.Sprintf("%s=%d", EnvDoneFD, firstFD+n+1),
		fmt.Sprintf("%s=%d", EnvStderrFD, firstFD+n+2),
	)
	cmd := exec.Command(s.Path, s.Args...)
	cmd.Env = env
	cmd.Stdin = nil
	cmd.Stdout = stdout
	cmd.Stderr = errW
	cmd.ExtraFiles = files
	startErr := cmd.Start()
	files = files[:n+2] // the parent's stderr is not ours to close
	errW.Close()
	if startErr != nil {
		errR.Close()
		doneW.Close()
		return nil, &StartError{Path: s.Path, Reason: "could not start: " + startErr.Error()}
	}
	pid := cmd.Process.Pid

	tail := &tailBuffer{max: stderrTailBytes}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		defer errR.Close()
		_, _ = io.Copy(io.MultiWriter(stderr, tail), errR)
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(readyR).ReadString('\n')
		line <- strings.TrimSpace(l)
	}()

	fail := func(reason string) (*Started, error) {
		doneW.Close()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		select {
		case <-copied:
		case <-time.After(time.Second): // a grandchild may hold the pipe
		}
		return nil, &StartError{Path: s.Path, PID: pid, Reason: reason, Stderr: tail.String()}
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case l := <-line:
		switch {
		case l == "ready" || strings.HasPrefix(l, "ready "):
			return &Started{PID: pid, Info: strings.TrimSpace(strings.TrimPrefix(l, "ready")), done: doneW}, nil
		case strings.HasPrefix(l, "error "):
			return fail("failed to start: " + strings.TrimPrefix(l, "error "))
		}
		// The pipe closed without a word: the child exited (or closed it).
		select {
		case err := <-exited:
			exited <- err
			return fail(exitReason(err))
		case <-time.After(5 * time.Second):
			return fail("closed its ready pipe without saying ready")
		}
	case err := <-exited:
		exited <- err
		return fail(exitReason(err))
	case <-timer.C:
		return fail(fmt.Sprintf("not ready within %s", timeout))
	case <-ctx.Done():
		return fail("not ready: " + context.Cause(ctx).Error())
	}
}

func exitReason(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "was killed by " + ws.Signal().String() + " before it was ready"
		}
		return fmt.Sprintf("exited with status %d before it was ready", ee.ExitCode())
	}
	if err == nil {
		return "exited with status 0 before it was ready"
	}
	return "ended before it was ready: " + err.Error()
}

// cleanEnv drops the variables that describe this process's inheritance.
func cleanEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case EnvFDs, EnvPID, EnvNames, EnvReadyFD, EnvDoneFD, EnvStderrFD:
			continue
		}
		out = append(out, kv)
	}
	return out
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
