package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/batonproxy/baton/admin"
)

func init() { adminCommands["events"] = runEvents }

// runEvents follows every deploy's steps as they happen, from the stream the
// dashboard reads (GET /v1/events): deploys started by others, adopted
// containers and resumed deploys too.
func runEvents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr, token := adminFlags(fs)
	asJSON := fs.Bool("json", false, "print NDJSON, one event a line")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return exitCode{code: 2}
	}
	c := admin.NewClient(admin.ResolveAddr(*addr), *token)
	enc := json.NewEncoder(stdout)
	return c.Events(ctx, func(ev admin.DeployEvent) {
		if *asJSON {
			_ = enc.Encode(ev)
			return
		}
		fmt.Fprintln(stdout, eventLine(ev))
	})
}

// eventLine is one step as `baton events` prints it.
func eventLine(ev admin.DeployEvent) string {
	line := fmt.Sprintf("%s  %s  %s  %-10s %s", ev.Event.At.Local().Format("15:04:05.0"), ev.Service, ev.Deploy, ev.Event.Step, ev.Event.Detail)
	if ev.Event.Cause != "" {
		line += "  [cause: " + ev.Event.Cause + "]"
	}
	if ev.Ended && ev.Hint != "" {
		line += "\n  hint: " + ev.Hint
	}
	return line
}
