package harness

import (
	"bytes"
	"context"
	"image"
	"image/color/palette"
	"image/draw"
	"image/png"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// chromium finds Debian's headless-capable Chromium (apt-get install chromium).
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Browser is a headless Chromium tab driven over the DevTools protocol. It
// records every console error, uncaught exception and failed load the page
// reports, every dialog (confirm answers yes), and the bytes transferred.
type Browser struct {
	Ctx context.Context

	mu       sync.Mutex
	errors   []string
	dialogs  []string
	received map[network.RequestID]int64
}

// NewBrowser starts Chromium for the test. Without it the test is skipped
// loudly, except under CI (.ci/run installs it), where that fails.
func NewBrowser(t *testing.T) *Browser {
	t.Helper()
	bin := chromium()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI: no Chromium on PATH; .ci/run installs Debian's chromium package")
		}
		t.Skip("SKIPPED: the dashboard's browser tests need Chromium (apt-get install -y chromium); they did not run")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // root in a container has no user namespace for the sandbox
		chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(1100, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	b := &Browser{Ctx: ctx, received: map[network.RequestID]int64{}}
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// Start the browser and its tab; chromedp enables the Runtime, Log and
	// Network domains, so console calls, exceptions and failed loads arrive.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium %s: %v", bin, err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventLoadingFinished); ok {
			b.mu.Lock()
			b.received[e.RequestID] = int64(e.EncodedDataLength)
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				b.addError(m.String() + " (" + m.URL + ")")
			}
		}
	}()
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, string(ev.Type)+": "+ev.Message)
			b.mu.Unlock()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return b
}

func (b *Browser) addError(s string) {
	b.mu.Lock()
	b.errors = append(b.errors, s)
	b.mu.Unlock()
}

// Errors returns what the page reported as errors so far.
func (b *Browser) Errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// Dialogs returns the dialogs the page opened ("confirm: ...", "alert: ...").
func (b *Browser) Dialogs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.dialogs...)
}

// Transferred is the bytes received over the network so far (encoded, as
// DevTools' "transferred" column counts them), and the number of responses.
func (b *Browser) Transferred() (bytes int64, responses int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, n := range b.received {
		bytes += n
	}
	return bytes, len(b.received)
}

// Run runs actions with a deadline.
func (b *Browser) Run(t *testing.T, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// Text evaluates a JavaScript expression that yields a string ("" on error).
func (b *Browser) Text(js string) string {
	ctx, cancel := context.WithTimeout(b.Ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		return ""
	}
	return s
}

// WaitText polls the expression until its text contains want, failing at the deadline.
func (b *Browser) WaitText(t *testing.T, timeout time.Duration, js, want string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := b.Text(js)
		if strings.Contains(got, want) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page never showed %q in %s within %s; last: %q", want, js, timeout, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Screenshot writes a PNG of the whole page to path.
func (b *Browser) Screenshot(t *testing.T, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	small, err := smallPNG(shot)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, small, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d bytes; %d as Chromium sent it)", path, len(small), len(shot))
}

// Await evaluates a JavaScript expression yielding a promise of a string.
func (b *Browser) Await(t *testing.T, js string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return s
}

// smallPNG re-encodes a screenshot with the 216 web-safe colours, nearest
// colour without dithering: text and flat boxes stay crisp and the file is a
// fraction of the size, fit to commit as documentation.
func smallPNG(in []byte) ([]byte, error) {
	img, err := png.Decode(bytes.NewReader(in))
	if err != nil {
		return nil, err
	}
	pal := image.NewPaletted(img.Bounds(), palette.WebSafe)
	draw.Draw(pal, pal.Bounds(), img, img.Bounds().Min, draw.Src)
	var out bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&out, pal); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
