package harness

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	batonOnce sync.Once
	batonPath string
	batonErr  error

	procsMu sync.Mutex
	procs   = map[*exec.Cmd]bool{}
)

// BatonBinary builds ./cmd/baton once per test process, into a temp dir that
// RemoveImages deletes at the end of the run (a later run's Sweep deletes what
// a crashed one left).
func BatonBinary(t T) string {
	t.Helper()
	batonOnce.Do(func() {
		dir, err := os.MkdirTemp("", "baton-bin-")
		if err != nil {
			batonErr = err
			return
		}
		batonPath = filepath.Join(dir, "baton")
		batonErr = goBuild(t, "./cmd/baton", batonPath, false)
	})
	if batonErr != nil {
		t.Fatal(batonErr)
	}
	return batonPath
}

// Baton is a running `baton serve` on the host.
type Baton struct {
	t          T
	URL        string // http://127.0.0.1:port
	Addr       string
	HTTPSAddr  string // 127.0.0.1:port with StartBatonHTTPS, else ""
	MetricsURL string // http://127.0.0.1:port/metrics (admin.metrics)
	Admin      string // admin socket path
	StateDir   string
	ConfigPath string
	cmd        *exec.Cmd
	logs       *syncBuffer
}

// FreePort returns a loopback port nobody listens on now.
func FreePort(t T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// StartBaton writes a config (extra YAML is appended to the listen, admin and
// state sections the harness fills in) and starts baton serve with it.
func StartBaton(t T, extraYAML string) *Baton {
	t.Helper()
	return startBaton(t, fmt.Sprintf("127.0.0.1:%d", FreePort(t)), "", "", extraYAML)
}

// StartBatonAdmin is StartBaton with more keys of the admin section
// (indented two spaces, one a line), e.g. the dashboard's "  ui: ..." and
// "  token: ...". Without a ui key the dashboard is off, so parallel batons
// never race for its default port.
func StartBatonAdmin(t T, adminYAML, extraYAML string) *Baton {
	t.Helper()
	return startBaton(t, fmt.Sprintf("127.0.0.1:%d", FreePort(t)), "", adminYAML, extraYAML)
}

// StartBatonHTTPS is StartBaton with an HTTPS listener at httpsAddr too (the
// extra YAML turns TLS on); http is the HTTP listener's address.
func StartBatonHTTPS(t T, httpAddr, httpsAddr, extraYAML string) *Baton {
	t.Helper()
	return startBaton(t, httpAddr, httpsAddr, "", extraYAML)
}

func startBaton(t T, httpAddr, httpsAddr, adminYAML, extraYAML string) *Baton {
	t.Helper()
	dir := t.TempDir()
	b := &Baton{t: t, Addr: httpAddr, HTTPSAddr: httpsAddr, Admin: filepath.Join(dir, "baton.sock"), StateDir: filepath.Join(dir, "state")}
	b.URL = "http://" + b.Addr
	b.ConfigPath = filepath.Join(dir, "baton.yaml")
	listen := fmt.Sprintf("listen:\n  http: %q\n", b.Addr)
	if httpsAddr != "" {
		listen += fmt.Sprintf("  https: %q\n", httpsAddr)
	}
	metrics := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	b.MetricsURL = "http://" + metrics + "/metrics"
	if !strings.Contains("\n"+adminYAML, "\n  ui:") {
		adminYAML += "  ui: \"\"\n"
	}
	cfg := fmt.Sprintf("%sadmin:\n  socket: %q\n  metrics: %q\n%sstate:\n  dir: %q\n%s", listen, b.Admin, metrics, adminYAML, b.StateDir, WithConstraint(extraYAML))
	if err := os.WriteFile(b.ConfigPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	b.start()
	t.Cleanup(func() {
		b.Stop()
		if strings.Contains(b.Logs(), "WARNING: DATA RACE") {
			t.Fatalf("baton reported a data race:\n%s", b.Logs())
		}
		if t.Failed() {
			t.Logf("baton log:\n%s", b.Logs())
		}
	})
	return b
}

func (b *Baton) start() {
	b.t.Helper()
	if b.logs == nil {
		b.logs = &syncBuffer{}
	}
	cmd := exec.Command(BatonBinary(b.t), "serve", "--config", b.ConfigPath, "--log-format", "console")
	cmd.Stdout, cmd.Stderr = b.logs, b.logs
	cmd.Env = os.Environ()
	dieWithTestBinary(cmd)
	if err := cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	procsMu.Lock()
	procs[cmd] = true
	procsMu.Unlock()
	b.cmd = cmd
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.Dial("unix", b.Admin)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("baton did not open its admin socket within 15s:\n%s", b.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop ends baton with SIGTERM and waits for it.
func (b *Baton) Stop() { b.signal(syscall.SIGTERM) }

// Kill ends baton with SIGKILL: no cleanup runs.
func (b *Baton) Kill() { b.signal(syscall.SIGKILL) }

// Restart starts baton again with the same config and state; a baton still
// running is stopped with SIGTERM first.
func (b *Baton) Restart() {
	b.t.Helper()
	b.Stop()
	b.start()
}

// Reload sends SIGHUP.
func (b *Baton) Reload() { _ = b.cmd.Process.Signal(syscall.SIGHUP) }

func (b *Baton) signal(sig syscall.Signal) {
	if b.cmd == nil || b.cmd.ProcessState != nil {
		return
	}
	_ = b.cmd.Process.Signal(sig)
	done := make(chan struct{})
	go func() { _ = b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = b.cmd.Process.Kill()
		<-done
	}
	procsMu.Lock()
	delete(procs, b.cmd)
	procsMu.Unlock()
}

// Logs returns what baton printed so far.
func (b *Baton) Logs() string { return b.logs.String() }

// CLI runs a baton subcommand against this baton's admin socket and returns
// its output and exit code.
func (b *Baton) CLI(args ...string) (string, int) {
	b.t.Helper()
	cmd := exec.Command(BatonBinary(b.t), args...)
	cmd.Env = append(os.Environ(), "BATON_ADMIN="+b.Admin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		b.t.Fatalf("baton %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), code
}

// removeBatonBinary deletes the binary BatonBinary built; a later
// BatonBinary call builds it again.
func removeBatonBinary() {
	if batonPath != "" {
		_ = os.RemoveAll(filepath.Dir(batonPath))
	}
	batonOnce, batonPath, batonErr = sync.Once{}, "", nil
}

// sweepBatonBinaries deletes the binaries of runs that ended more than
// the suite's longest timeout ago without removing them.
func sweepBatonBinaries(cutoff time.Time) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "baton-bin-*"))
	for _, d := range dirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() && fi.ModTime().Before(cutoff) {
			_ = os.RemoveAll(d)
		}
	}
}

func killBatons() {
	procsMu.Lock()
	defer procsMu.Unlock()
	for cmd := range procs {
		_ = cmd.Process.Kill()
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// WithConstraint limits the test's baton to this run's containers, so test
// runs sharing one engine (two sessions, a benchmark) never see each other's.
// A test that sets its own constraint (one baton per group of containers)
// keeps it.
func WithConstraint(extraYAML string) string {
	if strings.Contains(extraYAML, "\n  constraint:") {
		return extraYAML
	}
	line := fmt.Sprintf("  constraint: %q\n", RunLabel+"="+runID)
	if i := strings.Index(extraYAML, "docker:\n"); i >= 0 {
		at := i + len("docker:\n")
		return extraYAML[:at] + line + extraYAML[at:]
	}
	return extraYAML + "docker:\n" + line
}
