package integration

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/batonproxy/baton/cutover"
	"github.com/batonproxy/baton/integration/harness"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	_ "time/tzdata" // Asia/Tokyo without the host's zoneinfo
)

// screenshotDir is where the screenshots go: with BATON_SCREENSHOTS=1 where
// the README links them (to refresh the committed examples), else a temp dir,
// so that a test run leaves the tree as it found it.
func screenshotDir(t *testing.T) string {
	if os.Getenv("BATON_SCREENSHOTS") == "1" {
		return "../docs/screenshots"
	}
	return t.TempDir()
}

// card is the text of one service's card on the dashboard.
func card(service string) string {
	return fmt.Sprintf(`(document.querySelector('[data-service=%q]') || {innerText: ""}).innerText`, service)
}

// verdict is the word on a service's badge, in brackets: "[VERIFIED]" is
// not found in "[UNVERIFIED]".
func verdict(service string) string {
	return fmt.Sprintf(`"[" + ((document.querySelector('[data-service=%q]') || {dataset: {}}).dataset.verdict || "") + "]"`, service)
}

const (
	currentDeploy = `document.getElementById("deploy").innerText`
	connWord      = `document.getElementById("conn").textContent`
)

// The dashboard in a real browser against a real baton and real containers:
// it loads with no console error, shows a label problem, shows a deploy
// started from the CLI step by step while it runs, a reverted deploy's
// cause and hint, refuses an action without the CSRF token, and reconnects
// its stream when baton restarts.
func TestDashboardShowsDeploysLiveInABrowser(t *testing.T) {
	br := harness.NewBrowser(t)
	bin := harness.BatonBinary(t)
	v1, v2 := release(t, "aaaaaaa"), release(t, "bbbbbbb")
	// Labelled ccccccc, but the build forgot the new SHA: it serves bbbbbbb.
	stale := harness.Image(t, "ccccccc-stale", map[string]string{"org.opencontainers.image.revision": "ccccccc"}, "RELEASE=bbbbbbb")
	net := harness.Network(t)
	ui := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	b := harness.StartBatonAdmin(t, fmt.Sprintf("  ui: %q\n  ui_actions: true\n", ui), "")
	harness.Run(t, harness.ContainerOpts{Image: v1, Network: net, Restart: "on-failure", Labels: labels(map[string]string{
		"baton.service": "web", "baton.host": "web.test", "baton.drain.timeout": "2s", "baton.stop.grace": "2s", "baton.verify.timeout": "3s"})})
	bad := harness.Run(t, harness.ContainerOpts{Image: v1, Network: net, Labels: labels(map[string]string{
		"baton.service": "broken", "baton.host": "broken.test", "baton.health.interval": "banana"})})
	harness.WaitHTTP(t, b.URL+"/", "web.test", 20*time.Second)

	// The viewer is in Tokyo, reading en-US: times read in Tokyo's zone, UTC on hover.
	if _, err := chromedp.Call(br.Ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Tokyo"}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(br.Ctx, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: "en_US"}); err != nil {
		t.Fatal(err)
	}
	br.Run(t, 20*time.Second, chromedp.Navigate("http://"+ui+"/"))
	br.WaitText(t, 10*time.Second, connWord, "connected")
	web := br.WaitText(t, 10*time.Second, card("web"), "aaaaaaa")
	checkTimes(t, br)
	// Started outside a baton deploy: nothing probed it, and the page says so in words.
	if br.Text(verdict("web")) != "[UNVERIFIED]" || !strings.Contains(web, "UNVERIFIED") || !strings.Contains(web, "why not verified") {
		t.Fatalf("a release no deploy verified must read UNVERIFIED with a reason:\n%s", web)
	}
	problems := br.WaitText(t, 10*time.Second, `document.getElementById("problems").innerText`, strings.TrimPrefix(bad.Name, "/"))
	if !strings.Contains(problems, "banana") || !strings.Contains(problems, "REFUSED") {
		t.Fatalf("the label problem must name the label and value:\n%s", problems)
	}
	weight, responses := br.Transferred()
	t.Logf("page weight on first load: %d bytes transferred in %d responses", weight, responses)

	// A deploy from the CLI: its steps must reach the page while it runs.
	type result struct {
		out  string
		code int
	}
	// `baton events` follows the stream the page reads: it must see the same deploy.
	var watched syncBuf
	watch := exec.Command(bin, "events", "--json")
	watch.Env = append(os.Environ(), "BATON_ADMIN="+b.Admin)
	watch.Stdout = &watched
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = watch.Process.Kill(); _ = watch.Wait() })
	load := (&harness.Load{URL: b.URL + "/", Host: "web.test", Workers: 2}).Start()
	done := make(chan result, 1)
	go func() {
		cmd := exec.Command(bin, "deploy", "web", "--image", v2)
		cmd.Env = append(os.Environ(), "BATON_ADMIN="+b.Admin)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			code = -1
			out.WriteString(err.Error())
		}
		done <- result{out.String(), code}
	}()
	// Readiness progress ("web-1 ready 0.4s / 1s") is never saved in the
	// record: only the live stream brings it.
	br.WaitText(t, 30*time.Second, `Array.from(document.querySelectorAll("#deploy li[data-step=gating]")).map(l => l.textContent).join(" ").replace(/.* ready \d+\.\ds \/ 1s.*/, "progress")`, "progress")
	select {
	case r := <-done:
		t.Fatalf("the page showed gating only after the deploy had ended: the steps did not arrive live (exit %d):\n%s", r.code, r.out)
	default:
	}
	shots := screenshotDir(t)
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	br.Screenshot(t, filepath.Join(shots, "dashboard-during-deploy.png"))
	r := <-done
	rep := load.Stop()
	if r.code != 0 || rep.Non2xx != 0 || rep.ConnErrors != 0 {
		t.Fatalf("deploy exit %d, load %s:\n%s", r.code, rep, r.out)
	}
	deployID := strings.TrimSpace(br.Text(`document.querySelector("#deploy h3 code:nth-of-type(2)").textContent`))
	if deployID == "" || !strings.Contains(r.out, deployID) {
		t.Fatalf("the page names deploy %q; the CLI printed:\n%s", deployID, r.out)
	}
	harness.Eventually(t, 10*time.Second, "baton events saw the deploy end", func() bool {
		return strings.Contains(watched.String(), `"deploy":"`+deployID+`"`) && strings.Contains(watched.String(), `"step":"done"`)
	})
	// The load shows in the service's request-rate chart, from baton's own counters.
	br.WaitText(t, 25*time.Second, `parseFloat(document.querySelector('[data-service="web"] .chart b').textContent.replace("requests: ", "")) > 0 ? "counted" : "none"`, "counted")
	now := br.WaitText(t, 15*time.Second, currentDeploy, "DONE")
	for _, step := range []string{"starting", "gating", "switching", "verifying", "retiring", "done"} {
		if !strings.Contains(now, step) {
			t.Fatalf("the timeline lacks %s:\n%s", step, now)
		}
	}
	br.WaitText(t, 15*time.Second, verdict("web"), "[VERIFIED]")
	web = br.Text(card("web"))
	if !strings.Contains(web, "bbbbbbb") || strings.Contains(web, "UNVERIFIED") || !strings.Contains(web, "http://web.test/version") {
		t.Fatalf("the card must say bbbbbbb was verified, and through which URL:\n%s", web)
	}
	br.Screenshot(t, filepath.Join(shots, "dashboard-after-deploy.png"))

	// On a phone: nothing wider than the screen but the tables, which scroll in their box.
	br.Run(t, 10*time.Second, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	if w := br.Text(`String(document.documentElement.scrollWidth)`); w != "390" {
		t.Fatalf("on a 390px phone the page is %spx wide", w)
	}
	br.Screenshot(t, filepath.Join(shots, "dashboard-phone.png"))
	br.Run(t, 10*time.Second, chromedp.EmulateReset())

	// A reverted deploy: the cause and the hint, in words.
	out, code := b.CLI("deploy", "web", "--image", stale)
	if code != 5 {
		t.Fatalf("exit %d, want 5 (reverted):\n%s", code, out)
	}
	rec := lastRecord(t, b, "web")
	if rec.Step != cutover.StepReverted || rec.Hint == "" {
		t.Fatalf("record %s, hint %q", rec.Step, rec.Hint)
	}
	now = br.WaitText(t, 15*time.Second, currentDeploy, "REVERTED")
	if !strings.Contains(now, rec.Cause) || !strings.Contains(now, rec.Hint) {
		t.Fatalf("the reverted deploy must show cause %s and hint %q:\n%s", rec.Cause, rec.Hint, now)
	}
	web = br.WaitText(t, 15*time.Second, card("web"), "REVERTED")
	if !strings.Contains(web, rec.Cause) || !strings.Contains(web, "hint: "+rec.Hint) || br.Text(verdict("web")) != "[VERIFIED]" {
		t.Fatalf("the card must show the revert's cause and hint and still bbbbbbb VERIFIED:\n%s", web)
	}
	br.Screenshot(t, filepath.Join(shots, "dashboard-reverted.png"))

	if errs := br.Errors(); len(errs) > 0 {
		t.Fatalf("the page reported errors:\n%s", strings.Join(errs, "\n"))
	}

	// An action without the CSRF token is refused, from the page's own origin.
	if got := br.Await(t, `fetch("/v1/cache/purge", {method: "POST", headers: {"Content-Type": "application/json"}, body: '{"service":"web"}'}).then(r => r.status + " " + r.statusText)`); !strings.HasPrefix(got, "403") {
		t.Fatalf("a POST without the CSRF token: %s, want 403", got)
	}
	// The page's own button, confirmed, carries it.
	br.Run(t, 10*time.Second, chromedp.Click(`button[data-act="purge"][data-svc="web"]`))
	br.WaitText(t, 10*time.Second, `document.getElementById("notice").textContent`, "purge of web: done")
	if d := strings.Join(br.Dialogs(), "\n"); !strings.Contains(d, "confirm: Purge every cached response of web?") {
		t.Fatalf("the purge did not ask for confirmation: %q", d)
	}
	// The one error entry: the browser's report of the refused POST above.
	if errs := br.Errors(); len(errs) != 1 || !strings.Contains(errs[0], "403") {
		t.Fatalf("the page reported errors:\n%s", strings.Join(errs, "\n"))
	}

	// baton restarts: the page's stream reconnects by itself and reads the state again.
	hellos := br.Text(`document.body.dataset.hellos`)
	b.Restart()
	deadline := time.Now().Add(20 * time.Second)
	for br.Text(`document.body.dataset.hellos`) == hellos || br.Text(connWord) != "connected" {
		if time.Now().After(deadline) {
			t.Fatalf("the stream did not reconnect after a restart: hellos %s, state %q", br.Text(`document.body.dataset.hellos`), br.Text(connWord))
		}
		time.Sleep(100 * time.Millisecond)
	}
	br.WaitText(t, 10*time.Second, card("web"), "bbbbbbb")

	// baton upgrade hands the dashboard's socket to the new process too: the
	// page reconnects to it and says which process answers.
	hellos = br.Text(`document.body.dataset.hellos`)
	out, code = b.Upgrade()
	if code != 0 {
		t.Fatalf("upgrade exit %d:\n%s", code, out)
	}
	newPID := fmt.Sprint(b.PID())
	deadline = time.Now().Add(20 * time.Second)
	for br.Text(`document.body.dataset.hellos`) == hellos || br.Text(`(document.getElementById("pid") || {}).textContent || ""`) != newPID {
		if time.Now().After(deadline) {
			t.Fatalf("after the upgrade the page shows pid %q, want %s", br.Text(`(document.getElementById("pid") || {}).textContent || ""`), newPID)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// syncBuf is a bytes.Buffer a child process writes while the test reads.
type syncBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}
func (s *syncBuf) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.buf.String() }

// checkTimes: the page's first time reads in the viewer's zone (Tokyo), and
// its hover text is the same instant in UTC.
func checkTimes(t *testing.T, br *harness.Browser) {
	t.Helper()
	raw := br.Text(`(t => t ? [t.getAttribute("datetime"), t.textContent, t.title].join("|") : "")(document.querySelector("time"))`)
	parts := strings.Split(raw, "|")
	if len(parts) != 3 {
		t.Fatalf("no <time> on the page: %q", raw)
	}
	at, err := time.Parse(time.RFC3339Nano, parts[0])
	if err != nil {
		t.Fatalf("datetime %q: %v", parts[0], err)
	}
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	if want := at.In(tokyo).Format("1/2/2006, 3:04:05 PM"); parts[1] != want {
		t.Fatalf("time shown %q, want Tokyo's %q", parts[1], want)
	}
	if want := "UTC " + at.UTC().Format("2006-01-02 15:04:05Z"); parts[2] != want {
		t.Fatalf("hover %q, want %q", parts[2], want)
	}
}

// Off loopback, the dashboard shows nothing without the admin token: the
// page is refused, and so is the API behind it; the token entered once opens it.
func TestDashboardOffLoopbackRefusesWithoutToken(t *testing.T) {
	br := harness.NewBrowser(t)
	// The gateway of a network this test creates: local, not loopback.
	gw := harness.NetworkGateway(t, harness.Network(t))
	ui := fmt.Sprintf("%s:%d", gw, harness.FreePort(t))
	const token = "dashboard-test-token-4f9c"
	harness.StartBatonAdmin(t, fmt.Sprintf("  ui: %q\n  token: %q\n", ui, token), "")

	for _, p := range []string{"/", "/v1/services", "/v1/events", "/ui/session"} {
		resp, err := http.Get("http://" + ui + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("GET %s without the token: %s, want 401", p, resp.Status)
		}
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm("http://"+ui+"/login", url.Values{"token": {"wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a login without Origin or with a wrong token: %s", resp.Status)
	}

	br.Run(t, 20*time.Second, chromedp.Navigate("http://"+ui+"/"))
	page := br.WaitText(t, 10*time.Second, `document.body.innerText`, "Refused")
	if strings.Contains(page, "Services") || br.Text(`String(!!document.getElementById("services"))`) != "false" {
		t.Fatalf("the refused page shows the dashboard:\n%s", page)
	}
	br.Run(t, 20*time.Second, chromedp.SendKeys("#token", token), chromedp.Click(`button[type="submit"]`))
	br.WaitText(t, 15*time.Second, connWord, "connected")
	if got := br.WaitText(t, 10*time.Second, `document.getElementById("docker").textContent`, "connected"); got != "connected" {
		t.Fatalf("docker: %q", got)
	}
	cookie := br.Await(t, `Promise.resolve(document.cookie)`)
	if strings.Contains(cookie, "baton_session") {
		t.Fatalf("the session cookie is readable from script (not HttpOnly): %q", cookie)
	}
	if errs := br.Errors(); len(errs) > 1 || len(errs) == 1 && !strings.Contains(errs[0], "401") {
		// The one expected entry: the refused page's own 401.
		t.Fatalf("the page reported errors:\n%s", strings.Join(errs, "\n"))
	}
}
