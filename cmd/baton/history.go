package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/batonproxy/baton/admin"
	"github.com/batonproxy/baton/cutover"
)

func init() { adminCommands["history"] = runHistory }

// runHistory lists a service's deploys, or prints one deploy's timeline.
func runHistory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr, token := adminFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return exitCode{code: 2}
		}
		args = fs.Args()
		if len(args) > 0 {
			pos = append(pos, args[0])
			args = args[1:]
		}
	}
	if len(pos) < 1 || len(pos) > 2 {
		fmt.Fprintln(stderr, "usage: baton history SERVICE [DEPLOY-ID] [--json]")
		return exitCode{code: 2}
	}
	c := admin.NewClient(admin.ResolveAddr(*addr), *token)
	if len(pos) == 2 {
		var rec cutover.Record
		if err := c.GetJSON(ctx, "/v1/deploys/"+pos[1], &rec); err != nil {
			return err
		}
		if *asJSON {
			rec.OldSnapshot = nil
			return json.NewEncoder(stdout).Encode(rec)
		}
		printTimeline(stdout, &rec)
		return nil
	}
	var recs []*cutover.Record
	if err := c.GetJSON(ctx, "/v1/services/"+pos[0]+"/deploys", &recs); err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(recs)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEPLOY\tSTARTED\tTOOK\tSTATUS\tEXPECTED\tCAUSE")
	for _, r := range recs {
		took := "-"
		if !r.Finished.IsZero() {
			took = r.Finished.Sub(r.Started).Round(100 * time.Millisecond).String()
		}
		status := string(r.Step)
		if r.Step == cutover.StepDone && r.Verified != "" {
			status += " (" + r.Verified + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Started.Local().Format("2006-01-02 15:04:05"), took, status, orDash(r.Expected), orDash(r.Cause))
	}
	return tw.Flush()
}

func printTimeline(w io.Writer, rec *cutover.Record) {
	fmt.Fprintf(w, "deploy %s of %s: %s -> %s (%s)\n", rec.ID, rec.Service, orDash(rec.OldVersion), orDash(rec.Expected), rec.Image)
	for _, e := range rec.Events {
		line := fmt.Sprintf("%7.1fs  %-10s %s", e.At.Sub(rec.Started).Seconds(), e.Step, e.Detail)
		if e.Cause != "" {
			line += "  [cause: " + e.Cause + "]"
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintf(w, "drained %d, cancelled at the bound %d, SIGKILLs %d\n", rec.Drained, rec.Cancelled, rec.Killed)
	if rec.Hint != "" {
		fmt.Fprintln(w, "hint:", rec.Hint)
	}
}
