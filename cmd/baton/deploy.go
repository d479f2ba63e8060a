package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/batonproxy/baton/admin"
	"github.com/batonproxy/baton/cutover"
)

// Exit codes of deploy and rollback: scripts tell outcomes apart without parsing.
const (
	exitFailed        = 4 // the deploy failed and nothing was reverted (or auto_revert is off)
	exitReverted      = 5 // the deploy failed and the previous release serves again
	exitCouldNotStart = 3 // refused before anything changed (image missing, no live container...)
	exitUnverified    = 6 // the new release serves, but no fingerprint proved it: never green
)

func init() {
	adminCommands["deploy"] = runDeploy
	adminCommands["rollback"] = runRollback
}

func runDeploy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("deploy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr, token := adminFlags(fs)
	image := fs.String("image", "", "image to deploy (must be present locally)")
	expect := fs.String("expect", "", "release fingerprint the live service must answer with (default: the image's baton.version or org.opencontainers.image.revision label)")
	asJSON := fs.Bool("json", false, "print the timeline as NDJSON")
	all := fs.Bool("all", false, "deploy every service of a Compose project, in dependency order, with the images their containers name")
	project := fs.String("project", "", "with --all: the Compose project (needed when several run)")
	if len(args) > 0 && (args[0] == "--all" || args[0] == "-all") {
		if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
			fmt.Fprintln(stderr, "usage: baton deploy --all [--project P] [--json]")
			return exitCode{code: 2}
		}
		return deployAll(ctx, admin.NewClient(admin.ResolveAddr(*addr), *token), *project, stdout, *asJSON)
	}
	service, err := parseWithService(fs, args)
	if err != nil || *image == "" || *all {
		fmt.Fprintln(stderr, "usage: baton deploy SERVICE --image IMAGE [--expect SHA] [--json]\n       baton deploy --all [--project P] [--json]")
		return exitCode{code: 2}
	}
	c := admin.NewClient(admin.ResolveAddr(*addr), *token)
	resp, err := c.Do(ctx, http.MethodPost, "/v1/services/"+service+"/deploy", admin.DeployRequest{Image: *image, Expect: *expect})
	if err != nil {
		return exitCode{code: exitCouldNotStart, msg: err.Error()}
	}
	defer resp.Body.Close()
	return followHandedOff(ctx, c, followDeploy(resp.Body, stdout, *asJSON), stdout, *asJSON)
}

func runRollback(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rollback", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr, token := adminFlags(fs)
	asJSON := fs.Bool("json", false, "print the timeline as NDJSON")
	service, err := parseWithService(fs, args)
	if err != nil {
		fmt.Fprintln(stderr, "usage: baton rollback SERVICE [--json]")
		return exitCode{code: 2}
	}
	c := admin.NewClient(admin.ResolveAddr(*addr), *token)
	resp, err := c.Do(ctx, http.MethodPost, "/v1/services/"+service+"/rollback", nil)
	if err != nil {
		return exitCode{code: exitCouldNotStart, msg: err.Error()}
	}
	defer resp.Body.Close()
	return followHandedOff(ctx, c, followDeploy(resp.Body, stdout, *asJSON), stdout, *asJSON)
}

// handedOff is followDeploy's result for a deploy an upgrade of baton handed
// to the next process: no verdict yet.
type handedOff struct {
	rec *cutover.Record
}

func (h handedOff) Error() string {
	return "deploy " + h.rec.ID + " handed over to the next baton process"
}

// followHandedOff follows a deploy that an upgrade of baton moved to the new
// process, through its record (GET /v1/deploys/{id}), until it ends; any
// other result passes through.
func followHandedOff(ctx context.Context, c *admin.Client, result error, stdout io.Writer, asJSON bool) error {
	h, ok := result.(handedOff)
	if !ok {
		return result
	}
	if !asJSON {
		fmt.Fprintln(stdout, "         baton is upgrading: following the deploy in the new process")
	}
	seen := len(h.rec.Events)
	var start time.Time
	if len(h.rec.Events) > 0 {
		start = h.rec.Events[0].At
	}
	for {
		var rec cutover.Record
		if err := c.GetJSON(ctx, "/v1/deploys/"+h.rec.ID, &rec); err == nil {
			for _, ev := range rec.Events[min(seen, len(rec.Events)):] {
				if asJSON {
					line, _ := json.Marshal(admin.StreamLine{Type: "event", Event: &ev})
					fmt.Fprintln(stdout, string(line))
				} else {
					printEvent(stdout, ev, start)
				}
			}
			seen = max(seen, len(rec.Events))
			if rec.Ended() {
				l := admin.StreamLine{Type: "result", Record: &rec, Cause: rec.Cause, Hint: rec.Hint}
				if rec.Step != cutover.StepDone {
					l.Error = rec.Events[len(rec.Events)-1].Detail
				}
				if asJSON {
					line, _ := json.Marshal(l)
					fmt.Fprintln(stdout, string(line))
				}
				return deployOutcome(l, stdout, asJSON)
			}
		}
		select {
		case <-ctx.Done():
			return exitCode{code: exitFailed, msg: "stopped following deploy " + h.rec.ID + " (see baton history)"}
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func printEvent(stdout io.Writer, ev cutover.Event, start time.Time) {
	line := fmt.Sprintf("%7.1fs  %-10s %s", ev.At.Sub(start).Seconds(), ev.Step, ev.Detail)
	if ev.Cause != "" {
		line += "  [cause: " + ev.Cause + "]"
	}
	fmt.Fprintln(stdout, line)
}

// parseWithService accepts the service name before or after the flags.
func parseWithService(fs *flag.FlagSet, args []string) (string, error) {
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		if err := fs.Parse(args[1:]); err != nil {
			return "", err
		}
		return args[0], nil
	}
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if fs.NArg() != 1 {
		return "", fmt.Errorf("want one service")
	}
	return fs.Arg(0), nil
}

// followDeploy prints the live timeline and turns the result into an exit code.
func followDeploy(body io.Reader, stdout io.Writer, asJSON bool) error {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64<<10), 8<<20)
	tty := isTerminal(stdout)
	var start time.Time
	spinning := false
	frames := `|/-\`
	n := 0
	for sc.Scan() {
		if asJSON {
			fmt.Fprintln(stdout, sc.Text())
		}
		var l admin.StreamLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return exitCode{code: exitFailed, msg: "bad line from baton: " + err.Error()}
		}
		if l.Type == "result" {
			if spinning {
				fmt.Fprintln(stdout)
			}
			if l.Cause == cutover.CauseHandedOff && l.Record != nil {
				return handedOff{rec: l.Record}
			}
			return deployOutcome(l, stdout, asJSON)
		}
		if asJSON || l.Event == nil {
			continue
		}
		ev := l.Event
		if start.IsZero() {
			start = ev.At
		}
		elapsed := ev.At.Sub(start).Seconds()
		progress := ev.Step == cutover.StepGating && len(ev.Detail) > 0 && containsReady(ev.Detail)
		if progress {
			if tty {
				n++
				fmt.Fprintf(stdout, "\r%7.1fs  %-10s %c %s   ", elapsed, ev.Step, frames[n%4], ev.Detail)
				spinning = true
			}
			continue
		}
		if spinning {
			fmt.Fprintln(stdout)
			spinning = false
		}
		printEvent(stdout, *ev, start)
	}
	if err := sc.Err(); err != nil {
		return exitCode{code: exitFailed, msg: "lost the deploy stream: " + err.Error() + " (see baton history)"}
	}
	return exitCode{code: exitFailed, msg: "the deploy stream ended without a result (see baton history)"}
}

func containsReady(s string) bool {
	for i := 0; i+6 <= len(s); i++ {
		if s[i:i+6] == " ready" {
			return true
		}
	}
	return false
}

func deployOutcome(l admin.StreamLine, stdout io.Writer, asJSON bool) error {
	rec := l.Record
	if l.Error == "" && rec != nil && rec.Step == cutover.StepDone {
		if rec.Verified == cutover.Unverified {
			return exitCode{code: exitUnverified, msg: "deploy " + rec.ID + " done but unverified: the new containers serve, but nothing proved the release is live" +
				"\nhint: give the release a fingerprint (--expect SHA, the baton.version label, or the image label org.opencontainers.image.revision) and serve it on the verify path"}
		}
		if !asJSON {
			fmt.Fprintf(stdout, "deploy %s done: %s live, %s\n", rec.ID, orDash(rec.Expected), rec.Verified)
		}
		return nil
	}
	msg := l.Error
	if l.Hint != "" {
		msg += "\nhint: " + l.Hint
	}
	switch {
	case l.Cause == cutover.CauseCouldNotStart:
		return exitCode{code: exitCouldNotStart, msg: "could not start: " + msg}
	case l.Cause == cutover.CauseStateWrite && rec == nil:
		// Refused before anything changed: no record could be written.
		return exitCode{code: exitCouldNotStart, msg: "refused (" + l.Cause + "): " + msg}
	case rec != nil && rec.Step == cutover.StepReverted:
		return exitCode{code: exitReverted, msg: "reverted: " + msg}
	default:
		return exitCode{code: exitFailed, msg: "failed: " + msg}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
