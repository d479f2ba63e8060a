package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	var ec exitCode
	switch {
	case err == nil:
	case errors.As(err, &ec):
		if ec.msg != "" {
			fmt.Fprintln(os.Stderr, "baton:", ec.msg)
		}
		os.Exit(ec.code)
	default:
		fmt.Fprintln(os.Stderr, "baton:", err)
		os.Exit(1)
	}
}

// exitCode carries a distinct process exit status (deploy failed, reverted...).
type exitCode struct {
	code int
	msg  string
}

func (e exitCode) Error() string { return fmt.Sprintf("exit %d: %s", e.code, e.msg) }

const usage = `baton: an edge reverse proxy with zero-downtime deploys

usage:
  baton serve [--config baton.yaml] [--log-format json|console]
  baton check [COMPOSE-FILE|-]... [--config baton.yaml] [-p PROJECT] [--json]
  baton deploy SERVICE --image IMG [--expect SHA] [--json]
  baton rollback SERVICE [--json]
  baton status [--json]
  baton history SERVICE [DEPLOY-ID] [--json]
  baton events [--json]      follow every deploy's steps as they happen (the dashboard's stream)
  baton verify --url URL --expect SHA [--header H] [--count N]
  baton cache purge SERVICE [PATH]
  baton tls [root]
  baton upgrade [--json]     replace the running serve with the binary on disk, dropping nothing
  baton version

The admin commands find baton's admin API with --admin, else $BATON_ADMIN,
else /run/baton/baton.sock.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitCode{code: 2}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stderr)
	case "check":
		return runCheck(rest, os.Stdin, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "baton", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	if c, ok := adminCommands[cmd]; ok {
		return c(ctx, rest, stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return exitCode{code: 2, msg: fmt.Sprintf("unknown command %q", cmd)}
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// adminCommands are the subcommands that talk to a running baton.
var adminCommands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{}
