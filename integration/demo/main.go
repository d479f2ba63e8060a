package main

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/batonproxy/baton/integration/harness"
)

func main() {
	r := &runner{}
	code := r.run()
	r.cleanup()
	os.Exit(code)
}

func (r *runner) run() (code int) {
	defer func() {
		if v := recover(); v != nil {
			if _, ok := v.(fatal); !ok {
				panic(v)
			}
			code = 1
		}
	}()
	fmt.Println("== building baton and the test app images (FROM scratch, nothing pulled)")
	v1 := harness.Image(r, "demo-aaaaaaa", map[string]string{"org.opencontainers.image.revision": "aaaaaaa"}, "RELEASE=aaaaaaa", "READY_DELAY=2s")
	v2 := harness.Image(r, "demo-bbbbbbb", map[string]string{"org.opencontainers.image.revision": "bbbbbbb"}, "RELEASE=bbbbbbb", "READY_DELAY=2s")
	net := harness.Network(r)
	b := harness.StartBaton(r, "")
	fmt.Printf("== baton serves on %s; starting release aaaaaaa of service web (host web.test)\n", b.URL)
	harness.Run(r, harness.ContainerOpts{Image: v1, Network: net, Labels: map[string]string{
		"baton.enable": "true", "baton.service": "web", "baton.host": "web.test",
		"baton.health.path": "/healthz", "baton.health.interval": "250ms", "baton.health.min_healthy": "3s",
		"baton.drain.timeout": "5s",
	}})
	harness.WaitHTTP(r, b.URL+"/", "web.test", 30*time.Second)
	load := (&harness.Load{URL: b.URL + "/", Host: "web.test", Workers: 8, Max: 2 * time.Minute}).Start()
	time.Sleep(3 * time.Second)
	before := load.Since()
	fmt.Println("== baton deploy web --image", v2)
	cmd := exec.Command(harness.BatonBinary(r), "deploy", "web", "--image", v2)
	cmd.Env = append(os.Environ(), "BATON_ADMIN="+b.Admin)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err := cmd.Run()
	during := load.Since()
	time.Sleep(time.Second)
	load.Stop()
	fmt.Println("== load through baton (8 workers, keep-alive)")
	fmt.Printf("   before the deploy: %s\n", load.Report(0, before))
	fmt.Printf("   during the deploy: %s\n", load.Report(before, during))
	fmt.Printf("   after the deploy:  %s\n", load.Report(during, time.Hour))
	if err != nil {
		fmt.Println("== deploy failed:", err)
		return 1
	}
	out, _ := b.CLI("status")
	fmt.Println("== baton status")
	fmt.Print(out)
	return 0
}

// runner lets the test harness run outside `go test`.
type runner struct {
	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

type fatal struct{}

func (r *runner) Helper()                         {}
func (r *runner) Logf(format string, args ...any) { fmt.Printf("   "+format+"\n", args...) }
func (r *runner) Fatal(args ...any)               { r.fail(fmt.Sprint(args...)) }
func (r *runner) Fatalf(f string, args ...any)    { r.fail(fmt.Sprintf(f, args...)) }
func (r *runner) Skipf(f string, args ...any)     { r.fail(fmt.Sprintf(f, args...)) }
func (r *runner) Failed() bool                    { return r.failed }

func (r *runner) fail(msg string) {
	fmt.Fprintln(os.Stderr, "demo:", msg)
	r.failed = true
	panic(fatal{})
}

func (r *runner) Cleanup(f func()) {
	r.mu.Lock()
	r.cleanups = append(r.cleanups, f)
	r.mu.Unlock()
}

func (r *runner) TempDir() string {
	dir, err := os.MkdirTemp("", "baton-demo-")
	if err != nil {
		r.Fatal(err)
	}
	r.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (r *runner) cleanup() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	harness.RemoveImages()
	fmt.Println("== cleaned up: containers, network and images removed")
}
