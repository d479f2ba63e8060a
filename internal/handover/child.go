package handover

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
)

// The upgrade's own variables, beside LISTEN_*: each names an fd of the child.
const (
	// EnvReadyFD is the pipe the child writes "ready ..." (or "error: ...")
	// to; its presence also marks the process as an upgrade's child.
	EnvReadyFD = "BATON_UPGRADE_READY_FD"
	// EnvDoneFD is a pipe whose only writer is the parent: its end of file
	// says the parent has finished draining (or exited).
	EnvDoneFD = "BATON_UPGRADE_DONE_FD"
	// EnvStderrFD is the parent's own stderr. Until it is ready the child's
	// stderr is a pipe the parent reads (to quote it if the child fails);
	// afterwards the child writes here, where the old process's logs went.
	EnvStderrFD = "BATON_UPGRADE_STDERR_FD"
)

// Child is the upgrade protocol seen from the new process.
type Child struct {
	ready, done, stderr *os.File

	once       sync.Once
	parentDone chan struct{}
}

// childFromEnv returns the protocol's ends when an upgrade started this
// process, nil otherwise, and unsets the variables.
func childFromEnv() (*Child, error) {
	getenv := os.Getenv
	defer func() {
		for _, k := range []string{EnvReadyFD, EnvDoneFD, EnvStderrFD} {
			os.Unsetenv(k)
		}
	}()
	if getenv(EnvReadyFD) == "" {
		return nil, nil
	}
	c := &Child{parentDone: make(chan struct{})}
	var err error
	if c.ready, err = fdFromEnv(getenv, EnvReadyFD); err != nil {
		return nil, err
	}
	if c.done, err = fdFromEnv(getenv, EnvDoneFD); err != nil {
		return nil, err
	}
	if c.stderr, err = fdFromEnv(getenv, EnvStderrFD); err != nil {
		return nil, err
	}
	go func() {
		// Nothing is ever written: the read ends when the parent's copy of
		// the pipe closes, at its exit at the latest.
		_, _ = io.Copy(io.Discard, c.done)
		close(c.parentDone)
	}()
	return c, nil
}

func fdFromEnv(getenv func(string) string, key string) (*os.File, error) {
	v := getenv(key)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < firstFD {
		return nil, fmt.Errorf("%w: %s=%q is not an inherited fd", ErrBadEnv, key, v)
	}
	f := os.NewFile(uintptr(fd), key)
	if f == nil {
		return nil, fmt.Errorf("%w: %s=%d is not open", ErrBadEnv, key, fd)
	}
	return f, nil
}

// Ready tells the parent this process serves: its stderr goes back to the
// parent's, then one line "ready INFO" goes down the pipe. The parent starts
// stopping when it reads it.
func (c *Child) Ready(info string) error {
	if c == nil {
		return nil
	}
	var err error
	c.once.Do(func() {
		if rerr := redirectStderr(c.stderr); rerr != nil {
			err = fmt.Errorf("upgrade: stderr: %w", rerr)
		}
		c.stderr.Close()
		_, werr := fmt.Fprintf(c.ready, "ready %s\n", oneLine(info))
		c.ready.Close()
		if err == nil && werr != nil {
			err = fmt.Errorf("upgrade: tell the parent: %w", werr)
		}
	})
	return err
}

// Fail tells the parent why this process will not become ready; the parent
// quotes it. Nothing is sent after a Ready.
func (c *Child) Fail(cause error) {
	if c == nil {
		return
	}
	c.once.Do(func() {
		fmt.Fprintf(c.ready, "error %s\n", oneLine(cause.Error()))
		c.ready.Close()
	})
}

// ParentDone is closed once the parent has finished with the traffic it
// still carried (it released the pipe or exited). Work that must not overlap
// with it, such as resuming a deploy it handed over, waits for this.
func (c *Child) ParentDone() <-chan struct{} {
	if c == nil {
		closed := make(chan struct{})
		close(closed)
		return closed
	}
	return c.parentDone
}

func oneLine(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ") }
