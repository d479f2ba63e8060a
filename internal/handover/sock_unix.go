//go:build unix

package handover

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// checkSocket refuses an fd that is neither a listening stream socket nor a
// datagram one (a file, a stream socket never listened on), before anything
// serves it, and says which kind it is.
func checkSocket(fd int) (datagram bool, err error) {
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return false, fmt.Errorf("not a socket: %w", err)
	}
	switch typ {
	case unix.SOCK_DGRAM:
		return true, nil // HTTP/3's UDP socket: bound, nothing to listen
	case unix.SOCK_STREAM:
	default:
		return false, errors.New("neither a stream nor a datagram socket (TCP and unix stream listeners and HTTP/3's UDP socket are inherited)")
	}
	if acc, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err == nil && acc == 0 {
		return false, errors.New("socket is not listening")
	}
	return false, nil
}

// fileOf duplicates a listener's descriptor for a child process. It does not
// use the listener's File method: the *os.File that returns is put into
// blocking mode when os/exec passes it on (File.Fd), and O_NONBLOCK is shared
// by every copy of the descriptor, so this process's own accept loop would
// then block a thread and never notice its listener closing.
func fileOf(sock any, name string) (*os.File, error) {
	sc, ok := sock.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("listener %s (%T) has no descriptor to hand over", name, sock)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("listener %s: %w", name, err)
	}
	dup, derr := -1, error(nil)
	if err := rc.Control(func(fd uintptr) { dup, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, fmt.Errorf("listener %s: %w", name, err)
	}
	if derr != nil {
		return nil, fmt.Errorf("listener %s: dup: %w", name, derr)
	}
	// NewFile sees O_NONBLOCK already set and leaves it alone at Fd.
	return os.NewFile(uintptr(dup), name), nil
}

// redirectStderr points fd 2 at f: once the new process is ready its logs go
// where the old one's went, no longer through the pipe its parent reads.
func redirectStderr(f *os.File) error {
	return unix.Dup2(int(f.Fd()), 2)
}
