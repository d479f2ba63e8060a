package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"

	"github.com/batonproxy/baton/admin"
	"github.com/batonproxy/baton/status"
)

func init() { adminCommands["status"] = runStatus }

// adminFlags are shared by every command that talks to a running baton.
func adminFlags(fs *flag.FlagSet) (addr, token *string) {
	addr = fs.String("admin", "", "admin API: socket path or host:port (default $BATON_ADMIN, else "+admin.DefaultSocket+")")
	token = fs.String("token", "", "admin token for a TCP address (default $BATON_ADMIN_TOKEN)")
	return addr, token
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr, token := adminFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return exitCode{code: 2}
	}
	c := admin.NewClient(admin.ResolveAddr(*addr), *token)
	var st admin.Status
	if err := c.GetJSON(ctx, "/v1/services", &st); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	status.Print(stdout, st)
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
