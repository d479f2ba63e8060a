package handover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/batonproxy/baton/internal/testutil"
)

// The test binary is also the child: TestMain runs childMain when the
// parent test asks for it in the environment.
const envChild = "HANDOVER_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(envChild); mode != "" {
		os.Exit(childMain(mode))
	}
	os.Exit(m.Run())
}

// childMain is the child's side: take the socket for listen.http at
// $WANT_ADDR and answer on it with its pid.
func childMain(mode string) int {
	switch mode {
	case "fail":
		fmt.Fprintln(os.Stderr, "boom: the config is broken")
		return 3
	case "hang":
		fmt.Fprintln(os.Stderr, "waiting forever")
		select {}
	}
	set, child, err := FromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ln := set.Take(NameHTTP, os.Getenv("WANT_ADDR"))
	if pc := set.TakePacket(NameHTTP3, ""); pc != nil {
		// HTTP/3's UDP socket: echo each datagram with the pid.
		go func() {
			buf := make([]byte, 1500)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				pc.WriteTo([]byte(fmt.Sprintf("child %d: %s", os.Getpid(), buf[:n])), from)
			}
		}()
	}
	if err := set.Unmatched(); err != nil {
		child.Fail(err)
		return 1
	}
	if ln == nil {
		child.Fail(errors.New("no socket for listen.http"))
		return 1
	}
	if mode == "systemd" && child != nil {
		fmt.Fprintln(os.Stderr, "systemd mode but started as an upgrade")
		return 1
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "child %d", os.Getpid()) })
	mux.HandleFunc("/parent-done", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-child.ParentDone():
			fmt.Fprint(w, "yes")
		default:
			fmt.Fprint(w, "no")
		}
	})
	fmt.Fprintln(os.Stderr, "child starting")
	go http.Serve(ln, mux)
	if err := child.Ready(fmt.Sprintf("pid=%d", os.Getpid())); err != nil {
		return 1
	}
	select {}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func spawn(t *testing.T, mode string, sockets ...Socket) (*Started, error, *os.File) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.CreateTemp(t.TempDir(), "upgrade-stderr-")
	if err != nil {
		t.Fatal(err)
	}
	want := ""
	if len(sockets) > 0 {
		want = sockets[0].Listener.Addr().String()
	}
	st, err := Spawn{
		Path: self, Env: append(os.Environ(), envChild+"="+mode, "WANT_ADDR="+want),
		Sockets: sockets, Stderr: stderr, Timeout: 20 * time.Second,
	}.Start(context.Background())
	if st != nil {
		t.Cleanup(func() { _ = syscall.Kill(st.PID, syscall.SIGKILL) })
	}
	return st, err, stderr
}

func get(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func nonblocking(t *testing.T, ln net.Listener) bool {
	t.Helper()
	rc, err := ln.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var flags int
	_ = rc.Control(func(fd uintptr) { flags, err = unix.FcntlInt(fd, unix.F_GETFL, 0) })
	if err != nil {
		t.Fatal(err)
	}
	return flags&unix.O_NONBLOCK != 0
}

func TestChildServesTheInheritedSocketAfterTheParentCloses(t *testing.T) {
	ln := listen(t)
	accepted := make(chan error, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				accepted <- err
				return
			}
			c.Close()
		}
	}()
	st, err, stderr := spawn(t, "serve", Socket{Name: NameHTTP, Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	if st.Info != fmt.Sprintf("pid=%d", st.PID) {
		t.Fatalf("ready info %q, want pid=%d", st.Info, st.PID)
	}
	ln.Close()
	if err := <-accepted; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("parent's accept ended with %v", err)
	}
	if got, want := get(t, "http://"+ln.Addr().String()+"/"), fmt.Sprintf("child %d", st.PID); got != want {
		t.Fatalf("after the parent closed its listener the socket answered %q, want %q", got, want)
	}
	logs, _ := os.ReadFile(stderr.Name())
	if !strings.Contains(string(logs), "child starting") {
		t.Fatalf("the child's stderr before ready was not passed on: %q", logs)
	}
}

// Handing a socket over must not put it into blocking mode: O_NONBLOCK is
// shared by every copy of the descriptor, and this process's accept loop
// would then sit in the kernel, so that Close waits for the next connection
// and accepts it while shutting down.
func TestHandingOverKeepsTheListenerNonBlocking(t *testing.T) {
	ln := listen(t)
	f, err := fileOf(ln, NameHTTP)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_ = f.Fd() // what os.StartProcess does with ExtraFiles
	if !nonblocking(t, ln) {
		t.Fatal("the listener was left in blocking mode")
	}
}

func TestParentDoneClosesOnRelease(t *testing.T) {
	ln := listen(t)
	st, err, _ := spawn(t, "serve", Socket{Name: NameHTTP, Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	url := "http://" + ln.Addr().String() + "/parent-done"
	if got := get(t, url); got != "no" {
		t.Fatalf("parent-done before Release: %q", got)
	}
	st.Release()
	testutil.Eventually(t, "the child sees the parent release it", func() bool { return get(t, url) == "yes" })
}

func TestChildThatExitsIsReportedWithItsStderr(t *testing.T) {
	_, err, _ := spawn(t, "fail", Socket{Name: NameHTTP, Listener: listen(t)})
	var se *StartError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a *StartError", err)
	}
	if !strings.Contains(se.Reason, "exited with status 3") || !strings.Contains(se.Stderr, "boom: the config is broken") {
		t.Fatalf("error does not name the exit status and the stderr: %v", err)
	}
}

func TestChildThatRefusesASocketSaysWhich(t *testing.T) {
	extra := listen(t)
	_, err, _ := spawn(t, "serve", Socket{Name: NameHTTP, Listener: listen(t)}, Socket{Name: "baton.socket", Listener: extra})
	var se *StartError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a *StartError", err)
	}
	want := fmt.Sprintf(`inherited fd 4 (name "baton.socket", tcp %s)`, extra.Addr())
	if !strings.Contains(se.Reason, "failed to start") || !strings.Contains(se.Reason, want) || !strings.Contains(se.Reason, ErrUnmatched.Error()) {
		t.Fatalf("error %q does not name the unmatched socket (%s)", err, want)
	}
}

func TestChildNeverReadyIsKilledAtTheTimeout(t *testing.T) {
	self, _ := os.Executable()
	_, err := Spawn{Path: self, Env: append(os.Environ(), envChild+"=hang"), Timeout: 300 * time.Millisecond, Stderr: os.Stderr}.Start(context.Background())
	var se *StartError
	if !errors.As(err, &se) || !strings.Contains(se.Reason, "not ready within 300ms") || !strings.Contains(se.Stderr, "waiting forever") {
		t.Fatalf("err = %v, want not ready within 300ms with the stderr", err)
	}
	if syscall.Kill(se.PID, 0) == nil {
		t.Fatalf("the child (pid %d) that was never ready still runs", se.PID)
	}
}

func TestMissingBinaryIsAStartError(t *testing.T) {
	_, err := Spawn{Path: "/nonexistent/baton", Timeout: time.Second}.Start(context.Background())
	var se *StartError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "could not start") {
		t.Fatalf("err = %v", err)
	}
}

// systemd starts the process with LISTEN_PID set to its own pid, which a
// shell that execs shows: $$ is the pid the exec keeps.
func TestSystemdSocketActivation(t *testing.T) {
	ln := listen(t)
	f, err := fileOf(ln, "baton.socket")
	if err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ exec "$0"`, self)
	cmd.Env = append(os.Environ(), envChild+"=systemd", "WANT_ADDR="+ln.Addr().String(), EnvFDs+"=1", EnvNames+"=baton.socket")
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ln.Close()
	want := fmt.Sprintf("child %d", cmd.Process.Pid)
	var answer string
	testutil.EventuallyNil(t, "the socket-activated child serves", func() error {
		c := &http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			// Connections wait in the accept queue until the child accepts;
			// a refusal would mean the socket closed.
			if strings.Contains(err.Error(), "refused") {
				t.Fatalf("socket-activated child does not serve: %v", err)
			}
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answer = string(b)
		return nil
	})
	if answer != want {
		t.Fatalf("answered %q, want %q", answer, want)
	}
}

func TestChildReadsTheInheritedUDPSocket(t *testing.T) {
	ln := listen(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	st, err, _ := spawn(t, "serve", Socket{Name: NameHTTP, Listener: ln}, Socket{Name: NameHTTP3, Packet: pc})
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	pc.Close() // the parent's copy: the socket lives on in the child
	c, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := fmt.Sprintf("child %d: hello", st.PID)
	buf := make([]byte, 1500)
	// UDP may drop a datagram: send until one answer comes back (bounded).
	for i := 0; ; i++ {
		if i == 50 {
			t.Fatal("no answer from the child on the inherited UDP socket")
		}
		c.Write([]byte("hello"))
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := c.Read(buf)
		if err != nil {
			continue
		}
		if got := string(buf[:n]); got != want {
			t.Fatalf("answer %q, want %q", got, want)
		}
		return
	}
}

func TestDatagramSocketIsTakenOnlyAsAPacketConn(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s := &Set{list: []*Inherited{{FD: 3, Name: NameHTTP3, pc: pc}}}
	if ln := s.Take(NameHTTP3, ""); ln != nil {
		t.Fatal("Take returned a listener for a UDP socket")
	}
	if got := s.TakePacket(NameHTTPS, pc.LocalAddr().String()); got != nil {
		t.Fatal("a socket named http3 was taken as https's")
	}
	if got := s.TakePacket(NameHTTP3, ""); got != pc {
		t.Fatal("TakePacket did not return the inherited UDP socket")
	}
	if err := s.Unmatched(); err != nil {
		t.Fatal(err)
	}
}
