package harness

import (
	"bytes"
	"encoding/json"
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
	pids    = map[int]bool{} // batons an upgrade started: not our children
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
		batonErr = goBuild(t, "./cmd/baton", batonPath, false, "batontest")
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
	// Binary is what serve runs from; BatonBinary unless StartBatonFrom.
	Binary string
	cmd    *exec.Cmd
	// pid is the serving process after an upgrade (a child of the one the
	// harness started, which exited); 0 before.
	pid  int
	old  []*exec.Cmd // processes an upgrade replaced, for their Wait
	logs *syncBuffer
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

// StartBatonHTTPSListen is StartBatonHTTPS with more keys of the listen
// section, indented as in it ("  http3: false\n").
func StartBatonHTTPSListen(t T, httpAddr, httpsAddr, listenYAML, extraYAML string) *Baton {
	t.Helper()
	return startBatonBin(t, "", httpAddr, httpsAddr, listenYAML, "", extraYAML)
}

// StartBatonFrom is StartBaton running the binary at bin (a copy an upgrade
// test replaces with another build).
func StartBatonFrom(t T, bin, extraYAML string) *Baton {
	t.Helper()
	return startBatonBin(t, bin, fmt.Sprintf("127.0.0.1:%d", FreePort(t)), "", "", "", extraYAML)
}

func startBaton(t T, httpAddr, httpsAddr, adminYAML, extraYAML string) *Baton {
	t.Helper()
	return startBatonBin(t, "", httpAddr, httpsAddr, "", adminYAML, extraYAML)
}

// StartBatonState is StartBaton with its state dir at stateDir (a small
// file system a test mounted there, to fill it).
func StartBatonState(t T, stateDir, extraYAML string) *Baton {
	t.Helper()
	return startBatonAt(t, "", fmt.Sprintf("127.0.0.1:%d", FreePort(t)), "", "", "", extraYAML, stateDir)
}

// startBatonBin writes the config: listenYAML and adminYAML are more keys of
// those sections (indented two spaces), extraYAML the sections after them.
func startBatonBin(t T, bin, httpAddr, httpsAddr, listenYAML, adminYAML, extraYAML string) *Baton {
	t.Helper()
	return startBatonAt(t, bin, httpAddr, httpsAddr, listenYAML, adminYAML, extraYAML, "")
}

func startBatonAt(t T, bin, httpAddr, httpsAddr, listenYAML, adminYAML, extraYAML, stateDir string) *Baton {
	t.Helper()
	dir := t.TempDir()
	if bin == "" {
		bin = BatonBinary(t)
	}
	if stateDir == "" {
		stateDir = filepath.Join(dir, "state")
	}
	b := &Baton{t: t, Binary: bin, Addr: httpAddr, HTTPSAddr: httpsAddr, Admin: filepath.Join(dir, "baton.sock"), StateDir: stateDir}
	b.URL = "http://" + b.Addr
	b.ConfigPath = filepath.Join(dir, "baton.yaml")
	listen := fmt.Sprintf("listen:\n  http: %q\n", b.Addr)
	if httpsAddr != "" {
		listen += fmt.Sprintf("  https: %q\n", httpsAddr)
	}
	listen += listenYAML
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
	cmd := exec.Command(b.Binary, "serve", "--config", b.ConfigPath, "--log-format", "console")
	cmd.Stdout, cmd.Stderr = b.logs, b.logs
	// After an upgrade the new process holds the output pipe too: Wait
	// returns once this one exited, not when the pipe closes.
	cmd.WaitDelay = 2 * time.Second
	cmd.Env = os.Environ()
	dieWithTestBinary(cmd)
	if err := cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	procsMu.Lock()
	procs[cmd] = true
	procsMu.Unlock()
	b.cmd = cmd
	b.pid = 0
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
	if b.pid != 0 {
		b.signalUpgraded(sig)
	}
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

// Upgrade runs `baton upgrade` against this baton; on success the harness
// follows the new process (its pid from `baton status`).
func (b *Baton) Upgrade() (string, int) {
	b.t.Helper()
	out, code := b.CLI("upgrade", "--json")
	if code != 0 {
		return out, code
	}
	var res struct {
		NewPID int `json:"new_pid"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.NewPID == 0 {
		b.t.Fatalf("baton upgrade answered %q: %v", out, err)
	}
	procsMu.Lock()
	pids[res.NewPID] = true
	procsMu.Unlock()
	if b.pid == 0 {
		b.old = append(b.old, b.cmd)
	}
	b.pid = res.NewPID
	return out, code
}

// UpgradeBySignal sends SIGUSR2 to the serving process and follows the new
// one once `baton status` answers from another pid; it reports that pid.
func (b *Baton) UpgradeBySignal() int {
	b.t.Helper()
	before := b.PID()
	if err := syscall.Kill(before, syscall.SIGUSR2); err != nil {
		b.t.Fatal(err)
	}
	var now int
	Eventually(b.t, 60*time.Second, "a new baton answering after SIGUSR2", func() bool {
		out, code := b.CLI("status", "--json")
		var st struct {
			Baton struct{ PID int } `json:"baton"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
			return false
		}
		now = st.Baton.PID
		return now != 0 && now != before
	})
	procsMu.Lock()
	pids[now] = true
	procsMu.Unlock()
	if b.pid == 0 {
		b.old = append(b.old, b.cmd)
	}
	b.pid = now
	return now
}

// PID is the serving process.
func (b *Baton) PID() int {
	if b.pid != 0 {
		return b.pid
	}
	return b.cmd.Process.Pid
}

// Exited reports whether the process with pid has ended (gone, or a zombie
// nobody reaped yet).
func Exited(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) != nil
	}
	// pid (comm) S ...: the state follows the last ')'.
	st := string(data)
	if i := strings.LastIndexByte(st, ')'); i >= 0 && i+2 < len(st) {
		return st[i+2] == 'Z' || st[i+2] == 'X'
	}
	return false
}

// signalUpgraded stops the process an upgrade started, then reaps the ones
// it replaced.
func (b *Baton) signalUpgraded(sig syscall.Signal) {
	_ = syscall.Kill(b.pid, sig)
	deadline := time.Now().Add(20 * time.Second)
	for !Exited(b.pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(b.pid, syscall.SIGKILL)
			deadline = time.Now().Add(5 * time.Second)
		}
		time.Sleep(20 * time.Millisecond)
	}
	procsMu.Lock()
	delete(pids, b.pid)
	procsMu.Unlock()
	b.pid = 0
	for _, c := range b.old {
		if c.ProcessState == nil {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
		procsMu.Lock()
		delete(procs, c)
		procsMu.Unlock()
	}
	b.old = nil
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
	buildsMu.Lock()
	if buildsDir != "" {
		_ = os.RemoveAll(buildsDir)
	}
	buildsDir, builds = "", map[string]string{}
	buildsMu.Unlock()
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
	for pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
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

var (
	buildsMu  sync.Mutex
	buildsDir string
	builds    = map[string]string{}
)

// BuildBaton builds ./cmd/baton with its version set to v (as a release
// build's -ldflags does), once per test process, into a temp dir that
// RemoveImages deletes, and returns the binary's path.
func BuildBaton(t T, v string) string {
	t.Helper()
	buildsMu.Lock()
	defer buildsMu.Unlock()
	if out, ok := builds[v]; ok {
		return out
	}
	if buildsDir == "" {
		dir, err := os.MkdirTemp("", "baton-bin-")
		if err != nil {
			t.Fatal(err)
		}
		buildsDir = dir
	}
	out := filepath.Join(buildsDir, "baton-"+v)
	args := []string{"build", "-ldflags", "-X main.version=" + v, "-o", out}
	if os.Getenv("BATON_RACE") != "" {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./cmd/baton")...)
	cmd.Dir = ModuleRoot(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build baton %s: %v\n%s", v, err, b)
	}
	builds[v] = out
	return out
}

// Replace puts src at dst as an installer does: a copy beside it, renamed
// over it (the running binary's file is never written to).
func Replace(t T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tmp := dst + ".new"
	if err := os.WriteFile(tmp, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}
